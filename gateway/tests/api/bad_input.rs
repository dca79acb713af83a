//! What a client can get wrong, each with its exact answer (default error
//! mode `seed`): missing, malformed, repeated or oversized parameters, bodies
//! that are not JSON objects, and values DynamoDB refuses.

use music_testkit::Curl;

use crate::helpers::{TestApp, header_bytes, json_string};

/// The tutorial's parameters per route, in the order the Lambda functions read them.
const ROUTES: [(&str, Route, &[&str]); 6] = [
    ("PUT", Route::Table, &["table"]),
    ("DELETE", Route::Table, &["table"]),
    (
        "PUT",
        Route::Item,
        &["table", "artist", "songtitle", "albumtitle"],
    ),
    (
        "POST",
        Route::Item,
        &["table", "artist", "songtitle", "albumtitle"],
    ),
    ("GET", Route::Item, &["table", "artist", "songtitle"]),
    ("DELETE", Route::Item, &["table", "artist", "songtitle"]),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Table,
    Item,
}

fn request(app: &TestApp, method: &str, route: Route) -> Curl {
    match route {
        Route::Table => app.table(method),
        Route::Item => app.item(method),
    }
}

/// The tutorial's KeyError text, as its JSON body.
fn key_error(route: Route, param: &str) -> String {
    let what = match route {
        Route::Table => "table name",
        Route::Item => "value",
    };
    format!(r#""KeyError exception happened while using key '{param}' to get the {what}.""#)
}

#[tokio::test]
async fn every_route_names_its_first_missing_parameter_with_the_tutorials_key_error() {
    let app = TestApp::spawn().await;
    for (method, route, params) in ROUTES {
        // Nothing at all: the first parameter is the one named.
        request(&app, method, route).send().await.assert_json_for(
            &format!("{method} {route:?} without parameters"),
            400,
            &key_error(route, "table"),
        );

        // Every parameter but one: that one is named, whatever follows it.
        for missing in params {
            let mut curl = request(&app, method, route);
            for present in params.iter().filter(|p| *p != missing) {
                curl = curl.header(format!("{present}: Music"));
            }
            curl.send().await.assert_json_for(
                &format!("{method} {route:?} without {missing}"),
                400,
                &key_error(route, missing),
            );
        }

        // Only the last ones: the earliest absent one is named.
        if params.len() > 1 {
            let last = params[params.len() - 1];
            request(&app, method, route)
                .header(format!("{last}: x"))
                .send()
                .await
                .assert_json_for(
                    &format!("{method} {route:?} with {last} only"),
                    400,
                    &key_error(route, "table"),
                );
        }
    }
    app.assert_still_serves().await;
}

#[tokio::test]
async fn a_missing_parameter_is_named_before_a_bad_one_is_looked_at() {
    let app = TestApp::spawn().await;

    // The tutorial's Lambda reads `table` first; an unreadable `artist` comes later.
    app.item("PUT")
        .raw_header(&header_bytes("artist", b"Sigur R\xf3s"))
        .send()
        .await
        .assert_json(400, &key_error(Route::Item, "table"));
}

/// A request DynamoDB refuses (the service's own checks answer first, with
/// DynamoDB's wording): which call and the message as it appears in the JSON
/// body (already escaped).
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) what: &'static str,
    pub(crate) request: Curl,
    pub(crate) operation: &'static str,
    pub(crate) message: String,
}

const TOO_SHORT: &str = "Member must have length greater than or equal to 3";
const TOO_LONG: &str = "Member must have length less than or equal to 255";
const NOT_A_NAME: &str = "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+";
const EMPTY_KEY: &str = "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: ";
const ARTIST_TOO_LONG: &str = "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of 2048 bytes";
const TITLE_TOO_LONG: &str = "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes";
const ITEM_TOO_LARGE: &str = "Item size has exceeded the maximum allowed size";

fn table_name_rule(shown_name: &str, rule: &str) -> String {
    format!(
        "1 validation error detected: Value '{shown_name}' at 'tableName' failed to satisfy constraint: {rule}"
    )
}

/// Every kind of value DynamoDB refuses, on the calls that carry it. The
/// table `Music` is never created: the checks answer before DynamoDB is asked.
pub(crate) fn validation_refusals(app: &TestApp) -> Vec<Refusal> {
    let long_name = "x".repeat(256);
    let long_artist = "a".repeat(2049);
    let long_title = "t".repeat(1025);
    let item = |method: &str| {
        app.item(method)
            .header("table: Music")
            .header("songtitle: Call Me Today")
            .header("albumtitle: Somewhat Famous")
    };
    let huge_album = format!(
        r#"{{"table": "Music", "artist": "No One You Know", "songtitle": "Call Me Today", "albumtitle": {}}}"#,
        json_string(&"x".repeat(410_000))
    );
    vec![
        Refusal {
            what: "a table name of 2 characters",
            request: app.table("PUT").header("table: ab"),
            operation: "CreateTable",
            message: table_name_rule("ab", TOO_SHORT),
        },
        Refusal {
            what: "an empty table name",
            request: app.table("PUT").header("table;"),
            operation: "CreateTable",
            message: table_name_rule("", TOO_SHORT),
        },
        Refusal {
            what: "a table name of 256 characters",
            request: app.table("PUT").header(format!("table: {long_name}")),
            operation: "CreateTable",
            message: table_name_rule(&long_name, TOO_LONG),
        },
        Refusal {
            what: "a table name with a slash",
            request: app.table("PUT").header("table: Music/Rock"),
            operation: "CreateTable",
            message: table_name_rule("Music/Rock", NOT_A_NAME),
        },
        Refusal {
            what: "a table name with a space, from the query string",
            request: app.table("PUT").query("table=a%20b"),
            operation: "CreateTable",
            message: table_name_rule("a b", NOT_A_NAME),
        },
        Refusal {
            what: "a table name with a space, from the body",
            request: app.table("PUT").data(r#"{"table": "My Music"}"#),
            operation: "CreateTable",
            message: table_name_rule("My Music", NOT_A_NAME),
        },
        Refusal {
            what: "a table name with a non-ASCII letter",
            request: app.table("PUT").header("table: Músic"),
            operation: "CreateTable",
            message: table_name_rule(r"M\u00fasic", NOT_A_NAME),
        },
        Refusal {
            what: "a table name with a quote",
            request: app.table("PUT").data(r#"{"table": "say \"hi\""}"#),
            operation: "CreateTable",
            message: table_name_rule(r#"say \"hi\""#, NOT_A_NAME),
        },
        Refusal {
            what: "deleting a table of 2 characters",
            request: app.table("DELETE").header("table: ab"),
            operation: "DeleteTable",
            message: table_name_rule("ab", TOO_SHORT),
        },
        Refusal {
            what: "reading from a table of 2 characters",
            request: app
                .item("GET")
                .header("table: ab")
                .header("artist: No One You Know")
                .header("songtitle: Call Me Today"),
            operation: "GetItem",
            message: table_name_rule("ab", TOO_SHORT),
        },
        Refusal {
            what: "putting an empty artist",
            request: item("PUT").header("artist;"),
            operation: "PutItem",
            message: format!("{EMPTY_KEY}Artist"),
        },
        Refusal {
            what: "updating an empty artist",
            request: item("POST").header("artist;"),
            operation: "UpdateItem",
            message: format!("{EMPTY_KEY}Artist"),
        },
        Refusal {
            what: "reading an empty artist",
            request: app
                .item("GET")
                .header("table: Music")
                .header("artist;")
                .header("songtitle: Call Me Today"),
            operation: "GetItem",
            message: format!("{EMPTY_KEY}Artist"),
        },
        Refusal {
            what: "deleting an empty song title",
            request: app
                .item("DELETE")
                .header("table: Music")
                .header("artist: No One You Know")
                .header("songtitle;"),
            operation: "DeleteItem",
            message: format!("{EMPTY_KEY}SongTitle"),
        },
        Refusal {
            what: "putting an artist of 2049 bytes",
            request: item("PUT").header(format!("artist: {long_artist}")),
            operation: "PutItem",
            message: ARTIST_TOO_LONG.to_owned(),
        },
        Refusal {
            what: "reading an artist of 2049 bytes",
            request: app
                .item("GET")
                .header("table: Music")
                .header(format!("artist: {long_artist}"))
                .header("songtitle: Call Me Today"),
            operation: "GetItem",
            message: ARTIST_TOO_LONG.to_owned(),
        },
        Refusal {
            what: "putting a song title of 1025 bytes",
            request: app
                .item("PUT")
                .header("table: Music")
                .header("artist: No One You Know")
                .header(format!("songtitle: {long_title}"))
                .header("albumtitle: Somewhat Famous"),
            operation: "PutItem",
            message: TITLE_TOO_LONG.to_owned(),
        },
        Refusal {
            what: "deleting a song title of 1025 bytes",
            request: app
                .item("DELETE")
                .header("table: Music")
                .header("artist: No One You Know")
                .header(format!("songtitle: {long_title}")),
            operation: "DeleteItem",
            message: TITLE_TOO_LONG.to_owned(),
        },
        Refusal {
            what: "putting an item over 400 KB",
            request: app.item("PUT").body_from_stdin(huge_album.into_bytes()),
            operation: "PutItem",
            message: ITEM_TOO_LARGE.to_owned(),
        },
    ]
}

/// botocore's `str(ClientError)`, as the tutorial's Lambda `json.dumps` it.
pub(crate) fn botocore_text(code: &str, operation: &str, escaped_message: &str) -> String {
    format!(
        r#""An error occurred ({code}) when calling the {operation} operation: {escaped_message}""#
    )
}

#[tokio::test]
async fn values_dynamodb_refuses_get_the_tutorials_500_and_botocores_text() {
    let app = TestApp::spawn().await;
    // On a table that exists: on a missing one, DynamoDB's "no such table" comes first.
    app.create_table("Music").await;
    for refusal in validation_refusals(&app) {
        let expected = botocore_text("ValidationException", refusal.operation, &refusal.message);
        refusal
            .request
            .send()
            .await
            .assert_json_for(refusal.what, 500, &expected);
    }
    app.assert_still_serves().await;
}

#[tokio::test]
async fn an_empty_artist_header_is_refused_as_dynamodb_refuses_an_empty_key() {
    let app = TestApp::spawn().await;
    app.create_table("Music").await;

    app.item("PUT")
        .header("table: Music")
        .header("artist;")
        .header("songtitle: Call Me Today")
        .header("albumtitle: Somewhat Famous")
        .send()
        .await
        .assert_json(
            500,
            r#""An error occurred (ValidationException) when calling the PutItem operation: One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: Artist""#,
        );
}

#[tokio::test]
async fn keys_and_items_at_dynamodbs_limits_are_accepted() {
    let app = TestApp::spawn().await;
    let longest_name = "x".repeat(255);
    app.create_table(&longest_name).await;
    app.create_table("abc").await;

    // 2048 bytes of artist; 1024 bytes of title in 512 characters: the limits are bytes.
    let artist = "a".repeat(2048);
    let title = "é".repeat(512);
    app.put_item(&longest_name, &artist, &title, "Somewhat Famous")
        .await;
    app.get_item(&longest_name, &artist, &title).await.assert_json(
        200,
        &format!(
            r#"{{"Artist": {{"S": "{artist}"}}, "SongTitle": {{"S": "{}"}}, "AlbumTitle": {{"S": "Somewhat Famous"}}}}"#,
            r"\u00e9".repeat(512)
        ),
    );

    // An item of exactly 400 KB, counted as DynamoDB counts it: names and values.
    let fixed = "Artist".len() + 1 + "SongTitle".len() + 1 + "AlbumTitle".len();
    let album = "x".repeat(400 * 1024 - fixed);
    let body =
        format!(r#"{{"table": "abc", "artist": "a", "songtitle": "t", "albumtitle": "{album}"}}"#);
    app.item("PUT")
        .body_from_stdin(body.into_bytes())
        .send()
        .await
        .assert_json(200, r#""Item added""#);
    app.get_item("abc", "a", "t").await.assert_json(
        200,
        &format!(r#"{{"Artist": {{"S": "a"}}, "SongTitle": {{"S": "t"}}, "AlbumTitle": {{"S": "{album}"}}}}"#),
    );

    // One byte more is refused.
    let body =
        format!(r#"{{"table": "abc", "artist": "a", "songtitle": "t", "albumtitle": "{album}x"}}"#);
    app.item("PUT")
        .body_from_stdin(body.into_bytes())
        .send()
        .await
        .assert_json(
            500,
            &botocore_text("ValidationException", "PutItem", ITEM_TOO_LARGE),
        );
}

/// DynamoDB words an oversized UpdateItem differently from an oversized
/// PutItem; the embedded store (which copies DynamoDB) answers that wording as
/// soon as the statement itself is over the limit.
#[tokio::test]
async fn update_item_over_400_kb_is_refused_with_dynamodbs_update_wording() {
    let app = TestApp::spawn().await;
    app.create_table("Music").await;
    let update = |album_len: usize| {
        let body = format!(
            r#"{{"table": "Music", "artist": "a", "songtitle": "t", "albumtitle": "{}"}}"#,
            "x".repeat(album_len)
        );
        app.item("POST").body_from_stdin(body.into_bytes())
    };
    let expected = botocore_text(
        "ValidationException",
        "UpdateItem",
        "Item size to update has exceeded the maximum allowed size",
    );

    // Just over what the statement may carry: the store answers.
    update(400 * 1024 - 27)
        .send()
        .await
        .assert_json(500, &expected);
    // Well over: the service's own check answers first, and must say the same.
    update(410_000).send().await.assert_json(500, &expected);
}

#[tokio::test]
async fn a_header_that_is_not_utf8_is_refused_saying_so() {
    let app = TestApp::spawn().await;
    app.create_table("Music").await;

    // "Sigur Rós" from a Latin-1 terminal: 0xF3 alone is not UTF-8.
    app.item("PUT")
        .header("table: Music")
        .raw_header(&header_bytes("artist", b"Sigur R\xf3s"))
        .header("songtitle: Hopp\u{ed}polla")
        .header("albumtitle: Takk")
        .send()
        .await
        .assert_json(400, r#""The header 'artist' is not valid UTF-8.""#);
    app.item("GET")
        .header("table: Music")
        .header("artist: Sigur R\u{f3}s")
        .raw_header(&header_bytes("songtitle", b"\xff\xfe"))
        .send()
        .await
        .assert_json(400, r#""The header 'songtitle' is not valid UTF-8.""#);
    app.assert_still_serves().await;
}

#[tokio::test]
async fn a_query_value_that_is_not_utf8_is_refused_saying_so() {
    let app = TestApp::spawn().await;

    app.table("PUT")
        .query("table=Sigur%20R%F3s")
        .send()
        .await
        .assert_json(400, r#""The query parameter 'table' is not valid UTF-8.""#);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused_with_the_parsers_message() {
    let app = TestApp::spawn().await;

    app.table("PUT").data("{not json").send().await.assert_json(
        400,
        r#""The request body is not valid JSON: key must be a string at line 1 column 2.""#,
    );
    app.table("PUT")
        .data(r#"{"table": "Music""#)
        .send()
        .await
        .assert_json(400, r#""The request body is not valid JSON: EOF while parsing an object at line 1 column 17.""#);
    // What curl sends for a form, `-d table=Music`: the `t` starts a `true` that is not there.
    app.table("PUT")
        .data("table=Music")
        .send()
        .await
        .assert_json(
            400,
            r#""The request body is not valid JSON: expected ident at line 1 column 2.""#,
        );
    app.table("PUT").data("Music").send().await.assert_json(
        400,
        r#""The request body is not valid JSON: expected value at line 1 column 1.""#,
    );
    app.assert_still_serves().await;
}

/// The tutorial's Lambda functions read the headers and never looked at the
/// body when there were any (API Gateway always passes some), so a client that
/// sent every parameter as a header and some other body worked against them.
#[tokio::test]
async fn headers_suffice_whatever_the_body_is() {
    let app = TestApp::spawn().await;

    app.table("PUT")
        .header("table: Music")
        .data("table=Music")
        .send()
        .await
        .assert_json(200, r#""Table created""#);
}

#[tokio::test]
async fn a_json_body_that_is_not_an_object_is_refused_naming_what_it_is() {
    let app = TestApp::spawn().await;
    for (body, kind) in [
        ("[1,2]", "an array"),
        (r#""x""#, "a string"),
        ("5", "a number"),
        ("true", "a boolean"),
        ("null", "null"),
    ] {
        app.item("PUT").data(body).send().await.assert_json(
            400,
            &format!(r#""The request body must be a JSON object of string values, not {kind}.""#),
        );
    }
}

#[tokio::test]
async fn a_json_body_field_that_is_not_a_string_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;

    app.table("PUT")
        .data(r#"{"table": 5}"#)
        .send()
        .await
        .assert_json(400, r#""The JSON body field 'table' must be a string.""#);
    app.item("PUT")
        .data(r#"{"table": "Music", "artist": ["No One You Know"], "songtitle": "x", "albumtitle": "y"}"#)
        .send()
        .await
        .assert_json(400, r#""The JSON body field 'artist' must be a string.""#);
    app.item("GET")
        .data(r#"{"table": "Music", "artist": "a", "songtitle": null}"#)
        .send()
        .await
        .assert_json(
            400,
            r#""The JSON body field 'songtitle' must be a string.""#,
        );
}

#[tokio::test]
async fn a_parameter_sent_twice_is_refused_instead_of_guessed() {
    let app = TestApp::spawn().await;

    app.table("PUT")
        .header("table: Music")
        .header("table: Other")
        .send()
        .await
        .assert_json(
            400,
            r#""The header 'table' was sent more than once; send it once.""#,
        );
    // Header names are case-insensitive, so these are the same header too.
    app.item("GET")
        .header("table: Music")
        .header("artist: a")
        .header("Artist: a")
        .header("songtitle: t")
        .send()
        .await
        .assert_json(
            400,
            r#""The header 'artist' was sent more than once; send it once.""#,
        );
    app.table("PUT")
        .query("table=Music&table=Other")
        .send()
        .await
        .assert_json(
            400,
            r#""The query parameter 'table' was sent more than once; send it once.""#,
        );
}

#[tokio::test]
async fn a_body_over_1_mib_is_refused_with_413() {
    let app = TestApp::spawn().await;

    app.item("PUT")
        .body_from_stdin(vec![b' '; 1024 * 1024 + 1])
        .send()
        .await
        .assert_json(413, r#""The request body is larger than 1048576 bytes.""#);
    app.assert_still_serves().await;
}

#[tokio::test]
async fn a_request_that_is_not_http_gets_400_and_the_gateway_keeps_serving() {
    let app = TestApp::spawn().await;

    let answer = app.raw_http(b"GARBAGE\r\n\r\n").await;
    assert_eq!(answer.status, 400, "{answer:?}");
    // A control character in a header value is refused by the HTTP layer.
    let answer = app
        .raw_http(b"GET /Test/DemoResourceMusic/DemoResourceMusicItem HTTP/1.1\r\nHost: x\r\ntable: Mu\x01sic\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(answer.status, 400, "{answer:?}");

    app.assert_still_serves().await;
}
