//! One benchmark run: for each group of scenarios, start what it measures
//! (the ceiling server, the gateway with the service in its process, the
//! gateway and the service as two processes, DynamoDB Local), wait until it
//! answers, seed it, measure every concurrency (warm-up, then the measured
//! cell with the processes' RSS sampled), stop it; then print the report.
//! Everything started is a testkit [`Program`], killed when dropped, so an
//! error or Ctrl-C anywhere stops it all; RSS and CPU time are testkit's
//! samplers (`music_testkit::sample`).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use music_testkit::{
    Program,
    dynamodb_local::DynamoDbLocal,
    http,
    program::{Builder, IN_PROCESS_LISTENER_ARGS},
    sample::{self, CpuTime, Peak},
};

use crate::{
    cli::Settings,
    dynamodb_local, edge,
    error::BenchError,
    grpc_load,
    report::{self, Cell, ProcessRow, Report, Row},
    scenario::{
        ALBUM_TITLE, ARTIST, ITEM_PATH, SONG_TITLE, ScenarioId, Store, TABLE, V1_ITEM_PATH,
    },
    wrk::{Shape, Wrk},
};

/// How long a started program may take to answer its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Seconds of load DynamoDB Local gets before its first measured cell, so
/// that its JIT has compiled the GetItem path.
const DYNAMODB_LOCAL_WARMUP: Duration = Duration::from_secs(5);

/// How long a program may take to log its `listening on` lines.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Lines of a program's stderr kept for error messages.
const LOG_TAIL: usize = 40;
/// How often the RSS of the measured processes is sampled for its peak.
const RSS_EVERY: Duration = Duration::from_millis(100);

/// How a scenario's load is sent.
#[derive(Debug, Clone, Copy)]
enum Load {
    Http(SocketAddr, Shape),
    Grpc(SocketAddr),
}

/// The programs of one stack, with their RSS.
#[derive(Debug)]
struct Stack {
    label: String,
    programs: Vec<Program>,
    idle_kib: Vec<Option<u64>>,
    peak_kib: Vec<u64>,
}

impl Stack {
    fn new(label: &str, programs: Vec<Program>) -> Self {
        let n = programs.len();
        Self {
            label: label.to_owned(),
            programs,
            idle_kib: vec![None; n],
            peak_kib: vec![0; n],
        }
    }

    /// Records idle RSS, after a moment for start-up work to settle.
    async fn settle(&mut self) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.idle_kib = self
            .programs
            .iter()
            .map(|p| sample::rss_kib(p.pid()))
            .collect();
    }

    fn pids(&self) -> Vec<u32> {
        self.programs.iter().map(Program::pid).collect()
    }

    /// Stops its programs, last started first, and hands back their rows.
    async fn stop(mut self) -> Vec<ProcessRow> {
        let rows = self
            .programs
            .iter()
            .zip(&self.idle_kib)
            .zip(&self.peak_kib)
            .map(|((program, idle), peak)| ProcessRow {
                stack: self.label.clone(),
                process: program.name().to_owned(),
                to_listening: Some(program.to_listening()),
                to_ready: program.to_ready(),
                idle_kib: *idle,
                peak_kib: (*peak > 0).then_some(*peak),
            })
            .collect();
        while let Some(program) = self.programs.pop() {
            program.stop().await;
        }
        rows
    }
}

/// The binaries a run starts.
#[derive(Debug)]
pub(crate) struct Binaries {
    pub(crate) me: PathBuf,
    pub(crate) service: PathBuf,
    pub(crate) gateway: PathBuf,
    /// The gateway of the two-process stack: the slim build
    /// (`--no-default-features`, no service linked in) that the Dockerfile
    /// and docker-compose deploy, which scripts/bench.sh builds as
    /// `music-gateway-slim`; the full build when that is missing.
    pub(crate) pure_gateway: PathBuf,
    /// Says which build `pure_gateway` is, for the report.
    pub(crate) pure_gateway_label: &'static str,
}

impl Binaries {
    pub(crate) fn find(dir: Option<&Path>) -> Result<Self, BenchError> {
        let me = std::env::current_exe()?;
        let dir = match dir {
            Some(dir) => dir.to_owned(),
            None => me
                .parent()
                .map(Path::to_owned)
                .ok_or_else(|| BenchError::Setup("cannot tell this binary's folder".into()))?,
        };
        let find = |name: &str| {
            let path = dir.join(name);
            if path.is_file() {
                Ok(path)
            } else {
                Err(BenchError::Setup(format!(
                    "{} is not built; run `cargo build --release --workspace` first \
                     (scripts/bench.sh builds and runs everything), or pass --bin-dir",
                    path.display()
                )))
            }
        };
        let gateway = find("music-gateway")?;
        let slim = dir.join("music-gateway-slim");
        let (pure_gateway, pure_gateway_label) = if slim.is_file() {
            (slim, "music-gateway (--upstream, slim build)")
        } else {
            (gateway.clone(), "music-gateway (--upstream, full build)")
        };
        Ok(Self {
            service: find("music-service")?,
            gateway,
            pure_gateway,
            pure_gateway_label,
            me,
        })
    }
}

/// The state of a run.
#[derive(Debug)]
struct Bench {
    settings: Settings,
    scenarios: Vec<ScenarioId>,
    binaries: Binaries,
    wrk: Wrk,
    rows: Vec<Row>,
    processes: Vec<ProcessRow>,
}

/// Runs the benchmark the settings ask for and prints its report on stdout
/// (progress goes to stderr).
pub(crate) async fn run(settings: Settings) -> Result<(), BenchError> {
    if settings.duration_secs == 0 {
        return Err(BenchError::Setup(
            "--duration-secs must be at least 1".into(),
        ));
    }
    let mut scenarios: Vec<ScenarioId> = if settings.scenarios.is_empty() {
        ScenarioId::ALL.to_vec()
    } else {
        settings.scenarios.clone()
    };
    if settings.skip_dynamodb_local {
        scenarios.retain(|s| s.store() != Some(Store::DynamoDbLocal));
    }
    if scenarios.contains(&ScenarioId::PeerTwoProcess) {
        match &settings.grpc_gateway_peer {
            None => {
                eprintln!(
                    "music-bench: peer-2proc skipped: no --grpc-gateway-peer given \
                     (scripts/bench.sh builds one from bench/peer unless given --skip-peer)"
                );
                scenarios.retain(|s| *s != ScenarioId::PeerTwoProcess);
            }
            Some(peer) if !peer.is_file() => {
                return Err(BenchError::Setup(format!(
                    "--grpc-gateway-peer {} is not a file (scripts/lib/grpc-gateway-peer.sh builds it)",
                    peer.display()
                )));
            }
            Some(_) => {}
        }
    }
    scenarios.sort();
    scenarios.dedup();
    if scenarios.is_empty() {
        return Err(BenchError::Setup("no scenario left to run".into()));
    }
    let binaries = Binaries::find(settings.bin_dir.as_deref())?;
    let wrk = Wrk::new(&settings.wrk).await?;
    let ddb_dir = if scenarios
        .iter()
        .any(|s| s.store() == Some(Store::DynamoDbLocal))
    {
        Some(dynamodb_local::find(
            settings.dynamodb_local_dir.as_deref(),
        )?)
    } else {
        None
    };
    let cells = scenarios.len() * settings.concurrency.len();
    eprintln!(
        "music-bench: {} scenarios × {} concurrencies, {} s + {} s warm-up per cell (about {} s of load)",
        scenarios.len(),
        settings.concurrency.len(),
        settings.duration_secs,
        settings.warmup_secs,
        cells as u64 * (settings.duration_secs + settings.warmup_secs)
    );
    // The commit of the binaries under test: read before the run, while the
    // tree is what was built.
    let commit = report::commit();
    let load_before = report::load_average();
    let mut bench = Bench {
        settings,
        scenarios,
        binaries,
        wrk,
        rows: Vec::new(),
        processes: Vec::new(),
    };

    bench.ceiling().await?;
    bench.stacks(Store::Embedded, None).await?;
    if let Some(dir) = ddb_dir {
        let java = bench.settings.java.clone();
        let local = DynamoDbLocal::launcher(&dir).java(java).start().await?;
        dynamodb_local::seed(&local).await?;
        let pid = local.program().pid();
        let idle = sample::rss_kib(pid);
        eprintln!(
            "DynamoDB Local ready on {} in {:.1} s; warming it up",
            local.addr(),
            local.program().to_ready().unwrap_or_default().as_secs_f64()
        );
        bench
            .wrk
            .run(
                local.addr(),
                Shape::DynamoDbGetItem,
                8,
                DYNAMODB_LOCAL_WARMUP,
            )
            .await?;
        let sampler = Peak::start(vec![pid], RSS_EVERY, sample::rss_kib);
        let mut measured = Ok(());
        if bench.selected(ScenarioId::DdbDirect) {
            let load = Load::Http(local.addr(), Shape::DynamoDbGetItem);
            measured = bench.measure_all(ScenarioId::DdbDirect, load, &[pid]).await;
        }
        if measured.is_ok() {
            measured = bench.stacks(Store::DynamoDbLocal, Some(&local)).await;
        }
        let peak = sampler.stop().await;
        bench.processes.push(ProcessRow {
            stack: "dynamodb-local".into(),
            process: local.program().name().to_owned(),
            to_listening: None,
            to_ready: local.program().to_ready(),
            idle_kib: idle,
            peak_kib: peak.first().copied().flatten(),
        });
        local.kill().await;
        measured?;
    }

    let report = Report {
        commit,
        machine: report::machine(),
        load_before,
        load_after: report::load_average(),
        wrk: bench.wrk.version().await,
        duration_secs: bench.settings.duration_secs,
        warmup_secs: bench.settings.warmup_secs,
        rust_log: bench.settings.rust_log.clone(),
        gateway_worker_threads: bench.settings.gateway_worker_threads,
        inherited_workers: ["TOKIO_WORKER_THREADS", "GOMAXPROCS"]
            .into_iter()
            .filter_map(|name| std::env::var(name).ok().map(|v| format!("{name}={v}")))
            .collect(),
        rows: bench.rows,
        processes: bench.processes,
    };
    print!("{}", report.render());
    Ok(())
}

impl Bench {
    /// The pure gateway's `--upstream-connections`, when the run sets it.
    fn upstream_connections(&self) -> Vec<String> {
        self.settings
            .upstream_connections
            .map(|n| vec!["--upstream-connections".into(), n.to_string()])
            .unwrap_or_default()
    }

    fn selected(&self, scenario: ScenarioId) -> bool {
        self.scenarios.contains(&scenario)
    }

    /// The binary `name` at `path`, called `label` in the report, with
    /// the run's log filter.
    fn program(&self, name: &str, label: &str, path: &Path) -> Builder {
        program(name, label, path, &self.settings.rust_log)
    }

    /// A gateway in front of the service process, or the ceiling, with the
    /// run's `--gateway-worker-threads` as `variable` when it sets them.
    fn gateway_program(&self, name: &str, label: &str, path: &Path, variable: &str) -> Builder {
        let program = self.program(name, label, path);
        match self.settings.gateway_worker_threads {
            None => program,
            Some(workers) => program.env(variable, workers.to_string()),
        }
    }

    async fn ceiling(&mut self) -> Result<(), BenchError> {
        if !self.selected(ScenarioId::Ceiling) {
            return Ok(());
        }
        let mut program = self
            .gateway_program(
                "music-bench",
                "ceiling-server",
                &self.binaries.me,
                "TOKIO_WORKER_THREADS",
            )
            .args(["ceiling-server", "--listen", "127.0.0.1:0"])
            .listening(1)
            .start()
            .await?;
        let addr = program.addr("http");
        await_ready(&mut program, addr, "/").await?;
        let mut stack = Stack::new("ceiling", vec![program]);
        stack.settle().await;
        let measured = self
            .measure(
                &mut stack,
                ScenarioId::Ceiling,
                Load::Http(addr, Shape::RestGetItem),
            )
            .await;
        self.processes.extend(stack.stop().await);
        measured
    }

    /// The in-process and the two-process stacks on `store`.
    async fn stacks(
        &mut self,
        store: Store,
        local: Option<&DynamoDbLocal>,
    ) -> Result<(), BenchError> {
        let (rest_inproc, write_mix, rest_2proc, grpc) = match store {
            Store::Embedded => (
                ScenarioId::RestInProcess,
                Some(ScenarioId::WriteMix),
                ScenarioId::RestTwoProcess,
                ScenarioId::Grpc,
            ),
            Store::DynamoDbLocal => (
                ScenarioId::RestInProcessDdb,
                None,
                ScenarioId::RestTwoProcessDdb,
                ScenarioId::GrpcDdb,
            ),
        };
        // The /v1 and edge variants run on the embedded store only.
        let embedded = store == Store::Embedded;
        let v1_inproc = (embedded && self.selected(ScenarioId::RestV1InProcess))
            .then_some(ScenarioId::RestV1InProcess);
        let v1_2proc = (embedded && self.selected(ScenarioId::RestV1TwoProcess))
            .then_some(ScenarioId::RestV1TwoProcess);
        let edge_2proc = (embedded && self.selected(ScenarioId::RestTwoProcessEdge))
            .then_some(ScenarioId::RestTwoProcessEdge);
        // Selected only with a --grpc-gateway-peer (run() drops it otherwise).
        let peer_2proc = (embedded && self.selected(ScenarioId::PeerTwoProcess))
            .then(|| self.settings.grpc_gateway_peer.clone())
            .flatten();
        let store_args: Vec<String> = match local {
            None => vec!["--in-memory".into()],
            Some(local) => vec![
                "--backend".into(),
                "dynamodb".into(),
                "--dynamodb-endpoint".into(),
                local.endpoint(),
            ],
        };

        if self.selected(rest_inproc)
            || v1_inproc.is_some()
            || write_mix.is_some_and(|w| self.selected(w))
        {
            let mut args: Vec<String> = IN_PROCESS_LISTENER_ARGS.map(String::from).to_vec();
            args.extend(store_args.iter().cloned());
            let mut gateway = self
                .program(
                    "music-gateway",
                    "music-gateway (in-process)",
                    &self.binaries.gateway,
                )
                .args(&args)
                .listening(3)
                .start()
                .await?;
            let (http, grpc) = (gateway.addr("http"), gateway.addr("grpc"));
            await_ready(&mut gateway, http, "/readyz").await?;
            grpc_load::seed(grpc).await?;
            check_get_item(http).await?;
            let mut stack = Stack::new(&format!("in-process, {}", store.label()), vec![gateway]);
            stack.settle().await;
            let mut measured = Ok(());
            if self.selected(rest_inproc) {
                measured = self
                    .measure(
                        &mut stack,
                        rest_inproc,
                        Load::Http(http, Shape::RestGetItem),
                    )
                    .await;
            }
            if let Some(v1) = v1_inproc
                && measured.is_ok()
            {
                measured = self
                    .measure(&mut stack, v1, Load::Http(http, Shape::RestV1GetItem))
                    .await;
            }
            if let Some(write_mix) = write_mix.filter(|w| self.selected(*w))
                && measured.is_ok()
            {
                measured = self
                    .measure(&mut stack, write_mix, Load::Http(http, Shape::RestWriteMix))
                    .await;
            }
            self.processes.extend(stack.stop().await);
            measured?;
        }

        if self.selected(rest_2proc)
            || self.selected(grpc)
            || v1_2proc.is_some()
            || edge_2proc.is_some()
            || peer_2proc.is_some()
        {
            let mut args: Vec<String> =
                ["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"]
                    .map(String::from)
                    .to_vec();
            args.extend(store_args.iter().cloned());
            let mut service = self
                .program("music-service", "music-service", &self.binaries.service)
                .args(&args)
                .listening(2)
                .start()
                .await?;
            let (service_grpc, admin) = (service.addr("grpc"), service.addr("admin"));
            await_ready(&mut service, admin, "/readyz").await?;
            let upstream = format!("http://{service_grpc}");
            let gateway = self
                .pure_gateway(self.binaries.pure_gateway_label, &upstream, Vec::new())
                .await?;
            let http = gateway.addr("http");
            grpc_load::seed(service_grpc).await?;
            check_get_item(http).await?;
            let mut stack = Stack::new(
                &format!("two processes, {}", store.label()),
                vec![service, gateway],
            );
            stack.settle().await;
            let mut measured = Ok(());
            if self.selected(rest_2proc) {
                measured = self
                    .measure(&mut stack, rest_2proc, Load::Http(http, Shape::RestGetItem))
                    .await;
            }
            if let Some(v1) = v1_2proc
                && measured.is_ok()
            {
                measured = self
                    .measure(&mut stack, v1, Load::Http(http, Shape::RestV1GetItem))
                    .await;
            }
            if self.selected(grpc) && measured.is_ok() {
                measured = self
                    .measure(&mut stack, grpc, Load::Grpc(service_grpc))
                    .await;
            }
            if let Some(edge) = edge_2proc
                && measured.is_ok()
            {
                measured = self.edge(edge, &upstream, stack.programs[0].pid()).await;
            }
            if let Some(peer) = peer_2proc
                && measured.is_ok()
            {
                measured = self
                    .peer(&peer, service_grpc, stack.programs[0].pid())
                    .await;
            }
            self.processes.extend(stack.stop().await);
            measured?;
        }
        Ok(())
    }

    /// A pure gateway (`--upstream`) called `label` in the report, with
    /// `extra` flags, answering `/readyz`.
    async fn pure_gateway(
        &self,
        label: &str,
        upstream: &str,
        extra: Vec<String>,
    ) -> Result<Program, BenchError> {
        let mut args: Vec<String> = [
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--upstream",
            upstream,
        ]
        .map(String::from)
        .to_vec();
        args.extend(extra);
        args.extend(self.upstream_connections());
        let mut gateway = self
            .gateway_program(
                "music-gateway",
                label,
                &self.binaries.pure_gateway,
                "MUSIC_GATEWAY_WORKER_THREADS",
            )
            .args(&args)
            .listening(2)
            .start()
            .await?;
        let http = gateway.addr("http");
        await_ready(&mut gateway, http, "/readyz").await?;
        Ok(gateway)
    }

    /// The edge scenario: a second pure gateway on the same service, with a
    /// 20-statement resource policy and 1,000 API keys; CPU per request is
    /// the service's and this gateway's, as for `rest-2proc`.
    async fn edge(
        &mut self,
        scenario: ScenarioId,
        upstream: &str,
        service_pid: u32,
    ) -> Result<(), BenchError> {
        let files = tempfile::Builder::new()
            .prefix("music-bench-edge-")
            .tempdir()?;
        let gateway = self
            .pure_gateway(
                "music-gateway (--upstream, edge on)",
                upstream,
                edge::write_files(files.path())?,
            )
            .await?;
        let http = gateway.addr("http");
        let mut stack = Stack::new("two processes, embedded, edge on", vec![gateway]);
        stack.settle().await;
        let cpu_of = [service_pid, stack.programs[0].pid()];
        let load = Load::Http(http, Shape::RestGetItemWithKey);
        let measured = self.measure_with(&mut stack, scenario, load, &cpu_of).await;
        self.processes.extend(stack.stop().await);
        measured
    }

    /// The peer scenario: grpc-gateway (Go) at `path` on the same service,
    /// under the load of `rest-v1-2proc`; CPU per request is the service's
    /// and the peer's, split as for our pure gateway.
    async fn peer(
        &mut self,
        path: &Path,
        service_grpc: SocketAddr,
        service_pid: u32,
    ) -> Result<(), BenchError> {
        let mut peer = self
            .gateway_program(
                "grpc-gateway-peer",
                "grpc-gateway (Go, peer)",
                path,
                "GOMAXPROCS",
            )
            .args(["-listen", "127.0.0.1:0", "-upstream"])
            .arg(service_grpc.to_string())
            .listening(1)
            .start()
            .await?;
        let http = peer.addr("http");
        // ListTables answers 200 once the peer reaches the service: its
        // readiness, as /readyz is our gateway's.
        await_ready(&mut peer, http, "/v1/tables").await?;
        check_v1_get_item(http, "grpc-gateway's /v1 GetItem").await?;
        let mut stack = Stack::new("two processes, embedded, grpc-gateway peer", vec![peer]);
        stack.settle().await;
        let cpu_of = [service_pid, stack.programs[0].pid()];
        let load = Load::Http(http, Shape::RestV1GetItem);
        let measured = self
            .measure_with(&mut stack, ScenarioId::PeerTwoProcess, load, &cpu_of)
            .await;
        self.processes.extend(stack.stop().await);
        measured
    }

    /// Every concurrency of `scenario` on `stack`, its peak RSS kept.
    async fn measure(
        &mut self,
        stack: &mut Stack,
        scenario: ScenarioId,
        load: Load,
    ) -> Result<(), BenchError> {
        let pids = stack.pids();
        self.measure_with(stack, scenario, load, &pids).await
    }

    /// The same, with the CPU time of `cpu_of` counted (the stack's own
    /// programs and any it calls, such as another stack's service).
    async fn measure_with(
        &mut self,
        stack: &mut Stack,
        scenario: ScenarioId,
        load: Load,
        cpu_of: &[u32],
    ) -> Result<(), BenchError> {
        let sampler = Peak::start(stack.pids(), RSS_EVERY, sample::rss_kib);
        let measured = self.measure_all(scenario, load, cpu_of).await;
        for (peak, sampled) in stack.peak_kib.iter_mut().zip(sampler.stop().await) {
            *peak = (*peak).max(sampled.unwrap_or(0));
        }
        measured
    }

    async fn measure_all(
        &mut self,
        scenario: ScenarioId,
        load: Load,
        pids: &[u32],
    ) -> Result<(), BenchError> {
        let duration = Duration::from_secs(self.settings.duration_secs);
        let warmup = Duration::from_secs(self.settings.warmup_secs);
        for concurrency in self.settings.concurrency.clone() {
            if !warmup.is_zero() {
                self.drive(load, concurrency, warmup).await?;
            }
            let cpu_before: Vec<Option<CpuTime>> =
                pids.iter().map(|pid| CpuTime::of(*pid)).collect();
            let mut cell = self.drive(load, concurrency, duration).await?;
            let spent: Option<Vec<CpuTime>> = pids
                .iter()
                .zip(&cpu_before)
                .map(|(pid, before)| Some(CpuTime::of(*pid)?.since((*before)?)))
                .collect();
            if let Some(spent) = spent
                && cell.requests > 0
            {
                cell.cpu_by_process = spent
                    .into_iter()
                    .map(|cpu| cpu.per(cell.requests))
                    .collect();
            }
            let rss: Vec<String> = pids
                .iter()
                .map(|pid| {
                    sample::rss_kib(*pid)
                        .map_or("?".into(), |kib| format!("{:.1}", kib as f64 / 1024.0))
                })
                .collect();
            let cpu = cell.cpu_per_request().map_or("-".into(), |total| {
                let kernel: Duration = cell.cpu_by_process.iter().map(|cpu| cpu.system).sum();
                format!(
                    "{} (kernel {})",
                    report::duration(total),
                    report::duration(kernel)
                )
            });
            eprintln!(
                "  {:<16} c={:<4} {:>9.0} req/s ({} requests)  p50 {:>9}  p99 {:>9}  p99.9 {:>9}  errors {}  CPU/req {}  (RSS MiB now: {})",
                scenario.name(),
                concurrency,
                cell.requests_per_sec,
                cell.requests,
                report::duration(cell.p50),
                report::duration(cell.p99),
                report::duration(cell.p999),
                cell.errors,
                cpu,
                rss.join(", ")
            );
            self.rows.push(Row {
                scenario,
                concurrency,
                cell,
            });
        }
        Ok(())
    }

    async fn drive(
        &self,
        load: Load,
        concurrency: u32,
        duration: Duration,
    ) -> Result<Cell, BenchError> {
        match load {
            Load::Http(addr, shape) => self.wrk.run(addr, shape, concurrency, duration).await,
            Load::Grpc(addr) => {
                grpc_load::get_item(addr, concurrency, self.settings.grpc_channels, duration).await
            }
        }
    }
}

/// The binary `name` at `path`, called `label` in the report, with the log
/// filter `rust_log` over testkit's environment (dummy AWS credentials and
/// region, so that the SDK's credential chain ends at once; DynamoDB Local
/// accepts any), the last lines of its log kept for error messages.
pub(crate) fn program(name: &str, label: &str, path: &Path, rust_log: &str) -> Builder {
    Program::builder(name)
        .at(path)
        .label(label)
        .env("RUST_LOG", rust_log)
        .start_timeout(START_TIMEOUT)
        .keep_lines(LOG_TAIL)
}

/// Polls `GET path` until it answers 200 and records exec → that answer.
pub(crate) async fn await_ready(
    program: &mut Program,
    addr: SocketAddr,
    path: &str,
) -> Result<(), BenchError> {
    match http::await_ok(addr, path, READY_TIMEOUT).await {
        Some(at) => {
            program.ready_at(at);
            eprintln!(
                "{} ready: listening {:.1} ms, answering {} {:.1} ms after exec",
                program.name(),
                program.to_listening().as_secs_f64() * 1000.0,
                path,
                at.duration_since(program.exec_at()).as_secs_f64() * 1000.0
            );
            Ok(())
        }
        None => Err(BenchError::Setup(format!(
            "{} did not answer GET {path} with 200 within {}s; its last lines:\n{}",
            program.name(),
            READY_TIMEOUT.as_secs(),
            program.log_text()
        ))),
    }
}

/// The `/v1` GetItem of `what` (a gateway) finds the seeded song.
pub(crate) async fn check_v1_get_item(addr: SocketAddr, what: &str) -> Result<(), BenchError> {
    check_song(addr, V1_ITEM_PATH, &[], what).await
}

/// The gateway's GetItem finds the seeded song (else every measured answer
/// would be a 200 "Item not found", and the table would mislead).
pub(crate) async fn check_get_item(addr: SocketAddr) -> Result<(), BenchError> {
    check_song(
        addr,
        ITEM_PATH,
        &[
            ("content-type", "application/json"),
            ("table", TABLE),
            ("artist", ARTIST),
            ("songtitle", SONG_TITLE),
        ],
        "the gateway's GetItem",
    )
    .await
}

/// `GET path` answers 200 with the seeded song; `what` names the request in
/// the error.
async fn check_song(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    what: &str,
) -> Result<(), BenchError> {
    let answer = http::request(addr, "GET", path, headers, "", Duration::from_secs(10)).await?;
    if answer.status == 200 && answer.body.contains(ALBUM_TITLE) {
        Ok(())
    } else {
        Err(BenchError::Setup(format!(
            "{what} did not find the seeded song: {} {}",
            answer.status, answer.body
        )))
    }
}
