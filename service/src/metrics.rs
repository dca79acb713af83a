//! The service's Prometheus metrics: RPCs by method and code, their latency,
//! requests in flight, and DynamoDB calls by operation and outcome with their
//! latency. One recorder per process, installed on first use (an in-process
//! gateway shares it, so its `/metrics` shows both programs' series).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const GRPC_REQUESTS: &str = "music_grpc_requests_total";
pub const GRPC_DURATION: &str = "music_grpc_request_duration_seconds";
pub const GRPC_IN_FLIGHT: &str = "music_grpc_requests_in_flight";
pub const DYNAMODB_CALLS: &str = "music_dynamodb_calls_total";
pub const DYNAMODB_DURATION: &str = "music_dynamodb_call_duration_seconds";
pub const HTTP_REQUESTS: &str = "music_http_requests_total";
pub const HTTP_DURATION: &str = "music_http_request_duration_seconds";
pub const HTTP_IN_FLIGHT: &str = "music_http_requests_in_flight";

/// Latency buckets from 0.5 ms to 30 s: local stores answer in well under a
/// millisecond, AWS in a few, and the slowest calls wait for tables.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process's Prometheus handle, installing the recorder on first use.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .expect("the bucket list is not empty")
            .install_recorder()
            .expect("no other metrics recorder is installed in this process")
    })
}

/// The text exposition format, for a `/metrics` endpoint.
pub fn render() -> String {
    prometheus().render()
}
