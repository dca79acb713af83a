//! A request body that stops arriving is refused after `--body-read-timeout`
//! (issue 9, point 1: "a request body that stops arriving is never timed
//! out"): the service answers that stream DEADLINE_EXCEEDED, the gateway
//! answers 408, each about the configured second after the headers, not
//! never.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    gauge::bounded,
    stacks::{TABLE_ROUTE, pure_gateway},
    wire::{GRPC_DEADLINE_EXCEEDED, PUT_ITEM, grpc_answer, grpc_prefix, grpc_request, h2_connect},
};
use music_testkit::{Program, grpc::create_table};

/// The configured `--body-read-timeout`.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(1);
/// Refused within this of the headers being sent (the timeout plus slack
/// for a loaded machine).
const REFUSED_WITHIN: Duration = Duration::from_secs(4);
/// Not refused before this: the server waited for the body (the timeout,
/// less timer rounding).
const NOT_BEFORE: Duration = Duration::from_millis(900);
/// How long the test waits for an answer at all before calling it missing.
const GIVE_UP: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread")]
async fn a_grpc_message_that_stops_arriving_is_deadline_exceeded_after_the_body_read_timeout() {
    bounded(async {
        let service = Program::service(&["--in-memory", "--body-read-timeout", "1s"]).await;
        let grpc = service.addr("grpc");
        create_table(grpc, "Music").await;

        let (mut send, driver) = h2_connect(grpc).await;
        let started = Instant::now();
        let (response, mut body) = send
            .send_request(grpc_request(grpc, PUT_ITEM), false)
            .expect("a stream is opened");
        // A 1 KiB message is declared; 10 bytes of it come, then nothing.
        let mut partial = grpc_prefix(1024).to_vec();
        partial.extend_from_slice(&[0x0a; 10]);
        body.send_data(Bytes::from(partial), false)
            .expect("the partial message is sent");
        let answer = tokio::time::timeout(GIVE_UP, grpc_answer(response)).await;
        let elapsed = started.elapsed();
        eprintln!(
            "service, --body-read-timeout {BODY_READ_TIMEOUT:?}: 15 of 1029 bytes sent, \
             answered {answer:?} after {elapsed:?}"
        );
        drop((body, send));
        driver.abort();

        let status = answer
            .unwrap_or_else(|_| panic!("no answer within {GIVE_UP:?}"))
            .unwrap_or_else(|e| panic!("the stream failed instead of being answered: {e}"));
        assert_eq!(status, Some(GRPC_DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
        assert!(
            (NOT_BEFORE..REFUSED_WITHIN).contains(&elapsed),
            "refused {elapsed:?} after the headers, expected about {BODY_READ_TIMEOUT:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http1_body_that_stops_arriving_is_408_after_the_body_read_timeout() {
    bounded(async {
        let service = Program::service(&["--in-memory"]).await;
        let gateway = pure_gateway(&service.url("grpc"), &["--body-read-timeout", "1s"]).await;

        let mut socket = TcpStream::connect(gateway.addr("http"))
            .await
            .expect("connect to the gateway");
        let started = Instant::now();
        // The table's name is to come in the body (no `table` header), so the
        // gateway must read it; 10 of the 1000 announced bytes arrive.
        let head = format!(
            "PUT {TABLE_ROUTE} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: 1000\r\n\r\n{{\"table\": "
        );
        socket
            .write_all(head.as_bytes())
            .await
            .expect("the request is sent");
        let answer = tokio::time::timeout(GIVE_UP, read_head(&mut socket)).await;
        let elapsed = started.elapsed();
        eprintln!(
            "gateway, --body-read-timeout {BODY_READ_TIMEOUT:?}: 10 of 1000 body bytes sent, \
             answered {answer:?} after {elapsed:?}"
        );

        let head = answer.unwrap_or_else(|_| panic!("no answer within {GIVE_UP:?}"));
        assert!(
            head.starts_with("HTTP/1.1 408"),
            "408 Request Timeout: {head:?}"
        );
        assert!(
            (NOT_BEFORE..REFUSED_WITHIN).contains(&elapsed),
            "refused {elapsed:?} after the headers, expected about {BODY_READ_TIMEOUT:?}"
        );
    })
    .await;
}

/// The response head (status line and headers) read from `socket`, or what
/// came before it closed.
async fn read_head(socket: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}
