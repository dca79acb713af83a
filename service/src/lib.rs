//! music-service: the `music.v1` gRPC API (`TableService`, `ItemService`) over
//! DynamoDB, with gRPC health and reflection.
//!
//! A request travels `grpc` (protobuf → checked `domain` types) → `store`
//! (aws-sdk-dynamodb) → DynamoDB; failures come back as a `store::StoreError`
//! and become a `tonic::Status` in exactly one place, `error`. The `embedded`
//! backend serves dynoxide on a loopback port so that the same store code runs
//! against it as against AWS.

pub mod backend;
pub mod domain;
pub mod embedded;
pub mod error;
pub mod grpc;
pub mod health;
pub mod metrics;
pub mod page_token;
pub mod server;
pub mod settings;
pub mod store;

pub use server::{MusicService, StartError};
pub use settings::{Backend, RpcSettings, ServiceSettings, StaticCredentials, StoreSettings};
