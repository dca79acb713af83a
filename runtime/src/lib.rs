//! Process plumbing shared by music-service and music-gateway, so that both
//! programs start, log, trace and stop the same way: `telemetry` (logs to
//! stderr as text or JSON; with the `otlp` feature, spans exported over
//! OTLP) and `shutdown` (SIGINT/SIGTERM).

pub mod shutdown;
pub mod telemetry;
