//! BatchGetSongs and BatchWriteSongs on every backend:
//!
//! - beyond DynamoDB's limits (101 keys, 26 writes), or empty: INVALID_ARGUMENT
//!   naming the field; at the limits (100, 25): served;
//! - what DynamoDB leaves unprocessed is sent again: the store proxy's
//!   [`PartialBatches`] hook makes the store process only half of the first
//!   batch call (and say so, as DynamoDB does), and the call still answers
//!   everything, the proxy having seen the retry of exactly the other half;
//! - with a short deadline and entries the store never processes, the call
//!   answers within the deadline and names exactly those entries as
//!   unprocessed: never dropped, never "not found".

use std::{
    collections::{BTreeSet, HashSet},
    sync::Arc,
    time::{Duration, Instant},
};

use aws_sdk_dynamodb::types::AttributeValue;
use music_api::pb::{self, song_write::Write};
use music_testkit::{
    dynamodb,
    partial_batches::{PartialBatches, Rule},
};
use tonic::Code;

use crate::rig::{backends, details, key_of, song, with_deadline};

const ARTIST: &str = "Batch Artist";

fn key(title: &str) -> pb::SongKey {
    pb::SongKey {
        artist: ARTIST.into(),
        song_title: title.into(),
    }
}

fn put(song: pb::Song) -> pb::SongWrite {
    pb::SongWrite {
        write: Some(Write::Put(song)),
    }
}

fn delete(title: &str) -> pb::SongWrite {
    pb::SongWrite {
        write: Some(Write::Delete(key(title))),
    }
}

fn pair(key: &pb::SongKey) -> (String, String) {
    (key.artist.clone(), key.song_title.clone())
}

/// The key a write is of.
fn write_key(write: &pb::SongWrite) -> (String, String) {
    match &write.write {
        Some(Write::Put(song)) => key_of(song),
        Some(Write::Delete(key)) => pair(key),
        None => panic!("a write with neither put nor delete"),
    }
}

/// The songs of `table` as the store itself has them: (artist, title) → album.
async fn stored(endpoint: &str, table: &str) -> BTreeSet<(String, String, Option<String>)> {
    let page = dynamodb::client(endpoint)
        .scan()
        .table_name(table)
        .consistent_read(true)
        .send()
        .await
        .expect("the store's own Scan");
    page.items()
        .iter()
        .map(|item| {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
            (
                text("Artist").unwrap(),
                text("SongTitle").unwrap(),
                text("AlbumTitle"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_beyond_dynamodbs_limits_or_empty_are_invalid_argument_naming_the_field() {
    for backend in backends().await {
        let b = backend.name;
        let mut stack = backend.service().await;
        let table = stack.table("BatchLimits").await;
        let keys = |n: usize| (0..n).map(|i| key(&format!("Song {i:03}"))).collect();
        let writes = |n: usize| {
            (0..n)
                .map(|i| put(song(ARTIST, &format!("Song {i:03}"), "Limits")))
                .collect()
        };
        let get = |n| pb::BatchGetSongsRequest {
            table_name: table.clone(),
            keys: keys(n),
        };
        let write = |n| pb::BatchWriteSongsRequest {
            table_name: table.clone(),
            writes: writes(n),
        };

        let mut refused = Vec::new();
        for n in [101, 0] {
            let status = stack.items.batch_get_songs(get(n)).await.unwrap_err();
            refused.push(("BatchGetSongs", n, status));
        }
        for n in [26, 0] {
            let status = stack.items.batch_write_songs(write(n)).await.unwrap_err();
            refused.push(("BatchWriteSongs", n, status));
        }
        for (rpc, n, status) in &refused {
            let field = if *rpc == "BatchGetSongs" {
                "keys"
            } else {
                "writes"
            };
            eprintln!(
                "[{b}] {rpc} of {n}: {:?} {:?}",
                status.code(),
                status.message()
            );
            assert_eq!(status.code(), Code::InvalidArgument, "[{b}] {rpc} of {n}");
            let (reason, _, fields) = details(status);
            assert_eq!(reason, "ValidationException", "[{b}] {rpc} of {n}");
            assert_eq!(
                fields,
                vec![field.to_owned()],
                "[{b}] {rpc} of {n} names {field}"
            );
        }

        // At the limits, served.
        let written = stack
            .items
            .batch_write_songs(write(25))
            .await
            .unwrap()
            .into_inner();
        assert!(written.unprocessed.is_empty(), "[{b}]");
        let got = stack
            .items
            .batch_get_songs(get(100))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((got.songs.len(), got.not_found.len()), (25, 75), "[{b}]");
        assert!(got.songs.iter().all(|s| s.etag.len() == 32), "[{b}] etags");
        assert!(got.unprocessed.is_empty(), "[{b}]");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unprocessed_keys_and_writes_are_sent_again_until_all_are_done() {
    for backend in backends().await {
        let b = backend.name;
        let hook = Arc::new(PartialBatches::new(Rule::FirstCalls(1)));
        let mut stack = backend.service_through_proxy(Some(hook.clone() as _)).await;
        let table = stack.table("Unprocessed").await;

        let songs: Vec<_> = (0..25)
            .map(|i| song(ARTIST, &format!("Song {i:02}"), &format!("Album {i}")))
            .collect();
        let started = Instant::now();
        let written = stack
            .items
            .batch_write_songs(pb::BatchWriteSongsRequest {
                table_name: table.clone(),
                writes: songs.iter().cloned().map(put).collect(),
            })
            .await
            .unwrap()
            .into_inner();
        let write_took = started.elapsed();
        let calls = hook.calls_of("BatchWriteItem");
        eprintln!(
            "[{b}] BatchWriteSongs of 25, the first call half processed: {} calls (asked {:?}, left unprocessed {:?}) in {write_took:?}; {} unprocessed in the answer",
            calls.len(),
            calls.iter().map(|c| c.asked.len()).collect::<Vec<_>>(),
            calls
                .iter()
                .map(|c| c.unprocessed.len())
                .collect::<Vec<_>>(),
            written.unprocessed.len()
        );
        assert!(
            written.unprocessed.is_empty(),
            "[{b}] all done: {written:?}"
        );
        assert_eq!(calls.len(), 2, "[{b}] one call and one retry");
        assert_eq!(
            calls[0].unprocessed.len(),
            12,
            "[{b}] the store left 12 of 25"
        );
        assert_eq!(
            calls[1].asked, calls[0].unprocessed,
            "[{b}] the retry sends exactly those"
        );
        let expected: BTreeSet<_> = songs
            .iter()
            .map(|s| {
                (
                    s.artist.clone(),
                    s.song_title.clone(),
                    s.album_title.clone(),
                )
            })
            .collect();
        assert_eq!(
            stored(backend.endpoint(), &table).await,
            expected,
            "[{b}] all 25 stored"
        );

        // 25 songs and 10 that are not there: 35 keys, the first call half processed.
        let mut keys: Vec<_> = songs.iter().map(|s| key(&s.song_title)).collect();
        keys.extend((0..10).map(|i| key(&format!("Missing {i}"))));
        let started = Instant::now();
        let got = stack
            .items
            .batch_get_songs(pb::BatchGetSongsRequest {
                table_name: table.clone(),
                keys: keys.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        let calls = hook.calls_of("BatchGetItem");
        eprintln!(
            "[{b}] BatchGetSongs of 35, the first call half processed: {} calls (asked {:?}, left unprocessed {:?}) in {:?}; answer: {} songs, {} not found, {} unprocessed",
            calls.len(),
            calls.iter().map(|c| c.asked.len()).collect::<Vec<_>>(),
            calls
                .iter()
                .map(|c| c.unprocessed.len())
                .collect::<Vec<_>>(),
            started.elapsed(),
            got.songs.len(),
            got.not_found.len(),
            got.unprocessed.len()
        );
        assert_eq!(calls.len(), 2, "[{b}] one call and one retry");
        assert_eq!(
            calls[0].unprocessed.len(),
            17,
            "[{b}] the store left 17 of 35"
        );
        assert_eq!(
            calls[1].asked, calls[0].unprocessed,
            "[{b}] the retry asks exactly those"
        );
        let found: BTreeSet<_> = got.songs.iter().map(key_of).collect();
        let seeded: BTreeSet<_> = songs.iter().map(key_of).collect();
        assert_eq!(found, seeded, "[{b}] every song found");
        assert!(
            got.songs.iter().all(|got| songs
                .iter()
                .any(|s| s.song_title == got.song_title && s.album_title == got.album_title)),
            "[{b}] with their albums"
        );
        let missing: BTreeSet<_> = got.not_found.iter().map(pair).collect();
        let expected_missing: BTreeSet<_> = keys[25..].iter().map(pair).collect();
        assert_eq!(
            missing, expected_missing,
            "[{b}] the ten absent are not found"
        );
        assert!(got.unprocessed.is_empty(), "[{b}]");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn entries_left_unprocessed_until_the_deadline_are_returned_by_name_within_it() {
    const DEADLINE: Duration = Duration::from_secs(1);
    for backend in backends().await {
        let b = backend.name;
        let stuck_titles: Vec<String> = (0..4)
            .map(|i| format!("Stuck {i}"))
            .chain(["Stuck Delete".to_owned()])
            .collect();
        let hook = Arc::new(PartialBatches::new(Rule::Never(
            stuck_titles.iter().cloned().collect::<HashSet<_>>(),
        )));
        let mut stack = backend.service_through_proxy(Some(hook.clone() as _)).await;
        let table = stack.table("StuckBatches").await;
        // The song a stuck delete names is there, put straight into the store.
        let store = dynamodb::client(backend.endpoint());
        let put_direct = |title: &str| {
            store
                .put_item()
                .table_name(&table)
                .item("Artist", AttributeValue::S(ARTIST.into()))
                .item("SongTitle", AttributeValue::S(title.into()))
                .item("AlbumTitle", AttributeValue::S("Put Straight".into()))
                .send()
        };
        put_direct("Stuck Delete")
            .await
            .expect("a song put straight into the store");

        // 20 writes that go through, 4 puts and 1 delete that never do.
        let mut writes: Vec<_> = (0..20)
            .map(|i| put(song(ARTIST, &format!("Song {i:02}"), "Done")))
            .collect();
        let stuck_writes: Vec<_> = (0..4)
            .map(|i| {
                put(song(
                    ARTIST,
                    &format!("Stuck {i}"),
                    &format!("Stuck Album {i}"),
                ))
            })
            .chain([delete("Stuck Delete")])
            .collect();
        writes.splice(5..5, stuck_writes.clone());
        let started = Instant::now();
        let answer = stack
            .items
            .batch_write_songs(with_deadline(
                pb::BatchWriteSongsRequest {
                    table_name: table.clone(),
                    writes,
                },
                DEADLINE,
            ))
            .await
            .unwrap_or_else(|s| panic!("[{b}] BatchWriteSongs within its deadline: {s:?}"))
            .into_inner();
        let took = started.elapsed();
        let calls = hook.calls_of("BatchWriteItem");
        let pauses: Vec<_> = calls
            .windows(2)
            .map(|w| w[1].arrived - w[0].arrived)
            .collect();
        eprintln!(
            "[{b}] BatchWriteSongs of 25 with 5 never processed, deadline {DEADLINE:?}: answered in {took:?} with {} unprocessed after {} calls (pauses {pauses:?})",
            answer.unprocessed.len(),
            calls.len()
        );
        assert!(
            took < DEADLINE,
            "[{b}] answered within the deadline: {took:?}"
        );
        assert_eq!(
            answer.unprocessed, stuck_writes,
            "[{b}] exactly the stuck writes come back, as sent"
        );
        assert!(
            calls.len() >= 3,
            "[{b}] retried more than once: {} calls",
            calls.len()
        );
        let stuck_keys: BTreeSet<_> = stuck_writes.iter().map(write_key).collect();
        for call in &calls[1..] {
            let asked: BTreeSet<_> = call.asked.iter().cloned().collect();
            assert_eq!(
                asked, stuck_keys,
                "[{b}] the retries send only what was left"
            );
        }
        let in_store = stored(backend.endpoint(), &table).await;
        let titles: BTreeSet<_> = in_store.iter().map(|(_, t, _)| t.clone()).collect();
        assert_eq!(
            in_store.len(),
            21,
            "[{b}] the 20 written and the undeleted one"
        );
        assert!(
            titles.contains("Stuck Delete"),
            "[{b}] the stuck delete did not happen"
        );
        assert!(!titles.contains("Stuck 0"), "[{b}] nor the stuck puts");

        // Reads: 20 songs there, 3 absent, and the 5 stuck ones (there, put
        // straight into the store), which are never read.
        for title in &stuck_titles[..4] {
            put_direct(title)
                .await
                .expect("a song put straight into the store");
        }
        let mut keys: Vec<_> = (0..20).map(|i| key(&format!("Song {i:02}"))).collect();
        keys.extend((0..3).map(|i| key(&format!("Missing {i}"))));
        keys.extend(stuck_titles.iter().map(|t| key(t)));
        let before = hook.calls_of("BatchGetItem").len();
        let started = Instant::now();
        let got = stack
            .items
            .batch_get_songs(with_deadline(
                pb::BatchGetSongsRequest {
                    table_name: table.clone(),
                    keys,
                },
                DEADLINE,
            ))
            .await
            .unwrap_or_else(|s| panic!("[{b}] BatchGetSongs within its deadline: {s:?}"))
            .into_inner();
        let took = started.elapsed();
        let get_calls = hook.calls_of("BatchGetItem").len() - before;
        eprintln!(
            "[{b}] BatchGetSongs of 28 with 5 never processed, deadline {DEADLINE:?}: answered in {took:?} after {get_calls} calls: {} songs, {} not found, {} unprocessed",
            got.songs.len(),
            got.not_found.len(),
            got.unprocessed.len()
        );
        assert!(
            took < DEADLINE,
            "[{b}] answered within the deadline: {took:?}"
        );
        assert!(get_calls >= 3, "[{b}] retried more than once");
        assert_eq!(got.songs.len(), 20, "[{b}]");
        let not_found: BTreeSet<_> = got.not_found.iter().map(|k| k.song_title.clone()).collect();
        assert_eq!(
            not_found,
            (0..3).map(|i| format!("Missing {i}")).collect(),
            "[{b}] only the absent are not found"
        );
        let unprocessed: BTreeSet<_> = got
            .unprocessed
            .iter()
            .map(|k| k.song_title.clone())
            .collect();
        assert_eq!(
            unprocessed,
            stuck_titles.iter().cloned().collect(),
            "[{b}] the stuck ones are named unprocessed, not not-found"
        );
    }
}
