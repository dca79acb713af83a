//! Connections that never start a request, and connections left idle, are
//! closed by the server (issue 9, point 3: 40 of 40 half-open sockets were
//! still open after 13 s, enough of them exhausted the descriptors). With
//! `--request-start-timeout 1s --idle-timeout 2s`, on the service and on both
//! listeners of the in-process gateway:
//!
//! - ten sockets of each kind that stop before a request's headers are
//!   complete (nothing at all; `PRI * HTTP/2.0` without the rest of the
//!   preface; the preface and SETTINGS; a HEADERS frame without END_HEADERS;
//!   for HTTP/1 a partial request line) are all closed within 4 s;
//! - a connection that made one good request and then stays quiet is closed
//!   within the idle timeout and 2 s (HTTP/1 keep-alive: closed; h2: GOAWAY).

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use bytes::Bytes;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    task::JoinSet,
};

use crate::{
    gauge::bounded,
    wire::{
        END_STREAM, Ending, GRPC_OK, HEADERS, HEALTH_CHECK, PREFACE, ending, frame, grpc_answer,
        grpc_header_block, grpc_request, h2_connect, settings,
    },
};
use music_testkit::Program;

/// The timeouts every server of this module runs with.
const TIMEOUT_FLAGS: [&str; 4] = ["--request-start-timeout", "1s", "--idle-timeout", "2s"];
const IDLE_TIMEOUT: Duration = Duration::from_secs(2);
/// Sockets opened of each kind.
const SOCKETS: usize = 10;
/// A socket that never starts a request is closed within this (the 1 s
/// request-start timeout plus slack for a loaded machine).
const CLOSED_WITHIN: Duration = Duration::from_secs(4);
/// An idle connection is closed within the idle timeout plus this.
const IDLE_SLACK: Duration = Duration::from_secs(2);

/// A way of opening a connection and never completing a request's headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HalfOpen {
    /// Connects and sends nothing.
    Silent,
    /// `PRI * HTTP/2.0\r\n\r\n`: the first 18 of the preface's 24 bytes.
    BarePri,
    /// The whole h2 preface and an empty SETTINGS frame, then nothing.
    PrefaceAndSettings,
    /// The preface, SETTINGS, and a HEADERS frame without END_HEADERS: the
    /// CONTINUATION that would finish the header block never comes.
    HeadersWithoutEnd,
    /// HTTP/1: `GET / HTT`, an unfinished request line.
    PartialRequestLine,
}

impl HalfOpen {
    /// The kinds an h2-only listener (gRPC) is attacked with.
    const H2: [Self; 4] = [
        Self::Silent,
        Self::BarePri,
        Self::PrefaceAndSettings,
        Self::HeadersWithoutEnd,
    ];
    /// The kinds an HTTP/1.1 + h2 listener (REST) is attacked with.
    const HTTP: [Self; 5] = [
        Self::Silent,
        Self::BarePri,
        Self::PrefaceAndSettings,
        Self::HeadersWithoutEnd,
        Self::PartialRequestLine,
    ];

    fn bytes(self) -> Vec<u8> {
        match self {
            Self::Silent => Vec::new(),
            Self::BarePri => PREFACE[..18].to_vec(),
            Self::PrefaceAndSettings => [PREFACE, &settings()].concat(),
            Self::HeadersWithoutEnd => {
                let headers = frame(HEADERS, END_STREAM, 1, &grpc_header_block(HEALTH_CHECK));
                [PREFACE, &settings(), &headers].concat()
            }
            Self::PartialRequestLine => b"GET / HTT".to_vec(),
        }
    }
}

/// Opens [`SOCKETS`] connections of each kind to each listener at once,
/// and asserts that the server closed every one within [`CLOSED_WITHIN`].
async fn half_open_sockets_are_closed(label: &str, listeners: &[(&str, SocketAddr, &[HalfOpen])]) {
    let mut sockets = JoinSet::new();
    for (listener, addr, kinds) in listeners {
        for kind in kinds.iter().copied() {
            for _ in 0..SOCKETS {
                let (listener, addr) = ((*listener).to_owned(), *addr);
                sockets.spawn(async move {
                    let mut socket = TcpStream::connect(addr)
                        .await
                        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
                    let since = Instant::now();
                    socket
                        .write_all(&kind.bytes())
                        .await
                        .expect("the half request is sent");
                    (listener, kind, ending(socket, since, CLOSED_WITHIN).await)
                });
            }
        }
    }
    let mut endings = Vec::new();
    while let Some(done) = sockets.join_next().await {
        endings.push(done.expect("a socket task"));
    }
    let mut still_open = Vec::new();
    for (listener, addr, kinds) in listeners {
        for kind in kinds.iter() {
            let mut lifetimes = Vec::new();
            let mut open = 0;
            for (_, _, ending) in endings
                .iter()
                .filter(|(l, k, _)| l.as_str() == *listener && k == kind)
            {
                match ending {
                    Ending::Closed(after) => lifetimes.push(*after),
                    Ending::Open => open += 1,
                }
            }
            lifetimes.sort();
            eprintln!(
                "{label} {listener} ({addr}), {kind:?}: {} of {SOCKETS} closed by the server, \
                 after {:?}…{:?}; {open} still open after {CLOSED_WITHIN:?}",
                lifetimes.len(),
                lifetimes.first(),
                lifetimes.last(),
            );
            if open > 0 {
                still_open.push(format!("{listener} {kind:?}: {open} of {SOCKETS}"));
            }
        }
    }
    assert!(
        still_open.is_empty(),
        "{label}: sockets still open {CLOSED_WITHIN:?} after they stopped before a request \
         start: {still_open:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_to_the_service_that_never_start_a_request_are_closed() {
    bounded(async {
        let service = Program::service(&[&["--in-memory"][..], &TIMEOUT_FLAGS[..]].concat()).await;
        half_open_sockets_are_closed(
            "music-service",
            &[("grpc", service.addr("grpc"), &HalfOpen::H2[..])],
        )
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_to_the_gateway_that_never_start_a_request_are_closed() {
    bounded(async {
        let gateway = Program::in_process_gateway(&TIMEOUT_FLAGS).await;
        half_open_sockets_are_closed(
            "music-gateway (in-process)",
            &[
                ("http", gateway.addr("http"), &HalfOpen::HTTP[..]),
                ("grpc", gateway.addr("grpc"), &HalfOpen::H2[..]),
            ],
        )
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_http1_keep_alive_connection_to_the_gateway_is_closed_after_the_idle_timeout() {
    bounded(async {
        let gateway = Program::in_process_gateway(&TIMEOUT_FLAGS).await;
        let mut socket = TcpStream::connect(gateway.addr("http"))
            .await
            .expect("connect to the gateway");
        socket
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .expect("the request is sent");
        let answer = read_response(&mut socket).await;
        let answered = Instant::now();
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "GET /healthz: {answer:?}"
        );
        assert!(
            !answer.to_ascii_lowercase().contains("connection: close"),
            "the connection is kept alive after the answer: {answer:?}"
        );
        let ending = ending(socket, answered, IDLE_TIMEOUT + IDLE_SLACK).await;
        eprintln!(
            "gateway http, --idle-timeout {IDLE_TIMEOUT:?}: keep-alive connection after one \
             GET /healthz: {ending:?} after the answer"
        );
        assert!(
            matches!(ending, Ending::Closed(_)),
            "an idle keep-alive connection is closed within {:?}",
            IDLE_TIMEOUT + IDLE_SLACK
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_h2_connections_to_the_service_and_the_gateway_get_goaway_after_the_idle_timeout() {
    bounded(async {
        let service = Program::service(&[&["--in-memory"][..], &TIMEOUT_FLAGS[..]].concat()).await;
        let gateway = Program::in_process_gateway(&TIMEOUT_FLAGS).await;
        let mut problems = Vec::new();
        for (label, addr, grpc) in [
            ("music-service grpc", service.addr("grpc"), true),
            ("music-gateway grpc", gateway.addr("grpc"), true),
            ("music-gateway http (h2c)", gateway.addr("http"), false),
        ] {
            let (ended_after, how) = idle_h2_connection(addr, grpc).await;
            eprintln!(
                "{label}, --idle-timeout {IDLE_TIMEOUT:?}: h2 connection after one request: \
                 {how} after {ended_after:?}"
            );
            if ended_after.is_none_or(|after| after > IDLE_TIMEOUT + IDLE_SLACK) {
                problems.push(format!("{label}: {how} after {ended_after:?}"));
            }
        }
        assert!(
            problems.is_empty(),
            "idle h2 connections not closed within {:?}: {problems:?}",
            IDLE_TIMEOUT + IDLE_SLACK
        );
    })
    .await;
}

/// Makes one good request on a new h2 connection to `addr` (a gRPC health
/// check, or `GET /healthz`), then holds the connection open without a
/// request; how long after the answer the server ended it, and how.
async fn idle_h2_connection(addr: SocketAddr, grpc: bool) -> (Option<Duration>, String) {
    let (mut send, mut driver) = h2_connect(addr).await;
    if grpc {
        let (response, mut body) = send
            .send_request(grpc_request(addr, HEALTH_CHECK), false)
            .expect("a stream is opened");
        // An empty HealthCheckRequest: the whole server's health.
        body.send_data(Bytes::from_static(&[0; 5]), true)
            .expect("the request is sent");
        let status = grpc_answer(response)
            .await
            .expect("the health check answer");
        assert_eq!(status, Some(GRPC_OK), "the health check is served");
    } else {
        let request = http::Request::get(format!("http://{addr}/healthz"))
            .body(())
            .expect("a request");
        let (response, _) = send
            .send_request(request, true)
            .expect("a stream is opened");
        let response = response.await.expect("the /healthz answer");
        assert_eq!(response.status(), 200, "GET /healthz over h2");
        let mut body = response.into_body();
        while let Some(chunk) = body.data().await {
            chunk.expect("the /healthz body");
        }
    }
    let answered = Instant::now();
    // `send` stays alive: without it the client would close the connection itself.
    let ended = tokio::time::timeout(
        IDLE_TIMEOUT + IDLE_SLACK + Duration::from_secs(3),
        &mut driver,
    )
    .await;
    let after = answered.elapsed();
    drop(send);
    driver.abort();
    match ended {
        Err(_) => (None, "still open".to_owned()),
        Ok(Ok(Ok(()))) => (Some(after), "closed gracefully (GOAWAY)".to_owned()),
        Ok(Ok(Err(e))) => (Some(after), format!("ended with {e}")),
        Ok(Err(e)) => panic!("the connection task: {e}"),
    }
}

/// An HTTP/1 response (head and a `Content-Length` body) read from
/// `socket`, or what came of it within 5 s.
async fn read_response(socket: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    while !is_whole_response(&got) {
        match tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Whether `got` holds a response head and all of its `Content-Length` body.
fn is_whole_response(got: &[u8]) -> bool {
    let text = String::from_utf8_lossy(got);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    body.len() >= length
}
