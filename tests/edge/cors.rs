//! CORS: preflights answered at the edge (never reaching a route or the
//! service), the headers on every answer to an allowed origin, none for
//! another origin, and refusals a browser's script can read.

use music_testkit::Curl;

use crate::support::{Files, NO_UPSTREAM, TABLE, gateway};

const ORIGIN: &str = "https://app.example";

#[tokio::test]
async fn a_preflight_is_answered_without_reaching_the_service() {
    let gateway = gateway(
        NO_UPSTREAM,
        &["--cors-allow-origin", ORIGIN, "--cors-max-age", "300"],
    )
    .await;
    let answer = Curl::request("OPTIONS", format!("{}{TABLE}", gateway.url("http")))
        .header(format!("Origin: {ORIGIN}"))
        .header("Access-Control-Request-Method: PUT")
        .header("Access-Control-Request-Headers: table, content-type")
        .send()
        .await;
    // The tutorial's route would answer OPTIONS 405, and the service is down.
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("access-control-allow-origin"), Some(ORIGIN));
    let methods = answer
        .header("access-control-allow-methods")
        .unwrap_or_default();
    assert!(
        methods.contains("PUT") && methods.contains("DELETE"),
        "{methods}"
    );
    let headers = answer
        .header("access-control-allow-headers")
        .unwrap_or_default();
    assert!(
        headers.contains("table") && headers.contains("x-api-key"),
        "{headers}"
    );
    assert_eq!(answer.header("access-control-max-age"), Some("300"));
}

#[tokio::test]
async fn simple_requests_carry_the_headers_for_allowed_origins_only() {
    let gateway = gateway(NO_UPSTREAM, &["--cors-allow-origin", ORIGIN]).await;
    let url = format!("{}{TABLE}", gateway.url("http"));
    let allowed = Curl::request("PUT", &url)
        .header(format!("Origin: {ORIGIN}"))
        .header("table: Music")
        .send()
        .await;
    assert_eq!(allowed.status, 503, "the call went on: {allowed:?}");
    assert_eq!(allowed.header("access-control-allow-origin"), Some(ORIGIN));
    let exposed = allowed
        .header("access-control-expose-headers")
        .unwrap_or_default();
    assert!(exposed.contains("x-request-id"), "{exposed}");
    let other = Curl::request("PUT", &url)
        .header("Origin: https://elsewhere.example")
        .header("table: Music")
        .send()
        .await;
    assert_eq!(
        other.header("access-control-allow-origin"),
        None,
        "{other:?}"
    );
    let no_origin = Curl::request("PUT", &url)
        .header("table: Music")
        .send()
        .await;
    assert_eq!(no_origin.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn refusals_carry_the_headers_too() {
    let files = Files::new();
    let policy = files.write(
        "policy.json",
        r#"{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*/PUT/*"}, {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "*"}]}"#,
    );
    let gateway = gateway(
        NO_UPSTREAM,
        &["--cors-allow-origin", "*", "--resource-policy", &policy],
    )
    .await;
    let denied = Curl::request("PUT", format!("{}{TABLE}", gateway.url("http")))
        .header(format!("Origin: {ORIGIN}"))
        .send()
        .await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.header("access-control-allow-origin"), Some("*"));
}

/// The load balancer's probes on the public port are not the API's: no CORS
/// headers, and an OPTIONS on them is not a preflight the edge answers.
#[tokio::test]
async fn health_probes_pass_the_edge_without_cors() {
    let gateway = gateway(NO_UPSTREAM, &["--cors-allow-origin", ORIGIN]).await;
    for path in ["/healthz", "/readyz"] {
        let url = format!("{}{path}", gateway.url("http"));
        let probe = Curl::request("GET", &url)
            .header(format!("Origin: {ORIGIN}"))
            .send()
            .await;
        assert_eq!(
            probe.header("access-control-allow-origin"),
            None,
            "{path}: {probe:?}"
        );
        assert_eq!(probe.header("vary"), None, "{path}: {probe:?}");
        let preflight = Curl::request("OPTIONS", &url)
            .header(format!("Origin: {ORIGIN}"))
            .header("Access-Control-Request-Method: GET")
            .send()
            .await;
        assert_eq!(
            preflight.header("access-control-allow-origin"),
            None,
            "{path}: {preflight:?}"
        );
    }
}
