//! Lifts `trace_id` and `grpc_timeout` out of music-service's `grpc.rs`
//! (the rest of that file needs tonic and the AWS SDK), so that the fuzz
//! targets run the very functions the service runs. Fails the build, naming
//! the function, if one is no longer there.

use std::{env, fs, path::PathBuf};

const SOURCE: &str = "../service/src/grpc.rs";
const FUNCTIONS: [&str; 2] = ["pub fn trace_id(", "pub fn grpc_timeout("];

fn main() {
    println!("cargo::rerun-if-changed={SOURCE}");
    let source = fs::read_to_string(SOURCE).unwrap_or_else(|e| panic!("read {SOURCE}: {e}"));
    let mut out = String::new();
    for signature in FUNCTIONS {
        let start = source.find(signature).unwrap_or_else(|| {
            panic!("{SOURCE} has no `{signature}…`: update fuzz/build.rs and fuzz/src/lib.rs")
        });
        let end = item_end(&source, start)
            .unwrap_or_else(|| panic!("{SOURCE}: unbalanced braces after `{signature}…`"));
        out.push_str(&source[start..end]);
        out.push_str("\n\n");
    }
    let path = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR")).join("grpc_readers.rs");
    fs::write(&path, out).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// The byte after the `}` that closes the item starting at `start`, skipping
/// braces inside string and character literals and comments.
fn item_end(source: &str, start: usize) -> Option<usize> {
    let bytes = source.as_bytes();
    let (mut i, mut depth, mut opened) = (start, 0usize, false);
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i += source[i..].find('\n')?;
            }
            b'"' => {
                i += 1;
                while bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            // A character literal ('{', '\n', '\''); a lifetime ('r) has no closing quote.
            b'\'' if bytes.get(i + 1) == Some(&b'\\') => {
                i += 2;
                while bytes[i] != b'\'' {
                    i += 1;
                }
            }
            b'\'' if bytes.get(i + 2) == Some(&b'\'') => i += 2,
            b'{' => {
                depth += 1;
                opened = true;
            }
            b'}' => {
                depth = depth.checked_sub(1)?;
                if opened && depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}
