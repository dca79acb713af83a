//! What the gateway reads of every request besides its route: its ids (the
//! header names, the W3C trace context carried on to the service,
//! `X-Amzn-Trace-Id`), and the rule for copying a client's text into a log
//! line or an answer (bounded).

use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderName;
use music_runtime::traceparent;

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
        let (trace_id, flags) = match incoming {
            Some(parent) => (parent.trace_id.to_owned(), parent.flags),
            None => (format!("{:032x}", rand::random::<u128>()), "00"),
        };
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
                // 96 random bits, as X-Ray writes them.
                let random = rand::random::<u128>() >> 32;
                format!("Root=1-{epoch:08x}-{random:024x}")
            });
        Self {
            traceparent: exported.unwrap_or_else(|| {
                let span_id = rand::random::<u64>().max(1);
                format!("00-{trace_id}-{span_id:016x}-{flags}")
            }),
            amzn_trace_id,
        }
    }

    /// The trace id, for logs.
    pub fn trace_id(&self) -> &str {
        &self.traceparent[3..35]
    }
}

/// The caller's `traceparent` header, as text.
pub fn incoming_traceparent(headers: &http::HeaderMap) -> Option<&str> {
    headers.get(&TRACEPARENT).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

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
