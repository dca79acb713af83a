//! Reading many songs: a page of an artist's songs (Query), and every song of
//! an artist (Query) or a table (Scan) as a stream read page by page.

use std::{collections::HashMap, collections::VecDeque};

use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::Stream;

use super::{Observed, Operation, Store, StoreError, stored_song};
use crate::domain::{ARTIST, SONG_TITLE, Song, SongScope, TableName};

/// Songs asked of DynamoDB per Query or Scan call while streaming: small
/// enough that a cancelled stream stops within a page, large enough that a
/// 10,000-song stream takes 100 calls.
const STREAM_PAGE: i32 = 100;

type Key = HashMap<String, AttributeValue>;

impl Store {
    /// Up to `limit` of `artist`'s songs in song-title order, after the title
    /// `after`; and whether more remain. DynamoDB's pages are absorbed: a page
    /// cut short by its 1 MB limit is completed with more calls, and one more
    /// song than asked is read so that "more" is never claimed when none
    /// remain (DynamoDB's LastEvaluatedKey on a page that happens to be the last).
    pub async fn list_songs(
        &self,
        table: &TableName,
        artist: &str,
        limit: usize,
        after: Option<String>,
    ) -> Result<(Vec<Song>, bool), StoreError> {
        let mut songs = Vec::with_capacity(limit + 1);
        let mut start = after.map(|title| start_key(artist, &title));
        loop {
            let want = i32::try_from(limit + 1 - songs.len()).unwrap_or(i32::MAX);
            let page = self
                .client
                .query()
                .table_name(table.as_str())
                .key_condition_expression("#A = :a")
                .expression_attribute_names("#A", ARTIST)
                .expression_attribute_values(":a", AttributeValue::S(artist.to_owned()))
                .consistent_read(true)
                .limit(want)
                .set_exclusive_start_key(start.take())
                .send()
                .observed(Operation::Query)
                .await?;
            songs.extend(page.items().iter().filter_map(stored_song));
            match page.last_evaluated_key {
                Some(next) if songs.len() <= limit => start = Some(next),
                _ => break,
            }
        }
        let keep = limit.min(within_page_bytes(&songs));
        let more = songs.len() > keep;
        songs.truncate(keep);
        Ok((songs, more))
    }

    /// Every song in `scope`, read from DynamoDB a page at a time as the
    /// stream is polled: a caller that reads slowly slows the reads, and
    /// dropping the stream stops them.
    pub fn stream_songs(
        &self,
        scope: SongScope,
    ) -> impl Stream<Item = Result<Song, StoreError>> + Send + 'static {
        let reader = Reader {
            store: self.clone(),
            scope,
            start: None,
            buffer: VecDeque::new(),
            done: false,
        };
        futures_util::stream::unfold(reader, |mut reader| async move {
            match reader.next().await {
                Ok(Some(song)) => Some((Ok(song), reader)),
                Ok(None) => None,
                Err(error) => {
                    reader.done = true;
                    reader.buffer.clear();
                    Some((Err(error), reader))
                }
            }
        })
    }
}

/// A stream's position.
struct Reader {
    store: Store,
    scope: SongScope,
    start: Option<Key>,
    buffer: VecDeque<Song>,
    done: bool,
}

impl Reader {
    /// The next song, reading a page when the last one is used up.
    async fn next(&mut self) -> Result<Option<Song>, StoreError> {
        while self.buffer.is_empty() && !self.done {
            let (items, next) = self.page().await?;
            self.buffer.extend(items.iter().filter_map(stored_song));
            self.done = next.is_none();
            self.start = next;
        }
        Ok(self.buffer.pop_front())
    }

    async fn page(&mut self) -> Result<(Vec<Key>, Option<Key>), StoreError> {
        let client = &self.store.client;
        let table = self.scope.table.as_str();
        match &self.scope.artist {
            Some(artist) => {
                let page = client
                    .query()
                    .table_name(table)
                    .key_condition_expression("#A = :a")
                    .expression_attribute_names("#A", ARTIST)
                    .expression_attribute_values(":a", AttributeValue::S(artist.clone()))
                    .consistent_read(true)
                    .limit(STREAM_PAGE)
                    .set_exclusive_start_key(self.start.take())
                    .send()
                    .observed(Operation::Query)
                    .await?;
                Ok((page.items.unwrap_or_default(), page.last_evaluated_key))
            }
            None => {
                let page = client
                    .scan()
                    .table_name(table)
                    .consistent_read(true)
                    .limit(STREAM_PAGE)
                    .set_exclusive_start_key(self.start.take())
                    .send()
                    .observed(Operation::Scan)
                    .await?;
                Ok((page.items.unwrap_or_default(), page.last_evaluated_key))
            }
        }
    }
}

/// The most bytes of songs one ListSongs page carries: a page of 1,000 songs
/// of 400 KB would be a 400 MB message, far over the 4 MiB gRPC limit. A page
/// may then be shorter than asked (AIP-158 allows it), never empty.
const MAX_PAGE_BYTES: usize = 3 * 1024 * 1024;

/// How many of `songs`, from the first, fit in [`MAX_PAGE_BYTES`] (at least one).
fn within_page_bytes(songs: &[Song]) -> usize {
    let mut total = 0;
    for (n, song) in songs.iter().enumerate() {
        total += song.key.artist().len()
            + song.key.song_title().len()
            + song.album_title.as_ref().map_or(0, String::len);
        if total > MAX_PAGE_BYTES {
            return n.max(1);
        }
    }
    songs.len()
}

/// The ExclusiveStartKey that resumes after `title` within `artist`.
fn start_key(artist: &str, title: &str) -> Key {
    HashMap::from([
        (ARTIST.to_owned(), AttributeValue::S(artist.to_owned())),
        (SONG_TITLE.to_owned(), AttributeValue::S(title.to_owned())),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SongKey;

    fn song(album_bytes: usize) -> Song {
        Song {
            key: SongKey::from_stored("a".into(), "t".into()),
            album_title: Some("x".repeat(album_bytes)),
        }
    }

    #[test]
    fn a_page_of_large_songs_stays_under_the_message_limit_but_never_empty() {
        let songs: Vec<Song> = (0..20).map(|_| song(400 * 1024)).collect();
        assert_eq!(within_page_bytes(&songs), 7);
        assert_eq!(within_page_bytes(&[song(MAX_PAGE_BYTES * 2)]), 1);
        let small: Vec<Song> = (0..1000).map(|_| song(10)).collect();
        assert_eq!(within_page_bytes(&small), 1000);
    }
}
