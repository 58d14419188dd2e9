//! Escaping for text that comes from the directory (names are hostile input).

/// Escapes text for a Markdown table cell or heading: no markup, links, HTML or cell breaks.
pub fn markdown_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '|' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_lose_their_markup() {
        assert_eq!(markdown_escape("<script>alert(1)</script>"), "&lt;script&gt;alert\\(1\\)&lt;/script&gt;");
        assert_eq!(markdown_escape("a|b\nc"), "a\\|b c");
        assert_eq!(markdown_escape("[x](http://evil)"), "\\[x\\]\\(http://evil\\)");
    }
}
