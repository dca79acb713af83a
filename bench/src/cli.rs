//! The command line: the benchmark's settings, and the `ceiling-server`
//! subcommand the benchmark runs as a child process.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::scenario::ScenarioId;

/// Benchmarks music-gateway and music-service side by side: starts them (and
/// DynamoDB Local) as processes on loopback ports, seeds a table and a song,
/// drives load at each concurrency, and prints one table (requests/s, p50,
/// p99, p99.9, errors), the processes' RSS and start-up times, and the ratios
/// the performance targets are about. Timings are only comparable within one
/// run. Uses the release binaries next to this one: run
/// `cargo build --release --workspace` first (scripts/bench.sh does it all).
#[derive(Debug, Parser)]
#[command(name = "music-bench", version, args_conflicts_with_subcommands = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    #[command(flatten)]
    pub(crate) settings: Settings,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Serve the ceiling: a bare axum handler answering a fixed JSON string on
    /// any path (the benchmark starts this itself, as a separate process).
    CeilingServer {
        /// Address to listen on (port 0: any; the bound one is logged as `listening on ADDR`).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
}

#[derive(Debug, Clone, Args)]
pub(crate) struct Settings {
    /// Measured seconds per cell (scenario × concurrency).
    #[arg(long, env = "MUSIC_BENCH_DURATION_SECS", default_value_t = 5)]
    pub(crate) duration_secs: u64,

    /// Unmeasured seconds of the same load before each cell (warms caches,
    /// connection pools and DynamoDB Local's JIT).
    #[arg(long, env = "MUSIC_BENCH_WARMUP_SECS", default_value_t = 1)]
    pub(crate) warmup_secs: u64,

    /// Concurrent connections (HTTP) or in-flight calls (gRPC), comma-separated.
    #[arg(
        long,
        env = "MUSIC_BENCH_CONCURRENCY",
        value_delimiter = ',',
        default_value = "1,8,64,256",
        value_parser = clap::value_parser!(u32).range(1..=1024)
    )]
    pub(crate) concurrency: Vec<u32>,

    /// Scenarios to run, comma-separated (default: all).
    #[arg(long, env = "MUSIC_BENCH_SCENARIOS", value_delimiter = ',', value_enum)]
    pub(crate) scenarios: Vec<ScenarioId>,

    /// Leave out every scenario that needs DynamoDB Local (and Java).
    #[arg(long, env = "MUSIC_BENCH_SKIP_DYNAMODB_LOCAL")]
    pub(crate) skip_dynamodb_local: bool,

    /// Folder holding music-service and music-gateway (default: this binary's folder,
    /// i.e. target/release).
    #[arg(long, env = "MUSIC_BENCH_BIN_DIR")]
    pub(crate) bin_dir: Option<PathBuf>,

    /// Folder holding DynamoDBLocal.jar and DynamoDBLocal_lib (default: the one
    /// scripts/test.sh and scripts/bench.sh install under ~/.cache/music-api).
    #[arg(long, env = "MUSIC_BENCH_DYNAMODB_LOCAL_DIR")]
    pub(crate) dynamodb_local_dir: Option<PathBuf>,

    /// Java 17+ to run DynamoDB Local with.
    #[arg(long, env = "MUSIC_BENCH_JAVA", default_value = "java")]
    pub(crate) java: PathBuf,

    /// The wrk load generator.
    #[arg(long, env = "MUSIC_BENCH_WRK", default_value = "wrk")]
    pub(crate) wrk: PathBuf,

    /// At most this many gRPC channels (HTTP/2 connections) for the gRPC load;
    /// the calls in flight are spread over them.
    #[arg(long, env = "MUSIC_BENCH_GRPC_CHANNELS", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub(crate) grpc_channels: u32,

    /// RUST_LOG of the programs under test. The default keeps only warnings and
    /// the `listening on` lines the benchmark reads, so logging costs little;
    /// `info` measures them with one access-log line per request.
    #[arg(
        long,
        env = "MUSIC_BENCH_RUST_LOG",
        default_value = "warn,music_gateway::app=info,music_service::server=info,music_service::admin=info"
    )]
    pub(crate) rust_log: String,
}
