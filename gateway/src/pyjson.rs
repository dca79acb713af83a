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

    mod properties {
        use proptest::prelude::*;
        use serde_json::{Map, Number, Value};

        use super::super::dumps;

        /// Any JSON value serde_json can hold: every string (controls,
        /// quotes, astral characters), integers, finite floats, nesting.
        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<f64>()
                    .prop_filter_map("finite", Number::from_f64)
                    .prop_map(Value::Number),
                any::<String>().prop_map(Value::String),
            ];
            leaf.prop_recursive(4, 64, 8, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                    prop::collection::vec((any::<String>(), inner), 0..8)
                        .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
                ]
            })
        }

        /// Equal as JSON values; floats within the precision serde_json's
        /// default (not `float_roundtrip`) parser promises.
        fn same(a: &Value, b: &Value) -> bool {
            match (a, b) {
                (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
                    let (x, y) = (
                        x.as_f64().unwrap_or(f64::NAN),
                        y.as_f64().unwrap_or(f64::NAN),
                    );
                    x == y
                        // Subnormals keep fewer digits: compare them absolutely.
                        || (x - y).abs()
                            <= f64::EPSILON * 4.0 * x.abs().max(y.abs()).max(f64::MIN_POSITIVE)
                }
                (Value::Array(x), Value::Array(y)) => {
                    x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
                }
                (Value::Object(x), Value::Object(y)) => {
                    x.len() == y.len()
                        && x.iter()
                            .zip(y)
                            .all(|((kx, vx), (ky, vy))| kx == ky && same(vx, vy))
                }
                _ => a == b,
            }
        }

        proptest! {
            #[test]
            fn dumps_is_ascii_and_parses_back_to_the_same_value(value in json_value()) {
                let text = dumps(&value);
                prop_assert!(text.is_ascii(), "{text}");
                let back: Value = serde_json::from_str(&text).expect("dumps writes JSON");
                prop_assert!(same(&back, &value), "{text}");
            }

            #[test]
            fn dumps_of_any_string_parses_back_to_it(text in any::<String>()) {
                let json = dumps(&text);
                prop_assert!(json.is_ascii(), "{json}");
                prop_assert!(json.bytes().all(|b| (b' '..=b'~').contains(&b)), "{json}");
                prop_assert_eq!(serde_json::from_str::<String>(&json).expect("a JSON string"), text);
            }

            #[test]
            fn printable_ascii_without_escapes_is_written_as_is(text in "[ !#-\\[\\]-~]*") {
                prop_assert_eq!(dumps(&text), format!("\"{text}\""));
            }
        }
    }
}
