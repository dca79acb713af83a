//! music-gateway over TLS: reaching music-service over mTLS, and serving
//! HTTPS itself (HTTP/1.1 and h2 by ALPN), driven by the real curl.

use std::time::Duration;

use music_testkit::{Answer, Curl, Program};

use crate::{
    certs::Pki,
    support::{curl_run, path, tls_service},
};

const TABLE_ROUTE: &str = "/Test/DemoResourceMusic/DemoResourceMusicTable";

/// A pure gateway calling `upstream` over TLS trusting `ca`, presenting
/// `identity` (certificate, key) when given.
async fn gateway_to(upstream: &str, ca: &str, identity: Option<(&str, &str)>) -> Program {
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        upstream,
        "--upstream-ca",
        ca,
        "--timeout-ms",
        "10000",
    ];
    if let Some((cert, key)) = identity {
        args.extend(["--upstream-client-cert", cert, "--upstream-client-key", key]);
    }
    Program::start("music-gateway", &args, &[], 1).await
}

/// Runs a curl command line as a user pastes it; curl must succeed.
async fn curl(command_line: &str) -> Answer {
    Curl::command_line(command_line).send().await
}

/// The curl command line that creates `table` through `gateway`.
fn create_through(gateway: &Program, table: &str) -> String {
    format!(
        "curl -X PUT http://{}{TABLE_ROUTE} -H 'table:{table}'",
        gateway.addr("http")
    )
}

/// curl's view of one create-table call through `gateway`: status, body, time.
async fn refused_call(gateway: &Program) -> (String, String, Duration) {
    let run = curl_run(&[
        "-X",
        "PUT",
        &format!("http://{}{TABLE_ROUTE}", gateway.addr("http")),
        "-H",
        "table:Other",
        "-w",
        "\n%{http_code}",
    ])
    .await;
    assert_eq!(run.code, Some(0), "curl: {}", run.stderr);
    let (body, status) = run.stdout.rsplit_once('\n').expect("body and status");
    (status.to_owned(), body.to_owned(), run.took)
}

#[tokio::test]
async fn the_gateway_reaches_the_service_over_mtls() {
    let pki = Pki::new();
    let service = tls_service(&pki, Some(&pki.ca)).await;
    let upstream = format!("https://localhost:{}", service.addr("grpc").port());
    let (ca, cert, key) = (path(&pki.ca), path(&pki.client.cert), path(&pki.client.key));

    let with_certificate = gateway_to(&upstream, &ca, Some((&cert, &key))).await;
    let created = curl(&create_through(&with_certificate, "Music")).await;
    assert_eq!(
        (created.status, created.body.as_str()),
        (200, "\"Table created\""),
        "gateway log:\n{}\nservice log:\n{}",
        with_certificate.log_text(),
        service.log_text()
    );

    // Without a client certificate, or with one from another CA, the
    // service refuses the gateway, and the gateway says so at once (the exact
    // status is the next test's concern).
    let (other_cert, other_key) = (path(&pki.other_client.cert), path(&pki.other_client.key));
    for (what, refused) in [
        (
            "no client certificate",
            gateway_to(&upstream, &ca, None).await,
        ),
        (
            "a client certificate from another CA",
            gateway_to(&upstream, &ca, Some((&other_cert, &other_key))).await,
        ),
    ] {
        let (status, body, took) = refused_call(&refused).await;
        eprintln!("gateway with {what}: {status} {body} in {took:?}");
        assert_ne!(status, "200", "{what}: served: {body}");
        assert!(
            took < Duration::from_secs(5),
            "{what}: answered within a few seconds, took {took:?}"
        );
    }

    // The refusals did not disturb the gateway that holds the right certificate.
    let again = curl(&create_through(&with_certificate, "Music")).await;
    assert_eq!(
        again.status, 500,
        "the table exists (seed mode): {}",
        again.body
    );
    assert!(
        again.body.contains("ResourceInUseException"),
        "{}",
        again.body
    );
}

#[tokio::test]
async fn the_gateway_refused_by_the_service_answers_503() {
    let pki = Pki::new();
    let service = tls_service(&pki, Some(&pki.ca)).await;
    let upstream = format!("https://localhost:{}", service.addr("grpc").port());
    let ca = path(&pki.ca);
    let (other_cert, other_key) = (path(&pki.other_client.cert), path(&pki.other_client.key));
    for (what, refused) in [
        (
            "no client certificate",
            gateway_to(&upstream, &ca, None).await,
        ),
        (
            "a client certificate from another CA",
            gateway_to(&upstream, &ca, Some((&other_cert, &other_key))).await,
        ),
    ] {
        let (status, body, took) = refused_call(&refused).await;
        assert_eq!(
            status,
            "503",
            "{what}: body {body}; gateway log:\n{}",
            refused.log_text()
        );
        assert!(
            body.starts_with('"') && body.ends_with('"'),
            "{what}: a JSON string message: {body}"
        );
        assert!(
            took < Duration::from_secs(5),
            "{what}: answered within a few seconds, took {took:?}"
        );
    }
}

#[tokio::test]
async fn the_gateway_serves_https() {
    let pki = Pki::new();
    let (ca, cert, key) = (path(&pki.ca), path(&pki.server.cert), path(&pki.server.key));
    let gateway = Program::start(
        "music-gateway",
        &[
            "--listen",
            "127.0.0.1:0",
            "--grpc-listen",
            "127.0.0.1:0",
            "--in-memory",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ],
        &[],
        2,
    )
    .await;
    let addr = gateway.addr("https");
    let port = addr.port();
    assert!(
        gateway
            .log_text()
            .contains(&format!("listening on {addr} protocol=\"https\"")),
        "{}",
        gateway.log_text()
    );
    let resolve = format!("--resolve localhost:{port}:127.0.0.1");
    let url = format!("https://localhost:{port}{TABLE_ROUTE}");

    let created = curl(&format!(
        "curl --cacert {ca} {resolve} {url} -X PUT -H 'table:Music'"
    ))
    .await;
    assert_eq!(
        (created.status, created.body.as_str()),
        (200, "\"Table created\""),
        "{}",
        gateway.log_text()
    );
    assert!(created.header("x-request-id").is_some());

    // HTTP/2 by ALPN, and HTTP/1.1.
    for (flag, version, table) in [("--http2", "2", "Music2"), ("--http1.1", "1.1", "Music11")] {
        let run = curl_run(&[
            flag,
            "--cacert",
            &ca,
            "--resolve",
            &format!("localhost:{port}:127.0.0.1"),
            &url,
            "-X",
            "PUT",
            "-H",
            &format!("table:{table}"),
            "-w",
            "\n%{http_code} %{http_version}",
        ])
        .await;
        assert_eq!(run.code, Some(0), "curl {flag}: {}", run.stderr);
        assert_eq!(
            run.stdout,
            format!("\"Table created\"\n200 {version}"),
            "curl {flag}"
        );
    }

    // Plain HTTP to the HTTPS port gets no HTTP answer.
    let plain = curl_run(&[
        &format!("http://127.0.0.1:{port}{TABLE_ROUTE}"),
        "-X",
        "PUT",
        "-H",
        "table:Plain",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
    ])
    .await;
    assert_ne!(plain.code, Some(0), "plain HTTP was answered: {plain:?}");
    assert_eq!(plain.stdout, "000", "{plain:?}");
    assert!(plain.took < Duration::from_secs(5), "{plain:?}");

    // A client that does not trust the CA refuses the gateway (curl: 60).
    let untrusting = curl_run(&[
        "--cacert",
        &path(&pki.other_ca),
        "--resolve",
        &format!("localhost:{port}:127.0.0.1"),
        &url,
        "-X",
        "PUT",
        "-H",
        "table:Untrusted",
    ])
    .await;
    assert_eq!(untrusting.code, Some(60), "{untrusting:?}");

    // Still serving after the failed handshakes.
    let again = curl(&format!(
        "curl --cacert {ca} {resolve} {url} -X PUT -H 'table:Music'"
    ))
    .await;
    assert_eq!(again.status, 500, "the table exists: {}", again.body);
}
