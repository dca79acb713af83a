//! Command-line and environment settings of music-gateway.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::Parser;

use music_runtime::{limits::ConnectionLimits, telemetry::LogSettings};

use crate::{
    edge::EdgeSettings, error::ErrorMode, execution::ExecutionLogMode, tutorial::Integration,
};

/// music-gateway: the tutorial's REST calls, served by music.v1 over gRPC.
#[derive(Debug, Clone, Parser)]
#[command(version, about)]
pub struct GatewaySettings {
    /// Address the REST gateway listens on (port 0 picks a free port; the
    /// bound address is logged as `listening on ADDR`).
    #[arg(long, env = "MUSIC_GATEWAY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Address of the admin HTTP endpoint (`/metrics`, `/healthz`, `/readyz`),
    /// kept off the public port.
    #[arg(
        long,
        env = "MUSIC_GATEWAY_ADMIN_LISTEN",
        default_value = "127.0.0.1:9465"
    )]
    pub admin_listen: SocketAddr,

    /// music-service to call, e.g. http://127.0.0.1:50051. Without it the
    /// service runs inside the gateway process.
    #[arg(long, env = "MUSIC_GATEWAY_UPSTREAM")]
    pub upstream: Option<http::Uri>,

    /// HTTP/2 connections to the --upstream, requests taken by each in turn
    /// (default: one per core of this machine).
    #[arg(long, env = "MUSIC_GATEWAY_UPSTREAM_CONNECTIONS", default_value_t = default_upstream_connections(),
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub upstream_connections: u16,

    /// Worker threads of the async runtime that serves the requests (default:
    /// one per core, or `TOKIO_WORKER_THREADS`). Fewer cost less CPU per
    /// request where the gateway shares its cores (beside its service, as a
    /// sidecar); one serves at most one core's worth of requests.
    #[arg(long, env = "MUSIC_GATEWAY_WORKER_THREADS", value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=i64::from(music_runtime::workers::MAX_WORKER_THREADS)))]
    pub worker_threads: Option<u16>,

    /// Stage prefix of the routes (`/Test/DemoResourceMusic/...`); empty for none.
    #[arg(long, env = "MUSIC_GATEWAY_STAGE", default_value = "Test")]
    pub stage: String,

    /// How the tutorial's routes answer DynamoDB's refusals: `seed` (500 and
    /// botocore's text, as the tutorial) or `http` (accurate statuses, same text).
    #[arg(long, env = "MUSIC_GATEWAY_ERRORS", value_enum, default_value_t = ErrorMode::Seed)]
    pub errors: ErrorMode,

    /// How the tutorial's routes answer, as API Gateway's Lambda integrations:
    /// `proxy` (the function's status and body) or `non-proxy` (always 200,
    /// `{"statusCode": 200, "body": "\"Table created\""}`).
    #[arg(long, env = "MUSIC_GATEWAY_INTEGRATION", value_enum, default_value_t = Integration::Proxy)]
    pub integration: Integration,

    /// The access log's line in API Gateway's syntax, e.g. its JSON example
    /// `{ "requestId":"$context.requestId", "ip": "$context.identity.sourceIp", … }`,
    /// written to stderr as it is, one line a request. Unset: a log event
    /// with API Gateway's JSON example's fields, in the --log-format.
    #[arg(long, env = "MUSIC_GATEWAY_ACCESS_LOG_FORMAT")]
    pub access_log_format: Option<String>,

    /// API Gateway's execution log: `full` logs each request's method
    /// request, gRPC request, answer received and answer sent (credentials
    /// redacted, bodies cut at --execution-log-max-body).
    #[arg(long, env = "MUSIC_GATEWAY_EXECUTION_LOG", value_enum, default_value_t = ExecutionLogMode::Off)]
    pub execution_log: ExecutionLogMode,

    /// Longest body the execution log shows, in bytes.
    #[arg(
        long,
        env = "MUSIC_GATEWAY_EXECUTION_LOG_MAX_BODY",
        default_value_t = 1024
    )]
    pub execution_log_max_body: usize,

    #[command(flatten)]
    pub edge: EdgeSettings,

    /// Integration timeout of one request (API Gateway's is 29 s): `29s`,
    /// `500ms`; a bare number is milliseconds.
    #[arg(long, alias = "timeout-ms", env = "MUSIC_GATEWAY_TIMEOUT", default_value = "29s", value_parser = music_runtime::settings::millis)]
    pub timeout: Duration,

    /// Address of the in-process service's gRPC listener (without --upstream).
    #[arg(
        long,
        env = "MUSIC_GATEWAY_GRPC_LISTEN",
        default_value = "127.0.0.1:50051"
    )]
    pub grpc_listen: SocketAddr,

    /// On SIGTERM/SIGINT, how long requests in flight may take to finish
    /// before they are cut: `10s`; a bare number is seconds.
    #[arg(long, alias = "shutdown-grace-secs", env = "MUSIC_GATEWAY_SHUTDOWN_GRACE", default_value = "10s", value_parser = music_runtime::settings::seconds)]
    pub shutdown_grace: Duration,

    /// PEM certificate chain: serve HTTPS instead of HTTP (with --tls-key).
    #[arg(long, env = "MUSIC_GATEWAY_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, env = "MUSIC_GATEWAY_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// PEM CA certificate(s) to trust for an `https://` upstream.
    #[arg(long, env = "MUSIC_GATEWAY_UPSTREAM_CA")]
    pub upstream_ca: Option<PathBuf>,

    /// PEM client certificate presented to the upstream (mTLS; with --upstream-client-key).
    #[arg(
        long,
        env = "MUSIC_GATEWAY_UPSTREAM_CLIENT_CERT",
        requires = "upstream_client_key"
    )]
    pub upstream_client_cert: Option<PathBuf>,

    /// PEM private key of --upstream-client-cert.
    #[arg(
        long,
        env = "MUSIC_GATEWAY_UPSTREAM_CLIENT_KEY",
        requires = "upstream_client_cert"
    )]
    pub upstream_client_key: Option<PathBuf>,

    /// Name to verify the upstream's certificate against (default: the upstream's host).
    #[arg(long, env = "MUSIC_GATEWAY_UPSTREAM_TLS_DOMAIN")]
    pub upstream_tls_domain: Option<String>,

    /// Further encoded FileDescriptorSets (`protoc --include_imports
    /// --descriptor_set_out`) whose `google.api.http`-annotated methods are
    /// served under `/v1` too, and described in `/openapi.json`, with no
    /// gateway code; comma-separated or repeated.
    #[arg(long, env = "MUSIC_GATEWAY_PROTO_DESCRIPTORS", value_delimiter = ',')]
    pub proto_descriptors: Vec<PathBuf>,

    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,

    #[cfg(feature = "in-process")]
    #[command(flatten)]
    pub store: music_service::StoreSettings,

    #[cfg(feature = "in-process")]
    #[command(flatten)]
    pub rpc: music_service::RpcSettings,

    #[command(flatten)]
    pub connections: ConnectionLimits,

    #[command(flatten)]
    pub log: LogSettings,
}

/// music-gateway's subcommands; without one, it serves.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Prints the OpenAPI 3.1 document of the REST API (the `/v1` routes and
    /// the tutorial's, under --stage), as `GET /openapi.json` serves it, and exits.
    Openapi,
}

/// One connection to the upstream per core.
fn default_upstream_connections() -> u16 {
    std::thread::available_parallelism().map_or(1, |n| u16::try_from(n.get().min(64)).unwrap_or(1))
}
