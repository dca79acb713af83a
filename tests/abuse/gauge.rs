//! What the abuse tests measure of a running program, from `/proc` (Linux):
//! its resident memory (`VmRSS`) and its open file descriptors, sampled in
//! the background for a peak; and the bound every test runs within, so that
//! a server that never answers fails the test instead of hanging it.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::task::JoinHandle;

/// Every abuse test finishes well within this, or fails (nextest only calls
/// a test slow after 60 s).
pub(crate) const TEST_BOUND: Duration = Duration::from_secs(45);

/// How often a [`Peak`] samples.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// Runs a test's body within [`TEST_BOUND`].
pub(crate) async fn bounded<F: Future>(test: F) -> F::Output {
    tokio::time::timeout(TEST_BOUND, test)
        .await
        .unwrap_or_else(|_| panic!("the test ran past its bound of {TEST_BOUND:?}"))
}

/// The resident set of process `pid` in MiB (`VmRSS` of `/proc/PID/status`).
pub(crate) fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"));
    kib / 1024.0
}

/// The open file descriptors of process `pid` (entries of `/proc/PID/fd`).
pub(crate) fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/fd: {e}"))
        .count()
}

/// The highest value of a measure of a process, sampled every 50 ms in the
/// background from [`Peak::start`] until [`Peak::stop`].
pub(crate) struct Peak {
    stop: Arc<AtomicBool>,
    task: JoinHandle<f64>,
}

impl Peak {
    pub(crate) fn start(pid: u32, measure: fn(u32) -> f64) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let task = tokio::spawn(async move {
            let mut peak = measure(pid);
            while !stopped.load(Ordering::Relaxed) {
                tokio::time::sleep(SAMPLE_EVERY).await;
                peak = peak.max(measure(pid));
            }
            peak
        });
        Self { stop, task }
    }

    /// The peak seen so far, the last sample taken now.
    pub(crate) async fn stop(self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the sampler task")
    }
}

/// [`fd_count`] as a measure for [`Peak`].
pub(crate) fn fds(pid: u32) -> f64 {
    // Descriptor counts are far below 2^52: exact as f64.
    fd_count(pid) as f64
}
