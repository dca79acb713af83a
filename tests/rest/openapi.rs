//! The OpenAPI 3.1 document: served at `GET /openapi.json` and printed by
//! `music-gateway openapi` (the same document), describing every `/v1`
//! operation and the tutorial's routes; valid by the real
//! `openapi-spec-validator`; and the real `schemathesis`, run against the
//! live gateway from the served document, finds no 5xx and no answer that
//! breaks it. Bounded: a fixed number of examples per operation and a fixed
//! seed (schemathesis' own `--max-time` is not one: its fuzzing phase repeats
//! until that budget is spent), and a time limit on each run.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::support::{Mode, Stack, ok, python_tool};

/// What schemathesis checks: no server errors, and every answer as the
/// document says (status, content type, headers, body schema).
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_headers_conformance,response_schema_conformance";
/// Test cases per operation and phase.
const EXAMPLES: &str = "20";
/// The most one schemathesis run may take (about 20 s here).
const RUN_LIMIT: Duration = Duration::from_secs(75);

/// Values schemathesis draws some of its path and header parameters from,
/// so that many requests reach stored data instead of missing tables.
const KNOWN_DATA: &str = r#"
[dictionaries.tables]
values = ["Music"]
[dictionaries.artists]
values = ["AC/DC", "No One You Know"]
[dictionaries.titles]
values = ["Back in Black", "Call Me Today"]

[parameters]
"path.table_name" = { dictionary = "tables", probability = 0.8 }
"path.artist" = { dictionary = "artists", probability = 0.7 }
"path.song_title" = { dictionary = "titles", probability = 0.7 }
"header.table" = { dictionary = "tables", probability = 0.7 }
"header.artist" = { dictionary = "artists", probability = 0.7 }
"header.songtitle" = { dictionary = "titles", probability = 0.7 }
"#;

fn operations(document: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            found.push((method.to_uppercase(), path.clone()));
        }
    }
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn the_document_describes_both_route_families_and_is_printed_the_same() {
    let stack = Stack::start(Mode::InProcess, &[]).await;
    let served = ok(&stack.curl("GET", "/openapi.json").send().await);
    assert_eq!(served["openapi"], "3.1.0");
    let expected: Vec<(String, String)> = [
        ("DELETE", "/Test/DemoResourceMusic/DemoResourceMusicItem"),
        ("DELETE", "/Test/DemoResourceMusic/DemoResourceMusicTable"),
        ("DELETE", "/v1/tables/{table_name}"),
        (
            "DELETE",
            "/v1/tables/{table_name}/artists/{artist}/songs/{song_title}",
        ),
        ("GET", "/Test/DemoResourceMusic/DemoResourceMusicItem"),
        ("GET", "/v1/tables"),
        ("GET", "/v1/tables/{table_name}"),
        ("GET", "/v1/tables/{table_name}/artists/{artist}/songs"),
        (
            "GET",
            "/v1/tables/{table_name}/artists/{artist}/songs/{song_title}",
        ),
        (
            "GET",
            "/v1/tables/{table_name}/artists/{artist}/songs:stream",
        ),
        ("GET", "/v1/tables/{table_name}/songs:stream"),
        (
            "PATCH",
            "/v1/tables/{table_name}/artists/{artist}/songs/{song_title}",
        ),
        ("POST", "/Test/DemoResourceMusic/DemoResourceMusicItem"),
        ("POST", "/v1/tables"),
        ("POST", "/v1/tables/{table_name}/songs:batchGet"),
        ("POST", "/v1/tables/{table_name}/songs:batchWrite"),
        ("PUT", "/Test/DemoResourceMusic/DemoResourceMusicItem"),
        ("PUT", "/Test/DemoResourceMusic/DemoResourceMusicTable"),
        (
            "PUT",
            "/v1/tables/{table_name}/artists/{artist}/songs/{song_title}",
        ),
    ]
    .iter()
    .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
    .collect();
    assert_eq!(operations(&served), expected);

    let paths = &served["paths"];
    // A /v1 operation: parameters from the path and the query, the error answer.
    let list = &paths["/v1/tables/{table_name}/artists/{artist}/songs"]["get"];
    assert_eq!(list["operationId"], "ItemService_ListSongs");
    let names: Vec<(&str, &str)> = list["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["in"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("table_name", "path"),
            ("artist", "path"),
            ("pageSize", "query"),
            ("pageToken", "query")
        ]
    );
    assert_eq!(
        list["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/music.v1.ListSongsResponse"
    );
    assert_eq!(
        list["responses"]["default"]["$ref"],
        "#/components/responses/Status"
    );
    // The song: ETag out, If-Match in, 412 documented; PUT's body is the song without its key.
    let song = &paths["/v1/tables/{table_name}/artists/{artist}/songs/{song_title}"];
    assert!(song["get"]["responses"]["200"]["headers"]["ETag"].is_object());
    let patch_headers: Vec<&str> = song["patch"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in"] == "header")
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(patch_headers, ["If-Match"]);
    assert!(song["patch"]["responses"]["412"].is_object());
    let put_body = &song["put"]["requestBody"]["content"]["application/json"]["schema"];
    let mut properties: Vec<&str> = put_body["properties"]
        .as_object()
        .expect("an inline schema")
        .keys()
        .map(String::as_str)
        .collect();
    properties.sort_unstable();
    assert_eq!(properties, ["albumTitle", "etag"], "{put_body}");
    // The stream: NDJSON lines of Song.
    let stream = &paths["/v1/tables/{table_name}/artists/{artist}/songs:stream"]["get"];
    assert_eq!(
        stream["responses"]["200"]["content"]["application/x-ndjson"]["schema"]["properties"]["result"]
            ["$ref"],
        "#/components/schemas/music.v1.Song"
    );
    // Schemas in proto3 JSON: int64 as strings, enums by name, comments as descriptions.
    let schemas = &served["components"]["schemas"];
    assert_eq!(
        schemas["music.v1.Table"]["properties"]["itemCount"]["type"],
        "string"
    );
    assert_eq!(
        schemas["music.v1.TableStatus"]["enum"][4],
        "TABLE_STATUS_ACTIVE"
    );
    assert!(
        schemas["music.v1.Song"]["properties"]["artist"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("Partition key")),
        "{}",
        schemas["music.v1.Song"]
    );
    assert_eq!(
        schemas["google.rpc.Status"]["required"],
        serde_json::json!(["code", "message", "details"])
    );
    // The tutorial's routes: header parameters and their exact answers.
    let put_item = &paths["/Test/DemoResourceMusic/DemoResourceMusicItem"]["put"];
    let headers: Vec<&str> = put_item["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in"] == "header")
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(headers, ["table", "artist", "songtitle", "albumtitle"]);
    assert_eq!(
        put_item["responses"]["200"]["content"]["application/json"]["schema"]["const"],
        "Item added"
    );
    assert_eq!(
        put_item["responses"]["400"]["content"]["application/json"]["example"],
        "KeyError exception happened while using key 'table' to get the value."
    );
    let create = &paths["/Test/DemoResourceMusic/DemoResourceMusicTable"]["put"];
    assert_eq!(
        create["responses"]["200"]["content"]["application/json"]["schema"]["const"],
        "Table created"
    );

    // `music-gateway openapi` prints the same document, under the same stage.
    assert_eq!(printed_document(&["openapi"]), served);
    let staged = printed_document(&["--stage", "Prod", "openapi"]);
    assert!(staged["paths"]["/Prod/DemoResourceMusic/DemoResourceMusicTable"].is_object());
}

/// What `music-gateway ARGS` prints, as JSON (a clean environment, so no
/// MUSIC_* variable changes the document).
pub(crate) fn printed_document(args: &[&str]) -> Value {
    let output = Command::new(music_testkit::program::binary("music-gateway"))
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .expect("music-gateway runs");
    assert!(
        output.status.success(),
        "music-gateway {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the printed document is JSON")
}

/// Runs `tool` with `args`, bounded; its exit status and output.
fn run(tool: &str, args: &[&str], within: Duration) -> (bool, String) {
    // Output goes to files, not pipes, so a talkative run cannot fill a pipe
    // and stall until the limit; the tool runs in a folder of its own, so
    // whatever it caches does not land in the work tree.
    let folder = tempfile::tempdir().expect("a temporary folder");
    let mut stdout = tempfile::tempfile().expect("a temporary file");
    let mut stderr = tempfile::tempfile().expect("a temporary file");
    let mut child = Command::new(tool)
        .args(args)
        .current_dir(folder.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(stdout.try_clone().expect("a second handle"))
        .stderr(stderr.try_clone().expect("a second handle"))
        .spawn()
        .unwrap_or_else(|e| panic!("{tool} runs: {e}"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > within {
            let _ = child.kill();
            panic!("{tool} {args:?} did not finish within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut text = String::new();
    for file in [&mut stdout, &mut stderr] {
        use std::io::{Read, Seek};
        file.rewind().expect("rewind");
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).expect("read the output");
        text.push_str(&String::from_utf8_lossy(&bytes));
    }
    (status.success(), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_document_passes_openapi_spec_validator() {
    let Some(validator) = python_tool("OPENAPI_SPEC_VALIDATOR", "openapi-spec-validator") else {
        return;
    };
    let stack = Stack::start(Mode::InProcess, &[]).await;
    let answer = stack.curl("GET", "/openapi.json").send().await;
    ok(&answer);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &answer.body).expect("write the document");
    let path = file.to_str().expect("a UTF-8 path").to_owned();
    let (passed, output) = tokio::task::spawn_blocking(move || {
        run(
            &validator,
            &["--schema", "3.1", &path],
            Duration::from_secs(60),
        )
    })
    .await
    .expect("the validator's thread");
    eprintln!("{output}");
    assert!(
        passed,
        "openapi-spec-validator refused the document:\n{output}"
    );
    assert!(output.contains(": OK"), "{output}");
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_no_server_error_and_no_answer_that_breaks_the_document() {
    let Some(schemathesis) = python_tool("SCHEMATHESIS", "schemathesis") else {
        return;
    };
    // Accurate statuses on the tutorial's routes: in the seed mode, DynamoDB's
    // refusals are the tutorial's 500 by design, which is no server error.
    let stack = Stack::start(Mode::InProcess, &["--errors", "http"]).await;
    ok(&stack
        .curl("POST", "/v1/tables")
        .data(r#"{"tableName": "Music"}"#)
        .send()
        .await);
    ok(&stack
        .curl(
            "PUT",
            "/v1/tables/Music/artists/AC%2FDC/songs/Back%20in%20Black",
        )
        .data(r#"{"albumTitle": "Back in Black"}"#)
        .send()
        .await);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(&config, KNOWN_DATA).expect("write the config");
    let config = config.to_str().expect("a UTF-8 path").to_owned();
    let location = stack.url("/openapi.json");
    let reports = dir.path().to_str().expect("a UTF-8 path").to_owned();

    // Twice: drawing from the stored data without the calls that delete
    // tables (which would soon leave nothing to find), then every operation
    // with generated data only.
    let runs: [(&str, Vec<&str>); 2] = [
        (
            "stored data",
            vec![
                "--config-file",
                &config,
                "run",
                "--exclude-operation-id",
                "TableService_DeleteTable",
                "--exclude-operation-id",
                "Tutorial_DeleteTable",
            ],
        ),
        ("every operation", vec!["run"]),
    ];
    for (what, mut args) in runs {
        args.extend([
            location.as_str(),
            "--checks",
            CHECKS,
            "--max-examples",
            EXAMPLES,
            "--seed",
            "20261201",
            "--request-timeout",
            "30",
            "--workers",
            "2",
            "--generation-database",
            "none",
            "--report-dir",
            &reports,
            "--no-color",
        ]);
        let tool = schemathesis.clone();
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let (passed, output) = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&tool, &args, RUN_LIMIT)
        })
        .await
        .expect("schemathesis' thread");
        let summary: Vec<&str> = output
            .lines()
            .map(str::trim)
            .filter(|l| l.contains(" generated, ") || (l.starts_with("===") && l.contains(" in ")))
            .collect();
        eprintln!("schemathesis ({what}): {}\n{output}", summary.join(" "));
        assert!(passed, "schemathesis ({what}) found failures:\n{output}");
    }
}
