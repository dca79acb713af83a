//! HTTP load from wrk (Debian's `wrk`, 4.x): a Lua script per request shape
//! sets the method, headers and body, and its `done` hook prints one line of
//! JSON with the counts and latency percentiles, which is all that is read of
//! wrk's output.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use serde::Deserialize;
use tokio::process::Command;

use crate::{
    error::BenchError,
    report::Cell,
    scenario::{ALBUM_TITLE, ARTIST, ITEM_PATH, SONG_TITLE, TABLE, V1_ITEM_PATH},
};

/// The `done` hook: one `BENCH {json}` line. Latencies are in microseconds.
const DONE: &str = r#"
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"p999_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    math.floor(latency:percentile(50)), math.floor(latency:percentile(99)),
    math.floor(latency:percentile(99.9))))
end
"#;

/// The prelude of the scripts whose requests vary: each wrk thread's `id`
/// (0, 1, …, set in `setup`) and a request counter `n` of its own.
const PER_THREAD: &str = r#"
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local n = 0"#;

/// The request shapes the scenarios send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// The tutorial's GetItem: GET on the item path, parameters in headers.
    RestGetItem,
    /// The same GetItem as `GET /v1/tables/{table}/artists/{artist}/songs/{title}`.
    RestV1GetItem,
    /// The tutorial's GetItem with an `x-api-key`, one of the bench's keys
    /// per connection (so that 1,000 keys are looked up, not one).
    RestGetItemWithKey,
    /// PUT (PutItem), POST (UpdateItem), DELETE (DeleteItem) in turn, over
    /// 100 songs per wrk thread.
    RestWriteMix,
    /// GetItem in DynamoDB's JSON protocol, as the SDK sends it (DynamoDB
    /// Local wants an Authorization header but checks no signature).
    DynamoDbGetItem,
}

impl Shape {
    const ALL: [Self; 5] = [
        Self::RestGetItem,
        Self::RestV1GetItem,
        Self::RestGetItemWithKey,
        Self::RestWriteMix,
        Self::DynamoDbGetItem,
    ];

    fn script(self) -> String {
        let body = match self {
            Self::RestGetItem => format!(
                r#"
wrk.method = "GET"
wrk.path = "{ITEM_PATH}"
wrk.headers["content-type"] = "application/json"
wrk.headers["table"] = "{TABLE}"
wrk.headers["artist"] = "{ARTIST}"
wrk.headers["songtitle"] = "{SONG_TITLE}"
"#
            ),
            Self::RestV1GetItem => format!(
                r#"
wrk.method = "GET"
wrk.path = "{V1_ITEM_PATH}"
"#
            ),
            Self::RestGetItemWithKey => format!(
                r#"{PER_THREAD}
function request()
  n = n + 1
  local headers = {{
    ["content-type"] = "application/json",
    ["table"] = "{TABLE}",
    ["artist"] = "{ARTIST}",
    ["songtitle"] = "{SONG_TITLE}",
    ["x-api-key"] = "{KEY_PREFIX}" .. tostring((id * 7919 + n) % {KEYS}),
  }}
  return wrk.format("GET", "{ITEM_PATH}", headers)
end
"#,
                KEY_PREFIX = crate::edge::KEY_PREFIX,
                KEYS = crate::edge::KEYS,
            ),
            Self::RestWriteMix => format!(
                r#"{PER_THREAD}
function request()
  n = n + 1
  local headers = {{
    ["content-type"] = "application/json",
    ["table"] = "{TABLE}",
    ["artist"] = "Bench Artist " .. tostring(id),
    ["songtitle"] = "Bench Song " .. tostring(math.floor(n / 3) % 100),
  }}
  local op = n % 3
  if op == 0 then
    headers["albumtitle"] = "{ALBUM_TITLE}"
    return wrk.format("PUT", "{ITEM_PATH}", headers)
  elseif op == 1 then
    headers["albumtitle"] = "Louder Than Ever"
    return wrk.format("POST", "{ITEM_PATH}", headers)
  else
    return wrk.format("DELETE", "{ITEM_PATH}", headers)
  end
end
"#
            ),
            Self::DynamoDbGetItem => format!(
                r#"
wrk.method = "POST"
wrk.path = "/"
wrk.body = '{}'
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "DynamoDB_20120810.GetItem"
wrk.headers["Authorization"] = "{}"
"#,
                dynamodb_get_item_body(),
                music_testkit::dynamodb_local::AUTHORIZATION
            ),
        };
        format!("{body}{DONE}")
    }
}

/// The GetItem request body DynamoDB's JSON protocol expects.
pub(crate) fn dynamodb_get_item_body() -> String {
    format!(
        r#"{{"TableName":"{TABLE}","Key":{{"Artist":{{"S":"{ARTIST}"}},"SongTitle":{{"S":"{SONG_TITLE}"}}}}}}"#
    )
}

/// wrk and the scripts it runs (kept in a temporary folder for the run).
#[derive(Debug)]
pub(crate) struct Wrk {
    program: PathBuf,
    scripts: tempfile::TempDir,
}

/// What the `done` hook prints.
#[derive(Debug, Deserialize)]
struct Summary {
    requests: u64,
    duration_us: u64,
    connect: u64,
    read: u64,
    write: u64,
    status: u64,
    timeout: u64,
    p50_us: u64,
    p99_us: u64,
    p999_us: u64,
}

impl Wrk {
    /// Checks that `program` runs and writes the scripts.
    pub(crate) async fn new(program: &Path) -> Result<Self, BenchError> {
        let version = Command::new(program)
            .arg("-v")
            .stdin(Stdio::null())
            .output()
            .await;
        if version.is_err() {
            return Err(BenchError::Setup(format!(
                "cannot run wrk ({}): install it (`apt-get install wrk`, which scripts/bench.sh does) or pass --wrk",
                program.display()
            )));
        }
        let scripts = tempfile::Builder::new().prefix("music-bench-").tempdir()?;
        for shape in Shape::ALL {
            std::fs::write(scripts.path().join(Self::file(shape)), shape.script())?;
        }
        Ok(Self {
            program: program.to_owned(),
            scripts,
        })
    }

    fn file(shape: Shape) -> &'static str {
        match shape {
            Shape::RestGetItem => "rest-get-item.lua",
            Shape::RestV1GetItem => "rest-v1-get-item.lua",
            Shape::RestGetItemWithKey => "rest-get-item-with-key.lua",
            Shape::RestWriteMix => "rest-write-mix.lua",
            Shape::DynamoDbGetItem => "dynamodb-get-item.lua",
        }
    }

    /// Its version line (`wrk debian/4.1.0-3+b2 [epoll] …`).
    pub(crate) async fn version(&self) -> String {
        let output = Command::new(&self.program).arg("-v").output().await;
        output
            .map(|o| {
                let text = String::from_utf8_lossy(&o.stdout).into_owned()
                    + &String::from_utf8_lossy(&o.stderr);
                text.lines()
                    .next()
                    .unwrap_or_default()
                    .split(" Copyright")
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .unwrap_or_default()
    }

    /// Runs `shape` against `addr` with `connections` for `duration`. wrk's
    /// threads: one per connection up to two (this machine's cores).
    pub(crate) async fn run(
        &self,
        addr: SocketAddr,
        shape: Shape,
        connections: u32,
        duration: Duration,
    ) -> Result<Cell, BenchError> {
        let threads = connections.min(2);
        let output = Command::new(&self.program)
            .arg(format!("-t{threads}"))
            .arg(format!("-c{connections}"))
            .arg(format!("-d{}s", duration.as_secs().max(1)))
            .arg("--timeout")
            .arg("10s")
            .arg("-s")
            .arg(self.scripts.path().join(Self::file(shape)))
            .arg(format!("http://{addr}/"))
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let summary = stdout
            .lines()
            .find_map(|l| l.strip_prefix("BENCH "))
            .and_then(|json| serde_json::from_str::<Summary>(json).ok())
            .ok_or_else(|| {
                BenchError::Load(format!(
                    "wrk printed no summary ({}):\n{stdout}\n{}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr)
                ))
            })?;
        let seconds = summary.duration_us as f64 / 1e6;
        Ok(Cell {
            requests: summary.requests,
            requests_per_sec: summary.requests as f64 / seconds.max(1e-6),
            p50: Duration::from_micros(summary.p50_us),
            p99: Duration::from_micros(summary.p99_us),
            p999: Duration::from_micros(summary.p999_us),
            cpu_by_process: Vec::new(),
            errors: summary.connect
                + summary.read
                + summary.write
                + summary.status
                + summary.timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamodb_body_is_json() {
        let body: serde_json::Value = serde_json::from_str(&dynamodb_get_item_body()).unwrap();
        assert_eq!(body["Key"]["Artist"]["S"], ARTIST);
    }

    #[test]
    fn every_script_prints_the_summary() {
        for shape in Shape::ALL {
            assert!(shape.script().contains("BENCH {"), "{shape:?}");
        }
    }
}
