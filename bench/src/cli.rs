//! The command line: the benchmark's settings, the `soak` subcommand's, and
//! the `ceiling-server` subcommand the benchmark runs as a child process.

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
    /// Soak: music-gateway (`--upstream`) and music-service on the embedded
    /// store kept in a file, driven for `--minutes` (after `--warmup-secs`)
    /// by an open-loop mixed load at `--load-fraction` of the capacity a
    /// closed-loop burst of the same mix found first. The mix, over a fixed
    /// set of `--songs`: REST GET 40 %, PUT 20 %, POST 20 %, DELETE 10 %
    /// through the gateway, gRPC GetItem 5 % and PutItem 5 % straight to the
    /// service. Prints (markdown, stdout) one row per window (requests,
    /// errors, req/s, p50/p99/p99.9 from the scheduled send time, RSS and CPU
    /// of both processes) and three verdicts: RSS growth after warm-up
    /// < 10 %, zero errors, p99 stable (the largest post-warm-up window p99
    /// at most twice their median). The verdicts are printed as met or not
    /// met; the exit code is non-zero only when the run itself broke (a
    /// program did not start, Ctrl-C, …), not when a verdict fails. Needs
    /// neither wrk nor DynamoDB Local. With the defaults it takes about 11½
    /// minutes (20 s of capacity burst, 60 s of warm-up, 10 min judged).
    Soak(SoakSettings),
    /// Instructions per request: each measured process (the ceiling, the
    /// service, the pure gateway, the in-process gateway, and grpc-gateway
    /// when given) in turn under valgrind's callgrind, counting only while
    /// its route is loaded, the processes it talks to running natively; one
    /// table (markdown, stdout) and the targets that compare its rows. User
    /// space only, and repeatable to a fraction of a percent on a busy
    /// machine, where CPU time per request is not: for judging a change to
    /// the code. Needs valgrind and wrk; takes about two and a half minutes.
    Instructions(InstructionSettings),
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

    /// The peer of the peer-2proc scenario: grpc-gateway (Go) built from
    /// bench/peer with Debian's packages (scripts/bench.sh builds it unless
    /// given --skip-peer). Unset, that scenario is skipped.
    #[arg(long, env = "MUSIC_BENCH_GRPC_GATEWAY_PEER")]
    pub(crate) grpc_gateway_peer: Option<PathBuf>,

    /// The wrk load generator.
    #[arg(long, env = "MUSIC_BENCH_WRK", default_value = "wrk")]
    pub(crate) wrk: PathBuf,

    /// At most this many gRPC channels (HTTP/2 connections) for the gRPC load;
    /// the calls in flight are spread over them.
    #[arg(long, env = "MUSIC_BENCH_GRPC_CHANNELS", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub(crate) grpc_channels: u32,

    /// The pure gateways' `--upstream-connections` (HTTP/2 connections to the
    /// service); unset, the gateway's default (one per core).
    #[arg(long, env = "MUSIC_BENCH_UPSTREAM_CONNECTIONS",
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub(crate) upstream_connections: Option<u32>,

    /// Worker threads of the gateways in front of the service process and of
    /// the ceiling they are measured against: our pure gateways'
    /// `--worker-threads`, the Go peer's `GOMAXPROCS`, the ceiling's
    /// `TOKIO_WORKER_THREADS`. The service and the in-process gateway keep
    /// their default. Unset, each one's default (one per core).
    #[arg(long, env = "MUSIC_BENCH_GATEWAY_WORKER_THREADS",
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(crate) gateway_worker_threads: Option<u32>,

    /// RUST_LOG of the programs under test. The default keeps only warnings and
    /// the `listening on` lines the benchmark reads, so logging costs little;
    /// `info` measures them with one access-log line per request.
    #[arg(
        long,
        env = "MUSIC_BENCH_RUST_LOG",
        default_value = "warn,music_runtime::serve=info"
    )]
    pub(crate) rust_log: String,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct SoakSettings {
    /// Minutes of soak after the warm-up: the span the verdicts judge.
    #[arg(long, env = "MUSIC_BENCH_SOAK_MINUTES", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) minutes: u64,

    /// Seconds of the same open-loop load before the judged span: their
    /// windows are shown, and the RSS at their end is the baseline of the
    /// growth verdict (it lets allocators, caches and the store file settle).
    #[arg(long, env = "MUSIC_BENCH_SOAK_WARMUP_SECS", default_value_t = 60)]
    pub(crate) warmup_secs: u64,

    /// Seconds per row of the table (one latency histogram each).
    #[arg(long, env = "MUSIC_BENCH_SOAK_WINDOW_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) window_secs: u64,

    /// Seconds of the closed-loop burst that measures capacity (after 5 s unmeasured).
    #[arg(long, env = "MUSIC_BENCH_SOAK_CAPACITY_SECS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) capacity_secs: u64,

    /// The soak's rate as a fraction of the capacity found (0 < f ≤ 1).
    #[arg(long, env = "MUSIC_BENCH_SOAK_LOAD_FRACTION", default_value_t = 0.5,
          value_parser = load_fraction)]
    pub(crate) load_fraction: f64,

    /// Requests per second of the soak, instead of measuring capacity (skips
    /// the burst; for repeating a run at the same rate).
    #[arg(long, env = "MUSIC_BENCH_SOAK_RATE", value_parser = positive)]
    pub(crate) rate: Option<f64>,

    /// Load workers, each with its own HTTP/1.1 keep-alive connection to the
    /// gateway (gRPC calls share two channels to the service): the burst's
    /// concurrency, and how many requests the soak can have in flight.
    #[arg(long, env = "MUSIC_BENCH_SOAK_CONNECTIONS", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(crate) connections: u32,

    /// Songs the load reads and writes: a fixed key space, so the data stays
    /// the same size and lasting RSS growth points at a leak.
    #[arg(long, env = "MUSIC_BENCH_SOAK_SONGS", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub(crate) songs: u32,

    /// Folder holding music-service and music-gateway (default: this binary's folder,
    /// i.e. target/release).
    #[arg(long, env = "MUSIC_BENCH_BIN_DIR")]
    pub(crate) bin_dir: Option<PathBuf>,

    /// RUST_LOG of the programs under test (see the benchmark's --rust-log).
    #[arg(
        long,
        env = "MUSIC_BENCH_RUST_LOG",
        default_value = "warn,music_runtime::serve=info"
    )]
    pub(crate) rust_log: String,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct InstructionSettings {
    /// Seconds of load counted per row (under callgrind the measured
    /// process answers some hundreds of requests a second).
    #[arg(long, env = "MUSIC_BENCH_INSTRUCTIONS_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) secs: u64,

    /// Seconds of the same load before counting starts.
    #[arg(long, env = "MUSIC_BENCH_WARMUP_SECS", default_value_t = 2)]
    pub(crate) warmup_secs: u64,

    /// HTTP connections (gRPC: calls in flight) of the load. Requests cut
    /// off when a stretch ends are at most this many, against thousands
    /// counted.
    #[arg(long, env = "MUSIC_BENCH_INSTRUCTIONS_CONNECTIONS", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub(crate) connections: u32,

    /// Folder holding music-service and music-gateway (default: this binary's folder,
    /// i.e. target/release).
    #[arg(long, env = "MUSIC_BENCH_BIN_DIR")]
    pub(crate) bin_dir: Option<PathBuf>,

    /// valgrind; its callgrind_control is taken from the same folder.
    #[arg(
        long,
        env = "MUSIC_BENCH_VALGRIND",
        default_value = "/usr/bin/valgrind"
    )]
    pub(crate) valgrind: PathBuf,

    /// grpc-gateway (Go) built from bench/peer, counted on the `/v1` GetItem
    /// in front of the same service (scripts/bench.sh builds it unless given
    /// --skip-peer). Unset, its row is left out.
    #[arg(long, env = "MUSIC_BENCH_GRPC_GATEWAY_PEER")]
    pub(crate) grpc_gateway_peer: Option<PathBuf>,

    /// The wrk load generator.
    #[arg(long, env = "MUSIC_BENCH_WRK", default_value = "wrk")]
    pub(crate) wrk: PathBuf,

    /// RUST_LOG of the programs under test (see the benchmark's --rust-log).
    #[arg(
        long,
        env = "MUSIC_BENCH_RUST_LOG",
        default_value = "warn,music_runtime::serve=info"
    )]
    pub(crate) rust_log: String,
}

fn load_fraction(text: &str) -> Result<f64, String> {
    let value: f64 = text.parse().map_err(|e| format!("{e}"))?;
    if value > 0.0 && value <= 1.0 {
        Ok(value)
    } else {
        Err("must be more than 0 and at most 1".into())
    }
}

fn positive(text: &str) -> Result<f64, String> {
    let value: f64 = text.parse().map_err(|e| format!("{e}"))?;
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err("must be a positive number".into())
    }
}
