//! ListSongs, page by page, on every backend:
//!
//! - 2,500 songs of one artist walked in pages of 1, 7, 100 and 1000: each
//!   song exactly once, in DynamoDB's order (UTF-8 bytes), every page full
//!   but the last, none empty, and only the last without a token (2,500 is a
//!   multiple of 100: DynamoDB's LastEvaluatedKey on the last page must not
//!   make an empty page). The 2,500 pages of 1 are walked in four stretches
//!   at once, each from the token of a page of 625;
//! - a page token altered in any one byte, or replayed with another artist
//!   or another table, is INVALID_ARGUMENT naming `page_token`; replayed
//!   with another page size it goes on where it stopped;
//! - songs of ~100 KB, ten of which fill DynamoDB's 1 MB page: pages of 20
//!   are still 20.

use std::time::{Duration, Instant};

use music_api::pb::{self, item_service_client::ItemServiceClient};
use music_testkit::dynamodb;
use tonic::{Code, transport::Channel};

use crate::rig::{backends, details, song};

const ARTIST: &str = "Paging Artist";
const SONGS: usize = 2_500;

/// 2,500 titles, seeded in an order unlike DynamoDB's: upper and lower case,
/// two- and four-byte UTF-8, so that the order is bytes, not characters or case.
fn titles() -> Vec<String> {
    (0..SONGS)
        .map(|i| {
            let prefix = ["a", "B", "é", "Z", "😀"][i % 5];
            // 7919 is prime to 2,500: a permutation of 0..2500.
            format!("{prefix} song {:04}", (i * 7919) % SONGS)
        })
        .collect()
}

/// What one walk saw.
struct Walk {
    titles: Vec<String>,
    pages: Vec<usize>,
    /// The token after its last page: empty when it reached the end.
    next: String,
    took: Duration,
}

/// Every page of `artist`'s songs, `page_size` at a time.
async fn walk(
    client: &mut ItemServiceClient<Channel>,
    table: &str,
    artist: &str,
    page_size: i32,
) -> Walk {
    walk_from(client, table, artist, page_size, String::new(), usize::MAX).await
}

/// Up to `max_pages` pages of `artist`'s songs from the page `token` names
/// (empty: the first), `page_size` at a time; panics on a page that breaks
/// the contract (empty, or short with a token after it).
async fn walk_from(
    client: &mut ItemServiceClient<Channel>,
    table: &str,
    artist: &str,
    page_size: i32,
    mut token: String,
    max_pages: usize,
) -> Walk {
    let started = Instant::now();
    let (mut titles, mut pages) = (Vec::new(), Vec::new());
    while pages.len() < max_pages {
        let page = client
            .list_songs(pb::ListSongsRequest {
                table_name: table.to_owned(),
                artist: artist.to_owned(),
                page_size,
                page_token: token,
            })
            .await
            .unwrap_or_else(|s| panic!("page {} of {page_size}: {s:?}", pages.len()))
            .into_inner();
        assert!(
            !page.songs.is_empty(),
            "page {} of {page_size} is empty (token {:?})",
            pages.len(),
            page.next_page_token
        );
        for song in &page.songs {
            assert_eq!(song.artist, artist);
            assert_eq!(song.etag.len(), 32, "every song carries its etag");
        }
        pages.push(page.songs.len());
        titles.extend(page.songs.into_iter().map(|s| s.song_title));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
        assert_eq!(
            pages.last().copied(),
            Some(page_size as usize),
            "a page with a token after it is full"
        );
    }
    Walk {
        titles,
        pages,
        next: token,
        took: started.elapsed(),
    }
}

/// The walk in pages of 1 goes in this many stretches at once, each from a
/// token of a page of `SONGS / STRETCHES` (a token holds for any page size):
/// 2,500 calls one after the other would take 15 s on two cores.
const STRETCHES: usize = 4;

#[tokio::test(flavor = "multi_thread")]
async fn pages_of_1_7_100_and_1000_hold_each_of_2500_songs_once_in_order() {
    for backend in backends().await {
        let b = backend.name;
        let stack = backend.service().await;
        let table = stack.table("Paging").await;
        let titles = titles();
        let songs: Vec<_> = titles
            .iter()
            .map(|t| song(ARTIST, t, "Paged Album"))
            .collect();
        let seeding = Instant::now();
        stack.seed(&table, &songs, 4).await;
        let seeded = seeding.elapsed();
        let mut expected = titles.clone();
        expected.sort(); // String's order is UTF-8 byte order, as DynamoDB's.

        // Where each stretch of the walk in pages of 1 starts.
        let stretch = SONGS / STRETCHES;
        let mut starts = vec![String::new()];
        let mut client = stack.client().await;
        while starts.len() < STRETCHES {
            let from = starts.last().unwrap().clone();
            let page = walk_from(&mut client, &table, ARTIST, stretch as i32, from, 1).await;
            starts.push(page.next);
        }

        // The walks at once, each on a connection of its own.
        let mut plans: Vec<_> = starts.into_iter().map(|s| (1, s, stretch)).collect();
        plans.extend([7, 100, 1000].map(|size| (size, String::new(), usize::MAX)));
        let mut walks = Vec::new();
        for (page_size, from, max_pages) in plans {
            let (mut client, table) = (stack.client().await, table.clone());
            let walk = tokio::spawn(async move {
                walk_from(&mut client, &table, ARTIST, page_size, from, max_pages).await
            });
            walks.push((page_size, walk));
        }
        let mut done: Vec<(i32, Walk)> = Vec::new();
        for (page_size, walk) in walks {
            let walk = walk.await.expect("a walk");
            // The stretches of the walk in pages of 1 make one walk.
            match done.last_mut() {
                Some((1, whole)) if page_size == 1 => {
                    assert!(!whole.next.is_empty(), "[{b}] a stretch ends with a token");
                    whole.titles.extend(walk.titles);
                    whole.pages.extend(walk.pages);
                    whole.next = walk.next;
                    whole.took = whole.took.max(walk.took);
                }
                _ => done.push((page_size, walk)),
            }
        }
        for (page_size, walk) in done {
            let last = *walk.pages.last().unwrap();
            let how = if page_size == 1 {
                format!(" (in {STRETCHES} stretches of {stretch} pages at once)")
            } else {
                String::new()
            };
            eprintln!(
                "[{b}] {SONGS} songs (seeded in {seeded:?}) in pages of {page_size}{how}: {} pages, last {last}, {:?}",
                walk.pages.len(),
                walk.took,
            );
            assert!(walk.next.is_empty(), "[{b}] the last page has no token");
            assert_eq!(
                walk.titles.len(),
                SONGS,
                "[{b}] pages of {page_size}: every song"
            );
            assert!(
                walk.titles == expected,
                "[{b}] pages of {page_size}: each song once, in song-title order"
            );
            let size = page_size as usize;
            assert_eq!(walk.pages.len(), SONGS.div_ceil(size), "[{b}]");
            assert!(
                walk.pages[..walk.pages.len() - 1]
                    .iter()
                    .all(|p| *p == size),
                "[{b}] every page but the last is full"
            );
            assert_eq!(
                last,
                if SONGS.is_multiple_of(size) {
                    size
                } else {
                    SONGS % size
                },
                "[{b}] the last page holds the rest, and is not empty"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_token_altered_in_one_byte_or_replayed_elsewhere_is_invalid_argument() {
    const BASE64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for backend in backends().await {
        let b = backend.name;
        let mut stack = backend.service().await;
        let table = stack.table("Tokens").await;
        let other_table = stack.table("TokensElsewhere").await;
        let mut songs = Vec::new();
        for n in 0..30 {
            songs.push(song(ARTIST, &format!("Song {n:02}"), "A"));
            songs.push(song("Other Artist", &format!("Song {n:02}"), "B"));
        }
        stack.seed(&table, &songs, 2).await;
        stack.seed(&other_table, &songs, 2).await;
        let request =
            |table: &str, artist: &str, page_size: i32, token: &str| pb::ListSongsRequest {
                table_name: table.to_owned(),
                artist: artist.to_owned(),
                page_size,
                page_token: token.to_owned(),
            };
        let first = stack
            .items
            .list_songs(request(&table, ARTIST, 7, ""))
            .await
            .unwrap()
            .into_inner();
        let token = first.next_page_token;
        assert!(
            !token.is_empty(),
            "[{b}] a first page of 7 of 30 has a token"
        );

        // The token as given goes on after the 7th song, whatever the page size.
        let next = stack
            .items
            .list_songs(request(&table, ARTIST, 10, &token))
            .await
            .unwrap_or_else(|s| panic!("[{b}] the token as given: {s:?}"))
            .into_inner();
        let titles: Vec<_> = next.songs.iter().map(|s| s.song_title.as_str()).collect();
        assert_eq!(titles.first().copied(), Some("Song 07"), "[{b}]");
        assert_eq!(titles.len(), 10, "[{b}]");

        let refused = |status: &tonic::Status, what: &str| {
            assert_eq!(
                status.code(),
                Code::InvalidArgument,
                "[{b}] {what}: {status:?}"
            );
            let (reason, domain, fields) = details(status);
            assert_eq!(
                (reason.as_str(), domain.as_str(), fields),
                (
                    "ValidationException",
                    "dynamodb",
                    vec!["page_token".to_owned()]
                ),
                "[{b}] {what}"
            );
        };

        // Every one-byte change of the token: another base64url character in its place.
        let mut altered = 0;
        for at in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            let was = bytes[at];
            bytes[at] = *BASE64URL.iter().find(|c| **c != was).unwrap();
            let changed = String::from_utf8(bytes).unwrap();
            let status = stack
                .items
                .list_songs(request(&table, ARTIST, 7, &changed))
                .await
                .expect_err("an altered token is refused");
            refused(&status, &format!("byte {at} altered"));
            altered += 1;
        }
        for (what, bad) in [
            ("truncated", &token[..token.len() - 1]),
            ("made up", "bm90IGEgdG9rZW4"),
            ("not base64", "!!!"),
        ] {
            let status = stack
                .items
                .list_songs(request(&table, ARTIST, 7, bad))
                .await
                .expect_err("refused");
            refused(&status, what);
        }

        // The same token with another artist of the same table, and with the
        // same artist in another table: both have songs after "Song 06".
        let other_artist = stack
            .items
            .list_songs(request(&table, "Other Artist", 7, &token))
            .await
            .expect_err("a token of another artist is refused");
        refused(&other_artist, "another artist");
        let other_table_status = stack
            .items
            .list_songs(request(&other_table, ARTIST, 7, &token))
            .await
            .expect_err("a token of another table is refused");
        refused(&other_table_status, "another table");
        eprintln!(
            "[{b}] token of {} characters: {altered} one-byte alterations, truncated, made up, another artist, another table: all INVALID_ARGUMENT (page_token); as given: goes on at {:?}",
            token.len(),
            titles.first()
        );

        let too_big = stack
            .items
            .list_songs(request(&table, ARTIST, 1001, ""))
            .await
            .expect_err("page_size 1001");
        assert_eq!(too_big.code(), Code::InvalidArgument, "[{b}]");
        assert_eq!(details(&too_big).2, vec!["page_size".to_owned()], "[{b}]");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_of_large_songs_stay_full_when_dynamodb_cuts_its_1_mb_pages() {
    const LARGE: usize = 25;
    const ALBUM_BYTES: usize = 100_000;
    const PAGE: i32 = 20;
    for backend in backends().await {
        let b = backend.name;
        let mut stack = backend.service().await;
        let table = stack.table("LargeSongs").await;
        let songs: Vec<_> = (0..LARGE)
            .map(|n| {
                let album = format!("{n:02}{}", "x".repeat(ALBUM_BYTES));
                song("Large Artist", &format!("Large {n:02}"), &album)
            })
            .collect();
        // Five writes a call: 0.5 MB messages.
        for chunk in songs.chunks(5) {
            stack.seed(&table, chunk, 1).await;
        }

        // What DynamoDB itself gives for the Query the service makes first
        // (Limit = page size + 1): a page cut by its 1 MB limit.
        let raw = dynamodb::client(backend.endpoint())
            .query()
            .table_name(&table)
            .key_condition_expression("Artist = :a")
            .expression_attribute_values(
                ":a",
                aws_sdk_dynamodb::types::AttributeValue::S("Large Artist".into()),
            )
            .limit(PAGE + 1)
            .consistent_read(true)
            .send()
            .await
            .expect("the store's own Query");
        let cut = raw.items().len();
        eprintln!(
            "[{b}] DynamoDB's own Query (Limit {}) of {LARGE} songs of {ALBUM_BYTES} bytes: {cut} items, LastEvaluatedKey {}",
            PAGE + 1,
            raw.last_evaluated_key().is_some()
        );
        assert!(
            cut < PAGE as usize && raw.last_evaluated_key().is_some(),
            "[{b}] the store cuts its page at 1 MB: {cut} items"
        );

        let mut client = stack.items.clone();
        let walked = walk(&mut client, &table, "Large Artist", PAGE).await;
        eprintln!(
            "[{b}] ListSongs in pages of {PAGE}: {:?} songs a page in {:?}",
            walked.pages, walked.took
        );
        assert_eq!(walked.pages, vec![20, 5], "[{b}] pages stay full");
        let expected: Vec<_> = songs.iter().map(|s| s.song_title.clone()).collect();
        assert_eq!(walked.titles, expected, "[{b}]");

        // One page of them all (page size 0: the default 100).
        let all = stack
            .items
            .list_songs(pb::ListSongsRequest {
                table_name: table.clone(),
                artist: "Large Artist".into(),
                page_size: 0,
                page_token: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(all.songs.len(), LARGE, "[{b}]");
        assert!(all.next_page_token.is_empty(), "[{b}]");
        assert!(
            all.songs
                .iter()
                .zip(&songs)
                .all(|(got, put)| got.album_title == put.album_title),
            "[{b}] the albums come back whole"
        );
    }
}
