//! Operations tests: the behaviour mesh operators rely on, shown with the
//! built `music-service` and `music-gateway` binaries as real processes on
//! real sockets (port 0 only), the real curl for HTTP, tonic clients for gRPC,
//! and a fault proxy that makes the store slow or drop its connections.
//!
//! Deadlines, SIGTERM under load and the grace period, readiness as the
//! store goes and comes back (fault proxy, and DynamoDB Local stopped and
//! started when `MUSIC_TEST_DYNAMODB_LOCAL_DIR` names its jar folder), metrics
//! that count what was sent, load shedding, message limits and compression,
//! and telemetry (access log, trace propagation).
//!
//! The binaries must be built first: `cargo build --workspace`.

#[path = "../support/common.rs"]
mod common;
mod deadlines;
#[path = "../support/dynamodb_local.rs"]
mod dynamodb_local;
#[path = "../support/fault_proxy.rs"]
mod fault_proxy;
mod limits;
mod metrics;
#[path = "../support/process.rs"]
mod process;
mod readiness;
mod shutdown;
#[path = "../support/support.rs"]
mod support;
mod telemetry;
