//! What the gateway reads of every request besides its route: its ids (the
//! header names, the W3C trace context carried on to the service,
//! `X-Amzn-Trace-Id`), and the rule for copying a client's text into a log
//! line or an answer (bounded).

use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderName, HeaderValue};
use music_runtime::traceparent;
use tower_http::request_id::{MakeRequestId, RequestId};
use uuid::Uuid;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const X_AMZN_REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");
pub const X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The most characters of a client's text (a path, a header) that the
/// gateway copies into a log line or an error message.
pub const MAX_ECHO_CHARS: usize = 128;

/// `text` cut to [`MAX_ECHO_CHARS`] characters, with "…" when it was longer,
/// so that no client can make a log line or an answer grow with its request.
pub fn bounded(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(MAX_ECHO_CHARS) {
        None => std::borrow::Cow::Borrowed(text),
        Some((cut, _)) => std::borrow::Cow::Owned(format!("{}…", &text[..cut])),
    }
}

/// The trace context a request carries on to the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// `traceparent` for the service: the caller's trace id (or a new one)
    /// with the gateway's own span id as the parent.
    pub traceparent: String,
    /// The `X-Amzn-Trace-Id` answered to the client: the client's, or a new one.
    pub amzn_trace_id: String,
}

impl TraceContext {
    pub fn from_headers(headers: &http::HeaderMap) -> Self {
        Self::continuing(headers, None)
    }

    /// As [`TraceContext::from_headers`], but with the `traceparent` of the
    /// gateway's own exported span when there is one (feature `otlp`), so
    /// the service's spans hang under it.
    pub fn continuing(headers: &http::HeaderMap, exported: Option<String>) -> Self {
        let incoming = incoming_traceparent(headers).and_then(traceparent::parse);
        let amzn_trace_id = headers
            .get(&X_AMZN_TRACE_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.trim().is_empty() && v.len() <= 1024)
            .map(str::to_owned)
            .unwrap_or_else(|| {
                let epoch = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs();
                let mut id = String::with_capacity(40);
                id.push_str("Root=1-");
                push_hex(
                    &mut id,
                    &u32::try_from(epoch).unwrap_or(u32::MAX).to_be_bytes(),
                );
                id.push('-');
                // 96 random bits, as X-Ray writes them.
                push_hex(&mut id, &rand::random::<[u8; 12]>());
                id
            });
        let traceparent = exported.unwrap_or_else(|| {
            let mut traceparent = String::with_capacity(55);
            traceparent.push_str("00-");
            let flags = match incoming {
                Some(parent) => {
                    traceparent.push_str(parent.trace_id);
                    parent.flags
                }
                None => {
                    push_hex(&mut traceparent, &rand::random::<[u8; 16]>());
                    "00"
                }
            };
            traceparent.push('-');
            let span_id = rand::random::<u64>().max(1);
            push_hex(&mut traceparent, &span_id.to_be_bytes());
            traceparent.push('-');
            traceparent.push_str(flags);
            traceparent
        });
        Self {
            traceparent,
            amzn_trace_id,
        }
    }

    /// The trace id, for logs.
    pub fn trace_id(&self) -> &str {
        &self.traceparent[3..35]
    }
}

/// Appends `bytes` as lowercase hex. The gateway makes three random ids for
/// every request; `format!("{:032x}")` of a u128 cost more than the rest of
/// making them (callgrind, BENCHMARKS.md).
fn push_hex(out: &mut String, bytes: &[u8]) {
    let mut buffer = [0; 32];
    let hex = &mut buffer[..bytes.len() * 2];
    hex::encode_to_slice(bytes, hex).expect("the buffer holds 16 bytes as hex");
    out.push_str(std::str::from_utf8(hex).expect("hex is ASCII"));
}

/// Makes the id of a request that came without a usable one: a UUID v4, as
/// tower-http's `MakeRequestUuid` makes it, but written into a buffer on the
/// stack, where that one goes through `Display` into a `String` and parses
/// it back (callgrind, BENCHMARKS.md).
#[derive(Debug, Clone, Copy, Default)]
pub struct MakeRequestUuid;

impl MakeRequestId for MakeRequestUuid {
    fn make_request_id<B>(&mut self, _: &http::Request<B>) -> Option<RequestId> {
        let mut buffer = Uuid::encode_buffer();
        let id = Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
        HeaderValue::from_str(id).ok().map(RequestId::new)
    }
}

/// The caller's `traceparent` header, as text.
pub fn incoming_traceparent(headers: &http::HeaderMap) -> Option<&str> {
    headers.get(&TRACEPARENT).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_made_here_are_distinct_uuid_v4s() {
        let request = http::Request::new(());
        let mut make = MakeRequestUuid;
        let ids: Vec<String> = (0..2)
            .map(|_| {
                let id = make.make_request_id(&request).expect("an id");
                id.header_value().to_str().unwrap().to_owned()
            })
            .collect();
        for id in &ids {
            let parsed = Uuid::parse_str(id).expect("a UUID");
            assert_eq!(parsed.get_version_num(), 4, "{id}");
            assert_eq!(
                id,
                &parsed.hyphenated().to_string(),
                "lowercase, hyphenated"
            );
        }
        assert_ne!(ids[0], ids[1]);
    }

    #[test]
    fn echoed_text_is_bounded() {
        assert_eq!(bounded("/short"), "/short");
        let long = "é".repeat(MAX_ECHO_CHARS + 1);
        let cut = bounded(&long);
        assert_eq!(cut.chars().count(), MAX_ECHO_CHARS + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn a_callers_trace_is_continued_with_a_new_parent() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            TRACEPARENT,
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        let trace = TraceContext::from_headers(&headers);
        assert_eq!(trace.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(
            trace
                .traceparent
                .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-")
        );
        assert!(trace.traceparent.ends_with("-01"));
        assert!(
            !trace.traceparent.contains("00f067aa0ba902b7"),
            "the gateway is the new parent"
        );
        assert_eq!(
            traceparent::parse(&trace.traceparent).map(|t| t.trace_id),
            Some(trace.trace_id())
        );
    }

    #[test]
    fn malformed_traceparents_start_a_new_trace() {
        for bad in [
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        ] {
            let mut headers = http::HeaderMap::new();
            headers.insert(TRACEPARENT, HeaderValue::from_static(bad));
            let trace = TraceContext::from_headers(&headers);
            if let Some(trace_id) = bad.get(3..35) {
                assert!(!trace.traceparent.contains(trace_id), "{bad}: continued");
            }
            assert!(traceparent::parse(&trace.traceparent).is_some(), "{bad}");
        }
        let trace = TraceContext::from_headers(&http::HeaderMap::new());
        assert!(
            traceparent::parse(&trace.traceparent).is_some(),
            "{}",
            trace.traceparent
        );
        assert!(trace.amzn_trace_id.starts_with("Root=1-"));
    }

    #[test]
    fn new_ids_are_lowercase_hex_of_their_lengths_and_differ() {
        let is_hex = |text: &str, len: usize| {
            text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        let first = TraceContext::from_headers(&http::HeaderMap::new());
        let second = TraceContext::from_headers(&http::HeaderMap::new());
        for trace in [&first, &second] {
            let parts: Vec<&str> = trace.traceparent.split('-').collect();
            assert_eq!(parts.len(), 4, "{}", trace.traceparent);
            assert_eq!((parts[0], parts[3]), ("00", "00"));
            assert!(
                is_hex(parts[1], 32) && is_hex(parts[2], 16),
                "{}",
                trace.traceparent
            );
            let amzn: Vec<&str> = trace.amzn_trace_id.split('-').collect();
            assert_eq!(amzn.len(), 3, "{}", trace.amzn_trace_id);
            assert_eq!(amzn[0], "Root=1");
            assert!(
                is_hex(amzn[1], 8) && is_hex(amzn[2], 24),
                "{}",
                trace.amzn_trace_id
            );
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let epoch = u64::from_str_radix(&first.amzn_trace_id[7..15], 16).unwrap();
        assert!(now.abs_diff(epoch) <= 2, "{} at {now}", first.amzn_trace_id);
        assert_ne!(first.trace_id(), second.trace_id());
        assert_ne!(first.amzn_trace_id, second.amzn_trace_id);
    }

    #[test]
    fn an_amzn_trace_id_is_echoed() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            X_AMZN_TRACE_ID,
            HeaderValue::from_static("Root=1-657d49e2-f5f6fd248da8e0881dd97df6"),
        );
        assert_eq!(
            TraceContext::from_headers(&headers).amzn_trace_id,
            "Root=1-657d49e2-f5f6fd248da8e0881dd97df6"
        );
    }
}
