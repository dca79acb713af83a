//! What the gateway's public port gives away, or takes in, that it should
//! not (issue 9, point 5): `/metrics` lives on the admin listener only (the
//! public port keeps `/healthz` and `/readyz`); a 404 for a 60 KB path
//! names a bounded prefix of it, not the whole path; and a request body in
//! an encoding the gateway does not read (`Content-Encoding: gzip`) is 415
//! instead of being dropped or read as JSON.

use std::{io::Write, time::Duration};

use serde_json::Value;

use crate::{gauge::bounded, stacks::TABLE_ROUTE};
use music_testkit::{Program, curl, eventually, http_status};

/// The longest 404 body for any path.
const NOT_FOUND_BODY_MAX: usize = 1024;
/// The longest log line any request may produce.
const LOG_LINE_MAX: usize = 4 * 1024;
/// `{"table": "Music"}`, gzip-compressed (`printf … | gzip -9n`).
const GZIPPED_TABLE: [u8; 38] = [
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xab, 0x56, 0x2a, 0x49, 0x4c, 0xca,
    0x49, 0x55, 0xb2, 0x52, 0x50, 0xf2, 0x2d, 0x2d, 0xce, 0x4c, 0x56, 0xaa, 0x05, 0x00, 0x10, 0x8f,
    0xd9, 0xcd, 0x12, 0x00, 0x00, 0x00,
];

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_served_on_the_admin_listener_and_not_on_the_public_port() {
    bounded(async {
        let gateway = Program::in_process_gateway(&[]).await;
        let public = curl(&[&format!("{}/metrics", gateway.url("http"))]).await;
        let admin = curl(&[&format!("{}/metrics", gateway.url("admin"))]).await;
        let types = admin
            .body
            .lines()
            .filter(|l| l.starts_with("# TYPE"))
            .count();
        let healthz = http_status(&format!("{}/healthz", gateway.url("http"))).await;
        let ready_in = eventually(
            Duration::from_secs(10),
            Duration::from_millis(100),
            || async { http_status(&format!("{}/readyz", gateway.url("http"))).await == 200 },
        )
        .await;
        eprintln!(
            "GET /metrics: public port {}, admin port {} with {types} `# TYPE` lines; public \
             /healthz {healthz}, /readyz 200 after {ready_in:?}",
            public.status, admin.status
        );
        assert_eq!(public.status, 404, "no /metrics on the public port");
        assert_eq!(admin.status, 200, "/metrics on the admin port");
        assert!(
            types > 0,
            "Prometheus text on the admin port:\n{}",
            admin.body
        );
        assert_eq!(healthz, 200, "/healthz stays on the public port");
        assert!(ready_in.is_some(), "/readyz stays on the public port");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_404_for_a_60_kb_path_names_only_a_bounded_prefix_of_it() {
    bounded(async {
        let gateway = Program::in_process_gateway(&[]).await;
        let path: String = "/abuse-404/"
            .chars()
            .chain(('a'..='z').chain('0'..='9').cycle())
            .take(60_000)
            .collect();
        let answer = curl(&[&format!("{}{path}", gateway.url("http"))]).await;
        let message = serde_json::from_str::<Value>(&answer.body)
            .ok()
            .and_then(|json| json["message"].as_str().map(str::to_owned))
            .unwrap_or_default();
        eprintln!(
            "GET a {}-byte path: {}, a {}-byte body: {}",
            path.len(),
            answer.status,
            answer.body.len(),
            answer.body.chars().take(400).collect::<String>()
        );
        assert_eq!(answer.status, 404);
        assert!(
            answer.body.len() < NOT_FOUND_BODY_MAX,
            "a {}-byte 404 body",
            answer.body.len()
        );
        assert!(
            message.contains(&path[..64]) && message.contains('…'),
            "the message names the path's start, then …: {message:?}"
        );
        assert!(
            !message.contains(&path[..200]),
            "the message names no more than a bounded prefix: {message:?}"
        );
        let longest = gateway
            .log_lines()
            .iter()
            .map(String::len)
            .max()
            .unwrap_or(0);
        eprintln!("longest gateway log line: {longest} bytes");
        assert!(
            longest < LOG_LINE_MAX,
            "the access log bounds the path it copies: a {longest}-byte line"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gzip_encoded_request_body_is_415_and_an_identity_one_is_served() {
    bounded(async {
        let gateway = Program::in_process_gateway(&[]).await;
        let url = format!("{}{TABLE_ROUTE}", gateway.url("http"));
        let mut gzipped = tempfile::NamedTempFile::new().expect("a temporary file");
        gzipped
            .write_all(&GZIPPED_TABLE)
            .expect("the gzip body is written");
        let body = format!("@{}", gzipped.path().display());
        let common = [
            "-X",
            "PUT",
            url.as_str(),
            "-H",
            "table:Music",
            "-H",
            "content-type: application/json",
        ];

        let encoded = curl(
            &[
                &common[..],
                &[
                    "-H",
                    "Content-Encoding: gzip",
                    "--data-binary",
                    body.as_str(),
                ][..],
            ]
            .concat(),
        )
        .await;
        let identity = curl(
            &[
                &common[..],
                &[
                    "-H",
                    "Content-Encoding: identity",
                    "--data-binary",
                    r#"{"table": "Music"}"#,
                ][..],
            ]
            .concat(),
        )
        .await;
        eprintln!(
            "PUT the table with Content-Encoding gzip: {} {}; identity: {} {}",
            encoded.status, encoded.body, identity.status, identity.body
        );
        assert_eq!(encoded.status, 415, "gzip is not read: {}", encoded.body);
        // Also shows the refused request created nothing.
        assert_eq!(
            (identity.status, identity.body.as_str()),
            (200, r#""Table created""#),
            "identity is plain bytes"
        );
    })
    .await;
}
