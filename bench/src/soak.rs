//! The soak (issue 5): the two-process stack on the embedded store kept in a
//! file, as it is deployed, under a mixed open-loop load at a fraction of its
//! capacity for many minutes, with the processes' RSS and CPU time sampled
//! every second. Prints one row per window and three verdicts: RSS growth
//! after warm-up, errors, p99 stability. A verdict not met is a finding, not
//! a failure of the run: the exit code only says whether the run broke.

use std::{fmt::Write as _, path::Path, time::Duration};

use tokio::time::Instant;

use music_testkit::sample;

use crate::{
    cli::SoakSettings,
    error::BenchError,
    grpc_load,
    paced::{self, MIX, Recorder, Tally, Target, Workers},
    report::{self, duration, mib},
    run::{self, Binaries},
};

/// Unmeasured closed-loop load before the capacity burst.
const CAPACITY_WARMUP: Duration = Duration::from_secs(5);
/// The RSS verdict: growth after warm-up below this.
const RSS_GROWTH_LIMIT: f64 = 0.10;
/// The p99 verdict: no post-warm-up window's p99 above this many times their median.
const P99_SPREAD_LIMIT: f64 = 2.0;
/// The processes measured, in the order of every per-process array here.
const PROCESSES: [&str; 2] = ["music-service", "music-gateway"];

/// One row of the table: a span of whole seconds after the soak's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) warmup: bool,
}

impl Window {
    fn secs(self) -> u64 {
        self.end - self.start
    }
}

/// The windows of a soak: the warm-up cut into `window`-second pieces, then
/// the judged span likewise (the last piece of each may be shorter, so the
/// warm-up's end is always a window's end).
pub(crate) fn plan(warmup: u64, judged: u64, window: u64) -> Vec<Window> {
    let mut windows = Vec::new();
    for (from, to, is_warmup) in [(0, warmup, true), (warmup, warmup + judged, false)] {
        let mut start = from;
        while start < to {
            let end = (start + window).min(to);
            windows.push(Window {
                start,
                end,
                warmup: is_warmup,
            });
            start = end;
        }
    }
    windows
}

/// What is read of the processes every second.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    rss_kib: [Option<u64>; 2],
    cpu: [Option<Duration>; 2],
    /// Bytes in the data folder (the SQLite file and its WAL).
    data_bytes: u64,
}

impl Sample {
    fn take(pids: [u32; 2], data_dir: &Path) -> Self {
        Self {
            rss_kib: pids.map(sample::rss_kib),
            cpu: pids.map(sample::cpu_time),
            data_bytes: folder_bytes(data_dir),
        }
    }

    fn rss_sum(&self) -> Option<u64> {
        self.rss_kib.iter().copied().sum()
    }
}

fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// RSS at the end of the warm-up and the most it reached after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Growth {
    pub(crate) base_kib: u64,
    pub(crate) max_kib: u64,
}

impl Growth {
    /// `base` and the samples after it; none when a sample is missing (the
    /// process was gone).
    pub(crate) fn of(base: Option<u64>, after: &[Option<u64>]) -> Option<Self> {
        let base_kib = base.filter(|b| *b > 0)?;
        let max_kib = after
            .iter()
            .copied()
            .try_fold(base_kib, |max, s| s.map(|s| max.max(s)))?;
        Some(Self { base_kib, max_kib })
    }

    /// Growth as a fraction of the base.
    pub(crate) fn fraction(self) -> f64 {
        (self.max_kib - self.base_kib) as f64 / self.base_kib as f64
    }

    pub(crate) fn met(self) -> bool {
        self.fraction() < RSS_GROWTH_LIMIT
    }
}

/// The post-warm-up windows' p99: the largest and the median.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spread {
    pub(crate) max: Duration,
    pub(crate) median: Duration,
}

impl Spread {
    pub(crate) fn of(p99s: &[Duration]) -> Option<Self> {
        let mut sorted = p99s.to_vec();
        sorted.sort();
        let n = sorted.len();
        let median = match n {
            0 => return None,
            _ if n % 2 == 1 => sorted[n / 2],
            _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
        };
        Some(Self {
            max: sorted[n - 1],
            median,
        })
    }

    pub(crate) fn ratio(self) -> f64 {
        self.max.as_secs_f64() / self.median.as_secs_f64().max(1e-9)
    }

    pub(crate) fn met(self) -> bool {
        self.max.as_secs_f64() <= P99_SPREAD_LIMIT * self.median.as_secs_f64()
    }
}

/// One finished window.
#[derive(Debug)]
struct Row {
    window: Window,
    tally: Tally,
    end: Sample,
    /// CPU time each process spent in the window, as a share of one core.
    cpu_share: [Option<f64>; 2],
}

/// What the capacity burst found.
#[derive(Debug)]
struct Capacity {
    rate: f64,
    p99: Duration,
    errors: u64,
}

#[derive(Debug)]
struct SoakReport {
    settings: SoakSettings,
    commit: String,
    machine: String,
    load_before: String,
    load_after: String,
    /// Which music-gateway build carried the REST load.
    gateway_build: &'static str,
    capacity: Option<Capacity>,
    rate: f64,
    rows: Vec<Row>,
    samples: Vec<Sample>,
    warmup_end: usize,
    errors: u64,
    messages: Vec<String>,
}

/// Runs the soak the settings ask for and prints its report on stdout
/// (progress goes to stderr).
pub(crate) async fn run(settings: SoakSettings) -> Result<(), BenchError> {
    let judged = settings.minutes * 60;
    let windows = plan(settings.warmup_secs, judged, settings.window_secs);
    let total = settings.warmup_secs + judged;
    let binaries = Binaries::find(settings.bin_dir.as_deref())?;
    let burst = match settings.rate {
        Some(_) => 0,
        None => CAPACITY_WARMUP.as_secs() + settings.capacity_secs,
    };
    eprintln!(
        "music-bench soak: {}{} s warm-up + {} min at the soak rate, in {} windows (about {:.1} min)",
        if burst > 0 {
            format!("{burst} s of capacity burst, then ")
        } else {
            String::new()
        },
        settings.warmup_secs,
        settings.minutes,
        windows.len(),
        (burst + total) as f64 / 60.0
    );

    // Declared before the programs, so dropped after them.
    let data_dir = tempfile::Builder::new()
        .prefix("music-bench-soak-")
        .tempdir()?;
    let args: Vec<String> = [
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--data-dir",
    ]
    .map(String::from)
    .into_iter()
    .chain([data_dir.path().display().to_string()])
    .collect();
    let mut service = run::program(
        "music-service",
        PROCESSES[0],
        &binaries.service,
        &settings.rust_log,
    )
    .args(&args)
    .listening(2)
    .start()
    .await?;
    let (service_grpc, admin) = (service.addr("grpc"), service.addr("admin"));
    run::await_ready(&mut service, admin, "/readyz").await?;
    let upstream = format!("http://{service_grpc}");
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--upstream",
        &upstream,
    ]
    .map(String::from);
    let mut gateway = run::program(
        "music-gateway",
        PROCESSES[1],
        &binaries.pure_gateway,
        &settings.rust_log,
    )
    .args(args)
    .listening(2)
    .start()
    .await?;
    let http = gateway.addr("http");
    run::await_ready(&mut gateway, http, "/readyz").await?;
    let target = Target {
        http,
        grpc: service_grpc,
        songs: settings.songs,
    };
    grpc_load::seed(service_grpc).await?;
    paced::fill(target).await?;
    let pids = [service.pid(), gateway.pid()];
    // The commit of the binaries under test: read before the run, while the
    // tree is what was built.
    let commit = report::commit();
    let load_before = report::load_average();
    let mut workers = Workers::connect(target, settings.connections).await?;

    let (capacity, rate) = match settings.rate {
        Some(rate) => (None, rate),
        None => {
            let capacity = capacity(&mut workers, &settings).await?;
            let rate = capacity.rate * settings.load_fraction;
            (Some(capacity), rate)
        }
    };
    eprintln!(
        "soak at {rate:.0} req/s for {total} s ({} s warm-up)",
        settings.warmup_secs
    );

    let recorder = Recorder::new();
    let start = Instant::now();
    let (loaded, (samples, mut rows)) = tokio::join!(
        workers.open_loop(rate, start, Duration::from_secs(total), &recorder),
        watch(start, &windows, pids, data_dir.path(), &recorder)
    );
    loaded?;
    if let Some(last) = windows.last() {
        let row = Row::new(*last, recorder.take(), &samples);
        progress(&row);
        rows.push(row);
    }

    let report = SoakReport {
        commit,
        machine: report::machine(),
        load_before,
        gateway_build: binaries.pure_gateway_label,
        load_after: report::load_average(),
        capacity,
        rate,
        rows,
        samples,
        warmup_end: settings.warmup_secs as usize,
        errors: recorder.errors(),
        messages: recorder.messages(),
        settings,
    };
    print!("{}", report.render());
    gateway.stop().await;
    service.stop().await;
    Ok(())
}

/// The closed-loop burst: the mix back to back on every connection.
async fn capacity(workers: &mut Workers, settings: &SoakSettings) -> Result<Capacity, BenchError> {
    eprintln!(
        "capacity: {} s unmeasured, then {} s closed loop on {} connections",
        CAPACITY_WARMUP.as_secs(),
        settings.capacity_secs,
        settings.connections
    );
    workers
        .closed_loop(CAPACITY_WARMUP, &Recorder::new())
        .await?;
    let recorder = Recorder::new();
    let started = Instant::now();
    workers
        .closed_loop(Duration::from_secs(settings.capacity_secs), &recorder)
        .await?;
    let elapsed = started.elapsed().as_secs_f64();
    let tally = recorder.take();
    let capacity = Capacity {
        rate: tally.requests() as f64 / elapsed,
        p99: tally.at(0.99),
        errors: tally.errors,
    };
    eprintln!(
        "capacity: {:.0} req/s ({} requests), p99 {}, errors {}",
        capacity.rate,
        tally.requests(),
        duration(capacity.p99),
        capacity.errors
    );
    if tally.requests() == 0 {
        return Err(BenchError::Load(
            "the capacity burst got no answer at all".into(),
        ));
    }
    Ok(capacity)
}

/// Samples the processes at every whole second of the soak (second 0
/// included) and closes each window at its end, but the last one, which the
/// caller closes when the load has finished.
async fn watch(
    start: Instant,
    windows: &[Window],
    pids: [u32; 2],
    data_dir: &Path,
    recorder: &Recorder,
) -> (Vec<Sample>, Vec<Row>) {
    let total = windows.last().map_or(0, |w| w.end);
    let mut samples = vec![Sample::take(pids, data_dir)];
    let mut rows = Vec::new();
    for second in 1..=total {
        tokio::time::sleep_until(start + Duration::from_secs(second)).await;
        samples.push(Sample::take(pids, data_dir));
        if second < total
            && let Some(window) = windows.iter().find(|w| w.end == second)
        {
            let row = Row::new(*window, recorder.take(), &samples);
            progress(&row);
            rows.push(row);
        }
    }
    (samples, rows)
}

/// One line on stderr per window, while the soak runs.
fn progress(row: &Row) {
    let t = &row.tally;
    eprintln!(
        "  {:>5}-{:<5} s {:<8} {:>8.0} req/s  p50 {:>9}  p99 {:>9}  p99.9 {:>9}  errors {}  RSS MiB {}  data {}",
        row.window.start,
        row.window.end,
        if row.window.warmup { "warm-up" } else { "soak" },
        t.requests() as f64 / row.window.secs() as f64,
        duration(t.at(0.5)),
        duration(t.at(0.99)),
        duration(t.at(0.999)),
        t.errors,
        row.end
            .rss_kib
            .map(|r| r.map_or("?".into(), |k| format!("{:.1}", k as f64 / 1024.0)))
            .join(", "),
        bytes(row.end.data_bytes)
    );
}

impl Row {
    /// The row of `window`, from the samples up to (at least) its end.
    fn new(window: Window, tally: Tally, samples: &[Sample]) -> Self {
        let (from, to) = (samples[window.start as usize], samples[window.end as usize]);
        let cpu_share = [0, 1].map(|p| {
            let spent = to.cpu[p]?.checked_sub(from.cpu[p]?)?;
            Some(spent.as_secs_f64() / window.secs() as f64)
        });
        Self {
            window,
            tally,
            end: to,
            cpu_share,
        }
    }
}

/// One verdict line.
#[derive(Debug)]
struct Verdict {
    what: String,
    value: String,
    target: String,
    met: bool,
}

impl SoakReport {
    fn verdicts(&self) -> Vec<Verdict> {
        let mut verdicts = Vec::new();
        let base = self.samples.get(self.warmup_end);
        let after = self.samples.get(self.warmup_end + 1..).unwrap_or_default();
        let limit = format!("< {:.0} %", RSS_GROWTH_LIMIT * 100.0);
        for (p, name) in PROCESSES.iter().enumerate() {
            let after: Vec<_> = after.iter().map(|s| s.rss_kib[p]).collect();
            verdicts.push(growth_verdict(
                format!("RSS growth after warm-up, {name}"),
                Growth::of(base.and_then(|s| s.rss_kib[p]), &after),
                &limit,
            ));
        }
        let after: Vec<_> = after.iter().map(Sample::rss_sum).collect();
        verdicts.push(growth_verdict(
            "RSS growth after warm-up, both summed".into(),
            Growth::of(base.and_then(Sample::rss_sum), &after),
            &limit,
        ));

        let requests: u64 = self.rows.iter().map(|r| r.tally.requests()).sum();
        verdicts.push(Verdict {
            what: "errors (warm-up included)".into(),
            value: format!("{} of {requests} requests", self.errors),
            target: "0".into(),
            met: self.errors == 0,
        });

        let p99s: Vec<Duration> = self
            .rows
            .iter()
            .filter(|r| !r.window.warmup)
            .map(|r| r.tally.at(0.99))
            .collect();
        let spread = Spread::of(&p99s);
        verdicts.push(Verdict {
            what: "p99 stable: largest post-warm-up window p99 / their median".into(),
            value: spread.map_or("n/a".into(), |s| {
                format!(
                    "{:.2} ({} / {})",
                    s.ratio(),
                    duration(s.max),
                    duration(s.median)
                )
            }),
            target: format!("≤ {P99_SPREAD_LIMIT:.0}"),
            met: spread.is_some_and(Spread::met),
        });
        verdicts
    }

    fn render(&self) -> String {
        let s = &self.settings;
        let mut out = String::new();
        report::header(
            &mut out,
            "music-bench soak",
            &self.commit,
            &self.machine,
            &self.load_before,
            &self.load_after,
        );
        let _ = writeln!(
            out,
            "- stack: {} → music-service, embedded store in a file (`--data-dir`, a new temporary folder); RUST_LOG `{}`",
            self.gateway_build, s.rust_log
        );
        let mix: Vec<String> = MIX
            .iter()
            .map(|(op, weight)| format!("{} {weight} %", op.label()))
            .collect();
        let _ = writeln!(
            out,
            "- mix over {} songs (all put first): {}; REST through the gateway, gRPC straight to the service",
            s.songs,
            mix.join(", ")
        );
        match &self.capacity {
            Some(c) => {
                let _ = writeln!(
                    out,
                    "- capacity: {:.0} req/s, closed loop on {} connections for {} s after {} s unmeasured (p99 {}, errors {})",
                    c.rate,
                    s.connections,
                    s.capacity_secs,
                    CAPACITY_WARMUP.as_secs(),
                    duration(c.p99),
                    c.errors
                );
                let _ = writeln!(
                    out,
                    "- soak: open loop at {} × capacity = {:.0} req/s",
                    s.load_fraction, self.rate
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "- soak: open loop at {:.0} req/s (given with --rate; capacity not measured)",
                    self.rate
                );
            }
        }
        let _ = writeln!(
            out,
            "- {} s warm-up, then {} min judged, in windows of {} s; {} workers, each with an HTTP/1.1 keep-alive connection, gRPC over {} channels",
            s.warmup_secs,
            s.minutes,
            s.window_secs,
            s.connections,
            paced::GRPC_CHANNELS
        );
        let _ = writeln!(
            out,
            "- latency counted from each request's scheduled send time (coordinated omission corrected); RSS sampled every second; CPU as a share of one core\n"
        );

        let _ = writeln!(
            out,
            "| window (s) | phase | requests | req/s | errors | p50 | p99 | p99.9 | RSS service | RSS gateway | CPU service | CPU gateway | data folder |"
        );
        let _ = writeln!(out, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        for row in &self.rows {
            let t = &row.tally;
            let rss = row.end.rss_kib.map(|r| r.map_or("-".into(), mib));
            let cpu = row
                .cpu_share
                .map(|c| c.map_or("-".into(), |c| format!("{:.0} %", c * 100.0)));
            let _ = writeln!(
                out,
                "| {}–{} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                row.window.start,
                row.window.end,
                if row.window.warmup { "warm-up" } else { "soak" },
                t.requests(),
                t.requests() as f64 / row.window.secs() as f64,
                t.errors,
                duration(t.at(0.5)),
                duration(t.at(0.99)),
                duration(t.at(0.999)),
                rss[0],
                rss[1],
                cpu[0],
                cpu[1],
                bytes(row.end.data_bytes)
            );
        }

        let _ = writeln!(out, "\n| verdict | value | target | |");
        let _ = writeln!(out, "|---|--:|--:|---|");
        for v in self.verdicts() {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                v.what,
                v.value,
                v.target,
                if v.met { "met" } else { "**not met**" }
            );
        }
        if !self.messages.is_empty() {
            let _ = writeln!(out, "\nFirst errors:\n");
            for message in &self.messages {
                let _ = writeln!(out, "- `{}`", message.replace('`', "'"));
            }
        }
        out
    }
}

fn growth_verdict(what: String, growth: Option<Growth>, limit: &str) -> Verdict {
    Verdict {
        what,
        value: growth.map_or("n/a (a process was gone)".into(), |g| {
            format!(
                "{:+.1} % ({} → max {})",
                g.fraction() * 100.0,
                mib(g.base_kib),
                mib(g.max_kib)
            )
        }),
        target: limit.to_owned(),
        met: growth.is_some_and(Growth::met),
    }
}

fn bytes(n: u64) -> String {
    if n < 1024 * 1024 {
        format!("{} KiB", n.div_ceil(1024))
    } else {
        format!("{:.1} MiB", n as f64 / 1024.0 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn windows_cut_the_warmup_and_the_judged_span_apart() {
        let w = |start, end, warmup| Window { start, end, warmup };
        assert_eq!(
            plan(60, 120, 60),
            [w(0, 60, true), w(60, 120, false), w(120, 180, false)]
        );
        assert_eq!(
            plan(30, 100, 40),
            [
                w(0, 30, true),
                w(30, 70, false),
                w(70, 110, false),
                w(110, 130, false)
            ]
        );
        assert_eq!(plan(0, 60, 60), [w(0, 60, false)]);
    }

    #[test]
    fn rss_growth_compares_the_peak_after_warmup_with_its_end() {
        let growth = Growth::of(Some(1000), &[Some(1010), Some(1080), Some(1050)]).unwrap();
        assert_eq!(growth.max_kib, 1080);
        assert!((growth.fraction() - 0.08).abs() < 1e-9);
        assert!(growth.met());
        let grown = Growth::of(Some(1000), &[Some(1100)]).unwrap();
        assert!(!grown.met(), "10 % is not below 10 %");
    }

    #[test]
    fn rss_that_shrinks_after_warmup_is_no_growth() {
        let growth = Growth::of(Some(1000), &[Some(900), Some(950)]).unwrap();
        assert_eq!(growth.fraction(), 0.0);
        assert!(growth.met());
    }

    #[test]
    fn rss_growth_is_unknown_when_a_process_is_gone() {
        assert_eq!(Growth::of(None, &[Some(1)]), None);
        assert_eq!(Growth::of(Some(1000), &[Some(1000), None]), None);
    }

    #[test]
    fn p99_spread_is_the_largest_window_over_the_median() {
        let spread = Spread::of(&[ms(2), ms(3), ms(10), ms(4), ms(2)]).unwrap();
        assert_eq!((spread.max, spread.median), (ms(10), ms(3)));
        assert!(!spread.met());
        let even = Spread::of(&[ms(2), ms(4), ms(3), ms(5)]).unwrap();
        assert_eq!(even.median, Duration::from_micros(3_500));
        assert!(even.met());
        assert!((even.ratio() - 5.0 / 3.5).abs() < 1e-9);
    }

    #[test]
    fn p99_of_twice_the_median_is_still_stable() {
        assert!(Spread::of(&[ms(2), ms(2), ms(4)]).unwrap().met());
        assert_eq!(Spread::of(&[]), None);
        assert!(Spread::of(&[ms(7)]).unwrap().met());
    }

    #[test]
    fn sizes_are_written_in_their_unit() {
        assert_eq!(bytes(0), "0 KiB");
        assert_eq!(bytes(1500), "2 KiB");
        assert_eq!(bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
