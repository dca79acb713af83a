//! music-service: parse settings, start logging, serve until SIGINT/SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use music_runtime::{
    shutdown::shutdown_signal,
    tls::{self, Alpn, TlsError},
    workers,
};
use music_service::{MusicService, ServiceSettings};
use tokio_rustls::TlsAcceptor;

/// jemalloc, built to give freed pages back to the system about a second
/// after they are freed (`.cargo/config.toml`): glibc's malloc kept up to
/// 32 MiB resident for good after a burst of large messages.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let settings = ServiceSettings::parse();
    let log = settings.log.clone();
    workers::run_program("music-service", settings.worker_threads, &log, async move {
        match run(settings).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!("{error:#}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn run(settings: ServiceSettings) -> Result<(), Box<dyn std::error::Error>> {
    let shutdown = shutdown_signal();
    // Bad TLS files are refused before anything listens.
    let tls = tls_config(&settings)?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", settings.listen))?;
    let admin = tokio::net::TcpListener::bind(settings.admin_listen)
        .await
        .map_err(|e| format!("cannot listen on {} (admin): {e}", settings.admin_listen))?;
    let mut service = MusicService::build_with(&settings.store, &settings.rpc).await?;
    if let Some(tls) = tls {
        service = service.with_tls(tls);
    }
    service
        .with_limits(settings.connections.clone())
        .with_admin(admin)
        .with_shutdown_grace(settings.shutdown_grace)
        .serve(listener, shutdown)
        .await?;
    Ok(())
}

/// The TLS acceptor the settings ask for: an identity, and a client CA for mTLS.
fn tls_config(settings: &ServiceSettings) -> Result<Option<TlsAcceptor>, TlsError> {
    let (Some(cert), Some(key)) = (&settings.tls_cert, &settings.tls_key) else {
        return Ok(None);
    };
    tls::acceptor(cert, key, settings.tls_client_ca.as_deref(), Alpn::Http2).map(Some)
}
