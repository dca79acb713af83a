//! The gRPC side of the service: one file per service (`table`, `item`,
//! `usage`, the gateways' usage counters), the
//! protobuf ↔ domain conversions (`convert`), and the layers every RPC passes
//! through, served or called in-process alike: `observe` (span, deadline,
//! metrics, one log line) around `shed` (the in-flight limit).

pub mod convert;
pub mod item;
pub mod observe;
pub mod shed;
pub mod table;
pub mod usage;

pub use item::ItemApi;
pub use table::TableApi;
pub use usage::UsageApi;

/// The music.v1 RPCs, as gRPC names them (metric and log labels).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString, strum::EnumCount,
)]
pub enum Method {
    CreateTable,
    DeleteTable,
    DescribeTable,
    ListTables,
    PutItem,
    GetItem,
    UpdateItem,
    DeleteItem,
    ListSongs,
    StreamSongs,
    BatchGetSongs,
    BatchWriteSongs,
    AddUsage,
}

impl Method {
    /// The music.v1 RPC a gRPC path (`/music.v1.ItemService/GetItem`) calls;
    /// `None` for health, reflection and anything else.
    pub fn of_path(path: &str) -> Option<Self> {
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        if !matches!(
            service,
            "music.v1.TableService" | "music.v1.ItemService" | "music.v1.UsageService"
        ) {
            return None;
        }
        method.parse().ok()
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

use tonic::{Response, Status};

use crate::error::ServiceError;

/// A handler's result as tonic wants it. A failure's cause (which may say
/// more than the status the caller gets) is recorded on the RPC's span, where
/// `observe`'s log line shows it.
fn answer<T>(result: Result<T, ServiceError>) -> Result<Response<T>, Status> {
    match result {
        Ok(reply) => Ok(Response::new(reply)),
        Err(error) => {
            tracing::Span::current().record("error", tracing::field::display(&error));
            Err(error.into())
        }
    }
}

/// The canonical upper-case name of a code, as gRPC tools print it.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn music_paths_name_their_method_and_others_none() {
        assert_eq!(
            Method::of_path("/music.v1.ItemService/ListSongs"),
            Some(Method::ListSongs)
        );
        assert_eq!(
            Method::of_path("/music.v1.TableService/CreateTable"),
            Some(Method::CreateTable)
        );
        assert_eq!(
            Method::of_path("/music.v1.UsageService/AddUsage"),
            Some(Method::AddUsage)
        );
        for other in [
            "/grpc.health.v1.Health/Check",
            "/music.v1.ItemService/Frobnicate",
            "/other.Service/GetItem",
            "GetItem",
            "",
        ] {
            assert_eq!(Method::of_path(other), None, "{other}");
        }
    }
}
