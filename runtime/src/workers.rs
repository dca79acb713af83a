//! The tokio runtime each program serves on (and the `main` both share
//! around it: logging, the start-up line): multi-threaded, with as many
//! worker threads as the program's `--worker-threads` asks, or tokio's own
//! default (`TOKIO_WORKER_THREADS`, else one per core) when it asks none.
//!
//! Why a setting: where a program shares its cores with others (the gateway
//! beside its service, a sidecar, the load generator of a benchmark), fewer
//! workers than cores cost less CPU per request, because fewer threads park
//! and are woken and one connection's tasks stay on one thread; on this
//! project's two-core machine one worker took 10–35 % off the pure gateway's
//! CPU per request in seven alternating pairs, a fifth over four full
//! benchmark runs (BENCHMARKS.md).
//! One worker serves at most one core's worth of requests, so the default
//! stays one per core, as Envoy's `--concurrency` and Go's `GOMAXPROCS` do.

use std::{future::Future, process::ExitCode};

use crate::telemetry::{self, LogSettings};

/// Upper bound of `--worker-threads`, far above any core count this runs on.
pub const MAX_WORKER_THREADS: u16 = 1024;

/// The runtime, with `worker_threads` workers (`None`: tokio's default).
pub fn runtime(worker_threads: Option<u16>) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(workers) = worker_threads {
        builder.worker_threads(usize::from(workers.max(1)));
    }
    builder.build()
}

/// A program's `main` once its settings are read, the same for both: the
/// runtime with `worker_threads` workers, logging as `log` says (as
/// `program`), the `runtime started workers=N` line, then `serve` to its
/// end, its exit code the program's. A runtime that cannot start is said on
/// stderr (no logger exists yet), and is a failure.
pub fn run_program(
    program: &'static str,
    worker_threads: Option<u16>,
    log: &LogSettings,
    serve: impl Future<Output = ExitCode>,
) -> ExitCode {
    let runtime = match runtime(worker_threads) {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{program}: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let _telemetry = telemetry::init(log, program);
        tracing::info!(workers = worker_count(), "runtime started");
        serve.await
    })
}

/// How many worker threads the current runtime has, for the start-up log line.
pub fn worker_count() -> usize {
    tokio::runtime::Handle::current().metrics().num_workers()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_has_the_workers_asked_for() {
        for asked in [1, 3] {
            let runtime = runtime(Some(asked)).expect("the runtime starts");
            assert_eq!(
                runtime.block_on(async { worker_count() }),
                usize::from(asked)
            );
        }
    }

    #[test]
    fn without_a_number_it_has_tokios_default() {
        let tokio_default = tokio::runtime::Builder::new_multi_thread()
            .build()
            .expect("tokio's default runtime starts")
            .metrics()
            .num_workers();
        let runtime = runtime(None).expect("the runtime starts");
        assert_eq!(runtime.block_on(async { worker_count() }), tokio_default);
    }
}
