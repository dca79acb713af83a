//! Reading a request body, the same for every route: at most
//! [`MAX_BODY_BYTES`], within music-runtime's body read timeout and byte
//! budgets, and only when it is not encoded (the gateway decodes no
//! `Content-Encoding`). Each refusal is a [`BodyRefusal`] naming the problem,
//! which the tutorial's routes answer as an [`ApiError`].

use std::time::Duration;

use http::{StatusCode, header};
use music_runtime::limits::BodyError;

use crate::{error::ApiError, request::bounded};

/// Largest request body read. The largest valid item is 400 KB; JSON quoting
/// and the other parameters fit well within 1 MiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Retry delay suggested with a refusal for a full byte budget.
const BUDGET_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Why a body was not read: the answer's status, what to tell the client,
/// and when to retry. Each route family words it its own way (the tutorial's
/// routes as a JSON string, `/v1` as a `google.rpc.Status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyRefusal {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl From<BodyRefusal> for ApiError {
    fn from(refusal: BodyRefusal) -> Self {
        ApiError::text(refusal.status, &refusal.message).retry_after(refusal.retry_after)
    }
}

/// Reads a request body of at most [`MAX_BODY_BYTES`]: a declared length
/// over the limit is refused before reading, a body that stops arriving
/// (music-runtime's body read timeout) is 408, one over the connection's or the
/// server's byte budget 503, an encoded one 415, a malformed one 400.
pub async fn read_body(
    headers: &http::HeaderMap,
    body: axum::body::Body,
) -> Result<axum::body::Bytes, ApiError> {
    read(headers, body).await.map_err(ApiError::from)
}

/// [`read_body`], with the refusal as a [`BodyRefusal`].
pub async fn read(
    headers: &http::HeaderMap,
    body: axum::body::Body,
) -> Result<axum::body::Bytes, BodyRefusal> {
    let refuse = |status, message: String| BodyRefusal {
        status,
        message,
        retry_after: None,
    };
    let too_large = || {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The request body is larger than {MAX_BODY_BYTES} bytes."),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(error) => {
            if cause::<http_body_util::LengthLimitError>(&error).is_some() {
                return Err(too_large());
            }
            return Err(match cause::<BodyError>(&error) {
                Some(BodyError::TimedOut { limit }) => refuse(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "The request body did not arrive within {} s.",
                        limit.as_secs_f64()
                    ),
                ),
                Some(over @ BodyError::OverBudget { .. }) => BodyRefusal {
                    retry_after: Some(BUDGET_RETRY_DELAY),
                    ..refuse(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!("The gateway is busy: {over}."),
                    )
                },
                Some(BodyError::Read(_)) | None => refuse(
                    StatusCode::BAD_REQUEST,
                    format!("The request body could not be read: {error}."),
                ),
            });
        }
    };
    if let Some(encoding) = unreadable_encoding(headers)
        && !bytes.is_empty()
    {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "The request body is encoded with {}, which the gateway does not decode; send it unencoded.",
                bounded(encoding)
            ),
        ));
    }
    Ok(bytes)
}

/// The request's `Content-Encoding` when it names anything but `identity`:
/// the parameters in such a body cannot be read.
fn unreadable_encoding(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .map(|value| value.to_str().unwrap_or("(not text)"))
        .find(|value| {
            value
                .split(',')
                .map(str::trim)
                .any(|coding| !coding.is_empty() && !coding.eq_ignore_ascii_case("identity"))
        })
}

/// The first cause of type `T` in an error's source chain.
fn cause<'e, T: std::error::Error + 'static>(
    error: &'e (dyn std::error::Error + 'static),
) -> Option<&'e T> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<T>() {
            return Some(found);
        }
        next = error.source();
    }
    None
}
