//! The `/v1` REST API transcoded from music.proto's `google.api.http`
//! annotations, and its OpenAPI document, end to end: the built binaries as
//! real processes, in both gateway modes (the service in the gateway's
//! process, and a pure gateway in front of a music-service process), driven
//! with the real curl; the document checked by the real
//! `openapi-spec-validator` and exercised by the real `schemathesis` (both
//! from PyPI, installed by scripts/test.sh; skipped without them unless
//! `CI=true`).
//!
//! - `routes`: every `/v1` route with its answer, in both modes (a create,
//!   three songs, pages, conditional updates, streams, batches, deletes);
//! - `malformed`: every kind of malformed request is a 4xx `google.rpc.Status`;
//! - `operations`: request ids, traces, the access log, metrics labels,
//!   deadlines, throttling, a stream that fails after it began, bounded
//!   `Grpc-Metadata-*`;
//! - `openapi`: the document (served and printed), the validator, schemathesis;
//! - `fixture`: a newly annotated RPC, given as a descriptor set, is served
//!   and described with no gateway code.

mod fixture;
mod malformed;
mod openapi;
mod operations;
mod routes;
mod support;
