//! StreamSongs on every backend, the service's store calls counted by a
//! store proxy in front of the store:
//!
//! - 10,000 songs of one artist arrive complete and in order, read with one
//!   Query of 100 a page; the whole table (Scan) gives each of its 10,500
//!   songs exactly once;
//! - a client that stops reading (without cancelling) halts the reads once
//!   its HTTP/2 flow-control window is full, and gets the rest complete when
//!   it reads again (the window is the client's: tonic's 2 MiB holds the
//!   whole 10,000-song stream, so this client opens HTTP/2's default 64 KiB);
//! - a client that cancels after 10 songs stops the reads: a page or two,
//!   not the hundred a full read makes, and none more in the next second.

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use music_api::pb::{self, item_service_client::ItemServiceClient};
use music_testkit::store_proxy::{Fate, StoreProxy};
use tonic::{Streaming, transport::Channel};

use crate::rig::{Backend, Stack, backends, key_of, song};

const ARTIST: &str = "Stream Artist";
const SONGS: usize = 10_000;
/// Songs the service asks of DynamoDB per Query or Scan while streaming.
const PAGE: usize = 100;
/// Other artists, and songs each, in the same table (for the Scan).
const OTHERS: usize = 50;
const OTHER_SONGS: usize = 10;

fn title(n: usize) -> String {
    format!("Track {n:05}")
}

/// A service through a store proxy, with a table of 10,000 songs of
/// [`ARTIST`] and 10 songs of each of 50 other artists.
async fn stack_with_songs(backend: &Backend) -> (Stack, String, Vec<pb::Song>) {
    let stack = backend.service_through_proxy(None).await;
    let table = stack.table("Streams").await;
    // Seeded in an order unlike the stream's.
    let mut songs: Vec<_> = (0..SONGS)
        .rev()
        .map(|n| song(ARTIST, &title(n), "Streamed Album"))
        .collect();
    for artist in 0..OTHERS {
        for n in 0..OTHER_SONGS {
            songs.push(song(
                &format!("Other Artist {artist:02}"),
                &title(n),
                "B-sides",
            ));
        }
    }
    let started = Instant::now();
    backend.seed_store(&table, &songs, 4).await;
    eprintln!(
        "[{}] seeded {} songs straight into the store in {:?}",
        backend.name,
        songs.len(),
        started.elapsed()
    );
    (stack, table, songs)
}

async fn open(
    client: &mut ItemServiceClient<Channel>,
    table: &str,
    artist: &str,
) -> Streaming<pb::Song> {
    client
        .stream_songs(pb::StreamSongsRequest {
            table_name: table.to_owned(),
            artist: artist.to_owned(),
        })
        .await
        .unwrap_or_else(|s| panic!("StreamSongs {table}/{artist:?}: {s:?}"))
        .into_inner()
}

/// The rest of a stream, to its end.
async fn drain(stream: &mut Streaming<pb::Song>) -> Vec<pb::Song> {
    let mut songs = Vec::new();
    while let Some(song) = stream.message().await.expect("the stream goes on") {
        songs.push(song);
    }
    songs
}

fn queries(proxy: &StoreProxy) -> usize {
    proxy.count("Query", Fate::Forwarded)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_of_10000_songs_arrives_complete_and_in_order_and_a_scan_gives_each_song_once() {
    for backend in backends().await {
        let b = backend.name;
        let (stack, table, songs) = stack_with_songs(&backend).await;
        let proxy = stack.proxy();
        let mut client = stack.items.clone();

        let (before, started) = (queries(proxy), Instant::now());
        let mut stream = open(&mut client, &table, ARTIST).await;
        let streamed = drain(&mut stream).await;
        let (took, query_calls) = (started.elapsed(), queries(proxy) - before);
        let titles: Vec<_> = streamed.iter().map(|s| s.song_title.clone()).collect();
        let expected: Vec<_> = (0..SONGS).map(title).collect();
        eprintln!(
            "[{b}] StreamSongs of {ARTIST:?}: {} songs in {took:?}, {query_calls} Query calls",
            streamed.len()
        );
        assert_eq!(streamed.len(), SONGS, "[{b}] every song");
        assert!(titles == expected, "[{b}] in song-title order, each once");
        assert!(
            streamed
                .iter()
                .all(|s| s.artist == ARTIST && s.etag.len() == 32),
            "[{b}] songs of the artist, with etags"
        );
        // A page of 100 a call, and perhaps one more that finds the end.
        assert!(
            (SONGS / PAGE..=SONGS / PAGE + 1).contains(&query_calls),
            "[{b}] {query_calls} Query calls of {PAGE}"
        );

        let (before, started) = (proxy.count("Scan", Fate::Forwarded), Instant::now());
        let mut stream = open(&mut client, &table, "").await;
        let scanned = drain(&mut stream).await;
        let scan_calls = proxy.count("Scan", Fate::Forwarded) - before;
        let keys: BTreeSet<_> = scanned.iter().map(key_of).collect();
        let seeded: BTreeSet<_> = songs.iter().map(key_of).collect();
        eprintln!(
            "[{b}] StreamSongs of the whole table: {} songs ({} distinct) in {:?}, {scan_calls} Scan calls",
            scanned.len(),
            keys.len(),
            started.elapsed()
        );
        assert_eq!(scanned.len(), songs.len(), "[{b}] no song twice");
        assert!(keys == seeded, "[{b}] every song of the table");
        assert!(
            (songs.len() / PAGE..=songs.len() / PAGE + 1).contains(&scan_calls),
            "[{b}] {scan_calls} Scan calls of {PAGE}"
        );
    }
}

/// HTTP/2's default flow-control window (hyper's client, and so tonic's,
/// opens 2 MiB per stream, more than the whole 10,000-song stream).
const SMALL_WINDOW: u32 = 65_535;

/// A client whose connection and streams have HTTP/2's default 64 KiB windows.
async fn small_window_client(stack: &Stack) -> ItemServiceClient<Channel> {
    let channel = Channel::from_shared(stack.service.url("grpc"))
        .expect("a URI")
        .initial_stream_window_size(SMALL_WINDOW)
        .initial_connection_window_size(SMALL_WINDOW)
        .connect()
        .await
        .expect("connects");
    ItemServiceClient::new(channel)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_that_cancels_after_10_songs_stops_the_reads_and_one_that_stalls_halts_them() {
    for backend in backends().await {
        let b = backend.name;
        let (stack, table, _) = stack_with_songs(&backend).await;
        let proxy = stack.proxy();
        let full_read = SONGS / PAGE + 1;

        // A reader that takes 10 songs, then holds the stream and reads
        // nothing: once its window is full, the service's reads wait.
        let mut client = small_window_client(&stack).await;
        let before = queries(proxy);
        let mut stream = open(&mut client, &table, ARTIST).await;
        let mut got = Vec::new();
        for _ in 0..10 {
            got.push(stream.message().await.unwrap().expect("a song"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let halted = queries(proxy) - before;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let still = queries(proxy) - before;
        eprintln!(
            "[{b}] a reader with {SMALL_WINDOW}-byte windows that stalls after 10 songs: {halted} Query calls after 0.5 s, {still} after 1.5 s (a full read: {full_read})"
        );
        assert_eq!(
            still, halted,
            "[{b}] no reads while the client reads nothing"
        );
        assert!(
            halted <= full_read / 4,
            "[{b}] flow control holds the read-ahead to a few pages: {halted} Query calls"
        );
        let started = Instant::now();
        got.extend(drain(&mut stream).await);
        let titles: Vec<_> = got.iter().map(|s| s.song_title.clone()).collect();
        eprintln!(
            "[{b}] reading again: {} songs in all after {:?}, {} Query calls",
            got.len(),
            started.elapsed(),
            queries(proxy) - before
        );
        assert!(
            titles == (0..SONGS).map(title).collect::<Vec<_>>(),
            "[{b}] the rest arrives complete and in order once the client reads again: {} songs",
            got.len()
        );

        // A reader (tonic's defaults) that cancels after 10 songs. The store
        // answers in 20 ms, as a DynamoDB a zone away does: the local stores'
        // 3 ms would let a loaded machine's scheduling, rather than the
        // service, decide how many pages are read before the cancel arrives.
        proxy.set_latency(Duration::from_millis(20));
        let mut client = stack.client().await;
        let before = queries(proxy);
        let mut stream = open(&mut client, &table, ARTIST).await;
        for n in 0..10 {
            let song = stream.message().await.expect("a song").expect("a song");
            assert_eq!(song.song_title, title(n), "[{b}]");
        }
        let at_cancel = queries(proxy) - before;
        drop(stream);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let settled = queries(proxy) - before;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let second_later = queries(proxy) - before;
        proxy.set_latency(Duration::ZERO);
        eprintln!(
            "[{b}] cancelled after 10 songs: {at_cancel} Query calls then, {settled} 200 ms later, {second_later} a second after that (a full read: {full_read})"
        );
        assert!(
            settled <= 3,
            "[{b}] the reads stop within a page or two of the cancel: {settled} Query calls"
        );
        assert_eq!(
            second_later, settled,
            "[{b}] and no read follows in the next second"
        );

        // The service goes on serving streams.
        let mut stream = open(&mut client, &table, "Other Artist 00").await;
        assert_eq!(drain(&mut stream).await.len(), OTHER_SONGS, "[{b}]");
    }
}
