//! The test harness: a `TestApp` that runs the whole gateway in-process (REST
//! on port 0, the service in-process with its own in-memory embedded store),
//! driven with testkit's curl the way the tutorial's users drive it.

use std::{net::SocketAddr, time::Duration};

use clap::Parser;
use music_gateway::{GatewaySettings, StartError};
use music_testkit::{Answer, Curl};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::oneshot,
    task::JoinHandle,
};

/// The host the tutorial's stage was deployed at; tests replace it with a TestApp's.
pub(crate) const TUTORIAL_HOST: &str = "https://ixun012ycl.execute-api.us-west-2.amazonaws.com";

pub(crate) const TABLE_PATH: &str = "/DemoResourceMusic/DemoResourceMusicTable";
pub(crate) const ITEM_PATH: &str = "/DemoResourceMusic/DemoResourceMusicItem";

/// Longest a single curl call may take before the test fails instead of hanging.
const CURL_MAX_TIME: Duration = Duration::from_secs(60);

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
    server: Option<JoinHandle<Result<(), StartError>>>,
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
        let listeners = music_gateway::Listeners {
            http,
            grpc: Some(grpc),
            admin: None,
        };
        let server = tokio::spawn(music_gateway::run(settings, listeners, async move {
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

    /// A curl call with `-X method` on `url`. The answer counts even when
    /// curl then fails (it may stop sending a body the gateway refused).
    pub(crate) fn curl(&self, method: &str, url: impl Into<String>) -> Curl {
        Curl::request(method, url)
            .max_time(CURL_MAX_TIME)
            .tolerate_exit_code()
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
        Curl::command_line(&command_line.replace(TUTORIAL_HOST, &self.base_url()))
            .max_time(CURL_MAX_TIME)
            .tolerate_exit_code()
            .send()
            .await
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
            .unwrap_or_else(|| panic!("not an HTTP answer: {:?}", String::from_utf8_lossy(&answer)))
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
