//! Process plumbing shared by music-service and music-gateway, so that both
//! programs start, log, trace and stop the same way: `telemetry` (logs to
//! stderr as text or JSON, written by `log_writer`'s thread; with the `otlp`
//! feature, spans exported over OTLP), `metrics` (the Prometheus recorder),
//! `shutdown` (SIGINT/SIGTERM) and `pem` and `tls` (TLS files, checked at
//! start, and the acceptor), `serve` (the one accept loop, with the
//! connection bounds of `limits` and a drain bounded by a grace period),
//! `admin` (`/healthz`, `/readyz`, `/metrics`) and `traceparent` (the one
//! reader of W3C trace context); `workers` builds the tokio runtime with the
//! worker threads a program's settings ask, and runs a program's `main` in it; `settings` holds what both
//! programs' settings share.

pub mod admin;
pub mod limits;
pub mod log_writer;
pub mod metrics;
pub mod pem;
pub mod serve;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
pub mod tls;
pub mod traceparent;
pub mod workers;
