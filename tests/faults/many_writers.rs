//! Many writers at once, over gRPC (64 clients, each on its own connection):
//!
//! - 64 × 100 UpdateItems of ONE item: no failure at all, every answer is the
//!   item as that update left it, and the final item is one of the values
//!   written: in fact the last value of one of the writers, since each writer
//!   waits for its answer before its next write.
//! - 64 writers × distinct items (PutItem): every acknowledged write is in
//!   the store, read straight from it with a fresh client.

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use music_api::pb::{self, item_service_client::ItemServiceClient};
use music_service::embedded::EmbeddedStore;
use tonic::transport::Channel;

use crate::table::scan;
use music_testkit::{
    Program,
    grpc::{create_table, items, put_request},
};

const TABLE: &str = "ManyWriters";
const WRITERS: usize = 64;
const UPDATES: usize = 100;
const ITEMS_PER_WRITER: usize = 20;
/// A bound that catches a stall, not a slow machine: 6 400 calls take about
/// 30 s alone on 2 cores with debug builds, longer beside other tests.
const UPDATES_WITHIN: Duration = Duration::from_secs(150);

fn album(writer: usize, n: usize) -> String {
    format!("Album {writer}-{n}")
}

/// An embedded store, a service on it with the table made, and one client
/// (its own connection) per writer. The store stops when it is dropped.
async fn writers_on_a_new_table() -> (EmbeddedStore, Program, Vec<ItemServiceClient<Channel>>) {
    let store = EmbeddedStore::start(None).await.expect("embedded store");
    let service = Program::service_on(&store.endpoint(), &[]).await;
    let addr = service.addr("grpc");
    create_table(addr, TABLE).await;
    let mut clients = Vec::with_capacity(WRITERS);
    for _ in 0..WRITERS {
        clients.push(items(addr).await);
    }
    (store, service, clients)
}

#[tokio::test(flavor = "multi_thread")]
async fn sixty_four_writers_updating_one_item_all_succeed_and_leave_a_last_written_value() {
    let (store, _service, clients) = writers_on_a_new_table().await;

    let started = Instant::now();
    let writers: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(writer, mut client)| {
            tokio::spawn(async move {
                let mut failures = Vec::new();
                for n in 0..UPDATES {
                    let request = pb::UpdateItemRequest {
                        table_name: TABLE.to_owned(),
                        artist: "Many Writers".to_owned(),
                        song_title: "One Song".to_owned(),
                        album_title: album(writer, n),
                        ..Default::default()
                    };
                    match client.update_item(request).await {
                        Ok(song) if song.get_ref().album_title == Some(album(writer, n)) => {}
                        other => failures.push(format!("writer {writer} update {n}: {other:?}")),
                    }
                }
                failures
            })
        })
        .collect();
    let mut failures = Vec::new();
    for writer in writers {
        failures.extend(writer.await.expect("a writer finishes"));
    }
    let took = started.elapsed();

    let songs = scan(&store.endpoint(), TABLE).await;
    let last_values: BTreeSet<String> = (0..WRITERS).map(|w| album(w, UPDATES - 1)).collect();
    let final_album = songs
        .get(&("Many Writers".to_owned(), "One Song".to_owned()))
        .cloned()
        .flatten();
    let calls = WRITERS * UPDATES;
    eprintln!(
        "load: {WRITERS} gRPC clients x {UPDATES} UpdateItems of one item = {calls} calls in {took:?} ({:.0}/s); {} failures; final album {final_album:?}",
        calls as f64 / took.as_secs_f64(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "every update succeeds and answers the item as it left it: {} failures, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(
        final_album.is_some_and(|a| last_values.contains(&a)),
        "the final item is the last value one of the writers wrote"
    );
    assert_eq!(songs.len(), 1, "one item: {songs:?}");
    assert!(
        took <= UPDATES_WITHIN,
        "{calls} updates within {UPDATES_WITHIN:?}: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sixty_four_writers_of_distinct_items_lose_no_acknowledged_write() {
    let (store, _service, clients) = writers_on_a_new_table().await;

    let started = Instant::now();
    let writers: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(writer, mut client)| {
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                let mut failures = Vec::new();
                for n in 0..ITEMS_PER_WRITER {
                    let (artist, title) = (format!("Writer {writer}"), format!("Song {n}"));
                    match client
                        .put_item(put_request(TABLE, &artist, &title, &album(writer, n)))
                        .await
                    {
                        Ok(_) => acknowledged.push(((artist, title), album(writer, n))),
                        Err(status) => failures.push(status),
                    }
                }
                (acknowledged, failures)
            })
        })
        .collect();
    let (mut acknowledged, mut failures) = (Vec::new(), Vec::new());
    for writer in writers {
        let (acked, failed) = writer.await.expect("a writer finishes");
        acknowledged.extend(acked);
        failures.extend(failed);
    }
    let took = started.elapsed();

    let songs = scan(&store.endpoint(), TABLE).await;
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|(key, album)| songs.get(key).cloned().flatten().as_ref() != Some(album))
        .collect();
    eprintln!(
        "load: {WRITERS} gRPC clients x {ITEMS_PER_WRITER} distinct PutItems in {took:?}: {} acknowledged, {} failed, {} found in the store, {} acknowledged but missing",
        acknowledged.len(),
        failures.len(),
        songs.len(),
        lost.len()
    );
    assert!(failures.is_empty(), "no write fails: {failures:?}");
    assert!(lost.is_empty(), "no acknowledged write is lost: {lost:?}");
    assert_eq!(songs.len(), WRITERS * ITEMS_PER_WRITER);
}
