//! The programs under test as real processes, for the suites that run them
//! with tokio (ops, faults): the built `music-service` and `music-gateway`
//! binaries, started with a clean environment (no `MUSIC_*` or `AWS_*`
//! settings leaking in from the shell), dummy AWS credentials unless a test
//! sets its own, stderr collected line by line (text or JSON), `listening on`
//! addresses read from the log, signalled with the real `kill` (SIGTERM) or
//! killed outright (SIGKILL), and their exit awaited with a bound.
//!
//! Owns: [`Program`] (start, the `service*`/`gateway` shortcuts, addresses,
//! log lines, SIGTERM/SIGKILL, exit). Included by each suite with
//! `#[path = "../support/process.rs"] mod process;`.

// Each suite uses a part of these helpers; the rest is dead code there.
#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::common::{binary, default_args, listening};

/// How long a program may take to log all its `listening on` lines.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The environment every program gets unless a test overrides it: with
/// `--backend dynamodb` the AWS credential chain ends at once on these,
/// without network lookups.
const DEFAULT_ENV: [(&str, &str); 7] = [
    ("RUST_LOG", "info"),
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("AWS_CONFIG_FILE", "/dev/null"),
    ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
];

/// A running program; killed when dropped.
pub(crate) struct Program {
    name: &'static str,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    log_closed: Arc<AtomicBool>,
    listening: Vec<(String, SocketAddr)>,
}

impl Program {
    /// Starts `name` with `args` and `env` (over [`DEFAULT_ENV`]) and waits
    /// until it has logged `expected` `listening on` lines.
    pub(crate) async fn start(
        name: &'static str,
        args: &[&str],
        env: &[(&str, &str)],
        expected: usize,
    ) -> Self {
        let mut command = Command::new(binary(name));
        for (key, _) in std::env::vars_os() {
            let key_text = key.to_string_lossy();
            if key_text.starts_with("MUSIC_") || key_text.starts_with("AWS_") {
                command.env_remove(&key);
            }
        }
        command.envs(DEFAULT_ENV).envs(env.iter().copied());
        let (defaults, more) = default_args(name, args);
        let expected = expected + more;
        let mut child = command
            .args(defaults)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let log_closed = Arc::new(AtomicBool::new(false));
        let (lines, closed) = (Arc::clone(&log), Arc::clone(&log_closed));
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
            closed.store(true, Ordering::Release);
        });
        let mut program = Self {
            name,
            child,
            log,
            log_closed,
            listening: Vec::new(),
        };
        let started = Instant::now();
        loop {
            program.listening = program
                .log_lines()
                .iter()
                .filter_map(|line| listening(line))
                .collect();
            if program.listening.len() >= expected {
                break;
            }
            if let Ok(Some(status)) = program.child.try_wait() {
                program.settle_log().await;
                panic!(
                    "{name} exited ({status}) before listening:\n{}",
                    program.log_text()
                );
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "{name} did not log {expected} `listening on` lines:\n{}",
                program.log_text()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        program
    }

    /// music-service on `127.0.0.1:0` (gRPC and admin) with `args` added.
    pub(crate) async fn service(args: &[&str]) -> Self {
        Self::service_at("127.0.0.1:0", args, &[]).await
    }

    /// music-service with gRPC on `grpc` (`127.0.0.1:0` for any port), its
    /// admin port on any port, and `args` and `env` added.
    pub(crate) async fn service_at(grpc: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut all = vec!["--listen", grpc, "--admin-listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        Self::start("music-service", &all, env, 2).await
    }

    /// music-service on any ports over the DynamoDB endpoint `endpoint` (a
    /// fault proxy, the test's embedded store, DynamoDB Local).
    pub(crate) async fn service_on(endpoint: &str, args: &[&str]) -> Self {
        let mut all = vec!["--backend", "dynamodb", "--dynamodb-endpoint", endpoint];
        all.extend_from_slice(args);
        Self::service_at("127.0.0.1:0", &all, &[]).await
    }

    /// music-gateway as a pure gateway in front of the service at `upstream`
    /// (`http://ADDR`), with `args` and `env` added.
    pub(crate) async fn gateway(upstream: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut all = vec!["--listen", "127.0.0.1:0", "--upstream", upstream];
        all.extend_from_slice(args);
        Self::start("music-gateway", &all, env, 1).await
    }

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

    /// `http://ADDR` of a listener.
    pub(crate) fn url(&self, protocol: &str) -> String {
        format!("http://{}", self.addr(protocol))
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub(crate) fn log_text(&self) -> String {
        self.log_lines().join("\n")
    }

    /// The first log line that `wanted` accepts, waiting up to `within`.
    pub(crate) async fn line(
        &self,
        within: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let until = Instant::now() + within;
        loop {
            if let Some(line) = self.log_lines().into_iter().find(|l| wanted(l)) {
                return Some(line);
            }
            if Instant::now() >= until {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The first JSON log line that `wanted` accepts, waiting up to `within`.
    pub(crate) async fn json_line(
        &self,
        within: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let line = self
            .line(within, |l| {
                serde_json::from_str::<Value>(l).is_ok_and(|json| wanted(&json))
            })
            .await?;
        serde_json::from_str(&line).ok()
    }

    /// Sends SIGTERM with the real `kill`, as an orchestrator does.
    pub(crate) fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -TERM {} failed", self.pid());
    }

    /// Whether the process is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The exit status, if the process exits within `within`; its log is
    /// complete when this returns `Some`.
    pub(crate) async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.settle_log().await;
                return Some(status);
            }
            if Instant::now() >= until {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// SIGKILL, as the OOM killer or a crashed node does it: no drain, no
    /// goodbye. Returns once the process is gone and its log fully read.
    pub(crate) async fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.settle_log().await;
    }

    /// Waits (briefly) until every line the exited process wrote has been read.
    async fn settle_log(&self) {
        let until = Instant::now() + Duration::from_secs(5);
        while !self.log_closed.load(Ordering::Acquire) && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
