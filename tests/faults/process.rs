//! The programs under test as real processes: the built `music-service` and
//! `music-gateway` binaries, started with a clean environment (no `MUSIC_*`
//! or `AWS_*` settings leaking in from the shell), dummy AWS credentials
//! unless a test sets its own, stderr collected line by line, `listening on`
//! addresses read from the log, and SIGKILL when a test kills one.
//!
//! A copy of tests/ops/process.rs (owned by the operations suite) with what
//! the fault tests need besides: their own environment (the secrets test's
//! canary credentials, `RUST_LOG=debug`) and a fixed gRPC port for a service
//! started again where a killed one was.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

/// How long a program may take to log all its `listening on` lines.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A built binary of this workspace (`cargo build --workspace` makes them).
fn binary(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().expect("test binary path");
    dir.pop(); // the test binary
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built; run `cargo build --workspace` first (or `cargo test --workspace`)",
        path.display()
    );
    path
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
        let mut child = command
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

    pub(crate) fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub(crate) fn log_text(&self) -> String {
        self.log_lines().join("\n")
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
