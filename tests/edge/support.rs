//! What the edge suites share: the tutorial's paths, files written for a
//! gateway to read, the programs, and curl from a chosen source address
//! (every 127.0.0.0/8 address is this machine's loopback on Linux, so a test
//! plays a caller "inside a VPC" by binding 127.0.0.2).

use std::time::Duration;

use music_testkit::{Curl, Program, program::path_arg};
use tempfile::TempDir;

pub(crate) const TABLE: &str = "/Test/DemoResourceMusic/DemoResourceMusicTable";
pub(crate) const ITEM: &str = "/Test/DemoResourceMusic/DemoResourceMusicItem";

/// An upstream nothing listens on: the edge decides before any call, and a
/// call it lets through fails fast with 503.
pub(crate) const NO_UPSTREAM: &str = "http://127.0.0.1:1";

/// Files a gateway is started with.
pub(crate) struct Files(TempDir);

impl Files {
    pub(crate) fn new() -> Self {
        Self(tempfile::tempdir().expect("a temporary folder"))
    }

    /// Writes `name` and returns its path.
    pub(crate) fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.path().join(name);
        std::fs::write(&path, text).expect("write a file");
        path_arg(&path)
    }
}

/// music-service on an in-memory store.
pub(crate) async fn service() -> Program {
    Program::service(&["--in-memory"]).await
}

/// A pure gateway in front of `upstream` with `args`.
pub(crate) async fn gateway(upstream: &str, args: &[&str]) -> Program {
    Program::gateway(upstream, args, &[]).await
}

/// A gateway run with `args` that must refuse to start: its exit code and log.
pub(crate) async fn refused_start(args: &[&str]) -> (Option<i32>, String) {
    let mut all = vec![
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--upstream",
        NO_UPSTREAM,
    ];
    all.extend_from_slice(args);
    let exit = Program::builder("music-gateway")
        .args(all)
        .run_to_exit(Duration::from_secs(20))
        .await;
    (exit.code, exit.stderr)
}

/// curl `-X method url` from the loopback address `source`.
pub(crate) fn curl_from(source: &str, method: &str, url: &str) -> Curl {
    Curl::request(method, url).args(["--interface", source])
}

/// The usage-plan file's hash of a key.
pub(crate) fn hash(key: &str) -> String {
    music_gateway::edge::keys::hash_hex(key)
}
