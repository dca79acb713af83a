//! `music.v1.ItemService`: the songs of a table, one at a time (with
//! preconditions), a page or a stream at a time, and in batches.

use std::{collections::HashSet, pin::Pin, time::Duration};

use futures_util::{Stream, StreamExt};
use music_api::{
    pb::{self, item_service_server::ItemService},
    wire,
};
use tokio::time::Instant;
use tonic::{Request, Response, Status};

use super::answer;
use crate::{
    domain::{
        BatchGet, BatchWrites, ItemDelete, ItemRef, ItemWrite, SongKey, SongPage, SongScope,
        TableName, Violation,
    },
    error::ServiceError,
    page_token::PageTokens,
    store::{Operation, Store, StoreError},
};

/// How long a batch may retry what DynamoDB left unprocessed when the caller
/// set no deadline: the service's own budget for one DynamoDB call.
const DEFAULT_BATCH_BUDGET: Duration = Duration::from_secs(10);

/// `ItemService` over a [`Store`].
#[derive(Debug, Clone)]
pub struct ItemApi {
    store: Store,
    tokens: PageTokens,
}

impl ItemApi {
    pub fn new(store: Store, tokens: PageTokens) -> Self {
        Self { store, tokens }
    }

    /// A request as checked domain values, or the error DynamoDB would give
    /// first: a fault in a song's key or content on a table that does not
    /// exist is ResourceNotFoundException, as DynamoDB finds the missing table
    /// before it judges the key (one DescribeTable, on refused input only).
    async fn parse<R, T>(
        &self,
        op: Operation,
        table_name: &str,
        request: R,
    ) -> Result<T, ServiceError>
    where
        T: TryFrom<R, Error = Violation>,
    {
        let violation = match T::try_from(request) {
            Ok(parsed) => return Ok(parsed),
            Err(violation) => violation,
        };
        if violation.needs_the_table()
            && let Ok(table) = TableName::parse(table_name.to_owned(), "table_name")
            && !self.store.table_exists(op, &table).await?
        {
            return Err(StoreError::table_not_found(op).into());
        }
        Err(ServiceError::Invalid {
            operation: op,
            violation,
        })
    }
}

/// When a batch must stop retrying: a little before the caller's deadline
/// (`grpc-timeout`), so that its answer arrives in time.
fn batch_deadline<T>(request: &Request<T>) -> Instant {
    let budget = request
        .metadata()
        .get(wire::GRPC_TIMEOUT)
        .and_then(|v| v.to_str().ok())
        .and_then(wire::grpc_timeout)
        .map_or(DEFAULT_BATCH_BUDGET, |budget| budget.mul_f64(0.9));
    Instant::now() + budget
}

type SongStream = Pin<Box<dyn Stream<Item = Result<pb::Song, Status>> + Send>>;

#[tonic::async_trait]
impl ItemService for ItemApi {
    async fn put_item(
        &self,
        request: Request<pb::PutItemRequest>,
    ) -> Result<Response<pb::PutItemResponse>, Status> {
        const OP: Operation = Operation::PutItem;
        let request = request.into_inner();
        let table_name = request.table_name.clone();
        answer(
            async {
                let write: ItemWrite = self.parse(OP, &table_name, request).await?;
                let replaced = self
                    .store
                    .put_item(&write.table, &write.song, &write.precondition)
                    .await?;
                Ok(pb::PutItemResponse {
                    replaced,
                    song: Some(write.song.into()),
                })
            }
            .await,
        )
    }

    async fn get_item(
        &self,
        request: Request<pb::GetItemRequest>,
    ) -> Result<Response<pb::Song>, Status> {
        const OP: Operation = Operation::GetItem;
        let request = request.into_inner();
        let table_name = request.table_name.clone();
        answer(
            async {
                let item: ItemRef = self.parse(OP, &table_name, request).await?;
                match self.store.get_item(&item.table, &item.key).await? {
                    Some(song) => Ok(song.into()),
                    None => Err(ServiceError::ItemNotFound),
                }
            }
            .await,
        )
    }

    async fn update_item(
        &self,
        request: Request<pb::UpdateItemRequest>,
    ) -> Result<Response<pb::Song>, Status> {
        const OP: Operation = Operation::UpdateItem;
        let request = request.into_inner();
        let table_name = request.table_name.clone();
        answer(
            async {
                let write: ItemWrite = self.parse(OP, &table_name, request).await?;
                let song = self
                    .store
                    .update_item(&write.table, &write.song, &write.precondition)
                    .await?;
                Ok(song.into())
            }
            .await,
        )
    }

    async fn delete_item(
        &self,
        request: Request<pb::DeleteItemRequest>,
    ) -> Result<Response<pb::DeleteItemResponse>, Status> {
        const OP: Operation = Operation::DeleteItem;
        let request = request.into_inner();
        let table_name = request.table_name.clone();
        answer(
            async {
                let delete: ItemDelete = self.parse(OP, &table_name, request).await?;
                let existed = self
                    .store
                    .delete_item(&delete.item.table, &delete.item.key, &delete.precondition)
                    .await?;
                Ok(pb::DeleteItemResponse { existed })
            }
            .await,
        )
    }

    async fn list_songs(
        &self,
        request: Request<pb::ListSongsRequest>,
    ) -> Result<Response<pb::ListSongsResponse>, Status> {
        const OP: Operation = Operation::Query;
        let request = request.into_inner();
        let table_name = request.table_name.clone();
        answer(
            async {
                let page: SongPage = self.parse(OP, &table_name, request).await?;
                let scope = [page.table.as_str(), page.artist.as_str()];
                let after = if page.token.is_empty() {
                    None
                } else {
                    Some(
                        self.tokens
                            .open(&page.token, &scope)
                            .map_err(ServiceError::invalid(OP))?,
                    )
                };
                let (songs, more) = self
                    .store
                    .list_songs(&page.table, &page.artist, page.limit, after)
                    .await?;
                let next_page_token = match songs.last() {
                    Some(last) if more => self.tokens.seal(&scope, last.key.song_title()),
                    _ => String::new(),
                };
                Ok(pb::ListSongsResponse {
                    songs: songs.into_iter().map(pb::Song::from).collect(),
                    next_page_token,
                })
            }
            .await,
        )
    }

    type StreamSongsStream = SongStream;

    async fn stream_songs(
        &self,
        request: Request<pb::StreamSongsRequest>,
    ) -> Result<Response<SongStream>, Status> {
        let request = request.into_inner();
        let op = if request.artist.is_empty() {
            Operation::Scan
        } else {
            Operation::Query
        };
        let table_name = request.table_name.clone();
        answer(
            async {
                let scope: SongScope = self.parse(op, &table_name, request).await?;
                let songs = self.store.stream_songs(scope).map(|song| {
                    song.map(pb::Song::from)
                        .map_err(|error| Status::from(ServiceError::Store(error)))
                });
                Ok(Box::pin(songs) as SongStream)
            }
            .await,
        )
    }

    async fn batch_get_songs(
        &self,
        request: Request<pb::BatchGetSongsRequest>,
    ) -> Result<Response<pb::BatchGetSongsResponse>, Status> {
        const OP: Operation = Operation::BatchGetItem;
        let deadline = batch_deadline(&request);
        let request = request.into_inner();
        let table_name = request.table_name.clone();
        answer(
            async {
                let batch: BatchGet = self.parse(OP, &table_name, request).await?;
                let (songs, unprocessed) = self
                    .store
                    .batch_get(&batch.table, &batch.keys, deadline)
                    .await?;
                let answered: HashSet<&SongKey> = songs
                    .iter()
                    .map(|song| &song.key)
                    .chain(&unprocessed)
                    .collect();
                let mut not_found: Vec<pb::SongKey> = Vec::new();
                let mut seen = HashSet::new();
                for key in &batch.keys {
                    if !answered.contains(key) && seen.insert(key) {
                        not_found.push(key.clone().into());
                    }
                }
                Ok(pb::BatchGetSongsResponse {
                    songs: songs.into_iter().map(pb::Song::from).collect(),
                    not_found,
                    unprocessed: unprocessed.into_iter().map(pb::SongKey::from).collect(),
                })
            }
            .await,
        )
    }

    async fn batch_write_songs(
        &self,
        request: Request<pb::BatchWriteSongsRequest>,
    ) -> Result<Response<pb::BatchWriteSongsResponse>, Status> {
        const OP: Operation = Operation::BatchWriteItem;
        let deadline = batch_deadline(&request);
        let request = request.into_inner();
        let table_name = request.table_name.clone();
        answer(
            async {
                let batch: BatchWrites = self.parse(OP, &table_name, request).await?;
                let unprocessed = self
                    .store
                    .batch_write(&batch.table, &batch.writes, deadline)
                    .await?;
                Ok(pb::BatchWriteSongsResponse {
                    unprocessed: unprocessed.into_iter().map(pb::SongWrite::from).collect(),
                })
            }
            .await,
        )
    }
}
