//! `Grpc-Metadata-*` request headers as gRPC metadata, as grpc-gateway
//! forwards them (`Grpc-Metadata-Tenant: a` arrives as `tenant: a`; a `-bin`
//! key's value is base64 and is sent as bytes).
//!
//! Bounded, because one shared connection carries every client's calls to the
//! service: a client that could forward large or many values could make that
//! connection fail for the others (the HTTP/2 header list limit), so at most
//! [`MAX_ENTRIES`] entries of at most [`MAX_VALUE_BYTES`] each and
//! [`MAX_TOTAL_BYTES`] in all are forwarded; others are skipped. Keys that
//! gRPC or the gateway own (`grpc-*`, the request id, the trace context) and
//! HTTP's connection-level headers are never forwarded.

use base64::Engine as _;
use http::HeaderMap;
use music_api::wire;
use tonic::metadata::{
    AsciiMetadataKey, AsciiMetadataValue, BinaryMetadataKey, BinaryMetadataValue, MetadataMap,
};

/// The header prefix of forwarded metadata.
pub const PREFIX: &str = "grpc-metadata-";
/// Most entries forwarded from one request.
pub const MAX_ENTRIES: usize = 16;
/// Longest value forwarded (after base64 decoding for `-bin` keys).
pub const MAX_VALUE_BYTES: usize = 256;
/// Longest key forwarded.
pub const MAX_KEY_BYTES: usize = 64;
/// Most bytes (keys and values) forwarded from one request.
pub const MAX_TOTAL_BYTES: usize = 2048;

/// Keys never forwarded: the ones the gateway sets itself, and HTTP's
/// connection-level (hop-by-hop) and framing headers.
const RESERVED: [&str; 12] = [
    wire::REQUEST_ID,
    wire::TRACEPARENT,
    "tracestate",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "host",
    "content-type",
    "content-length",
];

/// Adds the request's forwardable `Grpc-Metadata-*` headers to `metadata`;
/// returns how many were skipped.
pub fn forward(headers: &HeaderMap, metadata: &mut MetadataMap) -> usize {
    let mut forwarded = 0;
    let mut total = 0;
    let mut skipped = 0;
    for (name, value) in headers {
        let Some(key) = name.as_str().strip_prefix(PREFIX) else {
            continue;
        };
        let size = key.len() + value.len();
        let accepted = forwarded < MAX_ENTRIES
            && total + size <= MAX_TOTAL_BYTES
            && !key.is_empty()
            && key.len() <= MAX_KEY_BYTES
            && !key.starts_with("grpc-")
            && !RESERVED.contains(&key)
            && add(key, value.as_bytes(), metadata);
        if accepted {
            forwarded += 1;
            total += size;
        } else {
            skipped += 1;
        }
    }
    skipped
}

/// Adds one entry when its key and value are valid gRPC metadata.
fn add(key: &str, value: &[u8], metadata: &mut MetadataMap) -> bool {
    if key.ends_with("-bin") {
        let engine = base64::engine::general_purpose::STANDARD_NO_PAD;
        let text = value
            .strip_suffix(b"==")
            .or_else(|| value.strip_suffix(b"="));
        let Ok(bytes) = engine.decode(text.unwrap_or(value)) else {
            return false;
        };
        let Ok(key) = BinaryMetadataKey::from_bytes(key.as_bytes()) else {
            return false;
        };
        if bytes.len() > MAX_VALUE_BYTES {
            return false;
        }
        metadata.append_bin(key, BinaryMetadataValue::from_bytes(&bytes));
        return true;
    }
    if value.len() > MAX_VALUE_BYTES || !value.iter().all(|b| (0x20..0x7f).contains(b)) {
        return false;
    }
    let (Ok(key), Ok(value)) = (
        AsciiMetadataKey::from_bytes(key.as_bytes()),
        AsciiMetadataValue::try_from(value),
    ) else {
        return false;
    };
    metadata.append(key, value);
    true
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn forwarded(headers: &[(&str, &[u8])]) -> (MetadataMap, usize) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        let mut metadata = MetadataMap::new();
        let skipped = forward(&map, &mut metadata);
        (metadata, skipped)
    }

    #[test]
    fn prefixed_headers_become_metadata() {
        let (metadata, skipped) = forwarded(&[
            ("grpc-metadata-tenant", b"acme"),
            ("grpc-metadata-trace-bin", b"AAEC"),
            ("x-other", b"not forwarded"),
        ]);
        assert_eq!(skipped, 0);
        assert_eq!(metadata.get("tenant").unwrap(), "acme");
        assert_eq!(
            metadata
                .get_bin("trace-bin")
                .unwrap()
                .to_bytes()
                .unwrap()
                .as_ref(),
            [0, 1, 2]
        );
        assert!(metadata.get("x-other").is_none());
    }

    #[test]
    fn reserved_invalid_and_oversized_entries_are_skipped() {
        let long = vec![b'a'; MAX_VALUE_BYTES + 1];
        let (metadata, skipped) = forwarded(&[
            ("grpc-metadata-grpc-timeout", b"1n"),
            ("grpc-metadata-x-request-id", b"forged"),
            ("grpc-metadata-traceparent", b"forged"),
            ("grpc-metadata-connection", b"close"),
            ("grpc-metadata-big", &long),
            ("grpc-metadata-bad-bin", b"!!!"),
            ("grpc-metadata-", b"empty key"),
            ("grpc-metadata-latin", "R\u{f3}s".as_bytes()),
        ]);
        assert_eq!(skipped, 8);
        assert!(metadata.is_empty(), "{metadata:?}");
    }

    #[test]
    fn the_number_and_size_of_entries_are_bounded() {
        let names: Vec<String> = (0..40).map(|n| format!("grpc-metadata-k{n}")).collect();
        let value = [b'v'; 100];
        let headers: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &value[..])).collect();
        let (metadata, skipped) = forwarded(&headers);
        assert_eq!(metadata.len(), MAX_ENTRIES);
        assert_eq!(skipped, 40 - MAX_ENTRIES);
        let (metadata, _) = forwarded(&[
            ("grpc-metadata-a", &[b'x'; 250]),
            ("grpc-metadata-b", &[b'x'; 250]),
            ("grpc-metadata-c", &[b'x'; 250]),
            ("grpc-metadata-d", &[b'x'; 250]),
            ("grpc-metadata-e", &[b'x'; 250]),
            ("grpc-metadata-f", &[b'x'; 250]),
            ("grpc-metadata-g", &[b'x'; 250]),
            ("grpc-metadata-h", &[b'x'; 250]),
            ("grpc-metadata-i", &[b'x'; 250]),
        ]);
        let total: usize = metadata
            .iter()
            .map(|entry| match entry {
                tonic::metadata::KeyAndValueRef::Ascii(k, v) => k.as_str().len() + v.len(),
                tonic::metadata::KeyAndValueRef::Binary(k, v) => {
                    k.as_str().len() + v.as_encoded_bytes().len()
                }
            })
            .sum();
        assert!(total <= MAX_TOTAL_BYTES, "{total}");
        assert_eq!(metadata.len(), 8);
    }
}
