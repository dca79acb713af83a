//! The gateway's Prometheus metrics: requests by route, method and status,
//! their latency, and requests in flight. The process has one recorder,
//! music-runtime's, which the in-process service shares: `/metrics` shows both.

use std::{cell::RefCell, collections::HashMap, time::Duration};

use http::Method;
use metrics::{Counter, Gauge, Histogram};
use metrics_exporter_prometheus::PrometheusHandle;

pub const HTTP_REQUESTS: &str = "music_http_requests_total";
pub const HTTP_DURATION: &str = "music_http_request_duration_seconds";
pub const HTTP_IN_FLIGHT: &str = "music_http_requests_in_flight";

/// The process's Prometheus handle (music-runtime's recorder, installed on
/// first use; the in-process service records into the same one).
pub fn prometheus() -> &'static PrometheusHandle {
    music_runtime::metrics::prometheus()
}

/// Counts an answered request in `music_http_requests_total{route, method,
/// status}` and its latency in `music_http_request_duration_seconds{route,
/// method}`.
///
/// Through handles each worker thread keeps: looking the labelled series up
/// in the registry built and hashed their keys for every request, about
/// 2 k instructions of a `/v1` GetItem's 121 k (callgrind, BENCHMARKS.md).
/// The labels are a bounded set (routes are templates or the tutorial's
/// resources, methods [`method_label`]), so the cache is too. A kept handle
/// stays valid because the recorder never drops a series: music-runtime
/// installs it without an idle timeout.
pub fn record_request(route: &str, method: &Method, status: u16, elapsed: Duration) {
    let method = method_label(method);
    KEPT.with_borrow_mut(|kept| {
        let route_handles = match kept.get_mut(route) {
            Some(handles) => handles,
            None => kept.entry(route.into()).or_default(),
        };
        route_handles
            .request_counter(route, method, status)
            .increment(1);
        route_handles
            .duration_histogram(route, method)
            .record(elapsed.as_secs_f64());
    });
}

thread_local! {
    /// This thread's handles of the request series, by route.
    static KEPT: RefCell<HashMap<Box<str>, RouteHandles>> = RefCell::new(HashMap::new());
}

/// The handles of one route's series, by method (and status).
#[derive(Default)]
struct RouteHandles {
    requests: Vec<(&'static str, u16, Counter)>,
    durations: Vec<(&'static str, Histogram)>,
}

impl RouteHandles {
    fn request_counter(&mut self, route: &str, method: &'static str, status: u16) -> &Counter {
        let at = match self
            .requests
            .iter()
            .position(|(m, s, _)| *m == method && *s == status)
        {
            Some(at) => at,
            None => {
                prometheus();
                let counter = metrics::counter!(
                    HTTP_REQUESTS,
                    "route" => route.to_owned(),
                    "method" => method,
                    "status" => status.to_string(),
                );
                self.requests.push((method, status, counter));
                self.requests.len() - 1
            }
        };
        &self.requests[at].2
    }

    fn duration_histogram(&mut self, route: &str, method: &'static str) -> &Histogram {
        let at = match self.durations.iter().position(|(m, _)| *m == method) {
            Some(at) => at,
            None => {
                prometheus();
                let histogram = metrics::histogram!(HTTP_DURATION, "route" => route.to_owned(), "method" => method);
                self.durations.push((method, histogram));
                self.durations.len() - 1
            }
        };
        &self.durations[at].1
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

/// `music_http_requests_in_flight`, registered once by the access layer.
pub fn in_flight_gauge() -> Gauge {
    prometheus();
    metrics::gauge!(HTTP_IN_FLIGHT)
}

/// Counts a request in the in-flight gauge until it drops, which happens also
/// when the client goes away and the request is abandoned. (tower-http's
/// in-flight counter reports on an interval; a scrape right after a burst
/// would read a stale count.)
#[derive(Debug)]
pub struct InFlight(Gauge);

impl InFlight {
    pub fn enter(gauge: &Gauge) -> Self {
        gauge.increment(1.0);
        Self(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}
