//! A large JSON object read in pieces: each element of its large arrays is cut out of the
//! stream and handed on as bytes (for `serde_json::from_slice`, its fast path), and the other
//! members are gathered into a small object. `serde_json::from_reader` reads a file through
//! `io::Read` a byte at a time, a third of the time of every report of a large record; reading
//! the file whole first would hold its text beside the record.
//!
//! Only a well-formed object of the expected shape goes this way: anything else (a key with an
//! escape, a streamed member twice or not an array, bytes after the object, unbalanced
//! brackets, nesting deeper than `MAX_DEPTH`) gives `None`, and the caller reads the file the
//! usual way, which says what is wrong with it. The cutting holds the largest element and the
//! members not streamed (a record's others are about 20 KB; the file's size limit bounds
//! them).

use std::io::BufRead;

/// Brackets an element may nest. Each element is parsed on its own, from depth 0, where the
/// whole document would parse it two levels down: past serde_json's recursion limit (128)
/// the two would disagree, so deep elements go the usual way (a record nests about six).
const MAX_DEPTH: usize = 64;

/// Reads the JSON object from `reader`. Each element of a member named in `streamed` goes to
/// `element(position of the name in streamed, its bytes)`, which returns `None` to give up; the
/// other members come back as one JSON object, with `[]` in place of each streamed array.
pub(crate) fn split_object(
    reader: impl BufRead,
    streamed: &[&str],
    mut element: impl FnMut(usize, &[u8]) -> Option<()>,
) -> Option<Vec<u8>> {
    let mut input = Input { reader };
    let mut rest = b"{".to_vec();
    let mut seen = vec![false; streamed.len()];
    let mut piece = Vec::new();
    input.expect(b'{')?;
    input.items(b'}', |input| {
        piece.clear();
        input.value(&mut piece)?;
        // A key without escapes (every key of a record): its bytes are its name.
        let name = piece.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
        if name.contains(&b'\\') {
            return None;
        }
        let field = streamed.iter().position(|s| s.as_bytes() == name);
        if rest.len() > 1 {
            rest.push(b',');
        }
        rest.extend_from_slice(&piece);
        input.expect(b':')?;
        rest.push(b':');
        match field {
            Some(field) => {
                if std::mem::replace(&mut seen[field], true) {
                    return None;
                }
                input.expect(b'[')?;
                rest.extend_from_slice(b"[]");
                input.items(b']', |input| {
                    piece.clear();
                    input.value(&mut piece)?;
                    element(field, &piece)
                })
            }
            None => input.value(&mut rest),
        }
    })?;
    rest.push(b'}');
    // Nothing but whitespace after the object.
    input.next_token().is_none().then_some(rest)
}

struct Input<R> {
    reader: R,
}

impl<R: BufRead> Input<R> {
    /// The next byte that is not whitespace, left in place; `None` at the end (or on a read
    /// error).
    fn next_token(&mut self) -> Option<u8> {
        loop {
            let buffer = self.reader.fill_buf().ok()?;
            if buffer.is_empty() {
                return None;
            }
            match buffer.iter().position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
                Some(at) => {
                    let byte = buffer[at];
                    self.reader.consume(at);
                    return Some(byte);
                }
                None => {
                    let all = buffer.len();
                    self.reader.consume(all);
                }
            }
        }
    }

    /// Consumes the byte `next_token` returned.
    fn take(&mut self) {
        self.reader.consume(1);
    }

    /// Consumes the next token if it is `byte`; `None` otherwise.
    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next_token()? == byte).then(|| self.take())
    }

    /// The items of an object or array whose opening bracket was taken, each read by `item`,
    /// separated by commas, up to and including the `close` bracket.
    fn items(&mut self, close: u8, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        if self.next_token()? == close {
            self.take();
            return Some(());
        }
        loop {
            item(self)?;
            match self.next_token()? {
                b',' => self.take(),
                b if b == close => {
                    self.take();
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Appends the next value's bytes to `out` (leading whitespace skipped): a string, an
    /// object or array with everything in it, or a number, `true`, `false` or `null`, read up to
    /// the byte that ends it. Whether it is valid JSON is for the parser to say; this only finds
    /// where it ends.
    fn value(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let first = self.next_token()?;
        if !matches!(first, b'"' | b'{' | b'[') {
            // A number or a literal: up to a delimiter.
            loop {
                let buffer = self.reader.fill_buf().ok()?;
                if buffer.is_empty() {
                    return Some(());
                }
                let end = buffer.iter().position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'));
                let n = end.unwrap_or(buffer.len());
                out.extend_from_slice(&buffer[..n]);
                self.reader.consume(n);
                if end.is_some() {
                    return Some(());
                }
            }
        }
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        loop {
            let buffer = self.reader.fill_buf().ok()?;
            if buffer.is_empty() {
                return None;
            }
            let (mut end, mut i) = (None, 0);
            while i < buffer.len() {
                if in_string {
                    if escaped {
                        escaped = false;
                        i += 1;
                        continue;
                    }
                    // Most of a record is inside strings: to the next quote or backslash at once.
                    let Some(k) = memchr::memchr2(b'"', b'\\', &buffer[i..]) else {
                        break;
                    };
                    i += k;
                    if buffer[i] == b'\\' {
                        escaped = true;
                    } else {
                        in_string = false;
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    i += 1;
                    continue;
                }
                match buffer[i] {
                    b'"' => in_string = true,
                    b'{' | b'[' => {
                        depth += 1;
                        if depth > MAX_DEPTH {
                            return None;
                        }
                    }
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            let n = end.unwrap_or(buffer.len());
            out.extend_from_slice(&buffer[..n]);
            self.reader.consume(n);
            if end.is_some() {
                return Some(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The elements and the rest of `json`, or `None`.
    fn split(json: &str) -> Option<(Vec<(usize, String)>, String)> {
        let mut elements = Vec::new();
        // A tiny buffer: values cut across reads.
        let reader = std::io::BufReader::with_capacity(3, json.as_bytes());
        let rest = split_object(reader, &["a", "b"], |field, bytes| {
            elements.push((field, String::from_utf8(bytes.to_vec()).unwrap()));
            Some(())
        })?;
        Some((elements, String::from_utf8(rest).unwrap()))
    }

    #[test]
    fn streamed_arrays_come_out_element_by_element_and_the_rest_as_one_object() {
        let json = r#" { "v" : 2, "a": [ {"x": "}]\"{", "y": [1, [2]]} , 3 ,"s\\"], "n": null, "b":[], "t": true,
            "o": {"a": [1]}, "f": -1.5e3 }
        "#;
        let (elements, rest) = split(json).unwrap();
        assert_eq!(
            elements,
            [(0, r#"{"x": "}]\"{", "y": [1, [2]]}"#.to_string()), (0, "3".to_string()), (0, r#""s\\""#.to_string())]
        );
        assert_eq!(rest, r#"{"v":2,"a":[],"n":null,"b":[],"t":true,"o":{"a": [1]},"f":-1.5e3}"#);
        let value: serde_json::Value = serde_json::from_str(&rest).unwrap();
        assert_eq!(value["o"]["a"][0], 1);
        assert_eq!(split("{}").unwrap(), (vec![], "{}".to_string()));
    }

    #[test]
    fn an_unexpected_shape_gives_up() {
        for json in [
            r#"{"a": [1], "a": [2]}"#,                                      // a streamed member twice
            r#"{"a": {"x": 1}}"#,                                           // not an array
            r#"{"a": [1 2]}"#,                                              // no comma
            r#"{"v": 1} {"v": 2}"#,                                         // bytes after the object
            r#"{"v": [1, 2}"#,                                              // cut short
            r#"{"\u0061": [1]}"#,                                           // a key with an escape
            r#"[1, 2]"#,                                                    // not an object
            r#"{"v": "open"#,                                               // a string never closed
            &format!(r#"{{"a": [{}{}]}}"#, "[".repeat(65), "]".repeat(65)), // nested too deep
            "",
        ] {
            assert!(split(json).is_none(), "{json}");
        }
        // The element callback gives up: so does the split.
        let reader = std::io::BufReader::new(&br#"{"a": [1, 2]}"#[..]);
        assert!(split_object(reader, &["a"], |_, bytes| (bytes != b"2").then_some(())).is_none());
    }
}
