//! The music-api contract: the `music.v1` protobuf package as generated Rust
//! (messages, clients and servers), the encoded descriptor set that gRPC
//! reflection serves, and the wire vocabulary both sides share (`wire`:
//! metadata keys, ErrorInfo domains and reasons, and the rules for their
//! values). Both programs depend on this crate and nothing else of each other.

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

pub mod wire;
