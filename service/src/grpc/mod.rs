//! The gRPC handlers: protobuf requests become checked domain values, the
//! store does the work, results become protobuf responses. Each RPC runs in a
//! span carrying the caller's request id (`x-request-id` metadata) and ends
//! with one log line: method, code, duration.

pub mod metadata;
pub mod shed;

use std::time::{Duration, Instant};

use music_api::{
    pb::{self, item_service_server::ItemService, table_service_server::TableService},
    wire,
};
use tonic::{Request, Response, Status};
use tracing::Instrument;

use self::metadata::{grpc_timeout, trace_id};
use crate::{
    domain::{Song, SongKey, TableName, TablePage, Throughput, Write},
    error::ServiceError,
    store::{Operation, Store, TableInfo},
};

/// `TableService` over a [`Store`].
#[derive(Debug, Clone)]
pub struct TableApi {
    store: Store,
}

/// `ItemService` over a [`Store`].
#[derive(Debug, Clone)]
pub struct ItemApi {
    store: Store,
}

impl TableApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

impl ItemApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn metadata_text<'r>(metadata: &'r tonic::metadata::MetadataMap, key: &str) -> Option<&'r str> {
    metadata.get(key).and_then(|v| v.to_str().ok())
}

/// How much earlier than the caller's deadline the service gives up, so that
/// its DEADLINE_EXCEEDED reaches the caller before the caller's own timer fires.
fn answer_margin(budget: Duration) -> Duration {
    (budget / 20).min(Duration::from_millis(20))
}

/// Runs one RPC (already admitted by [`shed`]): bounds it by the caller's
/// deadline, runs it in a span with the request and trace ids, records its
/// metrics and logs one line with its outcome.
async fn observe<T, Req>(
    operation: Operation,
    request: Request<Req>,
    handler: impl AsyncFnOnce(Req) -> Result<T, ServiceError>,
) -> Result<Response<T>, Status> {
    let metadata = request.metadata();
    // Only a well-formed id is logged: a caller's 1 MiB of metadata must not
    // become a 1 MiB log line.
    let request_id = metadata_text(metadata, wire::REQUEST_ID)
        .filter(|id| wire::is_valid_request_id(id.as_bytes()))
        .unwrap_or("-")
        .to_owned();
    let trace = metadata_text(metadata, wire::TRACEPARENT)
        .and_then(trace_id)
        .unwrap_or("-")
        .to_owned();
    let budget = metadata_text(metadata, "grpc-timeout").and_then(grpc_timeout);
    let span = tracing::info_span!("rpc", method = operation.as_str(), request_id = %request_id, trace_id = %trace);
    music_runtime::telemetry::continue_trace(&span, metadata_text(metadata, wire::TRACEPARENT));
    let started = Instant::now();

    let outcome = {
        let _in_flight = InFlightGauge::enter();
        let work = handler(request.into_inner()).instrument(span.clone());
        match budget {
            None => work.await,
            Some(budget) => {
                match tokio::time::timeout(budget - answer_margin(budget), work).await {
                    Ok(result) => result,
                    Err(_) => Err(ServiceError::DeadlineExceeded { budget }),
                }
            }
        }
    };

    let elapsed = started.elapsed();
    let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
    let (code, outcome) = match outcome {
        Ok(reply) => {
            span.in_scope(|| tracing::info!(code = "OK", elapsed_ms, "rpc finished"));
            (tonic::Code::Ok, Ok(Response::new(reply)))
        }
        Err(error) => {
            let cause = error.to_string();
            let status = Status::from(error);
            let code = status.code();
            span.in_scope(|| tracing::info!(code = code_name(code), elapsed_ms, error = %cause, "rpc finished"));
            (code, Err(status))
        }
    };
    let labels = [("method", operation.as_str()), ("code", code_name(code))];
    metrics::counter!(crate::metrics::GRPC_REQUESTS, &labels).increment(1);
    metrics::histogram!(crate::metrics::GRPC_DURATION, "method" => operation.as_str())
        .record(elapsed.as_secs_f64());
    outcome
}

/// Counts an RPC in the in-flight gauge for as long as it lives, including
/// when the caller goes away and the handler is dropped mid-way.
struct InFlightGauge(metrics::Gauge);

impl InFlightGauge {
    fn enter() -> Self {
        let gauge = metrics::gauge!(crate::metrics::GRPC_IN_FLIGHT);
        gauge.increment(1.0);
        Self(gauge)
    }
}

impl Drop for InFlightGauge {
    fn drop(&mut self) {
        self.0.decrement(1.0);
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

fn table_name(name: String, operation: Operation) -> Result<TableName, ServiceError> {
    TableName::parse(name, "table_name").map_err(ServiceError::invalid(operation))
}

fn song_key(
    artist: String,
    song_title: String,
    operation: Operation,
) -> Result<SongKey, ServiceError> {
    SongKey::parse(artist, song_title, ("artist", "song_title"))
        .map_err(ServiceError::invalid(operation))
}

#[tonic::async_trait]
impl TableService for TableApi {
    async fn create_table(
        &self,
        request: Request<pb::CreateTableRequest>,
    ) -> Result<Response<pb::Table>, Status> {
        const OP: Operation = Operation::CreateTable;
        observe(OP, request, async |r| {
            let name = table_name(r.table_name, OP)?;
            let throughput = match r.provisioned_throughput {
                None => Throughput::default(),
                Some(t) => Throughput::parse(t.read_capacity_units, t.write_capacity_units)
                    .map_err(ServiceError::invalid(OP))?,
            };
            Ok(table_to_pb(
                self.store.create_table(&name, throughput).await?,
            ))
        })
        .await
    }

    async fn delete_table(
        &self,
        request: Request<pb::DeleteTableRequest>,
    ) -> Result<Response<pb::DeleteTableResponse>, Status> {
        const OP: Operation = Operation::DeleteTable;
        observe(OP, request, async |r| {
            let name = table_name(r.table_name, OP)?;
            let table = self.store.delete_table(&name).await?;
            Ok(pb::DeleteTableResponse {
                table: Some(table_to_pb(table)),
            })
        })
        .await
    }

    async fn describe_table(
        &self,
        request: Request<pb::DescribeTableRequest>,
    ) -> Result<Response<pb::Table>, Status> {
        const OP: Operation = Operation::DescribeTable;
        observe(OP, request, async |r| {
            let name = table_name(r.table_name, OP)?;
            Ok(table_to_pb(self.store.describe_table(&name).await?))
        })
        .await
    }

    async fn list_tables(
        &self,
        request: Request<pb::ListTablesRequest>,
    ) -> Result<Response<pb::ListTablesResponse>, Status> {
        const OP: Operation = Operation::ListTables;
        observe(OP, request, async |r| {
            let page =
                TablePage::parse(r.page_size, r.page_token).map_err(ServiceError::invalid(OP))?;
            let names = self.store.list_tables(&page).await?;
            Ok(pb::ListTablesResponse {
                table_names: names.names,
                next_page_token: names.last.unwrap_or_default(),
            })
        })
        .await
    }
}

#[tonic::async_trait]
impl ItemService for ItemApi {
    async fn put_item(
        &self,
        request: Request<pb::PutItemRequest>,
    ) -> Result<Response<pb::PutItemResponse>, Status> {
        const OP: Operation = Operation::PutItem;
        observe(OP, request, async |r| {
            let table = table_name(r.table_name, OP)?;
            let song = r.song.unwrap_or_default();
            let key = SongKey::parse(
                song.artist,
                song.song_title,
                ("song.artist", "song.song_title"),
            )
            .map_err(ServiceError::invalid(OP))?;
            let song = Song::parse(
                key,
                song.album_title.unwrap_or_default(),
                "song.album_title",
                Write::Put,
            )
            .map_err(ServiceError::invalid(OP))?;
            let replaced = self.store.put_item(&table, &song).await?;
            Ok(pb::PutItemResponse { replaced })
        })
        .await
    }

    async fn get_item(
        &self,
        request: Request<pb::GetItemRequest>,
    ) -> Result<Response<pb::Song>, Status> {
        const OP: Operation = Operation::GetItem;
        observe(OP, request, async |r| {
            let table = table_name(r.table_name, OP)?;
            let key = song_key(r.artist, r.song_title, OP)?;
            match self.store.get_item(&table, &key).await? {
                Some(song) => Ok(song_to_pb(song)),
                None => Err(ServiceError::ItemNotFound),
            }
        })
        .await
    }

    async fn update_item(
        &self,
        request: Request<pb::UpdateItemRequest>,
    ) -> Result<Response<pb::Song>, Status> {
        const OP: Operation = Operation::UpdateItem;
        observe(OP, request, async |r| {
            let table = table_name(r.table_name, OP)?;
            let key = song_key(r.artist, r.song_title, OP)?;
            let song = Song::parse(key, r.album_title, "album_title", Write::Update)
                .map_err(ServiceError::invalid(OP))?;
            Ok(song_to_pb(self.store.update_item(&table, &song).await?))
        })
        .await
    }

    async fn delete_item(
        &self,
        request: Request<pb::DeleteItemRequest>,
    ) -> Result<Response<pb::DeleteItemResponse>, Status> {
        const OP: Operation = Operation::DeleteItem;
        observe(OP, request, async |r| {
            let table = table_name(r.table_name, OP)?;
            let key = song_key(r.artist, r.song_title, OP)?;
            let existed = self.store.delete_item(&table, &key).await?;
            Ok(pb::DeleteItemResponse { existed })
        })
        .await
    }
}

fn song_to_pb(song: Song) -> pb::Song {
    pb::Song {
        artist: song.key.artist().to_owned(),
        song_title: song.key.song_title().to_owned(),
        album_title: song.album_title,
    }
}

fn table_to_pb(table: TableInfo) -> pb::Table {
    use aws_sdk_dynamodb::types::{KeyType, TableStatus};
    let status = match table.status {
        Some(TableStatus::Creating) => pb::TableStatus::Creating,
        Some(TableStatus::Updating) => pb::TableStatus::Updating,
        Some(TableStatus::Deleting) => pb::TableStatus::Deleting,
        Some(TableStatus::Active) => pb::TableStatus::Active,
        Some(TableStatus::Archiving) => pb::TableStatus::Archiving,
        Some(TableStatus::Archived) => pb::TableStatus::Archived,
        Some(TableStatus::InaccessibleEncryptionCredentials) => {
            pb::TableStatus::InaccessibleEncryptionCredentials
        }
        // Statuses newer than this code, and none at all.
        _ => pb::TableStatus::Unspecified,
    };
    pb::Table {
        name: table.name,
        status: status.into(),
        key_schema: table
            .key_schema
            .into_iter()
            .map(|(attribute_name, key_type)| pb::KeySchemaElement {
                attribute_name,
                key_type: match key_type {
                    KeyType::Hash => pb::KeyType::Hash,
                    KeyType::Range => pb::KeyType::Range,
                    _ => pb::KeyType::Unspecified,
                }
                .into(),
            })
            .collect(),
        item_count: table.item_count,
        created_at: table.created_at.map(prost_types::Timestamp::from),
        provisioned_throughput: table.throughput.map(|t| pb::ProvisionedThroughput {
            read_capacity_units: t.read,
            write_capacity_units: t.write,
        }),
        arn: table.arn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_margin_is_small_and_bounded() {
        assert_eq!(
            answer_margin(Duration::from_millis(100)),
            Duration::from_millis(5)
        );
        assert_eq!(
            answer_margin(Duration::from_secs(29)),
            Duration::from_millis(20)
        );
    }
}
