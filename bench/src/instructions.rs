//! `music-bench instructions`: the instructions a process executes per
//! request, counted by valgrind's callgrind. Each measured process runs under
//! callgrind with counting off. The processes it talks to run natively. For
//! each route there is some warm-up load, then counting on for a fixed
//! stretch of load, then off, a dump, and that dump's total divided by the
//! requests answered.
//!
//! Why: CPU time per request moves by ±20 % from run to run on this shared
//! machine (BENCHMARKS.md), which hides a change worth 5 %. An instruction
//! count is the same within a fraction of a percent from run to run, whatever
//! else the machine is doing. It counts user space only. The kernel's share
//! (system calls, loopback TCP, waking threads) is not in it: in the full
//! runs at 7f07374, about two thirds of the ceiling's CPU, 30–40 % of the
//! pure gateway's and a fifth of the service's (BENCHMARKS.md). It is not
//! time either: a `rep movsb` counts once per byte. So this judges changes to code, and the CPU figures
//! of `music-bench` judge the whole.
//!
//! Hand-written because no crate drives callgrind from outside; valgrind and
//! its `callgrind_control` are Debian's.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use music_testkit::{Program, program::IN_PROCESS_LISTENER_ARGS};
use tokio::process::Command;

use crate::{
    cli::InstructionSettings,
    error::BenchError,
    grpc_load,
    run::{Binaries, await_ready, check_get_item, check_v1_get_item, program},
    wrk::{Shape, Wrk},
};

/// The process whose instructions are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Process {
    Ceiling,
    Service,
    PureGateway,
    InProcessGateway,
    /// grpc-gateway (Go), in front of the same service.
    Peer,
}

impl Process {
    fn label(self) -> &'static str {
        match self {
            Self::Ceiling => "ceiling",
            Self::Service => "music-service",
            Self::PureGateway => "pure gateway",
            Self::InProcessGateway => "in-process gateway",
            Self::Peer => "grpc-gateway (Go, peer)",
        }
    }
}

/// What is measured, and how its load is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// The ceiling's fixed answer, to wrk's tutorial GET.
    Ceiling,
    /// The tutorial's GetItem (`GET /Test/DemoResourceMusic/DemoResourceMusicItem`).
    Tutorial,
    /// The `/v1` GetItem.
    V1,
    /// gRPC GetItem straight to the service.
    Grpc,
}

impl Route {
    fn label(self) -> &'static str {
        match self {
            Self::Ceiling => "fixed JSON, any path (wrk's tutorial GET)",
            Self::Tutorial => "tutorial GetItem (REST)",
            Self::V1 => "/v1 GetItem (REST)",
            Self::Grpc => "GetItem (gRPC, straight to the service)",
        }
    }
}

/// One measured row.
#[derive(Debug)]
struct Row {
    process: Process,
    route: Route,
    requests: u64,
    instructions: u64,
}

impl Row {
    fn per_request(&self) -> f64 {
        self.instructions as f64 / self.requests.max(1) as f64
    }
}

/// A process running under callgrind, counting only when told to.
#[derive(Debug)]
struct Counted {
    program: Program,
    out_dir: tempfile::TempDir,
    control: PathBuf,
}

/// A program to run under callgrind.
#[derive(Debug)]
struct Launch<'a> {
    name: &'a str,
    label: &'a str,
    path: &'a Path,
    args: Vec<String>,
    /// Set in its environment besides RUST_LOG.
    env: &'a [(&'a str, &'a str)],
    /// The `listening on` lines it logs once its listeners are bound.
    listening: usize,
    /// The listener (by protocol) and path that answer `GET` with 200 once
    /// it is ready.
    ready: (&'a str, &'a str),
}

impl Counted {
    /// `launch` under `valgrind`, its callgrind output in a temporary
    /// folder, once it is ready.
    async fn start(settings: &InstructionSettings, launch: Launch<'_>) -> Result<Self, BenchError> {
        let out_dir = tempfile::Builder::new()
            .prefix("music-bench-callgrind-")
            .tempdir()?;
        let mut program = program(
            launch.name,
            launch.label,
            &settings.valgrind,
            &settings.rust_log,
        );
        for (name, value) in launch.env {
            program = program.env(name, value);
        }
        let mut program = program
            .arg("--tool=callgrind")
            .arg("--instr-atstart=no")
            .arg(format!(
                "--callgrind-out-file={}",
                out_dir.path().join("callgrind.out").display()
            ))
            // valgrind's own lines go to a file: stderr is the program's,
            // where the `listening on` lines are read.
            .arg(format!(
                "--log-file={}",
                out_dir.path().join("valgrind.log").display()
            ))
            .arg(launch.path)
            .args(launch.args)
            .listening(launch.listening)
            .start()
            .await?;
        let (protocol, probe) = launch.ready;
        let addr = program.addr(protocol);
        await_ready(&mut program, addr, probe).await?;
        Ok(Self {
            program,
            out_dir,
            control: settings.valgrind.with_file_name("callgrind_control"),
        })
    }

    async fn control(&self, args: &[&str]) -> Result<(), BenchError> {
        let output = Command::new(&self.control)
            .args(args)
            .arg(self.program.pid().to_string())
            .output()
            .await
            .map_err(|e| {
                BenchError::Setup(format!("cannot run {}: {e}", self.control.display()))
            })?;
        let said = String::from_utf8_lossy(&output.stdout);
        if output.status.success() && took_command(&said) {
            Ok(())
        } else {
            Err(BenchError::Load(format!(
                "{} {} {} failed: {said}{}",
                self.control.display(),
                args.join(" "),
                self.program.pid(),
                String::from_utf8_lossy(&output.stderr)
            )))
        }
    }

    /// Counts the instructions `load` makes this process execute.
    async fn count<F>(&self, load: F) -> Result<(u64, u64), BenchError>
    where
        F: Future<Output = Result<u64, BenchError>>,
    {
        let before = self.dumps()?.len();
        self.control(&["--instr=on"]).await?;
        let requests = load.await;
        self.control(&["--instr=off"]).await?;
        let requests = requests?;
        self.control(&["--dump"]).await?;
        // The dump is written by the process itself, a moment later.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let dumps = self.dumps()?;
            if dumps.len() > before
                && let Some(total) = totals(&std::fs::read_to_string(dumps.last().unwrap())?)
            {
                return Ok((requests, total));
            }
            if std::time::Instant::now() > deadline {
                return Err(BenchError::Load(format!(
                    "callgrind wrote no dump in {} within 30 s",
                    self.out_dir.path().display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The dump files written so far, oldest first (`callgrind.out.1`, `.2`, …).
    fn dumps(&self) -> Result<Vec<PathBuf>, BenchError> {
        let mut dumps: Vec<(u32, PathBuf)> = std::fs::read_dir(self.out_dir.path())?
            .filter_map(|entry| {
                let path = entry.ok()?.path();
                let part = path
                    .file_name()?
                    .to_str()?
                    .strip_prefix("callgrind.out.")?
                    .parse()
                    .ok()?;
                Some((part, path))
            })
            .collect();
        dumps.sort();
        Ok(dumps.into_iter().map(|(_, path)| path).collect())
    }
}

/// Whether callgrind_control's stdout says the process took the command. It
/// exits 0 whatever happened: it answers "PID N: …" and "  OK." when the
/// process took it, and "Error: Callgrind task with PID/name 'N' not
/// detected." when there was none.
fn took_command(stdout: &str) -> bool {
    stdout.lines().any(|line| line.trim() == "OK.") && !stdout.contains("Error")
}

/// The `totals:` line of a callgrind dump: the instructions counted since
/// the dump before it.
fn totals(dump: &str) -> Option<u64> {
    dump.lines()
        .find_map(|line| line.strip_prefix("totals:"))
        .and_then(|n| n.split_whitespace().next()?.parse().ok())
}

/// Runs it and prints the table on stdout.
pub(crate) async fn run(settings: InstructionSettings) -> Result<(), BenchError> {
    let binaries = Binaries::find(settings.bin_dir.as_deref())?;
    let wrk = Wrk::new(&settings.wrk).await?;
    let mut rows = Vec::new();
    eprintln!("ceiling-server under callgrind");
    rows.extend(ceiling(&settings, &binaries, &wrk).await?);
    eprintln!("music-service under callgrind, the pure gateway native");
    rows.extend(service(&settings, &binaries, &wrk).await?);
    eprintln!("the pure gateway under callgrind, music-service native");
    rows.extend(gateway(&settings, &binaries, &wrk).await?);
    eprintln!("the in-process gateway under callgrind");
    rows.extend(in_process(&settings, &binaries, &wrk).await?);
    if let Some(path) = &settings.grpc_gateway_peer {
        eprintln!("grpc-gateway (Go, peer) under callgrind, music-service native");
        rows.extend(peer(&settings, &binaries, &wrk, path).await?);
    }
    print!("{}", table(&settings, &binaries, &rows));
    Ok(())
}

fn service_args() -> Vec<String> {
    [
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--in-memory",
    ]
    .map(String::from)
    .to_vec()
}

fn gateway_args(upstream: SocketAddr) -> Vec<String> {
    vec![
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--admin-listen".into(),
        "127.0.0.1:0".into(),
        "--upstream".into(),
        format!("http://{upstream}"),
    ]
}

/// Warm-up, then the counted stretch, of `route` against `counted`.
async fn measure(
    settings: &InstructionSettings,
    wrk: &Wrk,
    counted: &Counted,
    process: Process,
    route: Route,
    addr: SocketAddr,
) -> Result<Row, BenchError> {
    let connections = settings.connections;
    let load = |secs: u64| async move {
        let duration = Duration::from_secs(secs);
        let cell = match route {
            Route::Ceiling | Route::Tutorial => {
                wrk.run(addr, Shape::RestGetItem, connections, duration)
                    .await?
            }
            Route::V1 => {
                wrk.run(addr, Shape::RestV1GetItem, connections, duration)
                    .await?
            }
            Route::Grpc => grpc_load::get_item(addr, connections, 1, duration).await?,
        };
        if cell.errors > 0 {
            return Err(BenchError::Load(format!(
                "{} errors of {} requests on {}",
                cell.errors,
                cell.requests,
                route.label()
            )));
        }
        Ok(cell.requests)
    };
    // Every answer counted finds the song (else each would be a quick
    // "Item not found", and the row would mislead).
    match route {
        Route::Tutorial => check_get_item(addr).await?,
        Route::V1 => {
            check_v1_get_item(addr, &format!("the {}'s /v1 GetItem", process.label())).await?
        }
        Route::Ceiling | Route::Grpc => {}
    }
    load(settings.warmup_secs).await?;
    let (requests, instructions) = counted.count(load(settings.secs)).await?;
    eprintln!(
        "  {}, {}: {requests} requests, {:.0} instructions each",
        process.label(),
        route.label(),
        instructions as f64 / requests.max(1) as f64
    );
    Ok(Row {
        process,
        route,
        requests,
        instructions,
    })
}

async fn ceiling(
    settings: &InstructionSettings,
    binaries: &Binaries,
    wrk: &Wrk,
) -> Result<Vec<Row>, BenchError> {
    let counted = Counted::start(
        settings,
        Launch {
            name: "music-bench",
            label: "ceiling-server (callgrind)",
            path: &binaries.me,
            args: ["ceiling-server", "--listen", "127.0.0.1:0"]
                .map(String::from)
                .to_vec(),
            env: &[],
            listening: 1,
            ready: ("http", "/"),
        },
    )
    .await?;
    let addr = counted.program.addr("http");
    let row = measure(
        settings,
        wrk,
        &counted,
        Process::Ceiling,
        Route::Ceiling,
        addr,
    )
    .await?;
    counted.program.stop().await;
    Ok(vec![row])
}

async fn service(
    settings: &InstructionSettings,
    binaries: &Binaries,
    wrk: &Wrk,
) -> Result<Vec<Row>, BenchError> {
    let counted = Counted::start(
        settings,
        Launch {
            name: "music-service",
            label: "music-service (callgrind)",
            path: &binaries.service,
            args: service_args(),
            env: &[],
            listening: 2,
            ready: ("admin", "/readyz"),
        },
    )
    .await?;
    let grpc = counted.program.addr("grpc");
    grpc_load::seed(grpc).await?;
    let mut gateway = program(
        "music-gateway",
        binaries.pure_gateway_label,
        &binaries.pure_gateway,
        &settings.rust_log,
    )
    .args(gateway_args(grpc))
    .listening(2)
    .start()
    .await?;
    let http = gateway.addr("http");
    await_ready(&mut gateway, http, "/readyz").await?;
    let mut rows = Vec::new();
    for (route, addr) in [
        (Route::Tutorial, http),
        (Route::V1, http),
        (Route::Grpc, grpc),
    ] {
        rows.push(measure(settings, wrk, &counted, Process::Service, route, addr).await?);
    }
    gateway.stop().await;
    counted.program.stop().await;
    Ok(rows)
}

/// music-service, native, on a seeded in-memory store; its gRPC address.
async fn native_service(
    settings: &InstructionSettings,
    binaries: &Binaries,
) -> Result<(Program, SocketAddr), BenchError> {
    let mut service = program(
        "music-service",
        "music-service",
        &binaries.service,
        &settings.rust_log,
    )
    .args(service_args())
    .listening(2)
    .start()
    .await?;
    let (grpc, admin) = (service.addr("grpc"), service.addr("admin"));
    await_ready(&mut service, admin, "/readyz").await?;
    grpc_load::seed(grpc).await?;
    Ok((service, grpc))
}

async fn gateway(
    settings: &InstructionSettings,
    binaries: &Binaries,
    wrk: &Wrk,
) -> Result<Vec<Row>, BenchError> {
    let (service, grpc) = native_service(settings, binaries).await?;
    let counted = Counted::start(
        settings,
        Launch {
            name: "music-gateway",
            label: "music-gateway --upstream (callgrind)",
            path: &binaries.pure_gateway,
            args: gateway_args(grpc),
            env: &[],
            listening: 2,
            ready: ("http", "/readyz"),
        },
    )
    .await?;
    let http = counted.program.addr("http");
    let mut rows = Vec::new();
    for route in [Route::Tutorial, Route::V1] {
        rows.push(measure(settings, wrk, &counted, Process::PureGateway, route, http).await?);
    }
    counted.program.stop().await;
    service.stop().await;
    Ok(rows)
}

async fn in_process(
    settings: &InstructionSettings,
    binaries: &Binaries,
    wrk: &Wrk,
) -> Result<Vec<Row>, BenchError> {
    let counted = Counted::start(
        settings,
        Launch {
            name: "music-gateway",
            label: "music-gateway in-process (callgrind)",
            path: &binaries.gateway,
            args: IN_PROCESS_LISTENER_ARGS
                .iter()
                .chain(&["--in-memory"])
                .map(|arg| arg.to_string())
                .collect(),
            env: &[],
            listening: 3,
            ready: ("http", "/readyz"),
        },
    )
    .await?;
    let (http, grpc) = (counted.program.addr("http"), counted.program.addr("grpc"));
    grpc_load::seed(grpc).await?;
    let mut rows = Vec::new();
    for route in [Route::Tutorial, Route::V1] {
        rows.push(
            measure(
                settings,
                wrk,
                &counted,
                Process::InProcessGateway,
                route,
                http,
            )
            .await?,
        );
    }
    counted.program.stop().await;
    Ok(rows)
}

/// grpc-gateway (Go) at `path` under callgrind in front of a native
/// music-service, on the `/v1` GetItem: the peer our pure gateway is judged
/// against. Go's asynchronous preemption is turned off
/// (`GODEBUG=asyncpreemptoff=1`): with it, callgrind 3.19 stopped on an
/// assertion (`vgCallgrind_post_signal`) at the first SIGURG. Without it, a
/// goroutine is interrupted at its function calls only, as before Go 1.14,
/// which changes when a long loop yields, not what a request does.
async fn peer(
    settings: &InstructionSettings,
    binaries: &Binaries,
    wrk: &Wrk,
    path: &Path,
) -> Result<Vec<Row>, BenchError> {
    let (service, grpc) = native_service(settings, binaries).await?;
    let counted = Counted::start(
        settings,
        Launch {
            name: "grpc-gateway-peer",
            label: "grpc-gateway (Go, peer) (callgrind)",
            path,
            args: vec![
                "-listen".into(),
                "127.0.0.1:0".into(),
                "-upstream".into(),
                grpc.to_string(),
            ],
            env: &[("GODEBUG", "asyncpreemptoff=1")],
            listening: 1,
            // ListTables answers 200 once the peer reaches the service.
            ready: ("http", "/v1/tables"),
        },
    )
    .await?;
    let http = counted.program.addr("http");
    let row = measure(settings, wrk, &counted, Process::Peer, Route::V1, http).await?;
    counted.program.stop().await;
    service.stop().await;
    Ok(vec![row])
}

/// The table (markdown), with each row against the ceiling's.
fn table(settings: &InstructionSettings, binaries: &Binaries, rows: &[Row]) -> String {
    use std::fmt::Write;
    let ceiling = rows
        .iter()
        .find(|r| r.process == Process::Ceiling)
        .map(Row::per_request);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "- instructions per request, user space only (valgrind --tool=callgrind); \
         {} s counted per row after {} s of warm-up, {} connections (gRPC: calls in flight on one channel)",
        settings.secs, settings.warmup_secs, settings.connections
    );
    let _ = writeln!(out, "- the pure gateway: {}", binaries.pure_gateway_label);
    let _ = writeln!(out, "- RUST_LOG of the programs: `{}`", settings.rust_log);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| process | route | requests counted | instructions per request | vs the ceiling |"
    );
    let _ = writeln!(out, "|---|---|--:|--:|--:|");
    for row in rows {
        let ratio = ceiling.map_or_else(
            || "-".to_owned(),
            |c| format!("{:.1} ×", row.per_request() / c),
        );
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} | {ratio} |",
            row.process.label(),
            row.route.label(),
            row.requests,
            row.per_request()
        );
    }
    let ratios = ratios(rows);
    if !ratios.is_empty() {
        let _ = writeln!(out);
        for line in ratios {
            let _ = writeln!(out, "- {line}");
        }
    }
    out
}

/// The targets that compare two rows of the table (the ceiling's
/// are its last column), each with what it measured.
fn ratios(rows: &[Row]) -> Vec<String> {
    let per_request = |process, route| {
        rows.iter()
            .find(|r| r.process == process && r.route == route)
            .map(Row::per_request)
    };
    let service = |route| per_request(Process::Service, route);
    let pure = |route| per_request(Process::PureGateway, route);
    let in_process = |route| per_request(Process::InProcessGateway, route);
    let percent = |a: f64, b: f64| format!("{:.0} %", 100.0 * a / b);
    let mut lines = Vec::new();
    if let (Some(v1), Some(tutorial)) = (in_process(Route::V1), in_process(Route::Tutorial)) {
        lines.push(format!(
            "`/v1` against the tutorial route, in-process gateway (target ≤ 110 %): {}",
            percent(v1, tutorial)
        ));
    }
    if let (Some(gv1), Some(sv1), Some(gt), Some(st)) = (
        pure(Route::V1),
        service(Route::V1),
        pure(Route::Tutorial),
        service(Route::Tutorial),
    ) {
        lines.push(format!(
            "`/v1` against the tutorial route, pure gateway and service together (target ≤ 110 %): {}; the pure gateway alone: {}",
            percent(gv1 + sv1, gt + st),
            percent(gv1, gt)
        ));
    }
    if let (Some(ours), Some(peer)) = (pure(Route::V1), per_request(Process::Peer, Route::V1)) {
        lines.push(format!(
            "our pure gateway against grpc-gateway (Go), `/v1` GetItem (target ≤ 50 %): {}",
            percent(ours, peer)
        ));
    }
    if let (Some(gateway), Some(service)) = (pure(Route::Tutorial), service(Route::Tutorial)) {
        lines.push(format!(
            "the pure gateway against the service, tutorial GetItem (target ≤ 50 %): {}",
            percent(gateway, service)
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callgrind_controls_answers_are_told_apart() {
        assert!(took_command("PID 22075: sleep 20\n  OK.\n"));
        assert!(!took_command(
            "Error: Callgrind task with PID/name '999999' not detected.\nSee '/usr/bin/callgrind_control -h' for help.\n"
        ));
        assert!(!took_command(""));
    }

    #[test]
    fn ratios_compare_the_rows_the_targets_name() {
        let row = |process, route, instructions| Row {
            process,
            route,
            requests: 10,
            instructions,
        };
        let rows = [
            row(Process::Ceiling, Route::Ceiling, 100),
            row(Process::Service, Route::Tutorial, 3000),
            row(Process::Service, Route::V1, 3100),
            row(Process::PureGateway, Route::Tutorial, 1000),
            row(Process::PureGateway, Route::V1, 1300),
            row(Process::InProcessGateway, Route::Tutorial, 4000),
            row(Process::InProcessGateway, Route::V1, 4600),
            row(Process::Peer, Route::V1, 2000),
        ];
        assert_eq!(
            ratios(&rows),
            [
                "`/v1` against the tutorial route, in-process gateway (target ≤ 110 %): 115 %",
                "`/v1` against the tutorial route, pure gateway and service together (target ≤ 110 %): 110 %; the pure gateway alone: 130 %",
                "our pure gateway against grpc-gateway (Go), `/v1` GetItem (target ≤ 50 %): 65 %",
                "the pure gateway against the service, tutorial GetItem (target ≤ 50 %): 33 %",
            ]
        );
        assert!(ratios(&rows[..2]).is_empty());
    }

    #[test]
    fn the_totals_line_of_a_dump_is_read() {
        let dump = "# callgrind format\nversion: 1\nevents: Ir\nsummary: 0\n\nfn=(1) main\n0 5\ntotals: 1086293248\n";
        assert_eq!(totals(dump), Some(1_086_293_248));
        assert_eq!(totals("events: Ir\n"), None);
        assert_eq!(totals("totals: many\n"), None);
    }
}
