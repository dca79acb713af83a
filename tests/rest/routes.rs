//! Every `/v1` route through the real curl, with its answer, in both
//! gateway modes: the same walk through the API (tables, three songs, pages,
//! conditional writes, streams, batches, deletes) against each stack.

use serde_json::{Value, json};

use crate::support::{Mode, Stack, json, ok, reason, status};

const SONGS: &str = "/v1/tables/Music/artists/AC%2FDC/songs";

/// The etag the service derives from (artist, title, album): the same for
/// the same content, whatever the run.
fn etag_of(answer: &music_testkit::Answer) -> String {
    let etag = answer.header("etag").expect("an ETag header");
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "quoted: {etag}"
    );
    etag.trim_matches('"').to_owned()
}

fn song(artist: &str, title: &str, album: &str, etag: &str) -> Value {
    json!({"artist": artist, "songTitle": title, "albumTitle": album, "etag": etag})
}

async fn walk(stack: &Stack) {
    // CreateTable: POST /v1/tables, body "*".
    let created = ok(&stack
        .curl("POST", "/v1/tables")
        .data(r#"{"tableName": "Music"}"#)
        .send()
        .await);
    assert_eq!(created["name"], "Music");
    assert_eq!(created["status"], "TABLE_STATUS_ACTIVE", "enums by name");
    assert_eq!(
        created["keySchema"],
        json!([
            {"attributeName": "Artist", "keyType": "KEY_TYPE_HASH"},
            {"attributeName": "SongTitle", "keyType": "KEY_TYPE_RANGE"}
        ])
    );
    assert_eq!(
        created["provisionedThroughput"],
        json!({"readCapacityUnits": "5", "writeCapacityUnits": "5"}),
        "64-bit integers are strings"
    );
    assert!(
        created.get("itemCount").is_none(),
        "defaults are left out: {created}"
    );
    // The proto field name is accepted too.
    ok(&stack
        .curl("POST", "/v1/tables")
        .data(r#"{"table_name": "Other", "provisionedThroughput": {"readCapacityUnits": 2, "writeCapacityUnits": "3"}}"#)
        .send()
        .await);

    // ListTables: GET /v1/tables, a page at a time.
    let all = ok(&stack.curl("GET", "/v1/tables").send().await);
    assert_eq!(all, json!({"tableNames": ["Music", "Other"]}));
    let first = ok(&stack.curl("GET", "/v1/tables?pageSize=1").send().await);
    assert_eq!(first["tableNames"], json!(["Music"]));
    let token = first["nextPageToken"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let second = ok(&stack
        .curl("GET", &format!("/v1/tables?pageSize=1&pageToken={token}"))
        .send()
        .await);
    assert_eq!(
        second,
        json!({"tableNames": ["Other"]}),
        "the last page has no token"
    );

    // DescribeTable: GET /v1/tables/{table_name}.
    let described = ok(&stack.curl("GET", "/v1/tables/Music").send().await);
    assert_eq!(described["name"], "Music");
    assert_eq!(
        described["arn"]
            .as_str()
            .map(|a| a.ends_with("table/Music")),
        Some(true)
    );

    // PutItem: PUT …/songs/{song.song_title}, body "song"; the artist AC/DC as AC%2FDC.
    let mut etags = Vec::new();
    for title in ["Back in Black", "Highway to Hell", "T.N.T."] {
        let path = format!("{SONGS}/{}", title.replace(' ', "%20"));
        let answer = stack
            .curl("PUT", &path)
            .data(r#"{"albumTitle": "Album"}"#)
            .send()
            .await;
        let body = ok(&answer);
        let etag = etag_of(&answer);
        assert_eq!(
            body,
            json!({"song": song("AC/DC", title, "Album", &etag)}),
            "replaced: false is left out"
        );
        etags.push(etag);
    }
    let again = stack
        .curl("PUT", &format!("{SONGS}/T.N.T."))
        .data(r#"{"albumTitle": "High Voltage"}"#)
        .send()
        .await;
    let tnt = etag_of(&again);
    assert_eq!(
        ok(&again),
        json!({"replaced": true, "song": song("AC/DC", "T.N.T.", "High Voltage", &tnt)})
    );

    // GetItem: GET …/songs/{song_title}, with its ETag.
    let got = stack
        .curl("GET", &format!("{SONGS}/Back%20in%20Black"))
        .send()
        .await;
    assert_eq!(ok(&got), song("AC/DC", "Back in Black", "Album", &etags[0]));
    assert_eq!(etag_of(&got), etags[0]);

    // ListSongs: GET …/songs, two pages in title order.
    let page = ok(&stack
        .curl("GET", &format!("{SONGS}?pageSize=2"))
        .send()
        .await);
    let titles: Vec<&str> = page["songs"]
        .as_array()
        .expect("songs")
        .iter()
        .map(|s| s["songTitle"].as_str().expect("a title"))
        .collect();
    assert_eq!(titles, ["Back in Black", "Highway to Hell"]);
    let token = page["nextPageToken"].as_str().expect("a next page");
    let last = ok(&stack
        .curl("GET", &format!("{SONGS}?page_size=2&page_token={token}"))
        .send()
        .await);
    assert_eq!(
        last,
        json!({"songs": [song("AC/DC", "T.N.T.", "High Voltage", &tnt)]})
    );

    // UpdateItem: PATCH, body "*"; If-Match is the request's etag.
    let stale = stack
        .curl("PATCH", &format!("{SONGS}/Back%20in%20Black"))
        .header(r#"If-Match: "0123456789abcdef0123456789abcdef""#)
        .data(r#"{"albumTitle": "Back in Black"}"#)
        .send()
        .await;
    let refused = status(&stale, 412, 10);
    assert_eq!(
        reason(&refused),
        Some("ConditionalCheckFailedException"),
        "{refused}"
    );
    let fresh = stack
        .curl("PATCH", &format!("{SONGS}/Back%20in%20Black"))
        .header(format!("If-Match: \"{}\"", etags[0]))
        .data(r#"{"albumTitle": "Back in Black"}"#)
        .send()
        .await;
    let updated = etag_of(&fresh);
    assert_ne!(updated, etags[0], "new content, new etag");
    assert_eq!(
        ok(&fresh),
        song("AC/DC", "Back in Black", "Back in Black", &updated)
    );
    // The etag in the body instead of If-Match: a mismatch is grpc-gateway's 409.
    let stale_body = stack
        .curl("PATCH", &format!("{SONGS}/Back%20in%20Black"))
        .data(&format!(r#"{{"albumTitle": "X", "etag": "{}"}}"#, etags[0]))
        .send()
        .await;
    status(&stale_body, 409, 10);

    // PutItem with If-None-Match: * (only if absent): the song exists, 409.
    let exists = stack
        .curl("PUT", &format!("{SONGS}/T.N.T."))
        .header("If-None-Match: *")
        .data("{}")
        .send()
        .await;
    status(&exists, 409, 6);
    let absent = stack
        .curl("PUT", &format!("{SONGS}/Thunderstruck"))
        .header("If-None-Match: *")
        .data(r#"{"albumTitle": "The Razors Edge"}"#)
        .send()
        .await;
    assert_eq!(ok(&absent)["song"]["songTitle"], "Thunderstruck");

    // StreamSongs: NDJSON, an artist's songs and (the additional binding) the table's.
    let streamed = stack.curl("GET", &format!("{SONGS}:stream")).send().await;
    assert_eq!(streamed.status, 200, "{streamed:?}");
    assert_eq!(
        streamed.header("content-type"),
        Some("application/x-ndjson")
    );
    let lines: Vec<Value> = streamed
        .body
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let titles: Vec<&str> = lines
        .iter()
        .map(|l| l["result"]["songTitle"].as_str().expect("a result line"))
        .collect();
    assert_eq!(
        titles,
        [
            "Back in Black",
            "Highway to Hell",
            "T.N.T.",
            "Thunderstruck"
        ]
    );
    let table = stack
        .curl("GET", "/v1/tables/Music/songs:stream")
        .send()
        .await;
    assert_eq!(table.body.lines().count(), 4, "{table:?}");
    let empty = stack
        .curl("GET", "/v1/tables/Music/artists/Nobody/songs:stream")
        .send()
        .await;
    assert_eq!((empty.status, empty.body.as_str()), (200, ""), "{empty:?}");

    // BatchGetSongs and BatchWriteSongs: POST …/songs:batchGet, …:batchWrite.
    let batch = ok(&stack
        .curl("POST", "/v1/tables/Music/songs:batchGet")
        .data(r#"{"keys": [{"artist": "AC/DC", "songTitle": "T.N.T."}, {"artist": "AC/DC", "song_title": "Jailbreak"}]}"#)
        .send()
        .await);
    assert_eq!(
        batch,
        json!({
            "songs": [song("AC/DC", "T.N.T.", "High Voltage", &tnt)],
            "notFound": [{"artist": "AC/DC", "songTitle": "Jailbreak"}]
        })
    );
    let written = ok(&stack
        .curl("POST", "/v1/tables/Music/songs:batchWrite")
        .data(r#"{"writes": [{"put": {"artist": "AC/DC", "songTitle": "Jailbreak", "albumTitle": "'74 Jailbreak"}}, {"delete": {"artist": "AC/DC", "songTitle": "Thunderstruck"}}]}"#)
        .send()
        .await);
    assert_eq!(written, json!({}), "nothing left unprocessed");
    let jailbreak = ok(&stack
        .curl("GET", &format!("{SONGS}/Jailbreak"))
        .send()
        .await);
    assert_eq!(jailbreak["albumTitle"], "'74 Jailbreak");

    // DeleteItem: idempotent; existed says whether a song was there.
    let deleted = ok(&stack
        .curl("DELETE", &format!("{SONGS}/Jailbreak"))
        .send()
        .await);
    assert_eq!(deleted, json!({"existed": true}));
    let again = ok(&stack
        .curl("DELETE", &format!("{SONGS}/Jailbreak"))
        .send()
        .await);
    assert_eq!(again, json!({}), "existed: false is left out");
    let missing = stack
        .curl("GET", &format!("{SONGS}/Jailbreak"))
        .send()
        .await;
    let missing = status(&missing, 404, 5);
    assert_eq!(reason(&missing), Some("ITEM_NOT_FOUND"));
    // DeleteItem with a stale If-Match: 412, and the song stays.
    let kept = stack
        .curl("DELETE", &format!("{SONGS}/T.N.T."))
        .header(r#"If-Match: "ffffffffffffffffffffffffffffffff""#)
        .send()
        .await;
    status(&kept, 412, 10);
    ok(&stack.curl("GET", &format!("{SONGS}/T.N.T.")).send().await);

    // DeleteTable: DELETE /v1/tables/{table_name}; then it is gone.
    let dropped = ok(&stack.curl("DELETE", "/v1/tables/Other").send().await);
    assert_eq!(dropped["table"]["name"], "Other");
    let gone = stack.curl("GET", "/v1/tables/Other").send().await;
    let gone = status(&gone, 404, 5);
    assert_eq!(reason(&gone), Some("ResourceNotFoundException"));
    assert_eq!(
        gone["details"][0]["domain"], "dynamodb",
        "ErrorInfo as proto3 JSON: {gone}"
    );
    // A song call on a missing table says so first, as DynamoDB does.
    let no_table = stack
        .curl("GET", "/v1/tables/Other/artists/A/songs/B")
        .send()
        .await;
    assert_eq!(
        reason(&status(&no_table, 404, 5)),
        Some("ResourceNotFoundException")
    );
    let _ = json(&no_table);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_v1_route_answers_through_curl_with_the_service_in_process() {
    let stack = Stack::start(Mode::InProcess, &[]).await;
    walk(&stack).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_v1_route_answers_through_curl_behind_a_pure_gateway() {
    let stack = Stack::start(Mode::Pure, &[]).await;
    walk(&stack).await;
}
