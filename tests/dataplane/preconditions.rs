//! Etags and preconditions (AIP-154) on every backend:
//!
//! - 64 writers, each on its own connection, do read-modify-write on one
//!   song with etags (GetItem, then UpdateItem with the etag read, appending
//!   its own marker to the album title; on ABORTED, read again): every write
//!   answered OK is in the final history, in the order the answers show,
//!   every conflict is ABORTED with ConditionalCheckFailedException, no write
//!   is lost;
//! - two concurrent "only if absent" puts of one new song: exactly one is
//!   OK, the other ALREADY_EXISTS;
//! - a write or delete with a stale etag is ABORTED and changes nothing; an
//!   etag is derived from content (the same content, the same etag).

use std::time::{Duration, Instant};

use music_api::pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::rig::{backends, details, song};

const WRITERS: usize = 64;
/// A bound that catches a stall, not a slow machine.
const WRITERS_WITHIN: Duration = Duration::from_secs(45);

/// ErrorInfo (reason, domain, operation) of a refused write.
fn info(status: &tonic::Status) -> (String, String, String) {
    let info = status
        .get_details_error_info()
        .unwrap_or_else(|| panic!("an ErrorInfo: {status:?}"));
    let operation = info.metadata.get("operation").cloned().unwrap_or_default();
    (info.reason, info.domain, operation)
}

fn conditional_failure(operation: &str) -> (String, String, String) {
    (
        "ConditionalCheckFailedException".into(),
        "dynamodb".into(),
        operation.into(),
    )
}

/// A pause of 0 to `bound_ms` milliseconds, from a small generator of the
/// writer's own: writers that lost together do not all retry together.
fn jitter(state: &mut u64, bound_ms: u64) -> Duration {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    Duration::from_millis(*state % (bound_ms + 1))
}

/// What one writer saw.
#[derive(Default)]
struct Writer {
    /// The album title of its OK answer.
    acknowledged: Option<String>,
    /// The ErrorInfo of each ABORTED answer.
    conflicts: Vec<(String, String, String)>,
    /// Anything else.
    failures: Vec<String>,
    attempts: usize,
}

#[tokio::test(flavor = "multi_thread")]
async fn sixty_four_read_modify_write_writers_with_etags_lose_no_acknowledged_write() {
    for backend in backends().await {
        let b = backend.name;
        let mut stack = backend.service().await;
        let table = stack.table("Etags").await;
        stack
            .items
            .put_item(pb::PutItemRequest {
                table_name: table.clone(),
                song: Some(song("Etag Artist", "One Song", "start")),
                ..Default::default()
            })
            .await
            .unwrap();
        let mut clients = Vec::with_capacity(WRITERS);
        for _ in 0..WRITERS {
            clients.push(stack.client().await);
        }

        let started = Instant::now();
        let writers: Vec<_> = clients
            .into_iter()
            .enumerate()
            .map(|(writer, mut client)| {
                let table = table.clone();
                tokio::spawn(async move {
                    let marker = format!("w{writer:02}");
                    let mut seen = Writer::default();
                    let mut random = 0x9E37_79B9_7F4A_7C15_u64 ^ (writer as u64 + 1);
                    while seen.attempts < 10 * WRITERS {
                        seen.attempts += 1;
                        let current = match client
                            .get_item(pb::GetItemRequest {
                                table_name: table.clone(),
                                artist: "Etag Artist".into(),
                                song_title: "One Song".into(),
                            })
                            .await
                        {
                            Ok(song) => song.into_inner(),
                            Err(status) => {
                                seen.failures.push(format!("GetItem: {status:?}"));
                                break;
                            }
                        };
                        let album = format!(
                            "{}|{marker}",
                            current.album_title.as_deref().unwrap_or_default()
                        );
                        match client
                            .update_item(pb::UpdateItemRequest {
                                table_name: table.clone(),
                                artist: "Etag Artist".into(),
                                song_title: "One Song".into(),
                                album_title: album.clone(),
                                etag: current.etag.clone(),
                            })
                            .await
                        {
                            Ok(updated) => {
                                let updated = updated.into_inner();
                                if updated.album_title.as_deref() != Some(album.as_str())
                                    || updated.etag == current.etag
                                {
                                    seen.failures.push(format!("OK but {updated:?}"));
                                }
                                seen.acknowledged = updated.album_title;
                                break;
                            }
                            Err(status) if status.code() == Code::Aborted => {
                                seen.conflicts.push(info(&status));
                                // Back off a little, as a client that lost a race does.
                                let bound = (5u64 << seen.attempts.min(6)).min(250);
                                tokio::time::sleep(jitter(&mut random, bound)).await;
                            }
                            Err(status) => {
                                seen.failures.push(format!("UpdateItem: {status:?}"));
                                break;
                            }
                        }
                    }
                    (marker, seen)
                })
            })
            .collect();
        let mut results = Vec::new();
        for writer in writers {
            results.push(writer.await.expect("a writer finishes"));
        }
        let took = started.elapsed();

        let last = stack
            .items
            .get_item(pb::GetItemRequest {
                table_name: table.clone(),
                artist: "Etag Artist".into(),
                song_title: "One Song".into(),
            })
            .await
            .unwrap()
            .into_inner();
        let history = last.album_title.clone().unwrap_or_default();
        let markers: Vec<&str> = history.split('|').skip(1).collect();
        let acknowledged: Vec<_> = results
            .iter()
            .filter_map(|(_, w)| w.acknowledged.clone())
            .collect();
        let conflicts: Vec<_> = results
            .iter()
            .flat_map(|(_, w)| w.conflicts.iter().cloned())
            .collect();
        let failures: Vec<_> = results
            .iter()
            .flat_map(|(_, w)| w.failures.iter().cloned())
            .collect();
        let attempts: usize = results.iter().map(|(_, w)| w.attempts).sum();
        let most = results.iter().map(|(_, w)| w.attempts).max().unwrap_or(0);
        eprintln!(
            "[{b}] {WRITERS} read-modify-write writers with etags on one song in {took:?}: {} OK, {} ABORTED, {} other failures; {attempts} attempts (most by one writer: {most}); final history {} markers",
            acknowledged.len(),
            conflicts.len(),
            failures.len(),
            markers.len()
        );
        assert!(
            failures.is_empty(),
            "[{b}] nothing but OK and ABORTED: {failures:?}"
        );
        assert_eq!(
            acknowledged.len(),
            WRITERS,
            "[{b}] every writer got its write in"
        );
        let expected = conditional_failure("UpdateItem");
        assert!(
            conflicts.iter().all(|c| *c == expected),
            "[{b}] every conflict is ConditionalCheckFailedException: {:?}",
            conflicts.iter().find(|c| **c != expected)
        );
        assert!(history.starts_with("start|"), "[{b}] {history}");
        for (marker, _) in &results {
            assert_eq!(
                markers.iter().filter(|m| **m == marker).count(),
                1,
                "[{b}] {marker}'s acknowledged write is in the final history once: {history}"
            );
        }
        assert_eq!(
            markers.len(),
            WRITERS,
            "[{b}] and nothing else is: {history}"
        );
        // Each OK answer is the history as that write left it: a prefix of the final one.
        for album in &acknowledged {
            assert!(
                history.starts_with(album.as_str()),
                "[{b}] an acknowledged state {album:?} is a prefix of the final {history:?}"
            );
        }
        assert!(
            took <= WRITERS_WITHIN,
            "[{b}] {WRITERS} writers within {WRITERS_WITHIN:?}: {took:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn of_two_concurrent_only_if_absent_puts_exactly_one_creates_the_song() {
    const ROUNDS: usize = 20;
    for backend in backends().await {
        let b = backend.name;
        let mut stack = backend.service().await;
        let table = stack.table("OnlyIfAbsent").await;
        let (first, second) = (stack.client().await, stack.client().await);
        let put = |title: String, album: &str| pb::PutItemRequest {
            table_name: table.clone(),
            song: Some(song("Absent Artist", &title, album)),
            only_if_absent: true,
            ..Default::default()
        };
        let mut winners = [0, 0];
        for round in 0..ROUNDS {
            let title = format!("New Song {round:02}");
            let (mut one, mut two) = (first.clone(), second.clone());
            let (a, b_) = tokio::join!(
                one.put_item(put(title.clone(), "first")),
                two.put_item(put(title.clone(), "second")),
            );
            let (won, lost, album) = match (a, b_) {
                (Ok(won), Err(lost)) => {
                    winners[0] += 1;
                    (won.into_inner(), lost, "first")
                }
                (Err(lost), Ok(won)) => {
                    winners[1] += 1;
                    (won.into_inner(), lost, "second")
                }
                other => panic!("[{b}] round {round}: not exactly one OK: {other:?}"),
            };
            assert_eq!(lost.code(), Code::AlreadyExists, "[{b}] {lost:?}");
            assert_eq!(info(&lost), conditional_failure("PutItem"), "[{b}]");
            assert!(!won.replaced, "[{b}] the winner created it");
            let stored = stack
                .items
                .get_item(pb::GetItemRequest {
                    table_name: table.clone(),
                    artist: "Absent Artist".into(),
                    song_title: title.clone(),
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(
                stored.album_title.as_deref(),
                Some(album),
                "[{b}] the winner's song"
            );
            assert_eq!(
                won.song.map(|s| s.etag),
                Some(stored.etag),
                "[{b}] PutItem answers the etag of the song it wrote"
            );
        }
        eprintln!(
            "[{b}] {ROUNDS} rounds of two concurrent only-if-absent puts: one OK and one ALREADY_EXISTS each (first won {}, second {})",
            winners[0], winners[1]
        );

        let both = stack
            .items
            .put_item(pb::PutItemRequest {
                etag: "0123456789abcdef0123456789abcdef".into(),
                ..put("Both".into(), "x")
            })
            .await
            .expect_err("etag and only_if_absent together");
        assert_eq!(both.code(), Code::InvalidArgument, "[{b}]");
        assert_eq!(details(&both).2, vec!["only_if_absent".to_owned()], "[{b}]");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_with_a_stale_etag_are_aborted_and_change_nothing() {
    for backend in backends().await {
        let b = backend.name;
        let mut stack = backend.service().await;
        let table = stack.table("StaleEtags").await;
        let key = || pb::GetItemRequest {
            table_name: table.clone(),
            artist: "Stale Artist".into(),
            song_title: "Song".into(),
        };
        let put = |album: &str, etag: &str| pb::PutItemRequest {
            table_name: table.clone(),
            song: Some(song("Stale Artist", "Song", album)),
            etag: etag.into(),
            ..Default::default()
        };
        let update = |album: &str, etag: &str| pb::UpdateItemRequest {
            table_name: table.clone(),
            artist: "Stale Artist".into(),
            song_title: "Song".into(),
            album_title: album.into(),
            etag: etag.into(),
        };
        let delete = |etag: &str| pb::DeleteItemRequest {
            table_name: table.clone(),
            artist: "Stale Artist".into(),
            song_title: "Song".into(),
            etag: etag.into(),
        };

        let v1 = stack
            .items
            .put_item(put("v1", ""))
            .await
            .unwrap()
            .into_inner();
        let stale = v1.song.expect("PutItem answers the song").etag;
        assert_eq!(
            stack.items.get_item(key()).await.unwrap().into_inner().etag,
            stale
        );
        let v2 = stack
            .items
            .update_item(update("v2", ""))
            .await
            .unwrap()
            .into_inner();
        assert_ne!(v2.etag, stale, "[{b}] new content, new etag");

        let aborted = [
            (
                "DeleteItem",
                stack
                    .items
                    .delete_item(delete(&stale))
                    .await
                    .map(|_| ())
                    .unwrap_err(),
            ),
            (
                "PutItem",
                stack
                    .items
                    .put_item(put("v3", &stale))
                    .await
                    .map(|_| ())
                    .unwrap_err(),
            ),
            (
                "UpdateItem",
                stack
                    .items
                    .update_item(update("v3", &stale))
                    .await
                    .map(|_| ())
                    .unwrap_err(),
            ),
        ];
        for (operation, status) in &aborted {
            assert_eq!(
                status.code(),
                Code::Aborted,
                "[{b}] {operation}: {status:?}"
            );
            assert_eq!(info(status), conditional_failure(operation), "[{b}]");
        }
        let after = stack.items.get_item(key()).await.unwrap().into_inner();
        assert_eq!(after, v2, "[{b}] stale writes change nothing");

        // The current etag is honoured; then the song is gone, and no etag matches it.
        let deleted = stack
            .items
            .delete_item(delete(&v2.etag))
            .await
            .unwrap()
            .into_inner();
        assert!(deleted.existed, "[{b}]");
        let on_absent = stack.items.put_item(put("v2", &v2.etag)).await.unwrap_err();
        assert_eq!(
            on_absent.code(),
            Code::Aborted,
            "[{b}] an etag of a deleted song"
        );
        let update_absent = stack
            .items
            .update_item(update("v2", &v2.etag))
            .await
            .unwrap_err();
        assert_eq!(
            update_absent.code(),
            Code::Aborted,
            "[{b}] and no upsert under an etag"
        );
        assert_eq!(
            stack.items.get_item(key()).await.unwrap_err().code(),
            Code::NotFound
        );

        // Content-derived: the same content written again has the same etag.
        let again = stack
            .items
            .put_item(put("v2", ""))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(again.song.map(|s| s.etag), Some(v2.etag.clone()), "[{b}]");
        eprintln!(
            "[{b}] stale etag {stale}: DeleteItem, PutItem, UpdateItem ABORTED (ConditionalCheckFailedException), song unchanged; the current etag {} deletes; v2 written again has it again",
            v2.etag
        );
    }
}
