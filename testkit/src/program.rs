//! A program as a real process: the built `music-service` and
//! `music-gateway` binaries (or any other, such as DynamoDB Local's JVM or the
//! bench's ceiling server), started with a clean environment, stderr read
//! line by line on a thread of its own (a full pipe would stall the program),
//! the `listening on ADDR protocol="…"` lines read from it as they come (so
//! port 0 works everywhere), signalled with the real `kill` (SIGTERM) or
//! killed outright (SIGKILL), its exit awaited with a bound. Killed when
//! dropped, so that a failing test or an interrupted bench stops everything it
//! started.
//!
//! Owns: [`Program`] and its [`Builder`], [`Exit`] (a program run to its end),
//! [`binary`]/[`bin_dir`] (where the workspace's binaries are), [`listening`]
//! (the reader of `listening on` lines, text or JSON log format).
//!
//! Hand-written: the std and tokio process APIs do the spawning; what is left
//! (reading the programs' own log lines, and the start-up timing the bench
//! reports) is specific to these programs.

use std::{
    collections::VecDeque,
    ffi::OsString,
    io::{BufRead, BufReader, Read},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Condvar, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use serde_json::Value;
use tokio::sync::watch;

/// How long a program may take to log its `listening on` lines, unless a
/// [`Builder`] says otherwise.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The environment every program gets unless the caller overrides it: with
/// `--backend dynamodb` the AWS credential chain ends at once on these,
/// without network lookups (DynamoDB Local accepts any credentials).
pub const DEFAULT_ENV: [(&str, &str); 7] = [
    ("RUST_LOG", "info"),
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("AWS_CONFIG_FILE", "/dev/null"),
    ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
];

/// Variables of the caller's environment a program never inherits: settings
/// of the programs (`MUSIC_*`), of the AWS SDK, of OpenTelemetry, and the log
/// filter, so that a developer's shell cannot point a test at a real store.
const NOT_INHERITED: [&str; 3] = ["MUSIC_", "AWS_", "OTEL_"];

/// The caller's proxy settings, in either case, which a program never
/// inherits either: every call a test has a program make is to loopback, and
/// the AWS SDK's default client (`--backend dynamodb`) sends its calls through
/// the proxy these name (a developer's `HTTP_PROXY` without a `NO_PROXY` for
/// 127.0.0.1 would get every call of the tests on DynamoDB Local).
const PROXY_VARIABLES: [&str; 4] = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"];

/// Whether a variable of the caller's environment reaches the program.
fn inherited(name: &str) -> bool {
    name != "RUST_LOG"
        && !NOT_INHERITED.iter().any(|prefix| name.starts_with(prefix))
        && !PROXY_VARIABLES
            .iter()
            .any(|proxy| name.eq_ignore_ascii_case(proxy))
}

/// The folder of the workspace's built binaries: the one of the running
/// executable (a test binary sits one level deeper, in `deps/`).
pub fn bin_dir() -> PathBuf {
    let mut dir = std::env::current_exe().expect("the running executable's path");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// A built binary of this workspace (`cargo test --workspace` builds them all).
pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is not built; run the tests with `cargo test --workspace` (or scripts/test.sh)",
        path.display()
    );
    path
}

/// `(protocol, address)` of a `listening on ADDR protocol="…"` line, in the
/// text or the JSON log format.
pub fn listening(line: &str) -> Option<(String, SocketAddr)> {
    if line.starts_with('{') {
        let json: Value = serde_json::from_str(line).ok()?;
        let addr = json["message"].as_str()?.strip_prefix("listening on ")?;
        let protocol = json["protocol"].as_str()?;
        return Some((protocol.to_owned(), addr.trim().parse().ok()?));
    }
    let rest = line.split("listening on ").nth(1)?;
    let mut words = rest.split_whitespace();
    let addr = words.next()?.parse().ok()?;
    let protocol = words
        .find_map(|w| w.strip_prefix("protocol="))?
        .trim_matches('"');
    Some((protocol.to_owned(), addr))
}

/// One `listening on` line, and when it was read.
#[derive(Debug, Clone)]
pub struct Listener {
    pub protocol: String,
    pub addr: SocketAddr,
    pub seen: Instant,
}

/// What has been read of a program's stderr.
#[derive(Debug, Default)]
struct Log {
    lines: VecDeque<String>,
    /// Lines kept; `None`: all of them.
    keep: Option<usize>,
    listening: Vec<Listener>,
    /// stderr reached its end: the program exited (or closed it).
    closed: bool,
    /// The reader waits before its next line (a reader of stderr that has
    /// stopped reading; see [`Program::stall_log`]).
    stalled: bool,
}

/// The log and what wakes its reader thread when a stall ends.
#[derive(Debug, Default)]
struct Shared {
    log: Mutex<Log>,
    resumed: Condvar,
}

/// Why a program did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start {label} ({path}): {source}")]
    Spawn {
        label: String,
        path: String,
        source: std::io::Error,
    },
    #[error("{label} exited ({status}) before listening; its log:\n{log}")]
    Exited {
        label: String,
        status: String,
        log: String,
    },
    #[error(
        "{label} did not log {expected} `listening on` lines within {timeout:?}; its log:\n{log}"
    )]
    Timeout {
        label: String,
        expected: usize,
        timeout: Duration,
        log: String,
    },
}

/// How a program run to its end ended.
#[derive(Debug)]
pub struct Exit {
    pub code: Option<i32>,
    pub stderr: String,
}

/// A program about to be started: which, with what, and what to wait for.
#[derive(Debug, Clone)]
pub struct Builder {
    /// The binary's name: the workspace binary looked up unless `path` is set,
    /// and what decides the default arguments.
    name: String,
    label: String,
    path: Option<PathBuf>,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    current_dir: Option<PathBuf>,
    listening: usize,
    start_timeout: Duration,
    keep_lines: Option<usize>,
}

impl Builder {
    /// Runs the executable at `path` instead of the workspace binary `name`
    /// (a release build, the slim gateway, `java`).
    pub fn at(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// The name it goes by in messages and reports (default: its name).
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// One variable, over [`DEFAULT_ENV`].
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn envs(mut self, env: &[(&str, &str)]) -> Self {
        self.env
            .extend(env.iter().map(|(k, v)| ((*k).into(), (*v).into())));
        self
    }

    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
    }

    /// How many `listening on` lines to wait for (default 0), besides those
    /// of the default arguments.
    pub fn listening(mut self, lines: usize) -> Self {
        self.listening = lines;
        self
    }

    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Keeps only the last `lines` lines of the log (a long run's log would
    /// otherwise grow without bound).
    pub fn keep_lines(mut self, lines: usize) -> Self {
        self.keep_lines = Some(lines);
        self
    }

    /// The arguments a program gets before the caller's own: music-gateway's
    /// admin listener (127.0.0.1:9465 by default) on a free port unless the
    /// caller names one, so that gateways started side by side do not collide.
    /// With them comes the number of extra `listening on` lines to wait for.
    fn default_args(&self) -> (Vec<&'static str>, usize) {
        if self.name == "music-gateway" && !self.args.iter().any(|a| a == "--admin-listen") {
            (vec!["--admin-listen", "127.0.0.1:0"], 1)
        } else {
            (Vec::new(), 0)
        }
    }

    fn command(&self) -> (Command, PathBuf, usize) {
        let path = self.path.clone().unwrap_or_else(|| binary(&self.name));
        let mut command = Command::new(&path);
        for (key, _) in std::env::vars_os() {
            if !inherited(&key.to_string_lossy()) {
                command.env_remove(&key);
            }
        }
        command.envs(DEFAULT_ENV);
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        let (defaults, more) = self.default_args();
        command
            .args(defaults)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(dir) = &self.current_dir {
            command.current_dir(dir);
        }
        (command, path, self.listening + more)
    }

    /// Starts it and waits for its `listening on` lines.
    pub async fn start(self) -> Result<Program, StartError> {
        let (mut command, path, expected) = self.command();
        let exec_at = Instant::now();
        let mut child = command.spawn().map_err(|source| StartError::Spawn {
            label: self.label.clone(),
            path: path.display().to_string(),
            source,
        })?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Shared {
            log: Mutex::new(Log {
                keep: self.keep_lines,
                ..Log::default()
            }),
            resumed: Condvar::new(),
        });
        let (changed, watching) = watch::channel(());
        let shared = Arc::clone(&log);
        std::thread::spawn(move || read_log(stderr, &shared, &changed));
        let mut program = Program {
            label: self.label,
            pid: child.id(),
            child,
            log,
            changed: watching,
            exec_at,
            to_listening: Duration::ZERO,
            to_ready: None,
        };
        program
            .await_listening(expected, self.start_timeout)
            .await?;
        Ok(program)
    }

    /// Runs it until it exits, at most `within` (then it is killed and this
    /// panics: it was expected to end by itself).
    pub async fn run_to_exit(self, within: Duration) -> Exit {
        let (mut command, path, _) = self.command();
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{} ({}) starts: {e}", self.label, path.display()));
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for the program") {
                break status;
            }
            if started.elapsed() > within {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{} {:?} is still running after {within:?} instead of exiting:\n{}",
                    self.label,
                    self.args,
                    reader.join().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        Exit {
            code: status.code(),
            stderr: reader.join().expect("the stderr reader"),
        }
    }
}

/// The reader thread: every line into the log, `listening on` lines noted
/// with the time they were read, waiters woken at each; while the log is
/// stalled it reads nothing, and the pipe fills up as it would for a reader
/// that has stopped reading.
fn read_log(stderr: impl Read, shared: &Shared, changed: &watch::Sender<()>) {
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        let seen = Instant::now();
        {
            let mut log = shared.log.lock().expect("the log lock");
            if let Some((protocol, addr)) = listening(&line) {
                log.listening.push(Listener {
                    protocol,
                    addr,
                    seen,
                });
            }
            if log.keep.is_some_and(|keep| log.lines.len() >= keep) {
                log.lines.pop_front();
            }
            log.lines.push_back(line);
            while log.stalled {
                log = shared.resumed.wait(log).expect("the log lock");
            }
        }
        changed.send_modify(|()| {});
    }
    shared.log.lock().expect("the log lock").closed = true;
    changed.send_modify(|()| {});
}

/// A stall of a program's log reader ([`Program::stall_log`]); reading
/// goes on when it is dropped.
#[derive(Debug)]
pub struct LogStall {
    shared: Arc<Shared>,
}

impl Drop for LogStall {
    fn drop(&mut self) {
        self.shared.log.lock().expect("the log lock").stalled = false;
        self.shared.resumed.notify_all();
    }
}

/// music-gateway's listeners when it runs the service in its process, every
/// one (REST, gRPC, admin) on any port: three `listening on` lines. The
/// store's arguments come after them.
pub const IN_PROCESS_LISTENER_ARGS: [&str; 6] = [
    "--listen",
    "127.0.0.1:0",
    "--grpc-listen",
    "127.0.0.1:0",
    "--admin-listen",
    "127.0.0.1:0",
];

/// A running program; killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct Program {
    label: String,
    child: Child,
    pid: u32,
    log: Arc<Shared>,
    changed: watch::Receiver<()>,
    exec_at: Instant,
    to_listening: Duration,
    to_ready: Option<Duration>,
}

impl Program {
    /// The workspace binary `name`, to be set up and started.
    pub fn builder(name: &str) -> Builder {
        Builder {
            name: name.to_owned(),
            label: name.to_owned(),
            path: None,
            args: Vec::new(),
            env: Vec::new(),
            current_dir: None,
            listening: 0,
            start_timeout: START_TIMEOUT,
            keep_lines: None,
        }
    }

    /// Starts the workspace binary `name` with `args` and `env` (over
    /// [`DEFAULT_ENV`]) and waits until it has logged `expected` `listening
    /// on` lines; panics when it does not.
    pub async fn start(name: &str, args: &[&str], env: &[(&str, &str)], expected: usize) -> Self {
        Self::builder(name)
            .args(args)
            .envs(env)
            .listening(expected)
            .start()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// music-service on `127.0.0.1:0` (gRPC and admin) with `args` added.
    pub async fn service(args: &[&str]) -> Self {
        Self::service_at("127.0.0.1:0", args, &[]).await
    }

    /// music-service with gRPC on `grpc` (`127.0.0.1:0` for any port), its
    /// admin port on any port, and `args` and `env` added.
    pub async fn service_at(grpc: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut all = vec!["--listen", grpc, "--admin-listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        Self::start("music-service", &all, env, 2).await
    }

    /// music-service on any ports over the DynamoDB endpoint `endpoint` (a
    /// store proxy, the test's embedded store, DynamoDB Local).
    pub async fn service_on(endpoint: &str, args: &[&str]) -> Self {
        let mut all = vec!["--backend", "dynamodb", "--dynamodb-endpoint", endpoint];
        all.extend_from_slice(args);
        Self::service_at("127.0.0.1:0", &all, &[]).await
    }

    /// music-gateway as a pure gateway in front of the service at `upstream`
    /// (`http://ADDR`), with `args` and `env` added.
    pub async fn gateway(upstream: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut all = vec!["--listen", "127.0.0.1:0", "--upstream", upstream];
        all.extend_from_slice(args);
        Self::start("music-gateway", &all, env, 1).await
    }

    /// music-gateway with the service in its process (no `--upstream`), on
    /// an in-memory store, every listener (REST, gRPC, admin) on any port,
    /// with `args` added.
    pub async fn in_process_gateway(args: &[&str]) -> Self {
        let mut all = IN_PROCESS_LISTENER_ARGS.to_vec();
        all.push("--in-memory");
        all.extend_from_slice(args);
        Self::start("music-gateway", &all, &[], 3).await
    }

    async fn await_listening(
        &mut self,
        expected: usize,
        timeout: Duration,
    ) -> Result<(), StartError> {
        let started = Instant::now();
        loop {
            let (listening, closed) = {
                let log = self.log();
                (log.listening.len(), log.closed)
            };
            if listening >= expected {
                self.to_listening = match expected {
                    0 => self.exec_at.elapsed(),
                    n => self.log().listening[n - 1].seen - self.exec_at,
                };
                return Ok(());
            }
            let status = match self.child.try_wait() {
                Ok(Some(status)) => Some(status.to_string()),
                // stderr closed: it is ending; give it a moment to say how.
                _ if closed => Some(
                    self.wait_exit(Duration::from_secs(2))
                        .await
                        .map_or_else(|| "still running".to_owned(), |s| s.to_string()),
                ),
                _ => None,
            };
            if let Some(status) = status {
                self.settle_log().await;
                return Err(StartError::Exited {
                    label: self.label.clone(),
                    status,
                    log: self.log_text(),
                });
            }
            if started.elapsed() >= timeout {
                return Err(StartError::Timeout {
                    label: self.label.clone(),
                    expected,
                    timeout,
                    log: self.log_text(),
                });
            }
            self.changed_within(Duration::from_millis(50)).await;
        }
    }

    fn log(&self) -> MutexGuard<'_, Log> {
        self.log.log.lock().expect("the log lock")
    }

    /// Stops reading its stderr until the guard is dropped (after the line
    /// being read, and what the reader's buffer holds): what a log shipper
    /// that falls behind, or a terminal that is paused, does to a program.
    pub fn stall_log(&self) -> LogStall {
        self.log().stalled = true;
        LogStall {
            shared: Arc::clone(&self.log),
        }
    }

    /// Waits until the log changes, at most `within`.
    async fn changed_within(&self, within: Duration) {
        let mut changed = self.changed.clone();
        let _ = tokio::time::timeout(within, changed.changed()).await;
    }

    /// The name it goes by.
    pub fn name(&self) -> &str {
        &self.label
    }

    /// Every `listening on` line so far, in order.
    pub fn listeners(&self) -> Vec<Listener> {
        self.log().listening.clone()
    }

    /// The address of its `protocol` listener.
    pub fn addr(&self, protocol: &str) -> SocketAddr {
        let listeners = self.listeners();
        listeners
            .iter()
            .find(|l| l.protocol == protocol)
            .map(|l| l.addr)
            .unwrap_or_else(|| {
                let all: Vec<_> = listeners.iter().map(|l| (&l.protocol, l.addr)).collect();
                panic!("{}: no {protocol} listener in {all:?}", self.label)
            })
    }

    /// `http://ADDR` of a listener.
    pub fn url(&self, protocol: &str) -> String {
        format!("http://{}", self.addr(protocol))
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The log lines kept so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.log().lines.iter().cloned().collect()
    }

    pub fn log_text(&self) -> String {
        self.log_lines().join("\n")
    }

    /// When the spawn call was made.
    pub fn exec_at(&self) -> Instant {
        self.exec_at
    }

    /// From exec to the last expected `listening on` line.
    pub fn to_listening(&self) -> Duration {
        self.to_listening
    }

    /// From exec to its first successful answer, once [`Program::ready_at`] said.
    pub fn to_ready(&self) -> Option<Duration> {
        self.to_ready
    }

    /// Records that it first answered successfully at `at`.
    pub fn ready_at(&mut self, at: Instant) {
        self.to_ready = Some(at.duration_since(self.exec_at));
    }

    /// The first log line that `wanted` accepts, waiting up to `within`.
    pub async fn line(&self, within: Duration, wanted: impl Fn(&str) -> bool) -> Option<String> {
        let until = Instant::now() + within;
        loop {
            let found = self.log().lines.iter().find(|l| wanted(l)).cloned();
            if found.is_some() {
                return found;
            }
            let now = Instant::now();
            if now >= until {
                return None;
            }
            self.changed_within(until - now).await;
        }
    }

    /// The first JSON log line that `wanted` accepts, waiting up to `within`.
    pub async fn json_line(
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
    pub fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -TERM {} failed", self.pid);
    }

    /// Sends `signal` (`HUP`, `TERM`, …) with the real `kill`.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal} {} failed", self.pid);
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The exit status, if the process exits within `within`; its log is
    /// complete when this returns `Some`.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
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
    pub async fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.settle_log().await;
    }

    /// [`Program::kill`], giving the program up.
    pub async fn stop(mut self) {
        self.kill().await;
    }

    /// Waits (briefly) until every line the exited process wrote has been read.
    async fn settle_log(&self) {
        let until = Instant::now() + Duration::from_secs(5);
        while !self.log().closed && Instant::now() < until {
            self.changed_within(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The path as a `&str` argument (temporary folders are UTF-8 here).
pub fn path_arg(path: &Path) -> String {
    path.to_str().expect("a UTF-8 path").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_lines_are_read_in_both_log_formats() {
        let text = r#"2026-11-25T00:00:00Z  INFO music_service::server: listening on 127.0.0.1:4321 protocol="grpc""#;
        let json = r#"{"timestamp":"2026-11-25T00:00:00Z","level":"INFO","message":"listening on 127.0.0.1:4322","protocol":"admin","target":"music_service::admin"}"#;
        assert_eq!(
            listening(text),
            Some(("grpc".into(), "127.0.0.1:4321".parse().unwrap()))
        );
        assert_eq!(
            listening(json),
            Some(("admin".into(), "127.0.0.1:4322".parse().unwrap()))
        );
        assert_eq!(listening("store ready"), None);
        assert_eq!(listening("pure gateway"), None);
    }

    #[test]
    fn a_program_inherits_neither_the_callers_settings_nor_its_proxies() {
        for name in [
            "MUSIC_SERVICE_BACKEND",
            "AWS_PROFILE",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "RUST_LOG",
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "no_proxy",
        ] {
            assert!(!inherited(name), "{name} reached the program");
        }
        for name in ["PATH", "HOME", "JAVA_HOME", "TMPDIR", "RUST_LOG_STYLE"] {
            assert!(inherited(name), "{name} did not reach the program");
        }
    }

    #[test]
    fn the_gateway_gets_an_admin_listener_of_its_own_unless_one_is_named() {
        let gateway = Program::builder("music-gateway").args(["--listen", "127.0.0.1:0"]);
        assert_eq!(
            gateway.default_args(),
            (vec!["--admin-listen", "127.0.0.1:0"], 1)
        );
        let named = gateway.args(["--admin-listen", "127.0.0.1:9999"]);
        assert_eq!(named.default_args(), (Vec::new(), 0));
        let service = Program::builder("music-service");
        assert_eq!(service.default_args(), (Vec::new(), 0));
    }
}
