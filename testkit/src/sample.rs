//! What the tests and the bench measure of a running process, read from
//! `/proc` (Linux) with the `procfs` crate: its resident memory, the CPU time
//! it has used (user and kernel apart), its open descriptors; and a sampler
//! that keeps the peak of such a measure while load runs.
//!
//! Owns: [`rss_kib`], [`cpu_time`], [`CpuTime`], [`fd_count`], [`Peak`].

use std::time::Duration;

use procfs::process::Process;
use tokio::{sync::oneshot, task::JoinHandle};

fn process(pid: u32) -> Option<Process> {
    Process::new(i32::try_from(pid).ok()?).ok()
}

/// Resident set size of `pid` (`VmRSS`), in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    process(pid)?.status().ok()?.vmrss
}

/// CPU time (user + system) `pid` has used so far.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    CpuTime::of(pid).map(CpuTime::total)
}

/// CPU time a process has used, as the kernel counts it (`utime` and
/// `stime` of `/proc/PID/stat`): in its own code, and in the kernel on its
/// behalf (system calls, and the loopback TCP receive work a send does for
/// the other end). Instruction counts see only the first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTime {
    /// In the process's own code.
    pub user: Duration,
    /// In the kernel, on the process's behalf.
    pub system: Duration,
}

impl CpuTime {
    /// What `pid` has used so far.
    pub fn of(pid: u32) -> Option<Self> {
        let stat = process(pid)?.stat().ok()?;
        let per_sec = procfs::ticks_per_second().max(1);
        let time = |ticks: u64| Duration::from_micros(ticks * 1_000_000 / per_sec);
        Some(Self {
            user: time(stat.utime),
            system: time(stat.stime),
        })
    }

    /// User and kernel time together, what [`cpu_time`] reads.
    pub fn total(self) -> Duration {
        self.user + self.system
    }

    /// What was used between `before` and `self`.
    pub fn since(self, before: Self) -> Self {
        Self {
            user: self.user.saturating_sub(before.user),
            system: self.system.saturating_sub(before.system),
        }
    }

    /// The share of each of `count` requests (a `count` of 0 counts as 1).
    pub fn per(self, count: u64) -> Self {
        let share = |d: Duration| {
            let nanos = d.as_nanos() / u128::from(count.max(1));
            Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
        };
        Self {
            user: share(self.user),
            system: share(self.system),
        }
    }
}

/// Open file descriptors of `pid`.
pub fn fd_count(pid: u32) -> Option<usize> {
    process(pid)?.fd_count().ok()
}

/// The highest value of a measure of some processes, sampled in the
/// background from [`Peak::start`] until [`Peak::stop`].
#[derive(Debug)]
pub struct Peak<T> {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Vec<Option<T>>>,
}

impl<T> Peak<T>
where
    T: PartialOrd + Copy + Send + 'static,
{
    /// Samples `measure` of each of `pids` now and every `every`.
    pub fn start<F>(pids: Vec<u32>, every: Duration, measure: F) -> Self
    where
        F: Fn(u32) -> Option<T> + Send + Sync + 'static,
    {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut peaks: Vec<Option<T>> = vec![None; pids.len()];
            let take = |peaks: &mut Vec<Option<T>>| {
                for (peak, pid) in peaks.iter_mut().zip(&pids) {
                    if let Some(value) = measure(*pid)
                        && peak.is_none_or(|p| value > p)
                    {
                        *peak = Some(value);
                    }
                }
            };
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = tick.tick() => take(&mut peaks),
                    _ = &mut stopped => break,
                }
            }
            // The last sample is taken now.
            take(&mut peaks);
            peaks
        });
        Self { stop, task }
    }

    /// Each process's peak, in the order given (`None`: never measured).
    pub async fn stop(self) -> Vec<Option<T>> {
        let _ = self.stop.send(());
        self.task.await.expect("the sampler task")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_rss_cpu_time_and_descriptors() {
        let me = std::process::id();
        assert!(rss_kib(me).is_some_and(|kib| kib > 0));
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(30) {
            std::hint::black_box(0);
        }
        assert!(cpu_time(me).is_some_and(|cpu| cpu > Duration::ZERO));
        assert!(fd_count(me).is_some_and(|fds| fds >= 3));
        assert_eq!(rss_kib(u32::MAX), None);
    }

    #[test]
    fn user_and_kernel_time_are_counted_apart() {
        let me = std::process::id();
        let now = || CpuTime::of(me).expect("its own stat");
        // /proc counts in 10 ms units (USER_HZ).
        let deadline = || std::time::Instant::now() + Duration::from_secs(10);

        // Arithmetic only, /proc read every million steps: user time moves,
        // and more than the kernel's.
        let start = now();
        let until = deadline();
        let mut sum = 0u64;
        while now().user < start.user + Duration::from_millis(100) {
            assert!(
                std::time::Instant::now() < until,
                "the user time never moved"
            );
            for step in 0..std::hint::black_box(1_000_000u64) {
                sum = std::hint::black_box(sum.wrapping_add(step));
            }
        }
        let computed = now().since(start);
        assert!(computed.user > computed.system, "{computed:?}");

        // System calls only: the kernel's time moves.
        let start = now();
        let until = deadline();
        while now().system <= start.system {
            assert!(
                std::time::Instant::now() < until,
                "the kernel time never moved"
            );
            for _ in 0..100 {
                let _ = std::hint::black_box(std::fs::metadata("/"));
            }
        }
        assert!(now().since(start).system > Duration::ZERO);

        // Nothing is negative, even against a later reading.
        assert_eq!(start.since(now()), CpuTime::default());
        let four = CpuTime {
            user: Duration::from_micros(40),
            system: Duration::from_micros(8),
        };
        assert_eq!(
            four.per(4),
            CpuTime {
                user: Duration::from_micros(10),
                system: Duration::from_micros(2)
            }
        );
        assert_eq!(four.per(0), four);
    }

    #[tokio::test]
    async fn a_peak_keeps_the_highest_sample() {
        let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let seen = std::sync::Arc::clone(&counter);
        let peak = Peak::start(vec![1, 2], Duration::from_millis(5), move |pid| {
            let n = seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            (pid == 1).then_some(n)
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        let peaks = peak.stop().await;
        let last = counter.load(std::sync::atomic::Ordering::Relaxed);
        assert!(peaks[0].is_some_and(|p| p + 2 >= last), "{peaks:?} {last}");
        assert_eq!(peaks[1], None);
    }
}
