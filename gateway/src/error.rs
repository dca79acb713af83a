//! The gateway's one error type, [`ApiError`] (a status, a JSON body, a
//! retry delay, an `Allow` list; `IntoResponse` without side effects), its one
//! gRPC → HTTP mapping (grpc-gateway v2's table), and the tutorial's error
//! texts rebuilt from a status's `google.rpc.ErrorInfo`.

use std::{borrow::Cow, time::Duration};

use axum::response::{IntoResponse, Response};
use clap::ValueEnum;
use http::{HeaderValue, StatusCode, header};
use music_api::wire::{DYNAMODB_DOMAIN, ITEM_NOT_FOUND, OPERATION};
use serde::Serialize;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// An answer the gateway makes instead of the one asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// JSON, as the tutorial's Lambdas write it (`crate::pyjson`).
    pub body: String,
    /// `Retry-After`, for answers worth retrying later.
    pub retry_after: Option<Duration>,
    /// `Allow`, for 405.
    pub allow: Option<Cow<'static, str>>,
}

#[derive(Serialize)]
struct Message<'a> {
    message: &'a str,
}

impl ApiError {
    /// A JSON string body (`"KeyError exception happened…"`), as the
    /// tutorial's Lambda functions answer.
    pub fn text(status: StatusCode, text: &str) -> Self {
        Self::with_body(status, crate::pyjson::dumps(text))
    }

    /// A `{"message": "…"}` body, as the gateway's own refusals (404, 405) answer.
    pub fn message(status: StatusCode, text: &str) -> Self {
        Self::with_body(status, crate::pyjson::dumps(&Message { message: text }))
    }

    /// Any JSON body (the `/v1` routes' `google.rpc.Status`).
    pub fn json(status: StatusCode, body: String) -> Self {
        Self::with_body(status, body)
    }

    fn with_body(status: StatusCode, body: String) -> Self {
        Self {
            status,
            body,
            retry_after: None,
            allow: None,
        }
    }

    pub fn retry_after(mut self, delay: Option<Duration>) -> Self {
        self.retry_after = delay;
        self
    }

    pub fn allow(mut self, methods: impl Into<Cow<'static, str>>) -> Self {
        self.allow = Some(methods.into());
        self
    }

    /// A failed call to the service, as a tutorial route answers it: DynamoDB's
    /// refusals keep botocore's text (`An error occurred (Code) when calling
    /// the Op operation: message`) with 500 in seed mode or the accurate status
    /// in http mode; other failures (upstream unreachable, deadlines) get their
    /// accurate status and the status message in either mode.
    pub fn from_call(status: &Status, mode: ErrorMode) -> Self {
        let failure = failure(status, mode);
        Self::text(failure.status, &failure.message).retry_after(failure.retry_after)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body,
        )
            .into_response();
        if let Some(delay) = self.retry_after {
            let seconds = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        if let Some(value) = self.allow.and_then(|m| HeaderValue::from_str(&m).ok()) {
            response.headers_mut().insert(header::ALLOW, value);
        }
        response
    }
}

/// How the tutorial's routes answer when DynamoDB refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ErrorMode {
    /// As the tutorial's Lambda functions: 500 with botocore's text.
    Seed,
    /// The accurate HTTP status (404, 409, 400, 429, 503, 504…) with the same text.
    Http,
}

/// grpc-gateway v2's mapping. Exhaustive, so a new code must be placed here.
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Cancelled => StatusCode::from_u16(499).expect("499 is a valid status code"),
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
    }
}

/// The HTTP status of a failed call. tonic reports its own client-side
/// timeout as CANCELLED "Timeout expired": that is a spent deadline, 504.
/// A connection the service refused or dropped (a TLS handshake it rejected,
/// a reset) surfaces as CANCELLED or UNKNOWN with a transport error as its
/// source: the service is unavailable to us, 503, not a client's 499.
pub fn status_of(status: &Status) -> StatusCode {
    if is_client_timeout(status) {
        StatusCode::GATEWAY_TIMEOUT
    } else if is_transport_failure(status) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        http_status(status.code())
    }
}

/// A status made by the client side from a broken connection rather than
/// sent by the service (which always attaches ErrorInfo to its failures).
fn is_transport_failure(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Cancelled | Code::Unknown | Code::Unavailable
    ) && std::error::Error::source(status).is_some()
        && status.get_details_error_info().is_none()
}

fn is_client_timeout(status: &Status) -> bool {
    status.code() == Code::Cancelled && status.message().contains("Timeout expired")
}

/// A failure as a tutorial route answers it, before it becomes an [`ApiError`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    status: StatusCode,
    message: String,
    retry_after: Option<Duration>,
}

/// See [`ApiError::from_call`].
fn failure(status: &Status, mode: ErrorMode) -> Failure {
    let retry_after = status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay)
        .filter(|_| status.code() == Code::ResourceExhausted);
    if let Some(info) = status.get_details_error_info()
        && info.domain == DYNAMODB_DOMAIN
    {
        let operation = info
            .metadata
            .get(OPERATION)
            .map_or("unknown", String::as_str);
        return Failure {
            status: match mode {
                ErrorMode::Seed => StatusCode::INTERNAL_SERVER_ERROR,
                ErrorMode::Http => status_of(status),
            },
            message: format!(
                "An error occurred ({}) when calling the {operation} operation: {}",
                info.reason,
                status.message()
            ),
            retry_after: retry_after.filter(|_| mode == ErrorMode::Http),
        };
    }
    let message = if is_client_timeout(status) {
        "The music service did not answer within the gateway's time budget.".to_owned()
    } else if is_transport_failure(status)
        || (status.code() == Code::Unavailable && status.get_details_error_info().is_none())
    {
        // A transport failure (tonic's own text, e.g. "tcp connect error").
        format!(
            "The music service is unavailable ({}); try again shortly.",
            status.message()
        )
    } else if status.message().is_empty() {
        format!("The music service failed: {:?}", status.code())
    } else {
        status.message().to_owned()
    };
    Failure {
        status: status_of(status),
        message,
        retry_after,
    }
}

/// True for GetItem's "no such item" (as opposed to "no such table").
pub fn is_item_not_found(status: &Status) -> bool {
    status.code() == Code::NotFound
        && status
            .get_details_error_info()
            .is_some_and(|info| info.reason == ITEM_NOT_FOUND)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tonic_types::ErrorDetails;

    use super::*;

    fn dynamodb_status(code: Code, reason: &str, operation: &str) -> Status {
        let mut details = ErrorDetails::with_error_info(
            reason,
            DYNAMODB_DOMAIN,
            HashMap::from([("operation".to_owned(), operation.to_owned())]),
        );
        if code == Code::ResourceExhausted {
            details.set_retry_info(Some(Duration::from_secs(1)));
        }
        Status::with_error_details(code, "Requested resource not found", details)
    }

    #[test]
    fn grpc_gateway_table() {
        let expected = [
            (Code::Ok, 200),
            (Code::InvalidArgument, 400),
            (Code::FailedPrecondition, 400),
            (Code::OutOfRange, 400),
            (Code::Unauthenticated, 401),
            (Code::PermissionDenied, 403),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::Aborted, 409),
            (Code::ResourceExhausted, 429),
            (Code::Cancelled, 499),
            (Code::Unknown, 500),
            (Code::Internal, 500),
            (Code::DataLoss, 500),
            (Code::Unimplemented, 501),
            (Code::Unavailable, 503),
            (Code::DeadlineExceeded, 504),
        ];
        for (code, http) in expected {
            assert_eq!(http_status(code).as_u16(), http, "{code:?}");
        }
        assert_eq!(
            status_of(&Status::cancelled("Timeout expired")).as_u16(),
            504
        );
        assert_eq!(
            status_of(&Status::cancelled("client went away")).as_u16(),
            499
        );
    }

    #[test]
    fn seed_mode_rebuilds_botocore_text_with_500() {
        let status = dynamodb_status(Code::NotFound, "ResourceNotFoundException", "GetItem");
        let failure = failure(&status, ErrorMode::Seed);
        assert_eq!(failure.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            failure.message,
            "An error occurred (ResourceNotFoundException) when calling the GetItem operation: Requested resource not found"
        );
    }

    #[test]
    fn http_mode_keeps_the_text_with_the_accurate_status() {
        let status = dynamodb_status(Code::NotFound, "ResourceNotFoundException", "GetItem");
        assert_eq!(
            failure(&status, ErrorMode::Http).status,
            StatusCode::NOT_FOUND
        );
        let throttled = dynamodb_status(Code::ResourceExhausted, "ThrottlingException", "PutItem");
        let f = failure(&throttled, ErrorMode::Http);
        assert_eq!(
            (f.status.as_u16(), f.retry_after),
            (429, Some(Duration::from_secs(1)))
        );
        assert_eq!(failure(&throttled, ErrorMode::Seed).retry_after, None);
    }

    #[test]
    fn broken_connections_are_503_not_a_clients_499() {
        let mut cancelled = Status::cancelled("operation was canceled");
        cancelled.set_source(std::sync::Arc::new(std::io::Error::other(
            "connection closed",
        )));
        assert_eq!(status_of(&cancelled).as_u16(), 503);
        let unknown = Status::from_error(Box::new(std::io::Error::other("broken pipe")));
        assert_eq!(status_of(&unknown).as_u16(), 503);
        let f = failure(&cancelled, ErrorMode::Seed);
        assert_eq!(f.status.as_u16(), 503);
        assert!(
            f.message.starts_with("The music service is unavailable"),
            "{}",
            f.message
        );
        // Without a transport source, CANCELLED keeps grpc-gateway's 499.
        assert_eq!(
            status_of(&Status::cancelled("caller went away")).as_u16(),
            499
        );
    }

    #[test]
    fn failures_without_dynamodb_details_keep_their_status() {
        let f = failure(&Status::unavailable("tcp connect error"), ErrorMode::Seed);
        assert_eq!(
            (f.status.as_u16(), f.message.as_str()),
            (
                503,
                "The music service is unavailable (tcp connect error); try again shortly."
            )
        );
    }

    #[test]
    fn missing_items_are_told_from_missing_tables() {
        let item = Status::with_error_details(
            Code::NotFound,
            "Item not found",
            ErrorDetails::with_error_info(ITEM_NOT_FOUND, "music.v1", HashMap::new()),
        );
        assert!(is_item_not_found(&item));
        assert!(!is_item_not_found(&dynamodb_status(
            Code::NotFound,
            "ResourceNotFoundException",
            "GetItem"
        )));
    }

    mod properties {
        use std::{collections::HashMap, sync::Arc, time::Duration};

        use proptest::prelude::*;
        use tonic::{Code, Status, codegen::Bytes};
        use tonic_types::{ErrorDetails, StatusExt};

        use super::super::{
            DYNAMODB_DOMAIN, ErrorMode, ITEM_NOT_FOUND, failure, http_status, is_item_not_found,
            status_of,
        };

        /// Every status grpc-gateway's table can give.
        const STATUSES: [u16; 12] = [200, 400, 401, 403, 404, 409, 429, 499, 500, 501, 503, 504];

        /// The seventeen codes, and any other number (tonic reads those as UNKNOWN).
        fn code() -> impl Strategy<Value = Code> {
            prop_oneof![
                (0..=16i32).prop_map(Code::from_i32),
                any::<i32>().prop_map(Code::from_i32),
            ]
        }

        /// What a failed call's status may carry as details.
        #[derive(Debug, Clone)]
        enum Details {
            None,
            ErrorInfo {
                reason: String,
                domain: String,
                operation: Option<String>,
                retry: Option<Duration>,
            },
            /// Bytes that may or may not decode as a `google.rpc.Status`.
            Garbage(Vec<u8>),
        }

        fn details() -> impl Strategy<Value = Details> {
            let domain = prop_oneof![
                Just(DYNAMODB_DOMAIN.to_owned()),
                Just("music.v1".to_owned()),
                any::<String>(),
            ];
            let reason = prop_oneof![
                Just(ITEM_NOT_FOUND.to_owned()),
                Just("ResourceNotFoundException".to_owned()),
                any::<String>(),
            ];
            let retry = proptest::option::of(
                (any::<u64>(), 0..1_000_000_000u32).prop_map(|(s, n)| Duration::new(s, n)),
            );
            prop_oneof![
                Just(Details::None),
                (reason, domain, proptest::option::of(any::<String>()), retry).prop_map(
                    |(reason, domain, operation, retry)| Details::ErrorInfo {
                        reason,
                        domain,
                        operation,
                        retry,
                    }
                ),
                prop::collection::vec(any::<u8>(), 0..64).prop_map(Details::Garbage),
            ]
        }

        /// Any status a call can fail with, some with a transport error as source.
        fn status() -> impl Strategy<Value = Status> {
            let message = prop_oneof![Just("Timeout expired".to_owned()), any::<String>()];
            (code(), message, details(), any::<bool>()).prop_map(
                |(code, message, details, with_source)| {
                    let mut status = match details {
                        Details::None => Status::new(code, message),
                        Details::ErrorInfo {
                            reason,
                            domain,
                            operation,
                            retry,
                        } => {
                            let metadata = operation
                                .map(|op| HashMap::from([("operation".to_owned(), op)]))
                                .unwrap_or_default();
                            let mut details =
                                ErrorDetails::with_error_info(reason, domain, metadata);
                            details.set_retry_info(retry);
                            Status::with_error_details(code, message, details)
                        }
                        Details::Garbage(bytes) => {
                            Status::with_details(code, message, Bytes::from(bytes))
                        }
                    };
                    if with_source {
                        status.set_source(Arc::new(std::io::Error::other("connection reset")));
                    }
                    status
                },
            )
        }

        proptest! {
            #[test]
            fn http_status_is_total_over_every_code(code in code()) {
                prop_assert!(STATUSES.contains(&http_status(code).as_u16()), "{code:?}");
            }

            #[test]
            fn status_of_never_panics_and_stays_in_the_table(status in status()) {
                let http = status_of(&status).as_u16();
                prop_assert!(STATUSES.contains(&http), "{status:?}");
                if status.code() == Code::Cancelled && status.message().contains("Timeout expired") {
                    prop_assert_eq!(http, 504);
                }
            }

            #[test]
            fn seed_mode_is_500_with_botocores_text_exactly_for_dynamodb_errors(status in status()) {
                let seed = failure(&status, ErrorMode::Seed);
                let http = failure(&status, ErrorMode::Http);
                prop_assert!(!seed.message.is_empty());
                let info = status
                    .get_details_error_info()
                    .filter(|info| info.domain == DYNAMODB_DOMAIN);
                match info {
                    Some(info) => {
                        prop_assert_eq!(seed.status.as_u16(), 500);
                        prop_assert_eq!(seed.retry_after, None);
                        let operation = info
                            .metadata
                            .get("operation")
                            .map_or("unknown", String::as_str);
                        prop_assert_eq!(
                            &seed.message,
                            &format!(
                                "An error occurred ({}) when calling the {operation} operation: {}",
                                info.reason,
                                status.message()
                            )
                        );
                        prop_assert_eq!(&http.message, &seed.message);
                        prop_assert_eq!(http.status, status_of(&status));
                    }
                    None => {
                        // Not DynamoDB's refusal: the accurate status in either mode.
                        prop_assert_eq!(&seed, &http);
                        prop_assert_eq!(seed.status, status_of(&status));
                    }
                }
            }

            #[test]
            fn retry_after_is_only_given_to_throttled_calls(status in status()) {
                let retry = status.get_details_retry_info().and_then(|info| info.retry_delay);
                let http = failure(&status, ErrorMode::Http);
                if status.code() == Code::ResourceExhausted {
                    prop_assert_eq!(http.retry_after, retry);
                } else {
                    prop_assert_eq!(http.retry_after, None);
                }
            }

            #[test]
            fn only_item_not_found_reads_as_a_missing_item(status in status()) {
                let expected = status.code() == Code::NotFound
                    && status
                        .get_details_error_info()
                        .is_some_and(|info| info.reason == ITEM_NOT_FOUND);
                prop_assert_eq!(is_item_not_found(&status), expected);
            }
        }
    }
}
