//! The process's Prometheus recorder, the same for both programs (an
//! in-process gateway and its service share it, so `/metrics` shows both
//! programs' series): latency histograms with fixed buckets, and the upkeep
//! that keeps the recorder's memory bounded.

use std::{sync::OnceLock, time::Duration};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets from 0.5 ms to 30 s, for every metric named `*_seconds`:
/// local stores answer in well under a millisecond, AWS in a few, and the
/// slowest calls wait for tables.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How often the recorded histogram samples are folded into their buckets
/// (the exporter's own default when it runs its HTTP listener).
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Name of the thread that runs the upkeep.
pub const UPKEEP_THREAD: &str = "metrics-upkeep";

/// The process's Prometheus handle, installing the recorder on first use.
///
/// The recorder keeps every histogram sample until something drains it: a
/// scrape (`render`) or `run_upkeep`. Installed without the exporter's own
/// HTTP listener, nothing drains it unless `/metrics` is scraped, and memory
/// grows with every request (the soak measured ~40 bytes per request in the
/// service, BENCHMARKS.md); so a thread of its own runs the upkeep.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        // No idle timeout: both programs keep the handles of their hot
        // series (the service's `metrics::kept`, the gateway's
        // `record_request`), which a recorder that dropped idle series
        // would leave counting into series no longer exported.
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .expect("the bucket list is not empty")
            .install_recorder()
            .expect("no other metrics recorder is installed in this process");
        let upkeep = handle.clone();
        let started = std::thread::Builder::new()
            .name(UPKEEP_THREAD.into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_INTERVAL);
                    upkeep.run_upkeep();
                }
            });
        if let Err(error) = started {
            tracing::warn!(%error, "cannot start the metrics upkeep thread; histograms are drained only by scrapes of /metrics");
        }
        handle
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names of this process's threads.
    fn thread_names() -> Vec<String> {
        std::fs::read_dir("/proc/self/task")
            .expect("/proc/self/task")
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .map(|name| name.trim().to_owned())
            .collect()
    }

    #[test]
    fn installing_the_recorder_starts_its_upkeep_and_histograms_are_exported_in_buckets() {
        let handle = prometheus();
        // A new thread names itself once it runs; until then it has its parent's name.
        let named = |names: &[String]| names.iter().any(|name| name == UPKEEP_THREAD);
        let waited = std::time::Instant::now();
        while !named(&thread_names()) && waited.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            named(&thread_names()),
            "no {UPKEEP_THREAD} thread among {:?}",
            thread_names()
        );
        assert!(
            std::ptr::eq(handle, prometheus()),
            "one recorder per process"
        );
        for _ in 0..1000 {
            metrics::histogram!("music_test_duration_seconds").record(0.002);
        }
        handle.run_upkeep();
        let text = handle.render();
        assert!(
            text.contains("music_test_duration_seconds_bucket{le=\"0.0025\"} 1000"),
            "{text}"
        );
        assert!(
            text.contains("music_test_duration_seconds_count 1000"),
            "{text}"
        );
    }
}
