//! Escaping for text that comes from the directory, the service or a saved scan (names, error
//! messages, and in a loaded record even guidance and rule texts are hostile input).
//!
//! One sanitiser, [`sanitize`], is the first step of every format: the table and terminal use it
//! as is ([`terminal_text`]), JSON writes the characters it replaces as `\uXXXX` escapes
//! (`json`), CSV adds formula safety (`neutralise`), Markdown adds Markdown escaping
//! ([`markdown_escape`], [`markdown_prose`]), HTML adds entities ([`Html`], the templates' escaper).

use std::borrow::Cow;

/// Characters that must never reach an output raw: control characters (C0, DEL and C1: an
/// escape sequence starts with ESC or CSI, both controls) and the bidirectional controls that
/// reorder what a reader sees (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F, U+061C).
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// The replacement of an unsafe character: line breaks and tabs become a space (so a text stays
/// one readable line), everything else U+FFFD (visible: the reader sees something was there).
fn replacement(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' | '\u{2028}' | '\u{2029}' => ' ',
        _ => '\u{FFFD}',
    }
}

/// The characters [`sanitize`] replaces (JSON output writes them as `\uXXXX` escapes instead).
pub(crate) fn is_replaced(c: char) -> bool {
    is_unsafe(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Text from the directory, the service or a saved scan, safe for any output: no control
/// characters (so no escape sequences), no bidi overrides, one line. Borrowed when already clean,
/// which is nearly always.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    match text.find(is_replaced) {
        None => Cow::Borrowed(text),
        Some(first) => {
            let mut out = String::with_capacity(text.len() + 2);
            out.push_str(&text[..first]);
            out.extend(text[first..].chars().map(|c| if is_replaced(c) { replacement(c) } else { c }));
            Cow::Owned(out)
        }
    }
}

/// Text made safe for a terminal: [`sanitize`]d.
pub fn terminal_text(text: &str) -> String {
    sanitize(text).into_owned()
}

/// Escapes text for a Markdown table cell, list item or heading: [`sanitize`]d, then no markup,
/// links (inline, reference or bare `scheme:` / `www.` autolinks), HTML or cell breaks.
pub fn markdown_escape(text: &str) -> String {
    let text = sanitize(text);
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '|' | '!' | '~' | ':' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            // `www.` starts an autolink in GitHub Markdown; an escaped dot does not.
            '.' if out.len() >= 3
                && out.is_char_boundary(out.len() - 3)
                && out[out.len() - 3..].eq_ignore_ascii_case("www") =>
            {
                out.push_str("\\.")
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes a guidance text (which uses `code` spans) for Markdown: balanced backtick spans stay
/// code (their content is literal in Markdown, so markup inside is inert), everything else is
/// [`markdown_escape`]d. In a table cell (`in_table`), `|` inside code is escaped too. A text with
/// unbalanced backticks is escaped whole.
pub fn markdown_prose(text: &str, in_table: bool) -> String {
    let text = sanitize(text);
    let parts: Vec<&str> = text.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return markdown_escape(&text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for (i, part) in parts.iter().enumerate() {
        if i.is_multiple_of(2) {
            out.push_str(&markdown_escape(part));
        } else if part.is_empty() {
            // "``" is not a code span: keep it as two literal backticks.
            out.push_str("\\`\\`");
        } else {
            out.push('`');
            if in_table {
                out.push_str(&part.replace('|', "\\|"))
            } else {
                out.push_str(part)
            }
            out.push('`');
        }
    }
    out
}

/// An anchor id for a guidance id from a record: only ASCII letters, digits, `-` and `_`.
pub fn anchor(id: &str) -> String {
    id.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')).collect()
}

/// A link target written into Markdown only when it is a plain `https://` URL with nothing that
/// could end the link or start markup.
pub fn safe_link(url: &str) -> Option<&str> {
    let plain = url
        .chars()
        .all(|c| c.is_ascii_graphic() && !matches!(c, '(' | ')' | '<' | '>' | '[' | ']' | '"' | '\'' | '`' | '\\'));
    (url.starts_with("https://") && plain).then_some(url)
}

/// The escaper of the HTML templates (configured in `askama.toml`): every value a template
/// prints becomes safe for element content and quoted attribute values. `& < > " '` become
/// entities; control characters HTML cannot carry (all but tab, newline and carriage return) and
/// bidi controls become U+FFFD.
#[derive(Debug, Clone, Copy, Default)]
pub struct Html;

impl askama::filters::Escaper for Html {
    fn write_escaped_str<W: std::fmt::Write>(&self, mut out: W, text: &str) -> std::fmt::Result {
        let mut clean = 0;
        for (i, c) in text.char_indices() {
            let replacement = match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#39;",
                '\t' | '\n' | '\r' => continue,
                c if is_unsafe(c) => "\u{FFFD}",
                _ => continue,
            };
            out.write_str(&text[clean..i])?;
            out.write_str(replacement)?;
            clean = i + c.len_utf8();
        }
        out.write_str(&text[clean..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_borrows_clean_text_and_replaces_controls_and_bidi() {
        assert!(matches!(sanitize("Zoë 日本 alice@contoso.com"), Cow::Borrowed(_)));
        assert_eq!(sanitize("a\u{1b}[31mred\u{7}"), "a\u{FFFD}[31mred\u{FFFD}");
        assert_eq!(sanitize("x\u{9b}2Jy\u{7f}"), "x\u{FFFD}2Jy\u{FFFD}");
        assert_eq!(sanitize("line\nbreak\r\ttab\u{2028}"), "line break  tab ");
        for bidi in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
            '\u{200E}', '\u{200F}', '\u{061C}',
        ] {
            assert_eq!(sanitize(&format!("exe{bidi}txt.")), "exe\u{FFFD}txt.", "{:?}", bidi);
        }
    }

    fn escaped(text: &str) -> String {
        askama::filters::escape(text, Html).unwrap().to_string()
    }

    #[test]
    fn html_escape_leaves_no_markup() {
        assert_eq!(escaped("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
        assert_eq!(escaped("\"' onmouseover='x' & more"), "&quot;&#39; onmouseover=&#39;x&#39; &amp; more");
        assert_eq!(escaped("a\u{0}b\u{1b}[31m\nc"), "a\u{FFFD}b\u{FFFD}[31m\nc");
        assert_eq!(escaped("Zoë 日本"), "Zoë 日本");
    }

    #[test]
    fn hostile_names_lose_their_markup() {
        assert_eq!(markdown_escape("<script>alert(1)</script>"), "&lt;script&gt;alert\\(1\\)&lt;/script&gt;");
        assert_eq!(markdown_escape("a|b\nc"), "a\\|b c");
        assert_eq!(markdown_escape("[x](http://evil)"), "\\[x\\]\\(http\\://evil\\)");
        assert_eq!(markdown_escape("éé.ß."), "éé.ß.");
        assert_eq!(markdown_escape("see www.evil.com or javascript:x"), "see www\\.evil.com or javascript\\:x");
        assert_eq!(markdown_escape("a\u{1b}]8;;http://x\u{7}"), "a\u{FFFD}\\]8;;http\\://x\u{FFFD}");
    }

    #[test]
    fn guidance_prose_keeps_code_spans_and_escapes_the_rest() {
        assert_eq!(
            markdown_prose("Send `Authorization: Bearer <token>` <b>now</b>", false),
            "Send `Authorization: Bearer <token>` &lt;b&gt;now&lt;/b&gt;"
        );
        assert_eq!(markdown_prose("run `a | b` [x](http://e)", true), "run `a \\| b` \\[x\\]\\(http\\://e\\)");
        assert_eq!(markdown_prose("odd ` <i>", false), "odd \\` &lt;i&gt;");
        assert_eq!(markdown_prose("``<i>", false), "\\`\\`&lt;i&gt;");
        assert_eq!(markdown_prose("`\u{202E}x`", false), "`\u{FFFD}x`");
    }

    #[test]
    fn anchors_and_links_from_a_record_are_plain() {
        assert_eq!(anchor("entra-git\"><script>"), "entra-gitscript");
        assert_eq!(safe_link("https://learn.microsoft.com/a/b?c=d#e"), Some("https://learn.microsoft.com/a/b?c=d#e"));
        assert_eq!(safe_link("https://x/)[y](javascript:1"), None);
        assert_eq!(safe_link("javascript:alert(1)"), None);
        assert_eq!(safe_link("https://x/\u{202E}"), None);
    }
}
