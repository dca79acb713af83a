//! One HTTP/1.1 request on a fresh loopback connection with hyper's client,
//! for readiness probes and DynamoDB Local's JSON protocol: where curl's
//! process start (milliseconds) would blur a start-up time measured to the
//! millisecond, or where no test looks at curl's view.
//!
//! Owns: [`request`], [`await_ok`].

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{Request, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::answer::Answer;

/// Sends one request with `Connection: close` on a new connection and reads
/// the whole answer, within `timeout`.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    timeout: Duration,
) -> std::io::Result<Answer> {
    let exchange = async {
        let stream = TcpStream::connect(addr).await?;
        let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        let driver = tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, addr.to_string())
            .header(header::CONNECTION, "close");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_owned())))
            .map_err(std::io::Error::other)?;
        let answer = sender
            .send_request(request)
            .await
            .map_err(std::io::Error::other)?;
        let (parts, body) = answer.into_parts();
        let body = body
            .collect()
            .await
            .map_err(std::io::Error::other)?
            .to_bytes();
        driver.abort();
        Ok(Answer {
            status: parts.status.as_u16(),
            headers: parts
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in time"))?
}

/// Polls `GET path` every millisecond until it answers 200; the time of that
/// answer, or `None` when `within` runs out first.
pub async fn await_ok(addr: SocketAddr, path: &str, within: Duration) -> Option<Instant> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(answer) = request(addr, "GET", path, &[], "", Duration::from_secs(2)).await
            && answer.status == 200
        {
            return Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    None
}
