//! JSON: the scan record as is, except that every character [`sanitize`](super::escape::sanitize)
//! would replace (controls, bidi overrides such as U+202E, line separators) is written as a
//! `\uXXXX` escape. A JSON reader gets the same value; a terminal showing `-o json` gets no
//! escape sequence and no reordered text.

use crate::record::ScanRecord;
use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};
use std::io::{self, Write};

pub fn render(record: &ScanRecord, out: &mut dyn Write) -> io::Result<()> {
    write_pretty(record, out)
}

/// Pretty JSON of `value` with unsafe characters escaped, and a final newline.
pub fn write_pretty<T: Serialize + ?Sized>(value: &T, out: &mut dyn Write) -> io::Result<()> {
    let mut serializer = serde_json::Serializer::with_formatter(&mut *out, Escaping(PrettyFormatter::new()));
    value.serialize(&mut serializer)?;
    writeln!(out)
}

/// `value` as one line of JSON (JSON Lines) with unsafe characters escaped, and a newline.
pub fn write_line<T: Serialize + ?Sized>(value: &T, out: &mut dyn Write) -> io::Result<()> {
    let mut serializer = serde_json::Serializer::with_formatter(&mut *out, Escaping(CompactFormatter));
    value.serialize(&mut serializer)?;
    writeln!(out)
}

/// serde_json's pretty (or compact) layout; string contents pass through `write_string_fragment`, which
/// escapes what serde_json leaves raw (it escapes only `"`, `\` and U+0000–U+001F itself).
struct Escaping<F>(F);

impl<F: Formatter> Formatter for Escaping<F> {
    fn write_string_fragment<W: ?Sized + Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        let mut rest = fragment;
        while let Some(at) = rest.find(super::escape::is_replaced) {
            writer.write_all(&rest.as_bytes()[..at])?;
            let c = rest[at..].chars().next().expect("found a character");
            // Every such character is in the Basic Multilingual Plane: one escape.
            write!(writer, "\\u{:04x}", c as u32)?;
            rest = &rest[at + c.len_utf8()..];
        }
        writer.write_all(rest.as_bytes())
    }

    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_array(writer)
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object(writer)
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(writer, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object_value(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pretty(value: &serde_json::Value) -> String {
        let mut out = Vec::new();
        write_pretty(value, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn unsafe_characters_are_escaped_and_the_value_is_the_same() {
        let hostile = "a\u{202e}b\u{2066}c\u{1b}[2J\u{7f}\u{9b}d\u{2028}e\u{200f} Zoë 日本 \"q\" \\";
        let value = serde_json::json!({"name": hostile, "list": [hostile], hostile: 1});
        let text = pretty(&value);
        assert!(
            !text.contains(['\u{202e}', '\u{2066}', '\u{1b}', '\u{7f}', '\u{9b}', '\u{2028}', '\u{200f}']),
            "{text:?}"
        );
        assert!(text.contains(r#""a\u202eb\u2066c\u001b[2J\u007f\u009bd\u2028e\u200f Zoë 日本 \"q\" \\""#), "{text}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), value, "the same value");
        // Clean text is laid out exactly as serde_json's pretty printer does.
        let clean = serde_json::json!({"a": [1, {"b": "Zoë"}], "c": {}});
        assert_eq!(pretty(&clean), format!("{}\n", serde_json::to_string_pretty(&clean).unwrap()));
    }
}
