//! The report: the machine and commit measured, one table of scenario ×
//! concurrency (each a [`Cell`], as the load generators measure it), the
//! processes' start-up times and RSS, and the ratios the performance targets
//! are stated in, all from the same run. Markdown, so it reads in a terminal
//! and pastes into BENCHMARKS.md.

use std::{fmt::Write as _, process::Command, time::Duration};

use music_testkit::sample::CpuTime;
use procfs::{CpuInfo, Current, LoadAverage, Meminfo};

use crate::scenario::{ScenarioId, Store};

/// One measured cell: scenario × concurrency.
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    pub(crate) requests: u64,
    pub(crate) requests_per_sec: f64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) p999: Duration,
    /// Failed requests: transport errors, timeouts, non-2xx answers, gRPC errors.
    pub(crate) errors: u64,
    /// CPU time per request of each measured process (not the load
    /// generator), in the stack's order (the service, then the gateway),
    /// user and kernel time apart: one entry for a one-process stack (the
    /// ceiling, in-process, DynamoDB Local alone), none when the CPU time
    /// could not be read.
    pub(crate) cpu_by_process: Vec<CpuTime>,
}

impl Cell {
    /// CPU time the measured processes spent per request, together: less
    /// sensitive to a busy machine than requests/s. `None` when not read.
    pub(crate) fn cpu_per_request(&self) -> Option<Duration> {
        (!self.cpu_by_process.is_empty())
            .then(|| self.cpu_by_process.iter().map(|cpu| cpu.total()).sum())
    }
}

/// The concurrency the targets are stated at.
pub(crate) const TARGET_CONCURRENCY: u32 = 64;

#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) scenario: ScenarioId,
    pub(crate) concurrency: u32,
    pub(crate) cell: Cell,
}

#[derive(Debug)]
pub(crate) struct ProcessRow {
    pub(crate) stack: String,
    pub(crate) process: String,
    pub(crate) to_listening: Option<Duration>,
    pub(crate) to_ready: Option<Duration>,
    pub(crate) idle_kib: Option<u64>,
    pub(crate) peak_kib: Option<u64>,
}

#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) commit: String,
    pub(crate) machine: String,
    /// /proc/loadavg when the run started and ended: how busy the machine was.
    pub(crate) load_before: String,
    pub(crate) load_after: String,
    pub(crate) wrk: String,
    pub(crate) duration_secs: u64,
    pub(crate) warmup_secs: u64,
    pub(crate) rust_log: String,
    /// `--gateway-worker-threads` of the run; `None`: each server's default.
    pub(crate) gateway_worker_threads: Option<u32>,
    /// `TOKIO_WORKER_THREADS` and `GOMAXPROCS` as the run found them in its
    /// environment, which every server that reads them inherits.
    pub(crate) inherited_workers: Vec<String>,
    pub(crate) rows: Vec<Row>,
    pub(crate) processes: Vec<ProcessRow>,
}

/// The opening lines every report starts with: its title and commit, the
/// machine, and how busy the machine was at the start and the end.
pub(crate) fn header(
    out: &mut String,
    title: &str,
    commit: &str,
    machine: &str,
    load_before: &str,
    load_after: &str,
) {
    let _ = writeln!(out, "\n## {title} at {commit}\n");
    let _ = writeln!(out, "- machine: {machine}");
    let _ = writeln!(
        out,
        "- load average (1, 5, 15 min): {load_before} at the start, {load_after} at the end"
    );
}

impl Report {
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        header(
            &mut out,
            "music-bench",
            &self.commit,
            &self.machine,
            &self.load_before,
            &self.load_after,
        );
        let _ = writeln!(
            out,
            "- load: {}; gRPC: tonic + hdrhistogram in music-bench; {} s per cell after {} s of warm-up",
            self.wrk, self.duration_secs, self.warmup_secs
        );
        let _ = writeln!(out, "- RUST_LOG of the programs: `{}`", self.rust_log);
        let _ = match self.gateway_worker_threads {
            None => writeln!(
                out,
                "- worker threads: each server's default (one per core)"
            ),
            Some(n) => writeln!(
                out,
                "- worker threads: {n} in the pure gateways, the peer and the ceiling (`--gateway-worker-threads {n}`); the service's and the in-process gateway's default"
            ),
        };
        if !self.inherited_workers.is_empty() {
            let _ = writeln!(
                out,
                "- from the environment, for every server that reads them: `{}`",
                self.inherited_workers.join(" ")
            );
        }
        let _ = writeln!(
            out,
            "- figures share 2 noisy cores with the load generator: compare ratios within this run only\n"
        );

        let _ = writeln!(
            out,
            "| scenario | store | path | conc. | req/s | p50 | p99 | p99.9 | errors | CPU/req (service + gateway) |"
        );
        let _ = writeln!(out, "|---|---|---|--:|--:|--:|--:|--:|--:|--:|");
        for row in &self.rows {
            let c = &row.cell;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.0} | {} | {} | {} | {} | {} |",
                row.scenario.name(),
                row.scenario.store().map_or("-", Store::label),
                row.scenario.path(),
                row.concurrency,
                c.requests_per_sec,
                duration(c.p50),
                duration(c.p99),
                duration(c.p999),
                c.errors,
                cpu_cell(c)
            );
        }

        let _ = writeln!(
            out,
            "\n| stack | process | exec → listening | exec → ready | idle RSS | peak RSS under load |"
        );
        let _ = writeln!(out, "|---|---|--:|--:|--:|--:|");
        for p in &self.processes {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                p.stack,
                p.process,
                p.to_listening.map_or("-".into(), millis),
                p.to_ready.map_or("-".into(), millis),
                p.idle_kib.map_or("-".into(), mib),
                p.peak_kib.map_or("-".into(), mib),
            );
        }

        let _ = writeln!(
            out,
            "\n| ratio (same run; at {TARGET_CONCURRENCY} connections) | value | target | |"
        );
        let _ = writeln!(out, "|---|--:|--:|---|");
        for ratio in self.ratios() {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                ratio.what,
                ratio.value,
                ratio.target,
                match ratio.met {
                    Some(true) => "met",
                    Some(false) => "**not met**",
                    None => "n/a",
                }
            );
        }
        out
    }

    fn cell(&self, scenario: ScenarioId) -> Option<&Cell> {
        self.rows
            .iter()
            .find(|r| r.scenario == scenario && r.concurrency == TARGET_CONCURRENCY)
            .map(|r| &r.cell)
    }

    fn process(&self, stack: &str, process: &str) -> Option<&ProcessRow> {
        self.processes
            .iter()
            // A name matches with or without its build note: "music-gateway
            // (--upstream" finds "music-gateway (--upstream, slim build)".
            .find(|p| p.stack == stack && p.process.starts_with(process.trim_end_matches(')')))
    }

    fn ratios(&self) -> Vec<Ratio> {
        use ScenarioId as S;
        let mut ratios = Vec::new();
        let throughput = |what: &str, ours: S, base: S, target: f64| {
            let value = self
                .cell(ours)
                .zip(self.cell(base))
                .map(|(a, b)| a.requests_per_sec / b.requests_per_sec.max(1e-9));
            Ratio {
                what: format!("{what}: {} / {} req/s", ours.name(), base.name()),
                value: value.map_or("n/a".into(), |v| format!("{:.0} %", v * 100.0)),
                target: format!("≥ {:.0} %", target * 100.0),
                met: value.map(|v| v >= target),
            }
        };
        ratios.push(throughput(
            "REST in-process vs ceiling",
            S::RestInProcess,
            S::Ceiling,
            0.25,
        ));
        let by_cpu = self
            .cell(S::Ceiling)
            .and_then(Cell::cpu_per_request)
            .zip(self.cell(S::RestInProcess).and_then(Cell::cpu_per_request))
            .map(|(ceiling, ours)| ceiling.as_secs_f64() / ours.as_secs_f64().max(1e-12));
        ratios.push(Ratio {
            what:
                "same, by server CPU per request (load generator left out): ceiling / rest-inproc"
                    .into(),
            value: by_cpu.map_or("n/a".into(), |v| format!("{:.0} %", v * 100.0)),
            target: "≥ 25 %".into(),
            met: by_cpu.map(|v| v >= 0.25),
        });
        ratios.push(throughput(
            "REST vs direct gRPC, embedded",
            S::RestInProcess,
            S::Grpc,
            0.80,
        ));
        // Through the pure gateway, issue 14 asks 85 % (80 % before it).
        ratios.push(throughput(
            "REST vs direct gRPC, embedded",
            S::RestTwoProcess,
            S::Grpc,
            0.85,
        ));
        ratios.push(throughput(
            "REST vs direct gRPC, DynamoDB Local",
            S::RestInProcessDdb,
            S::GrpcDdb,
            0.80,
        ));
        ratios.push(throughput(
            "REST vs direct gRPC, DynamoDB Local",
            S::RestTwoProcessDdb,
            S::GrpcDdb,
            0.80,
        ));
        // Against DynamoDB Local on its own, issue 14 asks 70 % (60 % before
        // it), of the service called straight and through either gateway.
        for ours in [S::GrpcDdb, S::RestInProcessDdb, S::RestTwoProcessDdb] {
            ratios.push(throughput(
                "service on DynamoDB Local vs DynamoDB Local alone",
                ours,
                S::DdbDirect,
                0.70,
            ));
        }
        // A two-process cell's CPU per request as [service, gateway].
        let split_of = |scenario: S| {
            self.cell(scenario)
                .and_then(|c| <[CpuTime; 2]>::try_from(c.cpu_by_process.clone()).ok())
        };
        // The two-process GetItem's CPU, by process, against the ceiling's.
        // Each value also says the ratio of user time and of kernel time
        // apart: the instruction counts (`music-bench instructions`) see
        // the first only.
        let split = split_of(S::RestTwoProcess);
        let ceiling = self
            .cell(S::Ceiling)
            .and_then(|c| <[CpuTime; 1]>::try_from(c.cpu_by_process.clone()).ok())
            .map(|[ceiling]| ceiling);
        let times = |what: &str, compared: Option<(CpuTime, CpuTime)>, limit: f64| {
            let value = compared.map(|(ours, base)| over(ours.total(), base.total()));
            let show = |v: f64| format!("{v:.1} ×");
            Ratio {
                what: what.into(),
                value: compared
                    .zip(value)
                    .map_or("n/a".into(), |((ours, base), v)| {
                        format!("{}{}", show(v), user_and_kernel(ours, base, show))
                    }),
                target: format!("≤ {limit} ×"),
                met: value.map(|v| v <= limit),
            }
        };
        ratios.push(times(
            "pure gateway's CPU per rest-2proc request / ceiling's CPU per request",
            split.zip(ceiling).map(|([_, gateway], c)| (gateway, c)),
            2.5,
        ));
        ratios.push(times(
            "service's CPU per rest-2proc GetItem (embedded store) / ceiling's CPU per request",
            split.zip(ceiling).map(|([service, _], c)| (service, c)),
            6.0,
        ));
        ratios.push(times(
            "pure gateway's CPU per request / service's, rest-2proc",
            split.map(|[service, gateway]| (gateway, service)),
            0.5,
        ));
        // CPU per request of one route against another on the same stack.
        let cpu = |what: &str, ours: S, base: S, limit: f64| {
            let value = self
                .cell(ours)
                .and_then(Cell::cpu_per_request)
                .zip(self.cell(base).and_then(Cell::cpu_per_request))
                .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64().max(1e-12));
            Ratio {
                what: format!("{what}: {} / {} CPU per request", ours.name(), base.name()),
                value: value.map_or("n/a".into(), |v| format!("{:.0} %", v * 100.0)),
                target: format!("≤ {:.0} %", limit * 100.0),
                met: value.map(|v| v <= limit),
            }
        };
        ratios.push(cpu(
            "/v1 vs the tutorial route",
            S::RestV1InProcess,
            S::RestInProcess,
            1.10,
        ));
        ratios.push(cpu(
            "/v1 vs the tutorial route",
            S::RestV1TwoProcess,
            S::RestTwoProcess,
            1.10,
        ));
        ratios.push(cpu(
            "edge on (20 statements, 1,000 keys) vs off",
            S::RestTwoProcessEdge,
            S::RestTwoProcess,
            1.05,
        ));
        // Our pure gateway against grpc-gateway on the same service and
        // store, the same /v1 GetItem: throughput, and the gateway's own CPU
        // (the service's is the same work in both).
        ratios.push(throughput(
            "ours vs grpc-gateway (Go), /v1",
            S::RestV1TwoProcess,
            S::PeerTwoProcess,
            1.5,
        ));
        let gateways = split_of(S::RestV1TwoProcess)
            .zip(split_of(S::PeerTwoProcess))
            .map(|([_, ours], [_, peer])| (ours, peer));
        let by_gateway = gateways.map(|(ours, peer)| over(ours.total(), peer.total()));
        let percent = |v: f64| format!("{:.0} %", v * 100.0);
        ratios.push(Ratio {
            what: format!(
                "ours vs grpc-gateway (Go), /v1: gateway's CPU per request (service left out), {} / {}",
                S::RestV1TwoProcess.name(),
                S::PeerTwoProcess.name()
            ),
            value: gateways
                .zip(by_gateway)
                .map_or("n/a".into(), |((ours, peer), v)| {
                    format!("{}{}", percent(v), user_and_kernel(ours, peer, percent))
                }),
            target: "≤ 50 %".into(),
            met: by_gateway.map(|v| v <= 0.5),
        });
        for scenario in ScenarioId::ALL.into_iter().filter(|s| s.is_ours()) {
            let Some(cell) = self.cell(scenario) else {
                continue;
            };
            let value = cell.p99.as_secs_f64() / cell.p50.as_secs_f64().max(1e-9);
            ratios.push(Ratio {
                what: format!("p99 / p50, {}", scenario.name()),
                value: format!(
                    "{value:.1} ({} / {})",
                    duration(cell.p99),
                    duration(cell.p50)
                ),
                target: "≤ 3".into(),
                met: Some(value <= 3.0),
            });
        }
        let rss = |stack: &str, processes: &[&str]| -> Option<u64> {
            processes
                .iter()
                .map(|p| self.process(stack, p).and_then(|p| p.idle_kib))
                .sum()
        };
        // The target says 30 MB: decimal megabytes, 28.6 MiB.
        let limit_kib = 30_000_000 / 1024;
        for (what, stack, processes) in [
            (
                "idle RSS, gateway + service (two processes)",
                "two processes, embedded",
                &["music-gateway (--upstream)", "music-service"][..],
            ),
            (
                "idle RSS, gateway with the service in-process",
                "in-process, embedded",
                &["music-gateway (in-process)"][..],
            ),
        ] {
            let value = rss(stack, processes);
            ratios.push(Ratio {
                what: what.into(),
                value: value.map_or("n/a".into(), |kib| {
                    format!("{} ({:.1} MB)", mib(kib), kib as f64 * 1024.0 / 1e6)
                }),
                target: "≤ 30 MB (28.6 MiB)".into(),
                met: value.map(|v| v <= limit_kib),
            });
        }
        for (what, stack, process) in [
            (
                "ready after exec, service (embedded)",
                "two processes, embedded",
                "music-service",
            ),
            (
                "ready after exec, gateway in-process (embedded)",
                "in-process, embedded",
                "music-gateway (in-process)",
            ),
            (
                "ready after exec, pure gateway (service up)",
                "two processes, embedded",
                "music-gateway (--upstream)",
            ),
        ] {
            let value = self.process(stack, process).and_then(|p| p.to_ready);
            ratios.push(Ratio {
                what: what.into(),
                value: value.map_or("n/a".into(), millis),
                target: "≤ 100 ms".into(),
                met: value.map(|v| v <= Duration::from_millis(100)),
            });
        }
        ratios
    }
}

#[derive(Debug)]
struct Ratio {
    what: String,
    value: String,
    target: String,
    met: Option<bool>,
}

/// CPU per request, split by process when more than one was measured.
fn cpu_cell(cell: &Cell) -> String {
    match cell.cpu_per_request() {
        None => "-".into(),
        Some(total) if cell.cpu_by_process.len() < 2 => duration(total),
        Some(total) => {
            let parts: Vec<String> = cell
                .cpu_by_process
                .iter()
                .map(|cpu| duration(cpu.total()))
                .collect();
            format!("{} ({})", duration(total), parts.join(" + "))
        }
    }
}

/// `a / b`, for CPU times (a zero `b` does not divide by zero).
fn over(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-12)
}

/// The same comparison of two CPU times in user time and in kernel time
/// apart, each shown by `show`, for a ratio's value: ` (user …, kernel …)`;
/// `–` for a part that `base` did not use at all.
fn user_and_kernel(ours: CpuTime, base: CpuTime, show: impl Fn(f64) -> String) -> String {
    let part = |a: Duration, b: Duration| {
        if b.is_zero() {
            "–".to_owned()
        } else {
            show(over(a, b))
        }
    };
    format!(
        " (user {}, kernel {})",
        part(ours.user, base.user),
        part(ours.system, base.system)
    )
}

/// A latency: µs below 1 ms, else ms with two decimals, else s.
pub(crate) fn duration(d: Duration) -> String {
    let micros = d.as_micros();
    if micros < 1000 {
        format!("{micros} µs")
    } else if micros < 1_000_000 {
        format!("{:.2} ms", micros as f64 / 1000.0)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// A size given in KiB, in MiB with one decimal.
pub(crate) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// `git rev-parse --short HEAD` of the current folder, marked when the work
/// tree has uncommitted changes to tracked files.
pub(crate) fn commit() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(hash) => match git(&["status", "--porcelain", "--untracked-files=no"]) {
            Some(changes) if !changes.is_empty() => {
                format!("commit {hash} (with uncommitted changes)")
            }
            _ => format!("commit {hash}"),
        },
        None => "an unknown commit".into(),
    }
}

/// The three load averages (1, 5 and 15 minutes), from /proc.
pub(crate) fn load_average() -> String {
    LoadAverage::current().map_or_else(
        |_| "unknown".into(),
        |l| format!("{:.2} {:.2} {:.2}", l.one, l.five, l.fifteen),
    )
}

/// CPU model, core count and memory, from /proc.
pub(crate) fn machine() -> String {
    let model = CpuInfo::current()
        .ok()
        .and_then(|info| info.model_name(0).map(str::to_owned))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let memory = Meminfo::current().map_or("unknown memory".into(), |m| {
        format!("{:.1} GiB", m.mem_total as f64 / 1024.0 / 1024.0 / 1024.0)
    });
    format!("{cores} cores ({model}), {memory}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_are_written_in_their_unit() {
        assert_eq!(duration(Duration::from_micros(850)), "850 µs");
        assert_eq!(duration(Duration::from_micros(1_234)), "1.23 ms");
        assert_eq!(duration(Duration::from_millis(2_500)), "2.50 s");
    }

    /// A report of `processes` and no measured cells.
    fn report_of(processes: Vec<ProcessRow>) -> Report {
        Report {
            commit: String::new(),
            machine: String::new(),
            load_before: String::new(),
            load_after: String::new(),
            wrk: String::new(),
            duration_secs: 1,
            warmup_secs: 0,
            rust_log: String::new(),
            gateway_worker_threads: None,
            inherited_workers: Vec::new(),
            rows: Vec::new(),
            processes,
        }
    }

    /// CPU time in µs, user and kernel.
    fn cpu(user: u64, kernel: u64) -> CpuTime {
        CpuTime {
            user: Duration::from_micros(user),
            system: Duration::from_micros(kernel),
        }
    }

    /// A measured cell at the target concurrency, its processes' CPU per
    /// request as given.
    fn row(scenario: ScenarioId, requests_per_sec: f64, processes: Vec<CpuTime>) -> Row {
        Row {
            scenario,
            concurrency: TARGET_CONCURRENCY,
            cell: Cell {
                requests: 1,
                requests_per_sec,
                p50: Duration::from_micros(500),
                p99: Duration::from_micros(900),
                p999: Duration::from_micros(1000),
                errors: 0,
                cpu_by_process: processes,
            },
        }
    }

    /// A two-process cell: the service's CPU per request (all user time),
    /// and the gateway's as (user, kernel), in µs.
    fn two_process_row(
        scenario: ScenarioId,
        requests_per_sec: f64,
        service_us: u64,
        (user_us, kernel_us): (u64, u64),
    ) -> Row {
        row(
            scenario,
            requests_per_sec,
            vec![cpu(service_us, 0), cpu(user_us, kernel_us)],
        )
    }

    #[test]
    fn the_gateway_against_the_ceiling_shows_user_and_kernel_time_apart() {
        let mut report = report_of(Vec::new());
        report.rows = vec![
            row(ScenarioId::Ceiling, 80_000.0, vec![cpu(6, 4)]),
            two_process_row(ScenarioId::RestTwoProcess, 7000.0, 150, (30, 20)),
        ];
        let value_of = |prefix: &str| {
            report
                .ratios()
                .into_iter()
                .find(|r| r.what.starts_with(prefix))
                .map(|r| (r.value, r.met))
                .unwrap_or_else(|| panic!("no ratio {prefix}"))
        };
        assert_eq!(
            value_of("pure gateway's CPU per rest-2proc request / ceiling's"),
            ("5.0 × (user 5.0 ×, kernel 5.0 ×)".to_owned(), Some(false))
        );
        assert_eq!(
            value_of("service's CPU per rest-2proc GetItem").0,
            "15.0 × (user 25.0 ×, kernel 0.0 ×)"
        );
        // The service spent no kernel time: no ratio of it.
        assert_eq!(
            value_of("pure gateway's CPU per request / service's").0,
            "0.3 × (user 0.2 ×, kernel –)"
        );
    }

    #[test]
    fn a_cells_cpu_is_split_by_process_only_when_there_are_two() {
        let one = row(ScenarioId::Ceiling, 80_000.0, vec![cpu(10, 4)]);
        assert_eq!(cpu_cell(&one.cell), "14 µs");
        let two = two_process_row(ScenarioId::RestTwoProcess, 7000.0, 150, (30, 20));
        assert_eq!(cpu_cell(&two.cell), "200 µs (150 µs + 50 µs)");
        let unread = Cell {
            cpu_by_process: Vec::new(),
            ..one.cell
        };
        assert_eq!(cpu_cell(&unread), "-");
    }

    #[test]
    fn issue_14s_targets_judge_the_store_and_the_two_processes() {
        let judge = |ours: ScenarioId, base: ScenarioId, ours_rps: f64| {
            let mut report = report_of(Vec::new());
            report.rows = vec![
                two_process_row(ours, ours_rps, 150, (40, 20)),
                two_process_row(base, 10_000.0, 150, (0, 0)),
            ];
            let what = format!("{} / {} req/s", ours.name(), base.name());
            report
                .ratios()
                .into_iter()
                .find(|r| r.what.ends_with(&what))
                .map(|r| (r.value, r.target, r.met))
                .unwrap_or_else(|| panic!("no ratio of {what}"))
        };
        // The service on DynamoDB Local, called straight and through each gateway: 70 %.
        for ours in [
            ScenarioId::GrpcDdb,
            ScenarioId::RestInProcessDdb,
            ScenarioId::RestTwoProcessDdb,
        ] {
            assert_eq!(
                judge(ours, ScenarioId::DdbDirect, 6_900.0),
                ("69 %".into(), "≥ 70 %".into(), Some(false))
            );
            assert_eq!(judge(ours, ScenarioId::DdbDirect, 7_000.0).2, Some(true));
        }
        // REST through the pure gateway against gRPC straight to the service: 85 %.
        assert_eq!(
            judge(ScenarioId::RestTwoProcess, ScenarioId::Grpc, 8_400.0),
            ("84 %".into(), "≥ 85 %".into(), Some(false))
        );
    }

    #[test]
    fn ratios_are_missing_when_their_scenarios_did_not_run() {
        let ratios = report_of(Vec::new()).ratios();
        assert!(ratios.iter().all(|r| r.met.is_none()));
    }

    #[test]
    fn the_peer_is_compared_by_requests_and_by_the_gateways_own_cpu() {
        let mut report = report_of(Vec::new());
        report.rows = vec![
            two_process_row(ScenarioId::RestV1TwoProcess, 9000.0, 150, (25, 15)),
            two_process_row(ScenarioId::PeerTwoProcess, 5000.0, 150, (80, 20)),
        ];
        let ratios = report.ratios();
        let judged = |prefix: &str| {
            ratios
                .iter()
                .find(|r| r.what.starts_with(prefix))
                .map(|r| (r.value.clone(), r.met))
                .expect("the peer ratio")
        };
        assert_eq!(
            judged("ours vs grpc-gateway (Go), /v1: rest-v1-2proc / peer-2proc req/s"),
            ("180 %".to_owned(), Some(true))
        );
        // Judged by the whole CPU time; user and kernel time shown apart.
        assert_eq!(
            judged("ours vs grpc-gateway (Go), /v1: gateway's CPU"),
            ("40 % (user 31 %, kernel 75 %)".to_owned(), Some(true))
        );
        // The peer is not ours: no p99 / p50 target for it.
        assert!(!ratios.iter().any(|r| r.what == "p99 / p50, peer-2proc"));
        assert!(ratios.iter().any(|r| r.what == "p99 / p50, rest-v1-2proc"));
    }

    #[test]
    fn idle_rss_counts_the_slim_gateway_and_is_judged_in_decimal_megabytes() {
        let process = |name: &str, idle_kib: u64| ProcessRow {
            stack: "two processes, embedded".into(),
            process: name.into(),
            to_listening: None,
            to_ready: None,
            idle_kib: Some(idle_kib),
            peak_kib: None,
        };
        let judge = |service_kib: u64| {
            let ratio = report_of(vec![
                process("music-service", service_kib),
                process("music-gateway (--upstream, slim build)", 8 * 1024),
            ])
            .ratios()
            .into_iter()
            .find(|r| r.what == "idle RSS, gateway + service (two processes)")
            .expect("the two-process RSS ratio");
            (ratio.value, ratio.met)
        };
        // 28.5 MiB is under 30 MB; 29.0 MiB (30.4 MB) is not.
        assert_eq!(
            judge(20 * 1024 + 512),
            ("28.5 MiB (29.9 MB)".to_owned(), Some(true))
        );
        assert_eq!(judge(21 * 1024).1, Some(false));
    }
}
