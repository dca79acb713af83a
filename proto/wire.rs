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

/// `budget` as a `grpc-timeout` value: the finest unit in which it takes at
/// most 8 digits, as tonic and grpc-go write it (29 s is `29000000u`). A
/// budget is counted in u64 nanoseconds, so one past 584 years is written
/// as 2^64 − 1 ns in hours (`5124095H`).
///
/// Written into a buffer on the stack: tonic's `Request::set_timeout` goes
/// through `format!`, for every call the gateway makes.
pub fn write_grpc_timeout(budget: Duration, out: &mut [u8; 9]) -> &[u8] {
    const MAX: u64 = 99_999_999;
    let nanos = u64::try_from(budget.as_nanos()).unwrap_or(u64::MAX);
    let (mut amount, unit) = [
        (1, b'n'),
        (1_000, b'u'),
        (1_000_000, b'm'),
        (1_000_000_000, b'S'),
        (60_000_000_000, b'M'),
        (3_600_000_000_000, b'H'),
    ]
    .into_iter()
    .map(|(nanos_per_unit, unit)| (nanos / nanos_per_unit, unit))
    .find(|&(amount, _)| amount <= MAX)
    .expect("u64::MAX nanoseconds are 5,124,095 hours, under 8 digits");
    out[8] = unit;
    let mut start = 8;
    loop {
        start -= 1;
        out[start] = b'0' + (amount % 10) as u8;
        amount /= 10;
        if amount == 0 {
            break;
        }
    }
    &out[start..]
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
    fn grpc_timeouts_are_written_in_the_finest_unit_of_eight_digits() {
        let written = |budget| {
            let mut out = [0; 9];
            String::from_utf8(write_grpc_timeout(budget, &mut out).to_vec()).unwrap()
        };
        for (budget, text) in [
            (Duration::ZERO, "0n"),
            (Duration::from_nanos(7), "7n"),
            (Duration::from_nanos(99_999_999), "99999999n"),
            (Duration::from_millis(100), "100000u"),
            (Duration::from_secs(29), "29000000u"),
            (Duration::from_secs(100), "100000m"),
            (Duration::from_secs(100_000), "100000S"),
            (Duration::from_secs(100_000_000), "1666666M"),
            (Duration::from_secs(6_000_000_000), "1666666H"),
            (Duration::MAX, "5124095H"),
        ] {
            assert_eq!(written(budget), text, "{budget:?}");
            // What the reader makes of it: the budget, cut to the unit.
            assert!(grpc_timeout(&written(budget)).is_some_and(|read| read <= budget));
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
