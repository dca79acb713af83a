//! music-gateway: parse settings, start logging, bind, serve until SIGINT/SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use music_gateway::{GatewaySettings, Listeners, StartError, run, settings::Command};
use music_runtime::{shutdown::shutdown_signal, workers};

/// jemalloc, built to give freed pages back to the system about a second
/// after they are freed (`.cargo/config.toml`): glibc's malloc kept up to
/// 32 MiB resident for good after a burst of large messages.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let settings = GatewaySettings::parse();
    if let Some(Command::Openapi) = settings.command {
        return print_openapi(&settings);
    }
    let log = settings.log.clone();
    workers::run_program("music-gateway", settings.worker_threads, &log, async move {
        match start(settings).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!("{error}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn start(settings: GatewaySettings) -> Result<(), StartError> {
    // Before anything listens, so that an early SIGTERM stops the process cleanly.
    let shutdown = shutdown_signal();
    let listeners = Listeners::bind(&settings).await?;
    run(settings, listeners, shutdown).await
}

/// `music-gateway openapi`: the document `GET /openapi.json` serves, pretty-printed.
fn print_openapi(settings: &GatewaySettings) -> ExitCode {
    use music_gateway::{rest, tutorial::routes::RouteTable};
    let document = rest::Descriptors::load(&settings.proto_descriptors)
        .and_then(|d| rest::openapi_document(&d, &RouteTable::new(&settings.stage)));
    match document {
        Ok(document) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&document).expect("the document serializes")
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("music-gateway openapi: {error}");
            ExitCode::FAILURE
        }
    }
}
