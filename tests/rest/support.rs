//! What the REST suite's tests share: the two stacks, curl on a `/v1` path,
//! and the checks of a `google.rpc.Status` answer.

use std::time::Duration;

use music_testkit::{Answer, Curl, Program};
use serde_json::Value;

/// The two ways the gateway runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The service inside the gateway's process (no `--upstream`).
    InProcess,
    /// A pure gateway in front of a music-service process.
    Pure,
}

/// A running gateway, and its service when that is a process of its own.
#[derive(Debug)]
pub(crate) struct Stack {
    pub(crate) gateway: Program,
    pub(crate) service: Option<Program>,
}

impl Stack {
    /// The stack in `mode`, each program on an in-memory store and any
    /// ports, the gateway with `gateway_args` added.
    pub(crate) async fn start(mode: Mode, gateway_args: &[&str]) -> Self {
        match mode {
            Mode::InProcess => Self {
                gateway: Program::in_process_gateway(gateway_args).await,
                service: None,
            },
            Mode::Pure => {
                let service = Program::service(&["--in-memory"]).await;
                Self::in_front_of(service, gateway_args).await
            }
        }
    }

    /// A pure gateway in front of `service`.
    pub(crate) async fn in_front_of(service: Program, gateway_args: &[&str]) -> Self {
        let mut args = vec!["--admin-listen", "127.0.0.1:0"];
        args.extend_from_slice(gateway_args);
        let gateway = Program::start(
            "music-gateway",
            &[
                &[
                    "--listen",
                    "127.0.0.1:0",
                    "--upstream",
                    &service.url("grpc"),
                ][..],
                &args,
            ]
            .concat(),
            &[],
            2,
        )
        .await;
        Self {
            gateway,
            service: Some(service),
        }
    }

    /// `http://ADDR` + `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway.url("http"))
    }

    /// curl `-X method` on `path`, the path sent as it is (no dot-segment
    /// removal by curl).
    pub(crate) fn curl(&self, method: &str, path: &str) -> Curl {
        Curl::request(method, self.url(path))
            .arg("--path-as-is")
            .max_time(Duration::from_secs(60))
    }

    /// Both programs' logs.
    pub(crate) fn logs(&self) -> String {
        let mut text = self.gateway.log_text();
        if let Some(service) = &self.service {
            text.push_str(&service.log_text());
        }
        text
    }
}

/// The answer's body as JSON; panics when it is not JSON.
#[track_caller]
pub(crate) fn json(answer: &Answer) -> Value {
    serde_json::from_str(&answer.body).unwrap_or_else(|e| panic!("not JSON ({e}): {answer:?}"))
}

/// A 200 JSON answer's body.
#[track_caller]
pub(crate) fn ok(answer: &Answer) -> Value {
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.header("content-type"),
        Some("application/json"),
        "{answer:?}"
    );
    json(answer)
}

/// A `google.rpc.Status` answer with this HTTP status and gRPC code: a JSON
/// object of exactly `code`, `message` and `details`. Returns the body.
#[track_caller]
pub(crate) fn status(answer: &Answer, http: u16, code: i64) -> Value {
    assert_eq!(answer.status, http, "{answer:?}");
    assert_eq!(
        answer.header("content-type"),
        Some("application/json"),
        "{answer:?}"
    );
    let body = json(answer);
    let object = body.as_object().unwrap_or_else(|| panic!("{answer:?}"));
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "details", "message"], "{answer:?}");
    assert_eq!(body["code"], code, "{answer:?}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{answer:?}"
    );
    assert!(body["details"].is_array(), "{answer:?}");
    body
}

/// The `reason` of a status's `google.rpc.ErrorInfo` detail.
pub(crate) fn reason(status: &Value) -> Option<&str> {
    status["details"]
        .as_array()?
        .iter()
        .find(|d| d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo")?["reason"]
        .as_str()
}

/// A tool from PyPI: `$VARIABLE`, else `name` on PATH; `None` (with a note)
/// when neither runs, and a panic then under `CI=true`.
pub(crate) fn python_tool(variable: &str, name: &str) -> Option<String> {
    let candidate = std::env::var(variable).unwrap_or_else(|_| name.to_owned());
    let works = std::process::Command::new(&candidate)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if works {
        return Some(candidate);
    }
    if music_testkit::env::is_ci() {
        panic!(
            "{name} not found (set {variable} or use scripts/test.sh); under CI=true it is required"
        );
    }
    eprintln!("note: {name} not found; skipping (scripts/test.sh installs it)");
    None
}
