//! The execution log (`--execution-log full`): per request, what API
//! Gateway's "full request and response logs" show — the method request
//! (headers, query string, body), the gRPC request sent (as proto3 JSON),
//! the answer received, and the answer sent — each a log line (target
//! `music_gateway::execution`) with the request id and the time since the
//! request arrived and since the step before. Credentials and API keys are
//! redacted, bodies cut at `--execution-log-max-body` bytes. Off by default:
//! nothing is formatted then.

use std::{
    fmt::Write as _,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use clap::ValueEnum;
use http::{HeaderMap, Method, StatusCode};
use prost_reflect::{DescriptorPool, DynamicMessage};
use tonic::Status;
use tonic_types::StatusExt;

use crate::request::bounded;

/// Headers whose values are never logged.
const REDACTED: [&str; 7] = [
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "cookie",
    "set-cookie",
    "x-amz-security-token",
    "x-amzn-apigateway-api-key",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ExecutionLogMode {
    /// No execution log.
    #[default]
    Off,
    /// Every step of every request, with headers and bodies.
    Full,
}

/// The execution log's settings.
#[derive(Debug, Clone)]
pub struct ExecutionLog {
    pub mode: ExecutionLogMode,
    /// Longest body logged, in bytes (API Gateway cuts at 1 KiB too).
    pub max_body: usize,
    /// The descriptors the gRPC messages are written as JSON with: the
    /// `/v1` routes' pool (a shared handle, not a second decoding).
    pub messages: DescriptorPool,
}

impl ExecutionLog {
    pub fn is_on(&self) -> bool {
        self.mode == ExecutionLogMode::Full
    }

    /// The log of one request, timed from `arrived`.
    pub fn start<'a>(&'a self, request_id: &'a str, arrived: Instant) -> Execution<'a> {
        Execution {
            log: self,
            request_id,
            arrived,
            last: AtomicU64::new(0),
        }
    }
}

/// One request's execution log.
#[derive(Debug)]
pub struct Execution<'a> {
    log: &'a ExecutionLog,
    request_id: &'a str,
    arrived: Instant,
    /// When the step before ended, in ns since `arrived`.
    last: AtomicU64,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// Headers as API Gateway's log writes them, `{name=value, …}`, credentials redacted.
pub fn headers_text(headers: &HeaderMap) -> String {
    let mut text = String::from("{");
    for (n, (name, value)) in headers.iter().enumerate() {
        if n > 0 {
            text.push_str(", ");
        }
        let shown = if REDACTED.contains(&name.as_str()) {
            "********".into()
        } else {
            bounded(&String::from_utf8_lossy(value.as_bytes())).into_owned()
        };
        let _ = write!(text, "{name}={shown}");
    }
    text.push('}');
    text
}

/// A body as text, cut at `max` bytes (on a character boundary).
pub fn body_text(body: &[u8], max: usize) -> String {
    if body.len() <= max {
        return String::from_utf8_lossy(body).into_owned();
    }
    let mut cut = max;
    while cut > 0 && (body[cut] & 0xC0) == 0x80 {
        cut -= 1;
    }
    format!(
        "{} [TRUNCATED: {} of {} bytes shown]",
        String::from_utf8_lossy(&body[..cut]),
        cut,
        body.len()
    )
}

/// The descriptors of music.v1, for writing messages as JSON.
/// A message of `pool` in proto3 JSON (`message_type`: `music.v1.PutItemRequest`).
pub fn message_json<M: prost::Message>(
    pool: &DescriptorPool,
    message_type: &str,
    message: &M,
) -> String {
    let dynamic = pool
        .get_message_by_name(message_type)
        .and_then(|descriptor| {
            DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice()).ok()
        });
    match dynamic.map(|d| serde_json::to_string(&d)) {
        Some(Ok(json)) => json,
        _ => format!("{{\"@type\": \"{message_type}\"}}"),
    }
}

/// A failed call's status as JSON: code, message and ErrorInfo.
pub fn status_json(status: &Status) -> String {
    let mut json = serde_json::json!({
        "code": format!("{:?}", status.code()),
        "message": status.message(),
    });
    if let Some(info) = status.get_details_error_info() {
        json["errorInfo"] = serde_json::json!({
            "reason": info.reason,
            "domain": info.domain,
            "metadata": info.metadata,
        });
    }
    json.to_string()
}

impl Execution<'_> {
    pub fn is_on(&self) -> bool {
        self.log.is_on()
    }

    /// Times since arrival and since the step before, in ms.
    fn times(&self) -> (f64, f64) {
        let since = self.arrived.elapsed();
        let nanos = u64::try_from(since.as_nanos()).unwrap_or(u64::MAX);
        let before = self.last.swap(nanos, Ordering::Relaxed);
        (
            ms(since),
            ms(Duration::from_nanos(nanos.saturating_sub(before))),
        )
    }

    /// The method request: what the client sent.
    pub fn method_request(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        query: Option<&str>,
        body: &[u8],
    ) {
        if !self.is_on() {
            return;
        }
        let (elapsed_ms, step_ms) = self.times();
        tracing::info!(
            target: "music_gateway::execution",
            requestId = %self.request_id,
            step = "method request",
            elapsed_ms,
            step_ms,
            httpMethod = %method,
            path = %bounded(path),
            query = %bounded(query.unwrap_or("")),
            headers = %headers_text(headers),
            body = %body_text(body, self.log.max_body),
            "Method request: {method} {}", bounded(path)
        );
    }

    /// The gRPC request sent to the service (`rpc`: `music.v1.ItemService/PutItem`).
    pub fn endpoint_request<M: prost::Message>(&self, rpc: &str, message_type: &str, message: &M) {
        if !self.is_on() {
            return;
        }
        let (elapsed_ms, step_ms) = self.times();
        tracing::info!(
            target: "music_gateway::execution",
            requestId = %self.request_id,
            step = "endpoint request",
            elapsed_ms,
            step_ms,
            rpc,
            body = %body_text(message_json(&self.log.messages, message_type, message).as_bytes(), self.log.max_body),
            "Endpoint request: {rpc}"
        );
    }

    /// The service's answer: the message, or the status it failed with.
    pub fn endpoint_response<M: prost::Message>(
        &self,
        message_type: &str,
        answer: &Result<tonic::Response<M>, Status>,
    ) {
        if !self.is_on() {
            return;
        }
        let (elapsed_ms, step_ms) = self.times();
        let (code, body) = match answer {
            Ok(response) => (
                "OK".to_owned(),
                message_json(&self.log.messages, message_type, response.get_ref()),
            ),
            Err(status) => (format!("{:?}", status.code()), status_json(status)),
        };
        tracing::info!(
            target: "music_gateway::execution",
            requestId = %self.request_id,
            step = "endpoint response",
            elapsed_ms,
            step_ms,
            integrationLatency_ms = step_ms,
            code = %code,
            body = %body_text(body.as_bytes(), self.log.max_body),
            "Endpoint response: {code}"
        );
    }

    /// The method response: what the client is sent.
    pub fn method_response(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) {
        if !self.is_on() {
            return;
        }
        let (elapsed_ms, step_ms) = self.times();
        tracing::info!(
            target: "music_gateway::execution",
            requestId = %self.request_id,
            step = "method response",
            elapsed_ms,
            step_ms,
            status = status.as_u16(),
            headers = %headers_text(headers),
            body = %body_text(body, self.log.max_body),
            "Method completed with status: {}", status.as_u16()
        );
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use music_api::pb;

    use super::*;

    #[test]
    fn credentials_are_redacted_and_bodies_cut() {
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", HeaderValue::from_static("secret-key-value"));
        headers.insert("authorization", HeaderValue::from_static("Bearer secret"));
        headers.insert("table", HeaderValue::from_static("Music"));
        let text = headers_text(&headers);
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains("table=Music"), "{text}");
        assert_eq!(body_text(b"short", 10), "short");
        let cut = body_text("ééé".as_bytes(), 3);
        assert!(cut.starts_with("é [TRUNCATED: 2 of 6"), "{cut}");
    }

    #[test]
    fn messages_are_written_as_proto3_json() {
        let message = pb::PutItemRequest {
            table_name: "Music".into(),
            song: Some(pb::Song {
                artist: "No One You Know".into(),
                song_title: "Call Me Today".into(),
                album_title: Some("Somewhat Famous".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let pool = crate::rest::Descriptors::load(&[]).unwrap();
        let json: serde_json::Value = serde_json::from_str(&message_json(
            pool.pool(),
            "music.v1.PutItemRequest",
            &message,
        ))
        .unwrap();
        assert_eq!(json["tableName"], "Music");
        assert_eq!(json["song"]["songTitle"], "Call Me Today");
    }
}
