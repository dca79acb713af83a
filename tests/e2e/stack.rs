//! Starting the programs as processes and reading their logs.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    time::Duration,
};

use crate::common::{binary, default_args, listening};

/// A running program, with its stderr collected line by line.
pub(crate) struct Program {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    /// Every `listening on ADDR protocol="…"` line, in order.
    pub(crate) listening: Vec<(String, SocketAddr)>,
}

impl Program {
    /// Starts `name` with `args` and waits for `expected` listening lines.
    pub(crate) fn start(name: &str, args: &[&str], expected: usize) -> Self {
        let (defaults, more) = default_args(name, args);
        let expected = expected + more;
        let mut child = Command::new(binary(name))
            .args(defaults)
            .args(args)
            .env("RUST_LOG", "info")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::clone(&log);
        let (found, listeners) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(listener) = listening(&line) {
                    let _ = found.send(listener);
                }
                lines.lock().unwrap().push(line);
            }
        });
        let mut program = Self {
            child,
            log,
            listening: Vec::new(),
        };
        for _ in 0..expected {
            let listener = listeners
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| {
                    panic!("{name} did not log `listening on`:\n{}", program.log_text())
                });
            program.listening.push(listener);
        }
        program
    }

    pub(crate) fn addr(&self, protocol: &str) -> SocketAddr {
        self.listening
            .iter()
            .find(|(p, _)| p == protocol)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("no {protocol} listener in {:?}", self.listening))
    }

    pub(crate) fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Where the stack keeps its songs.
#[derive(Debug, Clone)]
pub(crate) enum Store {
    Embedded,
    DynamoDbLocal(String),
}

impl Store {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::DynamoDbLocal(_) => "dynamodb-local",
        }
    }

    fn service_args(&self) -> Vec<String> {
        match self {
            Self::Embedded => vec!["--in-memory".into()],
            Self::DynamoDbLocal(endpoint) => vec![
                "--backend".into(),
                "dynamodb".into(),
                "--dynamodb-endpoint".into(),
                endpoint.clone(),
            ],
        }
    }
}

/// Embedded always; DynamoDB Local when MUSIC_TEST_DYNAMODB_ENDPOINT is set
/// (required under CI=true).
pub(crate) fn stores() -> Vec<Store> {
    let mut stores = vec![Store::Embedded];
    match std::env::var("MUSIC_TEST_DYNAMODB_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => stores.push(Store::DynamoDbLocal(endpoint)),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("MUSIC_TEST_DYNAMODB_ENDPOINT is not set; under CI=true every backend must run")
        }
        _ => eprintln!(
            "note: MUSIC_TEST_DYNAMODB_ENDPOINT not set; running on the embedded store only"
        ),
    }
    stores
}

/// music-service and music-gateway as two processes, as deployed.
pub(crate) struct TwoProcessStack {
    pub(crate) service: Program,
    pub(crate) gateway: Program,
}

impl TwoProcessStack {
    pub(crate) fn start(store: &Store, gateway_args: &[&str]) -> Self {
        let mut service_args: Vec<String> =
            ["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"]
                .map(String::from)
                .to_vec();
        service_args.extend(store.service_args());
        let service_args: Vec<&str> = service_args.iter().map(String::as_str).collect();
        let service = Program::start("music-service", &service_args, 2);
        let upstream = format!("http://{}", service.addr("grpc"));
        let mut args = vec!["--listen", "127.0.0.1:0", "--upstream", &upstream];
        args.extend_from_slice(gateway_args);
        let gateway = Program::start("music-gateway", &args, 1);
        Self { service, gateway }
    }

    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.gateway.addr("http"))
    }
}

pub(crate) use crate::common::CurlAnswer;

/// Runs a curl command line through bash, as a user pastes it, adding only
/// flags that make curl print the response head (`-s -i`).
pub(crate) fn curl(command_line: &str) -> CurlAnswer {
    assert!(command_line.starts_with("curl "), "{command_line}");
    let output = Command::new("bash")
        .arg("-c")
        .arg(format!("{command_line} -s -i"))
        .output()
        .expect("bash and curl run");
    assert!(
        output.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("the gateway answers UTF-8");
    CurlAnswer::parse(&text)
}
