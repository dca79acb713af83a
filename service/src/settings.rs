//! Command-line and environment settings of music-service. The storage flags
//! (`StoreSettings`) are also flattened into music-gateway's settings, which
//! runs the service in-process when it has no upstream.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, Parser, ValueEnum};

use music_runtime::{
    limits::ConnectionLimits,
    settings::{millis, seconds},
    telemetry::LogSettings,
};

/// music-service: the music.v1 gRPC API over DynamoDB.
#[derive(Debug, Clone, Parser)]
#[command(version, about)]
pub struct ServiceSettings {
    /// Address the gRPC server listens on (port 0 picks a free port; the bound
    /// address is logged as `listening on ADDR`).
    #[arg(long, env = "MUSIC_SERVICE_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Address of the admin HTTP endpoint (`/metrics`, `/healthz`, `/readyz`).
    #[arg(
        long,
        env = "MUSIC_SERVICE_ADMIN_LISTEN",
        default_value = "127.0.0.1:9464"
    )]
    pub admin_listen: SocketAddr,

    /// Worker threads of the async runtime that serves the requests (default:
    /// one per core, or `TOKIO_WORKER_THREADS`); one serves at most one
    /// core's worth of requests. (Fewer workers saved the gateway CPU where
    /// the two share their cores; the service's own gain was not clear:
    /// BENCHMARKS.md.)
    #[arg(long, env = "MUSIC_SERVICE_WORKER_THREADS", value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=i64::from(music_runtime::workers::MAX_WORKER_THREADS)))]
    pub worker_threads: Option<u16>,

    /// On SIGTERM/SIGINT, how long requests in flight may take to finish
    /// before they are cut: `10s`; a bare number is seconds.
    #[arg(long, alias = "shutdown-grace-secs", env = "MUSIC_SERVICE_SHUTDOWN_GRACE", default_value = "10s", value_parser = seconds)]
    pub shutdown_grace: Duration,

    /// PEM certificate chain: serve gRPC over TLS (with --tls-key); plaintext is then refused.
    #[arg(long, env = "MUSIC_SERVICE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, env = "MUSIC_SERVICE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// PEM CA certificate(s): require every client to present a certificate it signed (mTLS).
    #[arg(long, env = "MUSIC_SERVICE_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,

    #[command(flatten)]
    pub store: StoreSettings,

    #[command(flatten)]
    pub rpc: RpcSettings,

    #[command(flatten)]
    pub connections: ConnectionLimits,

    #[command(flatten)]
    pub log: LogSettings,
}

/// How the gRPC server treats requests, shared with the in-process gateway.
#[derive(Debug, Clone, Args)]
pub struct RpcSettings {
    /// Requests served at once; beyond it new ones are refused at once with
    /// RESOURCE_EXHAUSTED (and a retry delay) rather than queued.
    #[arg(
        long,
        env = "MUSIC_SERVICE_MAX_CONCURRENT_REQUESTS",
        default_value_t = 1024
    )]
    pub max_concurrent_requests: usize,

    /// Largest gRPC message received or sent, in bytes (4 MiB, as gRPC's default);
    /// a larger request is refused with RESOURCE_EXHAUSTED.
    #[arg(long, env = "MUSIC_SERVICE_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_message_bytes: usize,

    /// How often the store is probed for readiness (at least every 10 ms):
    /// `2s`; a bare number is milliseconds. Health turns NOT_SERVING while the
    /// store does not answer.
    #[arg(long, alias = "health-probe-interval-ms", env = "MUSIC_SERVICE_HEALTH_PROBE_INTERVAL", default_value = "2s", value_parser = millis)]
    pub health_probe_interval: Duration,

    /// Secret that ListSongs' page tokens are signed with. Set the same one on
    /// every replica behind a load balancer; unset, a random one is made at
    /// start, and tokens then hold only for this process.
    #[arg(long, env = "MUSIC_SERVICE_PAGE_TOKEN_SECRET", hide_env_values = true)]
    pub page_token_secret: Option<String>,
}

impl Default for RpcSettings {
    fn default() -> Self {
        music_runtime::settings::defaults()
    }
}

impl RpcSettings {
    /// The probe interval, never below 10 ms (a busy loop helps nobody).
    pub fn health_probe_interval(&self) -> Duration {
        self.health_probe_interval.max(Duration::from_millis(10))
    }
}

/// Where the songs are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// dynoxide (DynamoDB on SQLite) served in-process on a loopback port.
    Embedded,
    /// Any DynamoDB endpoint through the standard AWS configuration.
    Dynamodb,
}

/// Storage settings, shared by the service binary and the in-process gateway.
#[derive(Debug, Clone, Args)]
pub struct StoreSettings {
    /// Storage backend.
    #[arg(long, env = "MUSIC_SERVICE_BACKEND", value_enum, default_value_t = Backend::Embedded)]
    pub backend: Backend,

    /// Directory of the embedded store's SQLite file (`music.db`); created when missing.
    #[arg(long, env = "MUSIC_SERVICE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Keep the embedded store in memory only (data is gone when the process exits).
    #[arg(long, env = "MUSIC_SERVICE_IN_MEMORY")]
    pub in_memory: bool,

    /// DynamoDB endpoint URL for `--backend dynamodb` (e.g. DynamoDB Local at
    /// http://localhost:8000). Without it the standard AWS configuration decides,
    /// including `AWS_ENDPOINT_URL_DYNAMODB`.
    #[arg(long, env = "MUSIC_SERVICE_DYNAMODB_ENDPOINT")]
    pub dynamodb_endpoint: Option<String>,

    /// How long CreateTable and DeleteTable wait for the table to become ACTIVE
    /// or disappear: `25s`; a bare number is seconds. Under API Gateway's 29 s
    /// so that a gateway answers with this service's error rather than its
    /// own timeout.
    #[arg(long, alias = "table-wait-secs", env = "MUSIC_SERVICE_TABLE_WAIT", default_value = "25s", value_parser = seconds)]
    pub table_wait: Duration,

    /// Time budget of one DynamoDB call, retries included: `10s`; a bare
    /// number is milliseconds. It bounds the work whatever the caller's
    /// deadline, which `observe` enforces separately.
    #[arg(long, alias = "dynamodb-timeout-ms", env = "MUSIC_SERVICE_DYNAMODB_TIMEOUT", default_value = "10s", value_parser = millis)]
    pub dynamodb_timeout: Duration,

    /// Time budget of one attempt of a DynamoDB call, so that a stalled
    /// connection is retried instead of eating the whole budget: `3s`; a bare
    /// number is milliseconds.
    #[arg(long, alias = "dynamodb-attempt-timeout-ms", env = "MUSIC_SERVICE_DYNAMODB_ATTEMPT_TIMEOUT", default_value = "3s", value_parser = millis)]
    pub dynamodb_attempt_timeout: Duration,

    /// Attempts per DynamoDB call (standard retry mode: only retryable errors are retried).
    #[arg(long, env = "MUSIC_SERVICE_DYNAMODB_MAX_ATTEMPTS", default_value_t = 3)]
    pub dynamodb_max_attempts: u32,

    /// Table of the gateways' usage-plan counters (API keys' quotas), created
    /// on first use. Every service replica of one deployment names the same.
    #[arg(
        long,
        env = "MUSIC_SERVICE_USAGE_TABLE",
        default_value = "music-api-usage"
    )]
    pub usage_table: String,

    /// Fixed credentials for `--backend dynamodb` instead of the AWS credential
    /// chain: for programs that embed the service in front of a local engine
    /// (which checks no signature) and must not depend on the environment.
    #[arg(skip)]
    pub static_credentials: Option<StaticCredentials>,
}

/// An access key pair given in code rather than found by the AWS chain.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret, not even in a debug dump of the settings.
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl StoreSettings {
    /// Settings for tests and throwaway runs: embedded, in memory, every
    /// other setting at its default.
    pub fn embedded_in_memory() -> Self {
        Self {
            in_memory: true,
            ..music_runtime::settings::defaults()
        }
    }

    /// Settings for a DynamoDB endpoint such as DynamoDB Local.
    pub fn dynamodb(endpoint: impl Into<String>) -> Self {
        Self {
            backend: Backend::Dynamodb,
            dynamodb_endpoint: Some(endpoint.into()),
            in_memory: false,
            ..Self::embedded_in_memory()
        }
    }
}
