//! The wire vocabulary both programs (and their tests and the bench) share:
//! gRPC metadata keys and the rules for their values, and the
//! `google.rpc.ErrorInfo` domains, reasons and metadata keys the service
//! answers with. One definition, never a copy per crate.
//!
//! Dependency-free, so that the fuzz targets compile this very file.

use std::time::Duration;

/// The metadata key (and HTTP header) that carries a request id.
pub const REQUEST_ID: &str = "x-request-id";
/// The metadata key (and HTTP header) of the W3C trace context.
pub const TRACEPARENT: &str = "traceparent";
/// The metadata key of a caller's time budget.
pub const GRPC_TIMEOUT: &str = "grpc-timeout";

/// `ErrorInfo.domain` of errors DynamoDB answered, or would have (the
/// service's input checks use DynamoDB's own wording and reason).
pub const DYNAMODB_DOMAIN: &str = "dynamodb";
/// `ErrorInfo.domain` of the service's own conditions.
pub const SERVICE_DOMAIN: &str = "music.v1";
/// `ErrorInfo.metadata` key naming the DynamoDB operation (`GetItem`).
pub const OPERATION: &str = "operation";
/// `ErrorInfo.reason` of GetItem on a key with no item.
pub const ITEM_NOT_FOUND: &str = "ITEM_NOT_FOUND";
/// `ErrorInfo.reason` of a call shed because the service is full.
pub const OVERLOADED: &str = "OVERLOADED";
/// `ErrorInfo.reason` of a call whose caller's deadline passed.
pub const DEADLINE_EXCEEDED: &str = "DEADLINE_EXCEEDED";

/// The longest request id accepted, as API Gateway and Envoy bound theirs.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Whether `id` may be used as a request id: 1 to [`MAX_REQUEST_ID_LEN`]
/// visible ASCII characters (no blanks, no control bytes). Anything else is
/// replaced by a fresh id, never echoed, logged or forwarded, so that no client
/// can make a log line or another hop's metadata grow without bound.
pub fn is_valid_request_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len()) && id.iter().all(u8::is_ascii_graphic)
}

/// The caller's time budget from `grpc-timeout` (`<up to 8 digits><H|M|S|m|u|n>`).
pub fn grpc_timeout(value: &str) -> Option<Duration> {
    // ASCII only: the split below is by bytes.
    if !value.is_ascii() {
        return None;
    }
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_short_visible_ascii() {
        assert!(is_valid_request_id(b"req-1"));
        assert!(is_valid_request_id("a".repeat(128).as_bytes()));
        let too_long = "a".repeat(129);
        for bad in [
            "".as_bytes(),
            too_long.as_bytes(),
            b"with space",
            b"tab\there",
            b"nl\n",
            "Sigur R\u{f3}s".as_bytes(),
            b"\x7f",
        ] {
            assert!(!is_valid_request_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn grpc_timeouts_are_read_in_every_unit() {
        assert_eq!(grpc_timeout("29S"), Some(Duration::from_secs(29)));
        assert_eq!(grpc_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(grpc_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(grpc_timeout("1M"), Some(Duration::from_secs(60)));
        assert_eq!(grpc_timeout("5u"), Some(Duration::from_micros(5)));
        assert_eq!(grpc_timeout("7n"), Some(Duration::from_nanos(7)));
        for bad in [
            "",
            "S",
            "100",
            "123456789S",
            "1.5S",
            "10x",
            "-1S",
            "1é",
            "é",
        ] {
            assert_eq!(grpc_timeout(bad), None, "{bad:?}");
        }
    }
}
