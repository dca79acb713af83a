//! What the process-level suites' helpers share, whether they drive the
//! programs synchronously (e2e, tls: `e2e/stack.rs`) or with tokio (ops,
//! faults: `process.rs`, `support.rs`): where the built binaries are, how a
//! `listening on ADDR protocol="…"` log line is read, and how curl's `-i`
//! answer is read. Included by each suite with
//! `#[path = "../support/common.rs"] mod common;`.

// Each suite uses a part of these helpers; the rest is dead code there.
#![allow(dead_code)]

use std::{net::SocketAddr, path::PathBuf};

use serde_json::Value;

/// A built binary of this workspace (`cargo test --workspace` builds them all).
pub(crate) fn binary(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().expect("test binary path");
    dir.pop(); // the test binary
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built; run the tests with `cargo test --workspace` (or scripts/test.sh)",
        path.display()
    );
    path
}

/// The arguments a program gets before the test's own: music-gateway's admin
/// listener (127.0.0.1:9465 by default) on a free port unless the test names
/// one, so that gateways started side by side do not collide. With them comes
/// the number of extra `listening on` lines to wait for.
pub(crate) fn default_args(name: &str, args: &[&str]) -> (Vec<&'static str>, usize) {
    if name == "music-gateway" && !args.contains(&"--admin-listen") {
        (vec!["--admin-listen", "127.0.0.1:0"], 1)
    } else {
        (Vec::new(), 0)
    }
}

/// `(protocol, address)` of a `listening on ADDR protocol="…"` line, in the
/// text or the JSON log format.
pub(crate) fn listening(line: &str) -> Option<(String, SocketAddr)> {
    if line.starts_with('{') {
        let json: Value = serde_json::from_str(line).ok()?;
        let addr = json["message"].as_str()?.strip_prefix("listening on ")?;
        let protocol = json["protocol"].as_str()?;
        return Some((protocol.to_owned(), addr.trim().parse().ok()?));
    }
    let rest = line.split("listening on ").nth(1)?;
    let mut words = rest.split_whitespace();
    let addr = words.next()?.parse().ok()?;
    let protocol = words
        .find_map(|w| w.strip_prefix("protocol="))?
        .trim_matches('"');
    Some((protocol.to_owned(), addr))
}

/// The answer curl got: status, headers (lowercased names), body.
#[derive(Debug)]
pub(crate) struct CurlAnswer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl CurlAnswer {
    /// Reads what `curl -s -i` printed: the status line, the headers, the body.
    pub(crate) fn parse(text: &str) -> Self {
        let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Self {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[test]
fn listening_lines_are_read_in_both_log_formats() {
    let text = r#"2026-11-25T00:00:00Z  INFO music_service::server: listening on 127.0.0.1:4321 protocol="grpc""#;
    let json = r#"{"timestamp":"2026-11-25T00:00:00Z","level":"INFO","message":"listening on 127.0.0.1:4322","protocol":"admin","target":"music_service::admin"}"#;
    assert_eq!(
        listening(text),
        Some(("grpc".into(), "127.0.0.1:4321".parse().unwrap()))
    );
    assert_eq!(
        listening(json),
        Some(("admin".into(), "127.0.0.1:4322".parse().unwrap()))
    );
    assert_eq!(listening("store ready"), None);
}

#[test]
fn curls_answer_is_read_into_status_headers_and_body() {
    let answer = CurlAnswer::parse(
        "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nX-Request-Id: abc\r\n\r\n\"Item not found\"",
    );
    assert_eq!(answer.status, 404);
    assert_eq!(answer.header("x-request-id"), Some("abc"));
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.body, "\"Item not found\"");
}
