//! What the gateway records of every request: its ids (request id, W3C trace
//! context, `X-Amzn-Trace-Id`), one access-log line in the field names of API
//! Gateway's JSON access-log template, and its metrics.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use ::metrics::SharedString;
use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::Response,
};
use http::{HeaderName, HeaderValue, Method};
use http_body::Body as _;
use tracing::Instrument;

use crate::{app::Gateway, metrics};

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

/// Requests being answered now, for the grace-period log and the gauge.
#[derive(Debug, Clone, Default)]
pub struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    /// Counts a request (here and in the gauge) until the guard drops, which
    /// happens also when the client goes away and the request is abandoned.
    fn enter(&self) -> InFlightGuard {
        self.0.fetch_add(1, Ordering::Relaxed);
        let gauge = ::metrics::gauge!(metrics::HTTP_IN_FLIGHT);
        gauge.increment(1.0);
        InFlightGuard {
            count: Arc::clone(&self.0),
            gauge,
        }
    }
}

struct InFlightGuard {
    count: Arc<AtomicUsize>,
    gauge: ::metrics::Gauge,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::Relaxed);
        self.gauge.decrement(1.0);
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

/// `bytes` random bytes as lowercase hex (trace and span ids).
fn random_hex(bytes: usize) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes * 2);
    while out.len() < bytes * 2 {
        for byte in uuid::Uuid::new_v4().as_bytes() {
            out.push(char::from(DIGITS[usize::from(byte >> 4)]));
            out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
        }
    }
    out.truncate(bytes * 2);
    out
}

impl TraceContext {
    pub fn from_headers(headers: &http::HeaderMap) -> Self {
        Self::continuing(headers, None)
    }

    /// As [`TraceContext::from_headers`], but with the `traceparent` of the
    /// gateway's own exported span when there is one (feature `otlp`), so
    /// the service's spans hang under it.
    pub fn continuing(headers: &http::HeaderMap, exported: Option<String>) -> Self {
        let incoming = incoming_traceparent(headers).and_then(parse_traceparent);
        let (trace_id, flags) = match incoming {
            Some((trace_id, flags)) => (trace_id.to_owned(), flags.to_owned()),
            None => (random_hex(16), "00".to_owned()),
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
                format!("Root=1-{epoch:08x}-{}", random_hex(12))
            });
        Self {
            traceparent: exported
                .unwrap_or_else(|| format!("00-{trace_id}-{}-{flags}", random_hex(8))),
            amzn_trace_id,
        }
    }

    /// The trace id, for logs.
    pub fn trace_id(&self) -> &str {
        &self.traceparent[3..35]
    }
}

fn incoming_traceparent(headers: &http::HeaderMap) -> Option<&str> {
    headers.get(&TRACEPARENT).and_then(|v| v.to_str().ok())
}

/// `(trace id, flags)` of a well-formed version-00 `traceparent`.
fn parse_traceparent(value: &str) -> Option<(&str, &str)> {
    let mut parts = value.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex =
        |s: &str, len| s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let valid = hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && trace.bytes().any(|b| b != b'0')
        && hex(parent, 16)
        && parent.bytes().any(|b| b != b'0')
        && hex(flags, 2);
    valid.then_some((trace, flags))
}

/// Methods are labels only when standard, so a client cannot mint series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

/// API Gateway's `$context.requestTime`: `25/Nov/2026:00:07:19 +0000`.
/// The `status` label: the codes the gateway answers without an allocation.
fn status_label(status: u16) -> SharedString {
    let known = match status {
        200 => "200",
        400 => "400",
        404 => "404",
        405 => "405",
        408 => "408",
        413 => "413",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        other => return SharedString::from(other.to_string()),
    };
    SharedString::from(known)
}

pub fn clf_time(time: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days, for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Wraps every request: trace context in, ids out, one access-log line, metrics.
pub async fn record(
    State(gateway): State<Arc<Gateway>>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    // The access-log fields are formatted only when the line is written
    // (tracing evaluates an event's fields only when it is enabled).
    let arrived = SystemTime::now();
    let id_header = request.headers().get(&X_REQUEST_ID).cloned();
    let request_id = id_header
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        trace_id = tracing::field::Empty
    );
    let incoming =
        incoming_traceparent(request.headers()).filter(|t| parse_traceparent(t).is_some());
    music_runtime::telemetry::continue_trace(&span, incoming);
    let trace = TraceContext::continuing(
        request.headers(),
        music_runtime::telemetry::traceparent_of(&span),
    );
    span.record("trace_id", trace.trace_id());
    request.extensions_mut().insert(trace.clone());
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let method = request.method().clone();
    let version = request.version();
    let uri = request.uri().clone();
    let path = uri.path();
    let resource = gateway.routes.resource_path(path);
    // API Gateway's `$context.resourcePath`: the resource, without the stage.
    let resource_path = resource.unwrap_or(path);
    let route = resource.unwrap_or(match path {
        "/healthz" | "/readyz" | "/metrics" => "admin",
        _ => "unmatched",
    });

    let in_flight = gateway.in_flight.enter();
    let mut response = next.run(request).instrument(span.clone()).await;
    drop(in_flight);

    // API Gateway's name for the request id, and the trace id it echoes.
    if let Some(id) = id_header {
        response.headers_mut().insert(X_AMZN_REQUEST_ID, id);
    }
    if let Ok(value) = HeaderValue::from_str(&trace.amzn_trace_id) {
        response.headers_mut().insert(X_AMZN_TRACE_ID, value);
    }

    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let labels = [
        ("route", SharedString::from(route)),
        ("method", SharedString::from(method_label(&method))),
        ("status", status_label(status)),
    ];
    ::metrics::counter!(metrics::HTTP_REQUESTS, &labels).increment(1);
    ::metrics::histogram!(metrics::HTTP_DURATION, "route" => route, "method" => method_label(&method))
        .record(elapsed.as_secs_f64());
    let response_length = response.body().size_hint().exact().map_or(-1, |n| n as i64);
    span.in_scope(|| {
        tracing::info!(
            requestId = %request_id,
            ip = %peer.map_or_else(|| "-".to_owned(), |ip| ip.to_string()),
            caller = "-",
            user = "-",
            requestTime = %clf_time(arrived),
            httpMethod = %method,
            resourcePath = %bounded(resource_path),
            status,
            protocol = ?version,
            responseLength = response_length,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request answered"
        )
    });
    response
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn request_time_is_in_api_gateways_format() {
        let time = UNIX_EPOCH + Duration::from_secs(1_702_710_814);
        assert_eq!(clf_time(time), "16/Dec/2023:07:13:34 +0000");
        assert_eq!(clf_time(UNIX_EPOCH), "01/Jan/1970:00:00:00 +0000");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(clf_time(leap), "29/Feb/2000:00:00:00 +0000");
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
            parse_traceparent(&trace.traceparent).map(|t| t.0),
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
            assert_eq!(parse_traceparent(bad), None, "{bad}");
        }
        let trace = TraceContext::from_headers(&http::HeaderMap::new());
        assert!(
            parse_traceparent(&trace.traceparent).is_some(),
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
