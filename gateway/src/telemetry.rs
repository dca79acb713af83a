//! Logging: `tracing` to stderr, filtered by `RUST_LOG` (default `info`),
//! human-readable or JSON.

use std::io::IsTerminal;

use clap::{Args, ValueEnum};
use tracing_subscriber::{EnvFilter, fmt};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct LogSettings {
    /// Log line format on stderr. The level comes from RUST_LOG (default `info`).
    #[arg(long, env = "MUSIC_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// `info`, but dynoxide's per-request warnings (it logs every 400 it answers,
/// which for this service are ordinary answers such as "no such table") are off.
pub const DEFAULT_FILTER: &str = "info,dynoxide=error";

/// Installs the global subscriber. Call once, from `main`.
pub fn init(settings: &LogSettings) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match settings.log_format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}
