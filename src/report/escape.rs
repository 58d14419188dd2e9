//! Escaping for text that comes from the directory (names are hostile input).

/// Text from the directory or the service, made safe for a terminal: control characters (which
/// could carry escape sequences that rewrite the screen) become U+FFFD.
pub fn terminal_text(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect()
}

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

/// Escapes text for HTML element content and quoted attribute values: `& < > " '` become
/// entities, and control characters HTML cannot carry (all but tab, newline and carriage
/// return) become U+FFFD.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escape_leaves_no_markup() {
        assert_eq!(html_escape("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
        assert_eq!(html_escape("\"' onmouseover='x' & more"), "&quot;&#39; onmouseover=&#39;x&#39; &amp; more");
        assert_eq!(html_escape("a\u{0}b\u{1b}[31m\nc"), "a\u{FFFD}b\u{FFFD}[31m\nc");
        assert_eq!(html_escape("Zoë 日本"), "Zoë 日本");
    }

    #[test]
    fn hostile_names_lose_their_markup() {
        assert_eq!(markdown_escape("<script>alert(1)</script>"), "&lt;script&gt;alert\\(1\\)&lt;/script&gt;");
        assert_eq!(markdown_escape("a|b\nc"), "a\\|b c");
        assert_eq!(markdown_escape("[x](http://evil)"), "\\[x\\]\\(http://evil\\)");
    }
}
