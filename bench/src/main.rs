//! music-bench: parse the command line, then run the benchmark (the
//! default), the soak (`soak`), the instruction counts (`instructions`), or
//! serve the ceiling handler
//! (`ceiling-server`, the subprocess the benchmark starts for its *ceiling*
//! scenario). Ctrl-C and SIGTERM stop a run; every process it started is
//! killed on the way out.

mod ceiling;
mod cli;
mod dynamodb_local;
mod edge;
mod error;
mod grpc_load;
mod instructions;
mod paced;
mod report;
mod run;
mod scenario;
mod soak;
mod wrk;

use std::process::ExitCode;

use clap::Parser;

use crate::{
    cli::{Cli, Command},
    error::BenchError,
};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Some(Command::CeilingServer { listen }) => ceiling::serve(listen, shutdown_signal())
            .await
            .map_err(BenchError::from),
        Some(Command::Soak(settings)) => tokio::select! {
            outcome = soak::run(settings) => outcome,
            () = shutdown_signal() => Err(BenchError::Interrupted),
        },
        Some(Command::Instructions(settings)) => tokio::select! {
            outcome = instructions::run(settings) => outcome,
            () = shutdown_signal() => Err(BenchError::Interrupted),
        },
        None => tokio::select! {
            outcome = run::run(cli.settings) => outcome,
            () = shutdown_signal() => Err(BenchError::Interrupted),
        },
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("music-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

/// SIGINT or SIGTERM. When the signal handlers cannot be installed the run
/// goes on without them (the children are still killed when it ends).
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut interrupt), Ok(mut terminate)) => {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}
