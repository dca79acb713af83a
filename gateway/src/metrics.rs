//! The gateway's Prometheus metrics: requests by route, method and status,
//! their latency, and requests in flight. The process has one recorder,
//! music-runtime's, which the in-process service shares: `/metrics` shows both.

use metrics_exporter_prometheus::PrometheusHandle;

pub const HTTP_REQUESTS: &str = "music_http_requests_total";
pub const HTTP_DURATION: &str = "music_http_request_duration_seconds";
pub const HTTP_IN_FLIGHT: &str = "music_http_requests_in_flight";

/// The process's Prometheus handle (music-runtime's recorder, installed on
/// first use; the in-process service records into the same one).
pub fn prometheus() -> &'static PrometheusHandle {
    music_runtime::metrics::prometheus()
}
