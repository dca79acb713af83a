//! The gRPC handlers: protobuf requests become checked domain values, the
//! store does the work, results become protobuf responses. Each RPC runs in a
//! span carrying the caller's request id (`x-request-id` metadata) and ends
//! with one log line: method, code, duration.

use std::{future::Future, time::Instant};

use music_api::pb::{self, item_service_server::ItemService, table_service_server::TableService};
use tonic::{Request, Response, Status};
use tracing::Instrument;

use crate::{
    domain::{Song, SongKey, TableName, TablePage, Throughput, Write},
    error::ServiceError,
    store::{Operation, Store, TableInfo},
};

/// The metadata key that carries a request id from the gateway (or any caller).
pub const REQUEST_ID_METADATA: &str = "x-request-id";

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

/// Runs one RPC inside its span and logs its outcome.
async fn observe<T, Req>(
    operation: Operation,
    request: Request<Req>,
    handler: impl AsyncFnOnce(Req) -> Result<T, ServiceError>,
) -> Result<Response<T>, Status> {
    let request_id = request
        .metadata()
        .get(REQUEST_ID_METADATA)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let span = tracing::info_span!("rpc", method = operation.as_str(), request_id = %request_id);
    let started = Instant::now();
    let outcome = run_in(span.clone(), handler(request.into_inner())).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| match &outcome {
        Ok(_) => tracing::info!(code = "OK", elapsed_ms, "rpc finished"),
        Err(error) => {
            tracing::info!(code = ?code_of(error), elapsed_ms, %error, "rpc finished")
        }
    });
    outcome.map(Response::new).map_err(Status::from)
}

fn run_in<F: Future>(span: tracing::Span, future: F) -> tracing::instrument::Instrumented<F> {
    future.instrument(span)
}

fn code_of(error: &ServiceError) -> tonic::Code {
    match error {
        ServiceError::Invalid { .. } => tonic::Code::InvalidArgument,
        ServiceError::ItemNotFound => tonic::Code::NotFound,
        ServiceError::Store(e) => crate::error::code_for(e.kind, e.operation),
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
