//! Command-line and environment settings of music-gateway.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::Parser;

use music_runtime::{limits::ConnectionLimits, telemetry::LogSettings};

use crate::error::ErrorMode;

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

    /// Stage prefix of the routes (`/Test/DemoResourceMusic/...`); empty for none.
    #[arg(long, env = "MUSIC_GATEWAY_STAGE", default_value = "Test")]
    pub stage: String,

    /// How the tutorial's routes answer DynamoDB's refusals: `seed` (500 and
    /// botocore's text, as the tutorial) or `http` (accurate statuses, same text).
    #[arg(long, env = "MUSIC_GATEWAY_ERRORS", value_enum, default_value_t = ErrorMode::Seed)]
    pub errors: ErrorMode,

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
