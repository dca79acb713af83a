//! The attacker's wire: HTTP/2 frames made by hand for raw sockets (so a test
//! can stop anywhere a real client never would: half a preface, a HEADERS
//! frame with no END_HEADERS), an `h2` client for streams that never finish,
//! gRPC's length-prefixed frames, and how long a server takes to close a
//! socket.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use bytes::Bytes;
use h2::client::{ResponseFuture, SendRequest};
use http::HeaderMap;
use tokio::{io::AsyncReadExt, net::TcpStream, task::JoinHandle};

use music_testkit::eventually;

/// How long a server may take to send its SETTINGS.
const SETTINGS_WITHIN: Duration = Duration::from_secs(5);

/// The client connection preface (RFC 9113 §3.4).
pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

pub(crate) const PUT_ITEM: &str = "/music.v1.ItemService/PutItem";
pub(crate) const GET_ITEM: &str = "/music.v1.ItemService/GetItem";
pub(crate) const HEALTH_CHECK: &str = "/grpc.health.v1.Health/Check";

/// Frame types and flags of RFC 9113 §6.
pub(crate) const DATA: u8 = 0x0;
pub(crate) const HEADERS: u8 = 0x1;
pub(crate) const SETTINGS: u8 = 0x4;
pub(crate) const END_STREAM: u8 = 0x1;
pub(crate) const END_HEADERS: u8 = 0x4;

/// gRPC status codes the tests look for.
pub(crate) const GRPC_OK: u32 = 0;
pub(crate) const GRPC_DEADLINE_EXCEEDED: u32 = 4;
pub(crate) const GRPC_RESOURCE_EXHAUSTED: u32 = 8;

/// One HTTP/2 frame: 24-bit length, type, flags, 31-bit stream id, payload.
pub(crate) fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("a frame under 16 MiB");
    assert!(len < 1 << 24, "a frame under 16 MiB");
    let mut out = Vec::with_capacity(9 + payload.len());
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// An empty SETTINGS frame: the client takes every default.
pub(crate) fn settings() -> Vec<u8> {
    frame(SETTINGS, 0, 0, &[])
}

/// An HPACK header block of literal fields without indexing, no Huffman
/// (RFC 7541 §6.2.2): what any HPACK decoder reads, with no table state.
pub(crate) fn header_block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in fields {
        block.push(0x00);
        for text in [name, value] {
            // A 7-bit length prefix holds up to 126; the tests' fields are short.
            let len = u8::try_from(text.len())
                .ok()
                .filter(|len| *len < 0x7f)
                .expect("a short header field");
            block.push(len);
            block.extend_from_slice(text.as_bytes());
        }
    }
    block
}

/// The header block of a gRPC call to `path`.
pub(crate) fn grpc_header_block(path: &str) -> Vec<u8> {
    header_block(&[
        (":method", "POST"),
        (":scheme", "http"),
        (":path", path),
        (":authority", "127.0.0.1"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ])
}

/// gRPC's 5-byte message prefix: not compressed, `declared` bytes follow.
pub(crate) fn grpc_prefix(declared: usize) -> [u8; 5] {
    let len = u32::try_from(declared).expect("a gRPC message under 4 GiB");
    let mut prefix = [0; 5];
    prefix[1..].copy_from_slice(&len.to_be_bytes());
    prefix
}

/// `message` as one whole gRPC frame.
pub(crate) fn grpc_message(message: &impl prost::Message) -> Vec<u8> {
    let encoded = message.encode_to_vec();
    let mut out = grpc_prefix(encoded.len()).to_vec();
    out.extend_from_slice(&encoded);
    out
}

/// A gRPC request's head for the `h2` client: `POST path` with the headers
/// gRPC requires.
pub(crate) fn grpc_request(addr: SocketAddr, path: &str) -> http::Request<()> {
    http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .expect("a valid request")
}

/// An HTTP/2 connection to `addr` (prior knowledge, no TLS) with the `h2`
/// crate, once the server's SETTINGS have arrived; the task drives it and
/// ends when the connection does (`Ok` after a graceful GOAWAY, `Err` when it
/// was cut).
pub(crate) async fn h2_connect(
    addr: SocketAddr,
) -> (SendRequest<Bytes>, JoinHandle<Result<(), h2::Error>>) {
    let tcp = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    tcp.set_nodelay(true).expect("TCP_NODELAY");
    // Until the server says how many streams it allows, h2 would assume no
    // limit, and streams opened beyond the server's limit before its
    // SETTINGS arrive are refused (REFUSED_STREAM) instead of being served or
    // answered. So: none at all until then.
    let (send, connection) = h2::client::Builder::new()
        .initial_max_send_streams(0)
        .handshake(tcp)
        .await
        .unwrap_or_else(|e| panic!("h2 handshake with {addr}: {e}"));
    let driver = tokio::spawn(connection);
    let settings = eventually(SETTINGS_WITHIN, Duration::from_millis(1), || {
        std::future::ready(send.current_max_send_streams() > 0)
    })
    .await;
    assert!(
        settings.is_some(),
        "no SETTINGS from {addr} within {SETTINGS_WITHIN:?}"
    );
    (send, driver)
}

/// `grpc-status` of a header map (response headers or trailers).
pub(crate) fn grpc_status(headers: &HeaderMap) -> Option<u32> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// The `grpc-status` a call ended with: in the response headers (a
/// trailers-only answer) or the trailers after the body. `None` when the
/// answer had none.
pub(crate) async fn grpc_answer(response: ResponseFuture) -> Result<Option<u32>, h2::Error> {
    let response = response.await?;
    if let Some(status) = grpc_status(response.headers()) {
        return Ok(Some(status));
    }
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    Ok(body.trailers().await?.as_ref().and_then(grpc_status))
}

/// How a socket the test stopped writing to ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The server closed it (EOF or reset) after this long.
    Closed(Duration),
    /// Still open when the test stopped waiting.
    Open,
}

/// Reads (and discards) whatever the server sends on `stream` until it
/// closes the connection or `within` has passed since `since`. Reading is
/// only how the close is seen: nothing is ever answered.
pub(crate) async fn ending(mut stream: TcpStream, since: Instant, within: Duration) -> Ending {
    let mut buf = vec![0; 16 * 1024];
    let until = tokio::time::Instant::from_std(since + within);
    loop {
        match tokio::time::timeout_at(until, stream.read(&mut buf)).await {
            Err(_) => return Ending::Open,
            Ok(Ok(0) | Err(_)) => return Ending::Closed(since.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}
