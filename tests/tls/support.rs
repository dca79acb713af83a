//! Helpers shared by the TLS tests: the service as a process, a gRPC call
//! with a chosen TLS setup, curl with exit code, and a program run to its exit.

use std::{
    io::Read,
    net::SocketAddr,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use music_api::pb::{CreateTableRequest, table_service_client::TableServiceClient};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::{
    certs::{Pair, Pki},
    common::{binary, default_args},
    stack::Program,
};

/// How long any single client attempt may take before the test calls it a hang.
pub(crate) const NO_HANG: Duration = Duration::from_secs(15);

/// music-service over TLS on the embedded in-memory store; with `client_ca`,
/// mTLS (client certificates signed by it required).
pub(crate) fn tls_service(pki: &Pki, client_ca: Option<&Path>) -> Program {
    let mut args: Vec<String> = [
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--in-memory",
        "--tls-cert",
    ]
    .map(String::from)
    .to_vec();
    args.push(path(&pki.server.cert));
    args.push("--tls-key".into());
    args.push(path(&pki.server.key));
    if let Some(ca) = client_ca {
        args.push("--tls-client-ca".into());
        args.push(path(ca));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Program::start("music-service", &args, 2)
}

pub(crate) fn path(path: &Path) -> String {
    path.to_str().expect("a UTF-8 temporary path").to_owned()
}

/// The client side of a gRPC connection.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Client<'a> {
    /// `http://`: no TLS at all.
    Plaintext,
    /// TLS trusting `ca`, presenting `identity` when given.
    Tls {
        ca: &'a Path,
        identity: Option<&'a Pair>,
    },
}

/// One CreateTable call to `host:port` of `addr` as `client`: the created
/// table's name, or the whole error text (the source chain included).
pub(crate) fn create_table(
    client: Client<'_>,
    host: &str,
    addr: SocketAddr,
    table: &str,
) -> Result<String, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let started = Instant::now();
        let call = create_table_async(client, host, addr.port(), table);
        match tokio::time::timeout(NO_HANG, call).await {
            Ok(result) => result,
            Err(_) => panic!(
                "{client:?}: no answer within {:?} (a hang, not a refusal)",
                started.elapsed()
            ),
        }
    })
}

async fn create_table_async(
    client: Client<'_>,
    host: &str,
    port: u16,
    table: &str,
) -> Result<String, String> {
    let scheme = match client {
        Client::Plaintext => "http",
        Client::Tls { .. } => "https",
    };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{host}:{port}"))
        .expect("a valid URI")
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10));
    if let Client::Tls { ca, identity } = client {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(std::fs::read(ca).expect("CA file")));
        if let Some(pair) = identity {
            tls = tls.identity(Identity::from_pem(pair.cert_pem(), pair.key_pem()));
        }
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| format!("TLS config: {}", chain(&e)))?;
    }
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| format!("connect: {}", chain(&e)))?;
    let table = TableServiceClient::new(channel)
        .create_table(CreateTableRequest {
            table_name: table.to_owned(),
            provisioned_throughput: None,
        })
        .await
        .map_err(|status| format!("RPC: {status:?} ({})", chain(&status)))?
        .into_inner();
    Ok(table.name)
}

/// An error and its sources, `: `-separated.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// What curl did: its exit code, what it printed, and how long it took.
#[derive(Debug)]
pub(crate) struct CurlRun {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) took: Duration,
}

/// Runs `curl -sS --max-time 10 ARGS` (no shell).
pub(crate) fn curl_run(args: &[&str]) -> CurlRun {
    let started = Instant::now();
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl runs");
    CurlRun {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        took: started.elapsed(),
    }
}

/// How a program that was expected to refuse its settings ended.
#[derive(Debug)]
pub(crate) struct Exit {
    pub(crate) code: Option<i32>,
    pub(crate) stderr: String,
}

/// Runs a built binary of the workspace until it exits (at most 30 s).
pub(crate) fn run_to_exit(name: &str, args: &[&str]) -> Exit {
    let (defaults, _) = default_args(name, args);
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
    let mut stderr = child.stderr.take().expect("piped stderr");
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
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{name} {args:?} is still running after 30 s instead of refusing its settings:\n{}",
                reader.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Exit {
        code: status.code(),
        stderr: reader.join().expect("stderr reader"),
    }
}
