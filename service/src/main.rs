//! music-service: parse settings, start logging, serve until SIGINT/SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use music_service::{MusicService, ServiceSettings, shutdown::shutdown_signal, telemetry};
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

#[tokio::main]
async fn main() -> ExitCode {
    let settings = ServiceSettings::parse();
    telemetry::init(&settings.log);
    match run(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(settings: ServiceSettings) -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", settings.listen))?;
    let admin = tokio::net::TcpListener::bind(settings.admin_listen)
        .await
        .map_err(|e| format!("cannot listen on {} (admin): {e}", settings.admin_listen))?;
    let mut service = MusicService::build_with(&settings.store, &settings.rpc).await?;
    if let Some(tls) = tls_config(&settings)? {
        service = service.with_tls(tls);
    }
    service
        .with_admin(admin)
        .serve(listener, shutdown_signal())
        .await?;
    Ok(())
}

/// The TLS configuration the settings ask for: an identity, and a client CA for mTLS.
fn tls_config(
    settings: &ServiceSettings,
) -> Result<Option<ServerTlsConfig>, Box<dyn std::error::Error>> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let (Some(cert), Some(key)) = (&settings.tls_cert, &settings.tls_key) else {
        return Ok(None);
    };
    let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(read(cert)?, read(key)?));
    if let Some(ca) = &settings.tls_client_ca {
        tls = tls.client_ca_root(Certificate::from_pem(read(ca)?));
    }
    Ok(Some(tls))
}
