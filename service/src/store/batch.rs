//! Many items in one call: BatchGetItem (up to 100 keys, of songs or of usage
//! counters) and BatchWriteItem (up to 25 puts or deletes of songs). DynamoDB
//! may leave part of a batch unprocessed (throttling, its 16 MB limit); that
//! part is sent again with exponential backoff and jitter, as the AWS SDKs
//! advise, until it is done or the deadline would pass, and what is left then
//! is returned to the caller.

use std::{collections::HashMap, time::Duration};

use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, KeysAndAttributes, PutRequest, WriteRequest,
};
use tokio::time::Instant;

use super::{Observed, Operation, Store, StoreError, key_attributes, stored_song};
use crate::domain::{
    ALBUM_TITLE, ARTIST, BatchWrite, MAX_BATCH_GET, SONG_TITLE, Song, SongKey, TableName,
};

/// The first pause before a retry; it doubles, to at most [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(25);
const MAX_PAUSE: Duration = Duration::from_secs(1);

pub(super) type Item = HashMap<String, AttributeValue>;

/// The pause before retry `attempt` (0-based): full jitter over the
/// exponential bound, so that clients throttled together do not retry together.
fn pause(attempt: u32) -> Duration {
    let bound = FIRST_PAUSE
        .saturating_mul(1 << attempt.min(10))
        .min(MAX_PAUSE);
    bound.mul_f64(rand::random::<f64>().max(0.1))
}

/// Waits out the pause before the next attempt, unless the deadline would
/// pass first: then `false`, and the batch stops with what is left.
async fn wait_for_retry(attempt: u32, deadline: Instant) -> bool {
    let until = Instant::now() + pause(attempt);
    if until >= deadline {
        return false;
    }
    tokio::time::sleep_until(until).await;
    true
}

impl Store {
    /// The songs under `keys` (strongly consistent), and the keys still
    /// unprocessed when `deadline` came.
    pub async fn batch_get(
        &self,
        table: &TableName,
        keys: &[SongKey],
        deadline: Instant,
    ) -> Result<(Vec<Song>, Vec<SongKey>), StoreError> {
        let keys = keys.iter().map(key_attributes).collect();
        let (items, unprocessed) = self.batch_get_items(table, keys, deadline).await?;
        Ok((
            items.iter().filter_map(stored_song).collect(),
            unprocessed.iter().filter_map(stored_key).collect(),
        ))
    }

    /// The items of `table` under `keys` (at most [`MAX_BATCH_GET`],
    /// strongly consistent), and the keys still unprocessed when `deadline`
    /// came: the BatchGetItem loop of every table, songs and usage counters.
    pub(super) async fn batch_get_items(
        &self,
        table: &TableName,
        keys: Vec<Item>,
        deadline: Instant,
    ) -> Result<(Vec<Item>, Vec<Item>), StoreError> {
        debug_assert!(keys.len() <= MAX_BATCH_GET);
        let mut pending = keys;
        let mut found = Vec::with_capacity(pending.len());
        let mut attempt = 0;
        loop {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(pending))
                .consistent_read(true)
                .build()
                .expect("keys are set");
            let answer = self
                .client
                .batch_get_item()
                .request_items(table.as_str(), request)
                .send()
                .observed(Operation::BatchGetItem)
                .await?;
            if let Some(items) = answer.responses.and_then(|mut r| r.remove(table.as_str())) {
                found.extend(items);
            }
            pending = answer
                .unprocessed_keys
                .and_then(|mut u| u.remove(table.as_str()))
                .map(|k| k.keys)
                .unwrap_or_default();
            if pending.is_empty() || !wait_for_retry(attempt, deadline).await {
                break;
            }
            attempt += 1;
        }
        Ok((found, pending))
    }

    /// Makes `writes`; the writes still unprocessed when `deadline` came.
    pub async fn batch_write(
        &self,
        table: &TableName,
        writes: &[BatchWrite],
        deadline: Instant,
    ) -> Result<Vec<BatchWrite>, StoreError> {
        let mut pending: Vec<WriteRequest> = writes.iter().map(write_request).collect();
        let mut attempt = 0;
        loop {
            let answer = self
                .client
                .batch_write_item()
                .request_items(table.as_str(), pending)
                .send()
                .observed(Operation::BatchWriteItem)
                .await?;
            pending = answer
                .unprocessed_items
                .and_then(|mut u| u.remove(table.as_str()))
                .unwrap_or_default();
            if pending.is_empty() || !wait_for_retry(attempt, deadline).await {
                break;
            }
            attempt += 1;
        }
        Ok(pending.iter().filter_map(batch_write_of).collect())
    }
}

fn write_request(write: &BatchWrite) -> WriteRequest {
    match write {
        BatchWrite::Put(song) => {
            let mut item = key_attributes(&song.key);
            if let Some(album) = &song.album_title {
                item.insert(ALBUM_TITLE.to_owned(), AttributeValue::S(album.clone()));
            }
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .expect("the item is set");
            WriteRequest::builder().put_request(put).build()
        }
        BatchWrite::Delete(key) => {
            let delete = DeleteRequest::builder()
                .set_key(Some(key_attributes(key)))
                .build()
                .expect("the key is set");
            WriteRequest::builder().delete_request(delete).build()
        }
    }
}

/// An unprocessed write, back as the caller sent it.
fn batch_write_of(request: &WriteRequest) -> Option<BatchWrite> {
    if let Some(put) = &request.put_request {
        return stored_song(&put.item).map(BatchWrite::Put);
    }
    request
        .delete_request
        .as_ref()
        .and_then(|delete| stored_key(&delete.key))
        .map(BatchWrite::Delete)
}

fn stored_key(key: &Item) -> Option<SongKey> {
    let text = |name: &str| key.get(name).and_then(|v| v.as_s().ok()).cloned();
    Some(SongKey::from_stored(text(ARTIST)?, text(SONG_TITLE)?))
}
