//! JSON written as Python's `json.dumps` writes it (`", "` and `": "`
//! separators, non-ASCII escaped as `\uXXXX`), so that the gateway's bodies are
//! byte for byte those of the tutorial's Lambda functions.

use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter, Serializer};

/// `json.dumps(value)` with its defaults.
pub fn dumps<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::with_capacity(64);
    let mut serializer = Serializer::with_formatter(&mut out, PythonFormatter);
    value
        .serialize(&mut serializer)
        .expect("serializing to memory cannot fail for JSON values and strings");
    String::from_utf8(out).expect("the formatter writes ASCII only")
}

struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    /// Python's `ensure_ascii`: everything outside printable ASCII is `\uXXXX`
    /// (UTF-16, so astral characters become a surrogate pair).
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (index, ch) in fragment.char_indices() {
            if (' '..='~').contains(&ch) {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[start..index])?;
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            start = index + ch.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        let text: &[u8] = match escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::Solidus => b"/",
            CharEscape::Backspace => b"\\b",
            CharEscape::FormFeed => b"\\f",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::AsciiControl(byte) => return write!(writer, "\\u{byte:04x}"),
        };
        writer.write_all(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_quoted_like_python() {
        assert_eq!(dumps("Table created"), r#""Table created""#);
        assert_eq!(dumps("say \"hi\"\n\\"), r#""say \"hi\"\n\\""#);
        assert_eq!(
            dumps("tab\tbell\u{7}del\u{7f}"),
            r#""tab\tbell\u0007del\u007f""#
        );
    }

    #[test]
    fn non_ascii_is_escaped_like_ensure_ascii() {
        assert_eq!(dumps("Sigur Rós"), r#""Sigur R\u00f3s""#);
        assert_eq!(dumps("Takk…"), r#""Takk\u2026""#);
        assert_eq!(dumps("🎵"), r#""\ud83c\udfb5""#);
    }

    #[test]
    fn objects_use_python_separators_and_keep_order() {
        let item = json!({"Artist": {"S": "No One You Know"}, "SongTitle": {"S": "Call Me Today"}});
        assert_eq!(
            dumps(&item),
            r#"{"Artist": {"S": "No One You Know"}, "SongTitle": {"S": "Call Me Today"}}"#
        );
        assert_eq!(dumps(&json!([1, "a", null])), r#"[1, "a", null]"#);
    }
}
