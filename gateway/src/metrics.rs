//! The gateway's Prometheus metrics: requests by route, method and status,
//! their latency, and requests in flight. With the in-process service the
//! process has one recorder, the service's, so `/metrics` shows both.

use metrics_exporter_prometheus::PrometheusHandle;

pub const HTTP_REQUESTS: &str = "music_http_requests_total";
pub const HTTP_DURATION: &str = "music_http_request_duration_seconds";
pub const HTTP_IN_FLIGHT: &str = "music_http_requests_in_flight";

/// The process's Prometheus handle, installing the recorder on first use.
#[cfg(feature = "in-process")]
pub fn prometheus() -> &'static PrometheusHandle {
    music_service::metrics::prometheus()
}

/// The process's Prometheus handle, installing the recorder on first use.
#[cfg(not(feature = "in-process"))]
pub fn prometheus() -> &'static PrometheusHandle {
    use std::sync::OnceLock;

    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

    const LATENCY_BUCKETS: &[f64] = &[
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ];
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .expect("the bucket list is not empty")
            .install_recorder()
            .expect("no other metrics recorder is installed in this process")
    })
}
