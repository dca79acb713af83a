//! The music-api contract: the `music.v1` protobuf package as generated Rust
//! (messages, clients and servers) and the encoded descriptor set that gRPC
//! reflection serves. Both programs depend on this crate and nothing else of
//! each other.

/// Generated code for the `music.v1` package.
#[allow(
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    clippy::all
)]
pub mod pb {
    tonic::include_proto!("music.v1");
}

/// The encoded `FileDescriptorSet` of `proto/`, for tonic-reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/music_descriptor.bin"));

/// The wire vocabulary both programs share: metadata keys and the rules for
/// their values. One definition, never a copy per crate.
pub mod wire {
    /// The metadata key (and HTTP header) that carries a request id.
    pub const REQUEST_ID: &str = "x-request-id";
    /// The metadata key (and HTTP header) of the W3C trace context.
    pub const TRACEPARENT: &str = "traceparent";

    /// The longest request id accepted, as API Gateway and Envoy bound theirs.
    pub const MAX_REQUEST_ID_LEN: usize = 128;

    /// Whether `id` may be used as a request id: 1 to [`MAX_REQUEST_ID_LEN`]
    /// visible ASCII characters (no blanks, no control bytes). Anything else
    /// is replaced by a fresh id, never echoed, logged or forwarded, so that no
    /// client can make a log line or another hop's metadata grow without bound.
    pub fn is_valid_request_id(id: &[u8]) -> bool {
        (1..=MAX_REQUEST_ID_LEN).contains(&id.len()) && id.iter().all(|b| b.is_ascii_graphic())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn request_ids_are_short_visible_ascii() {
            assert!(is_valid_request_id(b"req-1"));
            assert!(is_valid_request_id("a".repeat(128).as_bytes()));
            for bad in [
                "".as_bytes(),
                "a".repeat(129).as_bytes(),
                b"with space",
                b"tab\there",
                b"nl\n",
                "Sigur R\u{f3}s".as_bytes(),
                b"\x7f",
            ] {
                assert!(!is_valid_request_id(bad), "{bad:?}");
            }
        }
    }
}
