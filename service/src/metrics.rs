//! The service's Prometheus metrics: RPCs by method and code, their latency,
//! requests in flight, and DynamoDB calls by operation and outcome with their
//! latency. The recorder is music-runtime's, one per process (an in-process
//! gateway shares it, so its `/metrics` shows both programs' series).

use std::sync::OnceLock;

use metrics_exporter_prometheus::PrometheusHandle;

pub const GRPC_REQUESTS: &str = "music_grpc_requests_total";
pub const GRPC_DURATION: &str = "music_grpc_request_duration_seconds";
pub const GRPC_IN_FLIGHT: &str = "music_grpc_requests_in_flight";
pub const DYNAMODB_CALLS: &str = "music_dynamodb_calls_total";
pub const DYNAMODB_DURATION: &str = "music_dynamodb_call_duration_seconds";
pub const HTTP_REQUESTS: &str = "music_http_requests_total";
pub const HTTP_DURATION: &str = "music_http_request_duration_seconds";
pub const HTTP_IN_FLIGHT: &str = "music_http_requests_in_flight";

/// The process's Prometheus handle (music-runtime's recorder, installed on first use).
pub fn prometheus() -> &'static PrometheusHandle {
    music_runtime::metrics::prometheus()
}

/// The text exposition format, for a `/metrics` endpoint.
pub fn render() -> String {
    prometheus().render()
}

/// The handle in `cell`, registered by `register` the first time (with the
/// recorder installed first, so that it is never bound to the no-op one).
///
/// For the series every RPC and every store call touches: looking a labelled
/// series up in the registry builds its key and hashes it for every call,
/// 1.2 % of the service's instructions per GetItem (callgrind,
/// BENCHMARKS.md). A kept handle stays valid because the recorder has no idle
/// timeout: it never drops a series.
pub fn kept<T>(cell: &OnceLock<T>, register: impl FnOnce() -> T) -> &T {
    cell.get_or_init(|| {
        prometheus();
        register()
    })
}
