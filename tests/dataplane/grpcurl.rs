//! The data plane with the real grpcurl, by reflection (no proto files), on
//! every backend: a paging walk with ListSongs, a StreamSongs stream, and a
//! conditional failure whose `google.rpc.ErrorInfo` grpcurl decodes and
//! prints (reflection serves google.rpc's descriptors: no "is not
//! recognized").

use music_api::pb;
use music_testkit::grpcurl;
use serde_json::{Value, json};

use crate::rig::{backends, song};

/// grpcurl's JSON answers, one or more objects one after the other (a stream).
fn answers(stdout: &str) -> Vec<Value> {
    serde_json::Deserializer::from_str(stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("grpcurl prints JSON: {e}\n{stdout}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn grpcurl_pages_streams_and_prints_a_conditional_failures_error_info() {
    let Some(grpcurl) = grpcurl::find() else {
        return;
    };
    for backend in backends().await {
        let b = backend.name;
        let stack = backend.service().await;
        let addr = stack.service.addr("grpc").to_string();
        let table = stack.table("Grpcurl").await;
        let titles = [
            "Call Me Today",
            "Happy Day",
            "My Dog Spot",
            "PartiQL Rocks",
            "Somewhere Down The Road",
        ];
        let songs: Vec<_> = titles
            .iter()
            .map(|t| song("No One You Know", t, "Somewhat Famous"))
            .collect();
        stack.seed(&table, &songs, 1).await;
        let call = |method: &str, body: &Value| {
            let body = body.to_string();
            grpcurl::run(
                &grpcurl,
                &[
                    "-plaintext",
                    "-d",
                    &body,
                    &addr,
                    &format!("music.v1.ItemService/{method}"),
                ],
            )
        };

        // A paging walk: pages of 2, following nextPageToken to its end.
        let (mut walked, mut pages, mut token) = (Vec::new(), Vec::new(), String::new());
        loop {
            let run = call(
                "ListSongs",
                &json!({"table_name": table, "artist": "No One You Know", "page_size": 2, "page_token": token}),
            );
            assert!(run.ok, "[{b}] ListSongs: {}", run.stderr);
            let page = &answers(&run.stdout)[0];
            let songs = page["songs"].as_array().expect("songs");
            pages.push(songs.len());
            for song in songs {
                assert_eq!(
                    song["etag"].as_str().map(str::len),
                    Some(32),
                    "[{b}] {song}"
                );
                walked.push(song["songTitle"].as_str().unwrap().to_owned());
            }
            match page["nextPageToken"].as_str() {
                Some(next) if !next.is_empty() => token = next.to_owned(),
                _ => break,
            }
        }
        eprintln!("[{b}] grpcurl ListSongs walk in pages of 2: {pages:?} → {walked:?}");
        assert_eq!(pages, vec![2, 2, 1], "[{b}]");
        assert_eq!(walked, titles, "[{b}] in order, each once");

        // A stream: one JSON object per song.
        let run = call(
            "StreamSongs",
            &json!({"table_name": table, "artist": "No One You Know"}),
        );
        assert!(run.ok, "[{b}] StreamSongs: {}", run.stderr);
        let streamed: Vec<_> = answers(&run.stdout)
            .iter()
            .map(|s| s["songTitle"].as_str().unwrap().to_owned())
            .collect();
        eprintln!("[{b}] grpcurl StreamSongs: {} messages", streamed.len());
        assert_eq!(streamed, titles, "[{b}]");
        let run = call("StreamSongs", &json!({"table_name": table}));
        assert!(run.ok, "[{b}] StreamSongs of the table: {}", run.stderr);
        assert_eq!(
            answers(&run.stdout).len(),
            titles.len(),
            "[{b}] the whole table"
        );

        // A conditional failure: an update under an etag the song does not have.
        let run = call(
            "UpdateItem",
            &json!({
                "table_name": table, "artist": "No One You Know", "song_title": "Call Me Today",
                "album_title": "Louder Than Ever", "etag": "00000000000000000000000000000000"
            }),
        );
        let printed = format!("{}{}", run.stdout, run.stderr);
        eprintln!("[{b}] grpcurl UpdateItem with a stale etag:\n{printed}");
        assert!(!run.ok, "[{b}] a stale etag fails");
        // grpcurl prints the detail as JSON, compact or indented by version.
        let compact: String = printed.split_whitespace().collect();
        for wanted in [
            "Code:Aborted",
            "\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\"",
            "\"reason\":\"ConditionalCheckFailedException\"",
            "\"domain\":\"dynamodb\"",
            "\"operation\":\"UpdateItem\"",
        ] {
            assert!(compact.contains(wanted), "[{b}] {wanted:?} in:\n{printed}");
        }
        assert!(
            !printed.contains("is not recognized"),
            "[{b}] grpcurl decodes the detail:\n{printed}"
        );
        let unchanged = stack
            .items
            .clone()
            .get_item(pb::GetItemRequest {
                table_name: table.clone(),
                artist: "No One You Know".into(),
                song_title: "Call Me Today".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            unchanged.album_title.as_deref(),
            Some("Somewhat Famous"),
            "[{b}]"
        );
    }
}
