//! Server streams as newline-delimited JSON (`application/x-ndjson`), as
//! grpc-gateway writes them: one `{"result": …}` line per message, and a
//! last `{"error": …}` line (a `google.rpc.Status`) when the stream fails
//! after it began. A stream that fails before its first message is answered
//! as any failed call (the caller learns it from the status line); so the
//! first message is awaited before the answer starts.
//!
//! Messages are read only as the client takes the lines (the body is polled
//! by the connection), and a client that goes away drops the gRPC stream,
//! which cancels it on the service.

use axum::body::Body;
use bytes::Bytes;
use futures_util::stream;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use tonic::Streaming;

use super::{
    json,
    status::{Failure, Preconditions},
};

/// The content type of a streamed answer.
pub const NDJSON: &str = "application/x-ndjson";

fn result_line(message: &DynamicMessage) -> Bytes {
    let mut line = Vec::with_capacity(160);
    line.extend_from_slice(b"{\"result\":");
    line.extend_from_slice(&json::render(message));
    line.extend_from_slice(b"}\n");
    line.into()
}

#[derive(serde::Serialize)]
struct ErrorLine<T> {
    error: T,
}

fn error_line(failure: &Failure) -> Bytes {
    let mut line = serde_json::to_vec(&ErrorLine {
        error: failure.json(),
    })
    .expect("a status serializes");
    line.push(b'\n');
    line.into()
}

/// What the stream held before the answer started.
#[derive(Debug)]
pub enum Start {
    /// The first message, then the rest.
    Began(DynamicMessage, Box<Streaming<DynamicMessage>>),
    /// The stream ended at once: an empty answer.
    Empty,
}

/// Awaits the stream's first message.
pub async fn start(mut messages: Streaming<DynamicMessage>) -> Result<Start, tonic::Status> {
    Ok(match messages.message().await? {
        Some(first) => Start::Began(first, Box::new(messages)),
        None => Start::Empty,
    })
}

/// The NDJSON body of a stream that began with `first`.
pub fn body(
    first: DynamicMessage,
    rest: Box<Streaming<DynamicMessage>>,
    status_type: MessageDescriptor,
) -> Body {
    let lines = stream::unfold((Some(first), Some(rest)), move |(first, rest)| {
        let status_type = status_type.clone();
        async move {
            if let Some(message) = first {
                return Some((
                    Ok::<_, std::convert::Infallible>(result_line(&message)),
                    (None, rest),
                ));
            }
            let mut rest = rest?;
            match rest.message().await {
                Ok(Some(message)) => Some((Ok(result_line(&message)), (None, Some(rest)))),
                Ok(None) => None,
                Err(status) => {
                    let failure =
                        Failure::from_call(&status, &status_type, Preconditions::default());
                    Some((Ok(error_line(&failure)), (None, None)))
                }
            }
        }
    });
    Body::from_stream(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_line_holds_a_status() {
        let failure = Failure::new(tonic::Code::Unavailable, "store went away");
        assert_eq!(
            error_line(&failure),
            Bytes::from_static(
                b"{\"error\":{\"code\":14,\"message\":\"store went away\",\"details\":[]}}\n"
            )
        );
    }
}
