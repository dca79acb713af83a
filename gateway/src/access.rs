//! What the gateway records of every request: its trace context continued
//! (`request`), one access-log line in the field names of API Gateway's JSON
//! access-log template, and its metrics.

use std::{
    net::SocketAddr,
    time::{Instant, SystemTime},
};

use ::metrics::SharedString;
use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::Response,
};
use http::{HeaderValue, Method};
use http_body::Body as _;
use tracing::Instrument;

use music_runtime::traceparent;

use crate::{
    metrics,
    request::{
        TraceContext, X_AMZN_REQUEST_ID, X_AMZN_TRACE_ID, X_REQUEST_ID, bounded,
        incoming_traceparent,
    },
    tutorial::routes::RouteTable,
};

/// Counts a request in the in-flight gauge until it drops, which happens also
/// when the client goes away and the request is abandoned. (tower-http's
/// in-flight counter reports on an interval; a scrape right after a burst
/// would read a stale count.)
struct InFlightGauge(::metrics::Gauge);

impl InFlightGauge {
    fn enter() -> Self {
        let gauge = ::metrics::gauge!(metrics::HTTP_IN_FLIGHT);
        gauge.increment(1.0);
        Self(gauge)
    }
}

impl Drop for InFlightGauge {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
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

/// API Gateway's `$context.requestTime`: `25/Nov/2026:00:07:19 +0000`.
pub fn clf_time(time: SystemTime) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
        "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
    );
    time::OffsetDateTime::from(time)
        .format(FORMAT)
        .unwrap_or_else(|_| "-".to_owned())
}

/// Wraps every request: trace context in, ids out, one access-log line, metrics.
pub async fn record(
    State(routes): State<RouteTable>,
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
        incoming_traceparent(request.headers()).filter(|t| traceparent::parse(t).is_some());
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
    let resource = routes.resource_path(path);
    // API Gateway's `$context.resourcePath`: the resource, without the stage.
    let resource_path = resource.unwrap_or(path);
    let route = resource.unwrap_or(match path {
        "/healthz" | "/readyz" | "/metrics" => "admin",
        _ => "unmatched",
    });

    let in_flight = InFlightGauge::enter();
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
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn request_time_is_in_api_gateways_format() {
        let time = UNIX_EPOCH + Duration::from_secs(1_702_710_814);
        assert_eq!(clf_time(time), "16/Dec/2023:07:13:34 +0000");
        assert_eq!(clf_time(UNIX_EPOCH), "01/Jan/1970:00:00:00 +0000");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(clf_time(leap), "29/Feb/2000:00:00:00 +0000");
    }
}
