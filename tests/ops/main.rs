//! Operations tests: the behaviour mesh operators rely on, shown with the
//! built `music-service` and `music-gateway` binaries as real processes on
//! real sockets (port 0 only), the real curl for HTTP, tonic clients for gRPC,
//! and a store proxy that makes the store slow or drop its connections.
//!
//! Deadlines, SIGTERM under load and the grace period, readiness as the
//! store goes and comes back (store proxy, and DynamoDB Local stopped and
//! started when `MUSIC_TEST_DYNAMODB_LOCAL_DIR` names its jar folder), metrics
//! that count what was sent, load shedding, message limits and compression,
//! telemetry (access log, trace propagation), a reader of stderr that
//! stops reading, the reader of which code a running program has run
//! (`scripts/lib/hot_symbols.py`), and the runtime's worker threads
//! (`--worker-threads`).
//!
//! The binaries must be built first: `cargo build --workspace`.
//!
//! The scaffolding they share with the other suites (programs as processes,
//! the store proxy, DynamoDB Local, curl, gRPC clients) is music-testkit's.

mod deadlines;
mod hot_symbols;
mod limits;
mod log_reader;
mod metrics;
mod readiness;
mod shutdown;
mod telemetry;
mod workers;
