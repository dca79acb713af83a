//! Bad TLS settings stop a program at start: a non-zero exit and a message
//! that names the file, not a panic, and not a program left running with a
//! TLS setup that can never work.

use std::path::Path;

use music_testkit::program::Exit;

use crate::{
    certs::Pki,
    support::{path, run_to_exit},
};

const GARBAGE: &str =
    "-----BEGIN CERTIFICATE-----\nthis is not base64 at all!\n-----END CERTIFICATE-----\n";
const NOT_PEM: &str = "hello, I am not a PEM file\n";

fn assert_refused(exit: &Exit, file: &Path, what: &str) {
    let file = file.display().to_string();
    assert!(
        !exit.stderr.contains("panicked"),
        "{what}: a panic, not a refusal:\n{}",
        exit.stderr
    );
    assert!(
        exit.code.is_some_and(|code| code != 0 && code != 101),
        "{what}: exit code {:?} (want a non-zero exit that is not a panic's 101):\n{}",
        exit.code,
        exit.stderr
    );
    assert!(
        exit.stderr.contains(&file),
        "{what}: the message does not name {file}:\n{}",
        exit.stderr
    );
}

async fn service(tls: &[&str]) -> Exit {
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--in-memory",
    ];
    args.extend_from_slice(tls);
    run_to_exit("music-service", &args).await
}

async fn gateway(extra: &[&str]) -> Exit {
    let mut args = vec!["--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    run_to_exit("music-gateway", &args).await
}

/// The gateway serving HTTPS in-process with `cert` and `key`.
async fn https_gateway(cert: &str, key: &str) -> Exit {
    gateway(&[
        "--grpc-listen",
        "127.0.0.1:0",
        "--in-memory",
        "--tls-cert",
        cert,
        "--tls-key",
        key,
    ])
    .await
}

#[tokio::test]
async fn the_service_refuses_a_missing_key_file() {
    let pki = Pki::new();
    let missing = pki.dir.path().join("no-such-key.pem");
    let exit = service(&[
        "--tls-cert",
        &path(&pki.server.cert),
        "--tls-key",
        &path(&missing),
    ])
    .await;
    assert_refused(&exit, &missing, "missing --tls-key");
    assert!(exit.stderr.contains("cannot read"), "{}", exit.stderr);
}

#[tokio::test]
async fn the_service_refuses_a_garbage_certificate() {
    let pki = Pki::new();
    let garbage = pki.file("garbage-cert.pem", GARBAGE);
    let exit = service(&[
        "--tls-cert",
        &path(&garbage),
        "--tls-key",
        &path(&pki.server.key),
    ])
    .await;
    assert_refused(&exit, &garbage, "garbage --tls-cert");
}

#[tokio::test]
async fn the_service_refuses_a_garbage_key() {
    let pki = Pki::new();
    let garbage = pki.file("garbage-key.pem", NOT_PEM);
    let exit = service(&[
        "--tls-cert",
        &path(&pki.server.cert),
        "--tls-key",
        &path(&garbage),
    ])
    .await;
    assert_refused(&exit, &garbage, "garbage --tls-key");
}

#[tokio::test]
async fn the_service_refuses_a_garbage_client_ca() {
    let pki = Pki::new();
    let garbage = pki.file("garbage-ca.pem", NOT_PEM);
    let exit = service(&[
        "--tls-cert",
        &path(&pki.server.cert),
        "--tls-key",
        &path(&pki.server.key),
        "--tls-client-ca",
        &path(&garbage),
    ])
    .await;
    assert_refused(&exit, &garbage, "garbage --tls-client-ca");
}

#[tokio::test]
async fn the_gateway_refuses_a_missing_key_file() {
    let pki = Pki::new();
    let missing = pki.dir.path().join("no-such-key.pem");
    let exit = https_gateway(&path(&pki.server.cert), &path(&missing)).await;
    assert_refused(&exit, &missing, "missing --tls-key");
    assert!(exit.stderr.contains("cannot read"), "{}", exit.stderr);
}

#[tokio::test]
async fn the_gateway_refuses_a_garbage_certificate_or_key() {
    let pki = Pki::new();
    let garbage_cert = pki.file("garbage-cert.pem", GARBAGE);
    let exit = https_gateway(&path(&garbage_cert), &path(&pki.server.key)).await;
    assert_refused(&exit, &garbage_cert, "garbage --tls-cert");

    let not_pem = pki.file("not-pem-cert.pem", NOT_PEM);
    let exit = https_gateway(&path(&not_pem), &path(&pki.server.key)).await;
    assert_refused(&exit, &not_pem, "--tls-cert without PEM");

    let garbage_key = pki.file("garbage-key.pem", NOT_PEM);
    let exit = https_gateway(&path(&pki.server.cert), &path(&garbage_key)).await;
    assert_refused(&exit, &garbage_key, "garbage --tls-key");
}

#[tokio::test]
async fn the_gateway_refuses_a_missing_upstream_client_key() {
    let pki = Pki::new();
    let missing = pki.dir.path().join("no-such-client-key.pem");
    let exit = gateway(&[
        "--upstream",
        "https://localhost:1",
        "--upstream-ca",
        &path(&pki.ca),
        "--upstream-client-cert",
        &path(&pki.client.cert),
        "--upstream-client-key",
        &path(&missing),
    ])
    .await;
    assert_refused(&exit, &missing, "missing --upstream-client-key");
}

#[tokio::test]
async fn the_gateway_refuses_a_garbage_upstream_ca() {
    let pki = Pki::new();
    for (name, contents) in [
        ("garbage-upstream-ca.pem", GARBAGE),
        ("not-pem-upstream-ca.pem", NOT_PEM),
    ] {
        let garbage = pki.file(name, contents);
        let exit = gateway(&[
            "--upstream",
            "https://localhost:1",
            "--upstream-ca",
            &path(&garbage),
        ])
        .await;
        assert_refused(&exit, &garbage, name);
    }
}
