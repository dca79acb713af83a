//! What the abuse tests measure of a running program, in their units, from
//! testkit's sampler (`music_testkit::sample`): its resident memory in MiB
//! and its open file descriptors, and a background peak of either; and the
//! bound every test runs within, so that a server that never answers fails
//! the test instead of hanging it.

use std::{future::Future, time::Duration};

use music_testkit::sample;

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

/// The resident set of process `pid` in MiB (`VmRSS`).
pub(crate) fn rss_mib(pid: u32) -> f64 {
    let kib = sample::rss_kib(pid).unwrap_or_else(|| panic!("no VmRSS for process {pid}"));
    // RSS in KiB is far below 2^52: exact as f64.
    kib as f64 / 1024.0
}

/// The open file descriptors of process `pid`.
pub(crate) fn fd_count(pid: u32) -> usize {
    sample::fd_count(pid).unwrap_or_else(|| panic!("no descriptors for process {pid}"))
}

/// The highest value of a measure of one process, sampled every 50 ms in
/// the background from [`Peak::start`] until [`Peak::stop`].
pub(crate) struct Peak(sample::Peak<f64>);

impl Peak {
    pub(crate) fn start(pid: u32, measure: fn(u32) -> f64) -> Self {
        Self(sample::Peak::start(vec![pid], SAMPLE_EVERY, move |pid| {
            Some(measure(pid))
        }))
    }

    /// The peak seen so far, the last sample taken now.
    pub(crate) async fn stop(self) -> f64 {
        self.0.stop().await[0].expect("at least one sample")
    }
}

/// [`fd_count`] as a measure for [`Peak`].
pub(crate) fn fds(pid: u32) -> f64 {
    // Descriptor counts are far below 2^52: exact as f64.
    fd_count(pid) as f64
}
