//! The test harness: a `TestApp` that runs the whole gateway in-process (REST
//! on port 0, the service in-process with its own in-memory embedded store),
//! and a `curl` driver that talks to it the way the tutorial's users do.

use std::{
    ffi::OsString, net::SocketAddr, os::unix::ffi::OsStringExt, process::Stdio, time::Duration,
};

use clap::Parser;
use music_gateway::{GatewaySettings, run::RunError};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    process::Command,
    sync::oneshot,
    task::JoinHandle,
};

/// The host the tutorial's stage was deployed at; tests replace it with a TestApp's.
pub(crate) const TUTORIAL_HOST: &str = "https://ixun012ycl.execute-api.us-west-2.amazonaws.com";

pub(crate) const TABLE_PATH: &str = "/DemoResourceMusic/DemoResourceMusicTable";
pub(crate) const ITEM_PATH: &str = "/DemoResourceMusic/DemoResourceMusicItem";

/// Longest a single curl call may take before the test fails instead of hanging.
const CURL_MAX_SECS: &str = "60";

/// How the gateway answers DynamoDB's refusals (`--errors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Errors {
    Seed,
    Http,
}

/// A running gateway with the service in-process, stopped when dropped.
#[derive(Debug)]
pub(crate) struct TestApp {
    address: SocketAddr,
    stage_prefix: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<(), RunError>>>,
}

impl TestApp {
    /// The default gateway: stage `Test`, seed error mode.
    pub(crate) async fn spawn() -> Self {
        Self::spawn_with(Errors::Seed, "Test").await
    }

    /// A gateway that answers DynamoDB's refusals with accurate HTTP statuses.
    pub(crate) async fn spawn_in_http_mode() -> Self {
        Self::spawn_with(Errors::Http, "Test").await
    }

    /// A gateway serving the routes under another stage (`""` for none).
    pub(crate) async fn spawn_with_stage(stage: &str) -> Self {
        Self::spawn_with(Errors::Seed, stage).await
    }

    pub(crate) async fn spawn_with(errors: Errors, stage: &str) -> Self {
        let http = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the REST listener");
        let grpc = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the gRPC listener");
        let address = http.local_addr().expect("REST listener address");
        let grpc_address = grpc.local_addr().expect("gRPC listener address");
        // Every setting that matters is explicit, so MUSIC_* variables in the
        // environment cannot point a test at a real store or another mode.
        let settings = GatewaySettings::try_parse_from([
            "music-gateway".to_owned(),
            format!("--listen={address}"),
            format!("--grpc-listen={grpc_address}"),
            "--backend=embedded".to_owned(),
            "--in-memory".to_owned(),
            format!("--stage={stage}"),
            format!(
                "--errors={}",
                match errors {
                    Errors::Seed => "seed",
                    Errors::Http => "http",
                }
            ),
        ])
        .expect("the test settings parse");
        assert!(
            settings.upstream.is_none(),
            "MUSIC_GATEWAY_UPSTREAM is set; the tests run the service in-process"
        );
        let (shutdown, stopped) = oneshot::channel::<()>();
        let listeners = music_gateway::run::Listeners {
            http,
            grpc: Some(grpc),
            admin: None,
        };
        let server = tokio::spawn(music_gateway::run::run(settings, listeners, async move {
            // A sent signal and a dropped sender both mean "stop".
            let _ = stopped.await;
        }));
        let stage = stage.trim_matches('/');
        Self {
            address,
            stage_prefix: if stage.is_empty() {
                String::new()
            } else {
                format!("/{stage}")
            },
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// A path on this gateway, as given (no stage added).
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    pub(crate) fn table_url(&self) -> String {
        self.url(&format!("{}{TABLE_PATH}", self.stage_prefix))
    }

    pub(crate) fn item_url(&self) -> String {
        self.url(&format!("{}{ITEM_PATH}", self.stage_prefix))
    }

    /// A curl call with `-X method` on `url`.
    pub(crate) fn curl(&self, method: &str, url: impl Into<String>) -> Curl {
        Curl::new(method, url.into())
    }

    pub(crate) fn table(&self, method: &str) -> Curl {
        self.curl(method, self.table_url())
    }

    pub(crate) fn item(&self, method: &str) -> Curl {
        self.curl(method, self.item_url())
    }

    /// Runs one of the tutorial's curl command lines, with its host replaced by
    /// this gateway's address and nothing else changed.
    pub(crate) async fn run_tutorial_command(&self, command_line: &str) -> Answer {
        let mut words = shell_words(command_line).into_iter();
        assert_eq!(words.next().as_deref(), Some("curl"), "{command_line}");
        let args: Vec<OsString> = words
            .map(|word| match word.strip_prefix(TUTORIAL_HOST) {
                Some(path) => self.url(path).into(),
                None => word.into(),
            })
            .collect();
        run_curl(&args, None).await
    }

    /// Creates a table through the gateway and checks that it worked.
    pub(crate) async fn create_table(&self, name: &str) {
        self.table("PUT")
            .header(format!("table: {name}"))
            .send()
            .await
            .assert_json(200, r#""Table created""#);
    }

    /// Adds an item through the gateway and checks that it worked.
    pub(crate) async fn put_item(
        &self,
        table: &str,
        artist: &str,
        song_title: &str,
        album_title: &str,
    ) {
        self.item("PUT")
            .header(format!("table: {table}"))
            .header(format!("artist: {artist}"))
            .header(format!("songtitle: {song_title}"))
            .header(format!("albumtitle: {album_title}"))
            .send()
            .await
            .assert_json(200, r#""Item added""#);
    }

    /// Reads an item through the gateway.
    pub(crate) async fn get_item(&self, table: &str, artist: &str, song_title: &str) -> Answer {
        self.item("GET")
            .header(format!("table: {table}"))
            .header(format!("artist: {artist}"))
            .header(format!("songtitle: {song_title}"))
            .send()
            .await
    }

    /// Proves the gateway still serves: a fresh table, a write and a read.
    pub(crate) async fn assert_still_serves(&self) {
        let table = "StillServing";
        self.create_table(table).await;
        self.put_item(table, "No One You Know", "Call Me Today", "Somewhat Famous")
            .await;
        self.get_item(table, "No One You Know", "Call Me Today").await.assert_json(
            200,
            r#"{"Artist": {"S": "No One You Know"}, "SongTitle": {"S": "Call Me Today"}, "AlbumTitle": {"S": "Somewhat Famous"}}"#,
        );
        self.table("DELETE")
            .header(format!("table: {table}"))
            .send()
            .await
            .assert_json(200, r#""Table deleted""#);
    }

    /// Sends raw bytes on a new connection and reads the answer until the
    /// server closes it (send `Connection: close` in `request`).
    pub(crate) async fn raw_http(&self, request: &[u8]) -> Answer {
        let mut stream = TcpStream::connect(self.address)
            .await
            .expect("connect to the gateway");
        stream.write_all(request).await.expect("send the request");
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut answer))
            .await
            .expect("the gateway answers and closes the connection")
            .expect("read the answer");
        Answer::parse(&answer)
    }

    /// Asks the gateway to stop and waits for it: it must stop cleanly.
    pub(crate) async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let server = self.server.take().expect("the server runs until stopped");
        let outcome = tokio::time::timeout(Duration::from_secs(30), server)
            .await
            .expect("the gateway stops within 30 s")
            .expect("the gateway task does not panic");
        if let Err(error) = outcome {
            panic!("the gateway stopped with an error: {error}");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// One curl invocation being put together.
#[derive(Debug)]
pub(crate) struct Curl {
    args: Vec<OsString>,
    stdin: Option<Vec<u8>>,
    url: String,
}

impl Curl {
    fn new(method: &str, url: String) -> Self {
        Self {
            args: vec!["-X".into(), method.into()],
            stdin: None,
            url,
        }
    }

    /// `-H header`, e.g. `"table: Music"` or `"artist;"` (an empty value).
    pub(crate) fn header(self, header: impl AsRef<str>) -> Self {
        self.raw_header(header.as_ref().as_bytes())
    }

    /// `-H` with arbitrary bytes, e.g. a value that is not UTF-8.
    pub(crate) fn raw_header(mut self, header: &[u8]) -> Self {
        self.args.push("-H".into());
        self.args.push(OsString::from_vec(header.to_vec()));
        self
    }

    /// A request body, as `-d` sends it (curl strips CR and LF).
    pub(crate) fn data(mut self, body: &str) -> Self {
        self.args.push("-d".into());
        self.args.push(body.into());
        self
    }

    /// A request body fed through curl's stdin (`--data-binary @-`), for
    /// bodies too large for a command-line argument.
    pub(crate) fn body_from_stdin(mut self, body: Vec<u8>) -> Self {
        self.args.push("--data-binary".into());
        self.args.push("@-".into());
        self.stdin = Some(body);
        self
    }

    /// Appends a query string (already encoded) to the URL.
    pub(crate) fn query(mut self, query: &str) -> Self {
        self.url.push('?');
        self.url.push_str(query);
        self
    }

    pub(crate) async fn send(self) -> Answer {
        let mut args = self.args;
        args.push(self.url.into());
        run_curl(&args, self.stdin).await
    }
}

async fn run_curl(args: &[OsString], stdin: Option<Vec<u8>>) -> Answer {
    let mut command = Command::new("curl");
    command
        // -i: status line and headers before the body; the proxy settings of
        // the machine must not take loopback traffic elsewhere.
        .args([
            "-s",
            "-S",
            "-i",
            "--noproxy",
            "*",
            "--max-time",
            CURL_MAX_SECS,
        ])
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("curl runs (it must be installed)");
    if let Some(body) = stdin {
        let mut pipe = child.stdin.take().expect("curl's stdin");
        // curl may stop reading once the gateway has answered (413); the
        // answer is what the test looks at.
        let _ = pipe.write_all(&body).await;
        drop(pipe);
    }
    let output = child.wait_with_output().await.expect("curl finishes");
    let answer = Answer::parse(&output.stdout);
    assert!(
        output.status.success() || answer.status != 0,
        "curl {} failed: {}\n{}",
        describe(args),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    answer
}

fn describe(args: &[OsString]) -> String {
    args.iter()
        .map(|a| {
            let text = a.to_string_lossy();
            if text.len() > 200 {
                format!("{}…", &text[..200])
            } else {
                text.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits a command line into words as sh does for the tutorial's commands:
/// blanks separate words, single quotes group (and are removed).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quoted = false;
    for ch in line.chars() {
        match ch {
            '\'' => {
                quoted = !quoted;
                word.get_or_insert_with(String::new);
            }
            ' ' | '\t' if !quoted => words.extend(word.take()),
            _ => word.get_or_insert_with(String::new).push(ch),
        }
    }
    assert!(!quoted, "unbalanced quote in {line}");
    words.extend(word);
    words
}

/// An HTTP answer: status, headers (names lower-cased, in order) and body.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Answer {
    /// Parses `curl -i` output (or a raw HTTP/1.1 answer), skipping interim
    /// `1xx` answers such as `100 Continue`.
    fn parse(raw: &[u8]) -> Self {
        let mut rest = raw;
        loop {
            let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") else {
                return Self {
                    status: 0,
                    headers: Vec::new(),
                    body: String::from_utf8_lossy(rest).into_owned(),
                };
            };
            let head = String::from_utf8_lossy(&rest[..end]).into_owned();
            rest = &rest[end + 4..];
            let mut lines = head.split("\r\n");
            let status_line = lines.next().unwrap_or_default();
            let status: u16 = status_line
                .split(' ')
                .nth(1)
                .and_then(|code| code.parse().ok())
                .unwrap_or_else(|| panic!("not an HTTP status line: {status_line:?}"));
            if (100..200).contains(&status) {
                continue;
            }
            let headers = lines
                .filter_map(|line| line.split_once(':'))
                .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
                .collect();
            return Self {
                status,
                headers,
                body: String::from_utf8_lossy(rest).into_owned(),
            };
        }
    }

    /// The one value of a header (panics when it is repeated).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        let mut values = self
            .headers
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str());
        let first = values.next();
        assert!(
            values.next().is_none(),
            "header {name} sent more than once: {:?}",
            self.headers
        );
        first
    }

    /// Exact status and body, and a JSON content type.
    #[track_caller]
    pub(crate) fn assert_json(&self, status: u16, body: &str) {
        self.assert_json_for("the request", status, body);
    }

    /// As `assert_json`, saying which request of a table-driven test failed.
    #[track_caller]
    pub(crate) fn assert_json_for(&self, what: &str, status: u16, body: &str) {
        assert_eq!(
            (self.status, self.body.as_str()),
            (status, body),
            "{what}: {self:?}"
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{what}: {self:?}"
        );
    }
}

/// A header as a curl `-H` argument with `name: value`, from any bytes.
pub(crate) fn header_bytes(name: &str, value: &[u8]) -> Vec<u8> {
    let mut header = format!("{name}: ").into_bytes();
    header.extend_from_slice(value);
    header
}

/// A JSON string literal of `text` (for building request bodies).
pub(crate) fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_keeps_quoted_blanks() {
        assert_eq!(
            shell_words(
                "curl -X GET http://h/x -H 'table:Music' -H 'albumtitle: Louder Than Ever'"
            ),
            [
                "curl",
                "-X",
                "GET",
                "http://h/x",
                "-H",
                "table:Music",
                "-H",
                "albumtitle: Louder Than Ever"
            ]
        );
    }

    #[test]
    fn interim_answers_are_skipped() {
        let answer = Answer::parse(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n\r\n\"x\"");
        assert_eq!(answer.status, 413);
        assert_eq!(answer.header("Content-Type"), Some("application/json"));
        assert_eq!(answer.body, "\"x\"");
    }
}
