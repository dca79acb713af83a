//! What only the TLS tests need on top of testkit: the service as a process
//! serving TLS, a gRPC call with a chosen TLS setup (tonic with rustls), an
//! error with its causes, and a program run to its exit.

use std::{net::SocketAddr, path::Path, time::Duration};

use music_api::pb::{CreateTableRequest, table_service_client::TableServiceClient};
use music_testkit::{
    Curl, CurlRun, Program,
    program::{Exit, path_arg},
};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::certs::{Pair, Pki};

/// How long any single client attempt may take before the test calls it a hang.
pub(crate) const NO_HANG: Duration = Duration::from_secs(15);

/// How long a program with bad settings may take to refuse them.
const REFUSAL_WITHIN: Duration = Duration::from_secs(30);

/// music-service over TLS on the embedded in-memory store; with `client_ca`,
/// mTLS (client certificates signed by it required).
pub(crate) async fn tls_service(pki: &Pki, client_ca: Option<&Path>) -> Program {
    let (cert, key) = (path(&pki.server.cert), path(&pki.server.key));
    let mut args = vec!["--in-memory", "--tls-cert", &cert, "--tls-key", &key];
    let ca = client_ca.map(path);
    if let Some(ca) = &ca {
        args.extend(["--tls-client-ca", ca]);
    }
    Program::service(&args).await
}

pub(crate) fn path(path: &Path) -> String {
    path_arg(path)
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
pub(crate) async fn create_table(
    client: Client<'_>,
    host: &str,
    addr: SocketAddr,
    table: &str,
) -> Result<String, String> {
    let started = std::time::Instant::now();
    let call = create_table_within(client, host, addr.port(), table);
    match tokio::time::timeout(NO_HANG, call).await {
        Ok(result) => result,
        Err(_) => panic!(
            "{client:?}: no answer within {:?} (a hang, not a refusal)",
            started.elapsed()
        ),
    }
}

async fn create_table_within(
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

/// Runs a built binary of the workspace until it exits (it is expected to
/// refuse its settings).
pub(crate) async fn run_to_exit(name: &str, args: &[&str]) -> Exit {
    Program::builder(name)
        .args(args)
        .run_to_exit(REFUSAL_WITHIN)
        .await
}

/// `curl -sS --max-time 10 ARGS` without `-i`: its exit code, what it
/// printed, and how long it took.
pub(crate) async fn curl_run(args: &[&str]) -> CurlRun {
    Curl::new()
        .args(args)
        .max_time(Duration::from_secs(10))
        .run()
        .await
}
