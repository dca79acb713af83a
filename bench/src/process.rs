//! The processes a run starts: spawned with a clean environment, their stderr
//! drained (a full pipe would stall them) and its `listening on ADDR
//! protocol="…"` lines read, their RSS read from /proc, and killed when
//! dropped, so that an error or Ctrl-C anywhere in the run stops them all.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    path::Path,
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
    sync::mpsc,
    task::JoinHandle,
};

use crate::run::BenchError;

/// How long a program may take to log its `listening on` lines.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Lines of a program's stderr kept for error messages.
const LOG_TAIL: usize = 40;

/// A running child process; killed (SIGKILL) when dropped.
#[derive(Debug)]
pub(crate) struct Program {
    pub(crate) name: String,
    child: Child,
    pid: u32,
    log: Arc<Mutex<VecDeque<String>>>,
    /// `(protocol, address)` of each `listening on` line, in order.
    listening: Vec<(String, SocketAddr)>,
    /// When the spawn call was made.
    pub(crate) exec_at: Instant,
    /// From exec to the last expected `listening on` line.
    pub(crate) to_listening: Duration,
    /// From exec to the first successful answer, once measured.
    pub(crate) to_ready: Option<Duration>,
}

impl Program {
    /// Starts `program` with `args` and `envs` (the `AWS_*`, `MUSIC_*` and
    /// `RUST_LOG` variables of this process are not passed on) and waits for
    /// `expected` `listening on` lines.
    pub(crate) async fn start(
        name: &str,
        program: &Path,
        args: &[String],
        envs: &[(&str, &str)],
        current_dir: Option<&Path>,
        expected: usize,
    ) -> Result<Self, BenchError> {
        let mut command = Command::new(program);
        for (key, _) in std::env::vars_os() {
            let key_text = key.to_string_lossy();
            if key_text.starts_with("AWS_")
                || key_text.starts_with("MUSIC_")
                || key_text == "RUST_LOG"
            {
                command.env_remove(&key);
            }
        }
        command
            .args(args)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(dir) = current_dir {
            command.current_dir(dir);
        }
        let exec_at = Instant::now();
        let mut child = command.spawn().map_err(|e| {
            BenchError::Setup(format!("cannot start {name} ({}): {e}", program.display()))
        })?;
        let pid = child
            .id()
            .ok_or_else(|| BenchError::Setup(format!("{name} exited at once")))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(VecDeque::with_capacity(LOG_TAIL)));
        let (found, mut listening_lines) = mpsc::unbounded_channel();
        let tail = Arc::clone(&log);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(listening) = listening(&line) {
                    let _ = found.send(listening);
                }
                let mut tail = tail.lock().expect("log lock");
                if tail.len() == LOG_TAIL {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        let mut started = Self {
            name: name.to_owned(),
            child,
            pid,
            log,
            listening: Vec::new(),
            exec_at,
            to_listening: Duration::ZERO,
            to_ready: None,
        };
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        while started.listening.len() < expected {
            tokio::select! {
                line = listening_lines.recv() => match line {
                    Some(line) => started.listening.push(line),
                    None => {
                        // stderr closed: the program ended. Give the reader a moment to keep the tail.
                        let status = tokio::time::timeout(Duration::from_secs(2), started.child.wait()).await;
                        return Err(BenchError::Setup(format!(
                            "{name} ended ({}) before listening; its last lines:\n{}",
                            status.map_or_else(|_| "still running".to_owned(), |s| format!("{s:?}")),
                            started.log_tail()
                        )));
                    }
                },
                () = tokio::time::sleep_until(deadline) => {
                    return Err(BenchError::Setup(format!(
                        "{name} did not log {expected} `listening on` lines within {}s; its last lines:\n{}",
                        START_TIMEOUT.as_secs(),
                        started.log_tail()
                    )));
                }
            }
        }
        started.to_listening = exec_at.elapsed();
        Ok(started)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// The address of its `protocol` listener.
    pub(crate) fn addr(&self, protocol: &str) -> SocketAddr {
        self.listening
            .iter()
            .find(|(p, _)| p == protocol)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| {
                panic!(
                    "{}: no {protocol} listener in {:?}",
                    self.name, self.listening
                )
            })
    }

    /// The last lines it wrote on stderr.
    pub(crate) fn log_tail(&self) -> String {
        let tail = self.log.lock().expect("log lock");
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Marks it ready now (exec → first successful answer).
    pub(crate) fn mark_ready(&mut self) {
        self.to_ready = Some(self.exec_at.elapsed());
    }

    /// Resident set size now, in KiB.
    pub(crate) fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.pid)
    }

    /// Kills it and waits for it to end.
    pub(crate) async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// `(protocol, address)` of a text-format `listening on ADDR protocol="…"` line.
fn listening(line: &str) -> Option<(String, SocketAddr)> {
    let rest = line.split("listening on ").nth(1)?;
    let mut words = rest.split_whitespace();
    let addr = words.next()?.parse().ok()?;
    let protocol = words
        .find_map(|w| w.strip_prefix("protocol="))?
        .trim_matches('"');
    Some((protocol.to_owned(), addr))
}

/// VmRSS of `pid` from /proc, in KiB.
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

/// CPU time (user + system) `pid` has used so far, from /proc/PID/stat.
pub(crate) fn cpu_time(pid: u32) -> Option<Duration> {
    /// Linux reports these in USER_HZ, 100 on every architecture it runs on here.
    const TICKS_PER_SEC: u64 = 100;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3, the state.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis(
        (user + system) * 1000 / TICKS_PER_SEC,
    ))
}

/// Samples the RSS of some processes every 100 ms while load runs and keeps
/// each one's peak.
#[derive(Debug)]
pub(crate) struct RssSampler {
    task: JoinHandle<Vec<u64>>,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl RssSampler {
    pub(crate) fn start(pids: Vec<u32>) -> Self {
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut peaks = vec![0; pids.len()];
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                for (peak, pid) in peaks.iter_mut().zip(&pids) {
                    *peak = (*peak).max(rss_kib(*pid).unwrap_or(0));
                }
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = &mut stopped => break,
                }
            }
            peaks
        });
        Self { task, stop }
    }

    /// Each process's peak RSS in KiB, in the order given.
    pub(crate) async fn stop(self) -> Vec<u64> {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_programs_listening_lines() {
        let line = "2025-01-01T00:00:00Z  INFO music_service::server: listening on 127.0.0.1:41234 protocol=\"grpc\"";
        assert_eq!(
            listening(line),
            Some(("grpc".to_owned(), "127.0.0.1:41234".parse().unwrap()))
        );
        assert_eq!(listening("pure gateway"), None);
    }

    #[test]
    fn reads_its_own_rss_and_cpu_time() {
        assert!(rss_kib(std::process::id()).is_some_and(|kib| kib > 0));
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(30) {
            std::hint::black_box(0);
        }
        assert!(cpu_time(std::process::id()).is_some_and(|cpu| cpu > Duration::ZERO));
    }
}
