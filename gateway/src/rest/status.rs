//! `/v1`'s error answers: a `google.rpc.Status` in proto3 JSON
//! (`{"code": 5, "message": "…", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", …}]}`),
//! its details decoded from the gRPC status with the google.rpc descriptors,
//! with the HTTP status of grpc-gateway's table (`error::status_of`), 412 for
//! a precondition that came as `If-Match`, and `Retry-After` from a
//! `RetryInfo`.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use prost_reflect::{DynamicMessage, MessageDescriptor, SerializeOptions, Value};
use serde::Serialize;
use tonic::Code;
use tonic_types::StatusExt;

use crate::error::{self, ApiError};

/// A `/v1` request's failure, before it becomes an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub http: StatusCode,
    pub code: Code,
    pub message: String,
    /// Each detail, as proto3 JSON (an `Any`: `@type` and the fields).
    pub details: Vec<serde_json::Value>,
    pub retry_after: Option<Duration>,
    /// `Allow`, for 405.
    pub allow: Option<String>,
}

#[derive(Serialize)]
struct StatusJson<'a> {
    code: i32,
    message: &'a str,
    details: &'a [serde_json::Value],
}

/// How a failed call's precondition was asked for, which decides between
/// 409 and 412 for an etag mismatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Preconditions {
    /// The etag came as `If-Match`.
    pub if_match: bool,
}

impl Failure {
    /// The gateway's own refusal, with the code's HTTP status.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            http: error::http_status(code),
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
            allow: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidArgument, message)
    }

    /// The same failure with another HTTP status.
    pub fn with_http(mut self, http: StatusCode) -> Self {
        self.http = http;
        self
    }

    /// A failed call to the service. Transport failures and the gateway's own
    /// deadline keep the statuses `error::status_of` gives them (503, 504),
    /// with the code that says so.
    pub fn from_call(
        status: &tonic::Status,
        status_type: &MessageDescriptor,
        preconditions: Preconditions,
    ) -> Self {
        let http = error::status_of(status);
        let (code, message) = match (status.code(), http) {
            (Code::Cancelled, StatusCode::GATEWAY_TIMEOUT) => (
                Code::DeadlineExceeded,
                "The music service did not answer within the gateway's time budget.".to_owned(),
            ),
            (code, StatusCode::SERVICE_UNAVAILABLE) if code != Code::Unavailable => (
                Code::Unavailable,
                format!(
                    "The music service is unavailable ({}); try again shortly.",
                    status.message()
                ),
            ),
            (code, _) => (code, status.message().to_owned()),
        };
        let http = if code == Code::Aborted && preconditions.if_match {
            // The precondition was HTTP's: its failure is HTTP's 412.
            StatusCode::PRECONDITION_FAILED
        } else {
            http
        };
        let retry_after = status
            .get_details_retry_info()
            .and_then(|info| info.retry_delay)
            .filter(|_| {
                matches!(
                    http,
                    StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
                )
            });
        Self {
            http,
            code,
            message,
            details: details(status.details(), status_type),
            retry_after,
            allow: None,
        }
    }

    /// The `google.rpc.Status` JSON.
    pub fn body(&self) -> String {
        serde_json::to_string(&self.json()).expect("a status serializes")
    }

    /// The `google.rpc.Status` JSON, as a value (the NDJSON `error` line holds it).
    pub fn json(&self) -> impl Serialize + '_ {
        StatusJson {
            code: self.code as i32,
            message: &self.message,
            details: &self.details,
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut error = ApiError::json(self.http, self.body()).retry_after(self.retry_after);
        if let Some(allow) = self.allow {
            error = error.allow(allow);
        }
        error.into_response()
    }
}

/// The details of an encoded `google.rpc.Status` (what tonic carries as a
/// status's details), each as proto3 JSON; a detail whose type the pool does
/// not know is left out rather than shown as bytes.
fn details(encoded: &[u8], status_type: &MessageDescriptor) -> Vec<serde_json::Value> {
    if encoded.is_empty() {
        return Vec::new();
    }
    let Ok(status) = DynamicMessage::decode(status_type.clone(), encoded) else {
        return Vec::new();
    };
    let Some(Value::List(details)) = status.get_field_by_name("details").as_deref().cloned() else {
        return Vec::new();
    };
    let options = SerializeOptions::new();
    details
        .iter()
        .filter_map(Value::as_message)
        .filter_map(|any| {
            any.serialize_with_options(serde_json::value::Serializer, &options)
                .ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tonic::Status;
    use tonic_types::ErrorDetails;

    use super::*;
    use crate::rest::Descriptors;

    fn status_type() -> MessageDescriptor {
        Descriptors::load(&[])
            .expect("the built-in descriptors load")
            .status_type()
    }

    #[test]
    fn a_failed_call_keeps_its_code_message_and_error_info() {
        let mut details = ErrorDetails::with_error_info(
            "ResourceNotFoundException",
            "dynamodb",
            HashMap::from([("operation".to_owned(), "GetItem".to_owned())]),
        );
        details.set_retry_info(Some(Duration::from_secs(2)));
        let status =
            Status::with_error_details(Code::NotFound, "Requested resource not found", details);
        let failure = Failure::from_call(&status, &status_type(), Preconditions::default());
        assert_eq!(failure.http, StatusCode::NOT_FOUND);
        assert_eq!(
            failure.retry_after, None,
            "only 429 and 503 say when to retry"
        );
        let json: serde_json::Value = serde_json::from_str(&failure.body()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "code": 5,
                "message": "Requested resource not found",
                "details": [
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2s"},
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "ResourceNotFoundException",
                        "domain": "dynamodb",
                        "metadata": {"operation": "GetItem"}
                    }
                ]
            })
        );
        assert!(failure.body().starts_with(r#"{"code":5,"message":"#));
    }

    #[test]
    fn throttling_says_when_to_retry() {
        let mut details =
            ErrorDetails::with_error_info("ThrottlingException", "dynamodb", HashMap::new());
        details.set_retry_info(Some(Duration::from_millis(1500)));
        let status = Status::with_error_details(Code::ResourceExhausted, "slow down", details);
        let failure = Failure::from_call(&status, &status_type(), Preconditions::default());
        assert_eq!(failure.http, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(failure.retry_after, Some(Duration::from_millis(1500)));
        let response = failure.into_response();
        assert_eq!(response.headers()[http::header::RETRY_AFTER], "2");
    }

    #[test]
    fn an_etag_mismatch_is_412_only_when_it_came_as_if_match() {
        let status = Status::new(Code::Aborted, "The conditional request failed");
        let types = status_type();
        let plain = Failure::from_call(&status, &types, Preconditions::default());
        assert_eq!(plain.http, StatusCode::CONFLICT);
        let http = Failure::from_call(&status, &types, Preconditions { if_match: true });
        assert_eq!(http.http, StatusCode::PRECONDITION_FAILED);
        assert_eq!(http.code, Code::Aborted);
        let exists = Failure::from_call(
            &Status::new(Code::AlreadyExists, "exists"),
            &types,
            Preconditions { if_match: true },
        );
        assert_eq!(exists.http, StatusCode::CONFLICT);
    }

    #[test]
    fn the_gateways_deadline_is_deadline_exceeded() {
        let failure = Failure::from_call(
            &Status::cancelled("Timeout expired"),
            &status_type(),
            Preconditions::default(),
        );
        assert_eq!(
            (failure.http.as_u16(), failure.code),
            (504, Code::DeadlineExceeded)
        );
        assert_eq!(
            failure.body(),
            r#"{"code":4,"message":"The music service did not answer within the gateway's time budget.","details":[]}"#
        );
    }

    #[test]
    fn undecodable_details_are_left_out() {
        let status = Status::with_details(Code::Internal, "boom", vec![1, 2, 3].into());
        let failure = Failure::from_call(&status, &status_type(), Preconditions::default());
        assert_eq!(failure.details, Vec::<serde_json::Value>::new());
        assert_eq!(failure.http, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
