//! music-service's integration tests: the gRPC API on a real socket, over each
//! storage backend (store conformance), and the `music-service` binary driven
//! by grpcurl and signals.

mod binary;
mod conformance;
mod helpers;
mod table_wait;
