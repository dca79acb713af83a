//! What is measured: the scenarios, the store each one runs on, and the
//! constants every scenario shares (the table, the song, the REST path).

use clap::ValueEnum;

/// The table and the song every read scenario asks for.
pub(crate) const TABLE: &str = "Music";
pub(crate) const ARTIST: &str = "No One You Know";
pub(crate) const SONG_TITLE: &str = "Call Me Today";
pub(crate) const ALBUM_TITLE: &str = "Somewhat Famous";
/// The tutorial's item path (stage `Test`, the gateway's default).
pub(crate) const ITEM_PATH: &str = "/Test/DemoResourceMusic/DemoResourceMusicItem";
/// The same song as a `/v1` resource (GetItem's `google.api.http` path).
pub(crate) const V1_ITEM_PATH: &str =
    "/v1/tables/Music/artists/No%20One%20You%20Know/songs/Call%20Me%20Today";

/// Where the songs are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Store {
    /// dynoxide in the service's process, in memory.
    Embedded,
    /// DynamoDB Local (a JVM), in memory.
    DynamoDbLocal,
}

impl Store {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::DynamoDbLocal => "dynamodb-local",
        }
    }
}

/// One row group of the table, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub(crate) enum ScenarioId {
    /// A bare axum handler answering a fixed JSON string: the machine's HTTP limit.
    Ceiling,
    /// REST GetItem through the gateway with the service in its process, embedded store.
    #[value(name = "rest-inproc")]
    RestInProcess,
    /// The same GetItem as `/v1` REST (transcoded from `google.api.http`), in-process.
    #[value(name = "rest-v1-inproc")]
    RestV1InProcess,
    /// PutItem/UpdateItem/DeleteItem in turn through the in-process gateway, embedded store.
    WriteMix,
    /// REST GetItem through a pure gateway (`--upstream`) to a service process, embedded store.
    #[value(name = "rest-2proc")]
    RestTwoProcess,
    /// `/v1` GetItem through the pure gateway to the service process.
    #[value(name = "rest-v1-2proc")]
    RestV1TwoProcess,
    /// REST GetItem through a pure gateway with the edge on: a 20-statement
    /// resource policy and 1,000 API keys, each request carrying one.
    #[value(name = "rest-2proc-edge")]
    RestTwoProcessEdge,
    /// The `/v1` GetItem through grpc-gateway (Go, the peer we are measured
    /// against) to the same service process.
    #[value(name = "peer-2proc")]
    PeerTwoProcess,
    /// gRPC GetItem straight to the service process, embedded store.
    Grpc,
    /// GetItem as DynamoDB's JSON protocol straight to DynamoDB Local: the store's own limit.
    DdbDirect,
    /// REST GetItem through the in-process gateway on DynamoDB Local.
    #[value(name = "rest-inproc-ddb")]
    RestInProcessDdb,
    /// REST GetItem through a pure gateway to a service process on DynamoDB Local.
    #[value(name = "rest-2proc-ddb")]
    RestTwoProcessDdb,
    /// gRPC GetItem straight to the service process on DynamoDB Local.
    GrpcDdb,
}

impl ScenarioId {
    pub(crate) const ALL: [Self; 13] = [
        Self::Ceiling,
        Self::RestInProcess,
        Self::RestV1InProcess,
        Self::WriteMix,
        Self::RestTwoProcess,
        Self::RestV1TwoProcess,
        Self::RestTwoProcessEdge,
        Self::PeerTwoProcess,
        Self::Grpc,
        Self::DdbDirect,
        Self::RestInProcessDdb,
        Self::RestTwoProcessDdb,
        Self::GrpcDdb,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Ceiling => "ceiling",
            Self::RestInProcess => "rest-inproc",
            Self::RestV1InProcess => "rest-v1-inproc",
            Self::WriteMix => "write-mix",
            Self::RestTwoProcess => "rest-2proc",
            Self::RestV1TwoProcess => "rest-v1-2proc",
            Self::RestTwoProcessEdge => "rest-2proc-edge",
            Self::PeerTwoProcess => "peer-2proc",
            Self::Grpc => "grpc",
            Self::DdbDirect => "ddb-direct",
            Self::RestInProcessDdb => "rest-inproc-ddb",
            Self::RestTwoProcessDdb => "rest-2proc-ddb",
            Self::GrpcDdb => "grpc-ddb",
        }
    }

    /// The store it reads from; none for the ceiling.
    pub(crate) fn store(self) -> Option<Store> {
        match self {
            Self::Ceiling => None,
            Self::RestInProcess
            | Self::RestV1InProcess
            | Self::WriteMix
            | Self::RestTwoProcess
            | Self::RestV1TwoProcess
            | Self::RestTwoProcessEdge
            | Self::PeerTwoProcess
            | Self::Grpc => Some(Store::Embedded),
            Self::DdbDirect | Self::RestInProcessDdb | Self::RestTwoProcessDdb | Self::GrpcDdb => {
                Some(Store::DynamoDbLocal)
            }
        }
    }

    /// What carries the requests, for the table.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Self::Ceiling => "wrk → axum handler",
            Self::RestInProcess | Self::RestInProcessDdb => "wrk → gateway(+service)",
            Self::RestV1InProcess => "wrk → gateway(+service), /v1",
            Self::WriteMix => "wrk → gateway(+service), PUT/POST/DELETE",
            Self::RestTwoProcess | Self::RestTwoProcessDdb => "wrk → gateway → service",
            Self::RestV1TwoProcess => "wrk → gateway → service, /v1",
            Self::RestTwoProcessEdge => "wrk → gateway(edge) → service",
            Self::PeerTwoProcess => "wrk → grpc-gateway (Go) → service, /v1",
            Self::Grpc | Self::GrpcDdb => "tonic → service",
            Self::DdbDirect => "wrk → DynamoDB Local",
        }
    }

    /// True for the scenarios of our programs (the ones the p99/p50 target is about).
    pub(crate) fn is_ours(self) -> bool {
        !matches!(self, Self::Ceiling | Self::PeerTwoProcess | Self::DdbDirect)
    }
}
