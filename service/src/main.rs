//! music-service: parse settings, start logging, serve until SIGINT/SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use music_service::{MusicService, ServiceSettings, shutdown::shutdown_signal, telemetry};

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
    let service = MusicService::build_with(&settings.store, &settings.rpc).await?;
    service
        .with_admin(admin)
        .serve(listener, shutdown_signal())
        .await?;
    Ok(())
}
