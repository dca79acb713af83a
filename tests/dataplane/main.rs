//! The data plane (listing, streaming, batches, preconditions) as a caller
//! meets it: the built `music-service` as a real process on real sockets
//! (port 0 only), on every store the environment offers (the embedded
//! dynoxide always, DynamoDB Local when `MUSIC_TEST_DYNAMODB_ENDPOINT` is
//! set; both under `CI=true`), called
//! with tonic clients and the real grpcurl, its store calls counted (and
//! tampered with) by testkit's store proxy where a test needs to see them.
//!
//! - `paging`: ListSongs over 2,500 songs in pages of 1, 7, 100 and 1000;
//!   tampered and replayed page tokens; pages of large songs that DynamoDB's
//!   1 MB pages cut;
//! - `streaming`: StreamSongs of 10,000 songs (Query) and of a whole table
//!   (Scan); a client that cancels after 10 songs stops the reads, and one
//!   that stops reading slows them to a halt;
//! - `preconditions`: 64 read-modify-write writers with etags on one song,
//!   "only if absent" races, stale etags;
//! - `batches`: batch limits; unprocessed keys and writes retried, and named
//!   when the deadline comes;
//! - `precedence`: malformed item calls on a missing table answer what
//!   DynamoDB Local itself answers;
//! - `grpcurl`: a paging walk, a stream and a conditional failure's decoded
//!   ErrorInfo, by reflection.
//! - `usage`: AddUsage's increments as UpdateItem calls and its reads of 0
//!   as BatchGetItem calls of up to 100 counters, totals in order.
//!
//! Each test prints its figures (`--nocapture`). The binaries must be built
//! first: `cargo build --workspace`.

mod rig;

mod batches;
mod grpcurl;
mod paging;
mod precedence;
mod preconditions;
mod streaming;
mod usage;
