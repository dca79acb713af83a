//! Process plumbing shared by music-service and music-gateway, so that both
//! programs start, log, trace and stop the same way: `telemetry` (logs to
//! stderr as text or JSON; with the `otlp` feature, spans exported over
//! OTLP), `metrics` (the Prometheus recorder), `shutdown` (SIGINT/SIGTERM) and
//! `pem` (TLS files, checked at start).

pub mod metrics;
pub mod pem;
pub mod shutdown;
pub mod telemetry;
