//! DynamoDB's refusals in both error modes: `seed` (the tutorial's 500 and
//! botocore's text, the default) and `http` (accurate statuses, same text).
//! Nothing else may answer 5xx, whatever a client sends.

use music_testkit::Curl;

use crate::{
    bad_input::{botocore_text, validation_refusals},
    helpers::{Errors, TestApp},
};

const NO_SUCH_RESOURCE: &str = "Requested resource not found";

/// The four item calls on a table that does not exist, and their operation.
fn item_calls_on_a_missing_table(app: &TestApp) -> [(Curl, &'static str); 4] {
    let item = |method: &str| {
        app.item(method)
            .header("table: NoSuchTable")
            .header("artist: No One You Know")
            .header("songtitle: Call Me Today")
            .header("albumtitle: Somewhat Famous")
    };
    [
        (item("GET"), "GetItem"),
        (item("PUT"), "PutItem"),
        (item("POST"), "UpdateItem"),
        (item("DELETE"), "DeleteItem"),
    ]
}

async fn expect_missing_table_answers(mode: Errors, status: u16) {
    let app = TestApp::spawn_with(mode, "Test").await;
    for (request, operation) in item_calls_on_a_missing_table(&app) {
        request.send().await.assert_json_for(
            operation,
            status,
            &botocore_text("ResourceNotFoundException", operation, NO_SUCH_RESOURCE),
        );
    }
}

#[tokio::test]
async fn item_calls_on_a_missing_table_get_the_tutorials_500_in_seed_mode() {
    expect_missing_table_answers(Errors::Seed, 500).await;
}

#[tokio::test]
async fn item_calls_on_a_missing_table_get_404_in_http_mode() {
    expect_missing_table_answers(Errors::Http, 404).await;
}

#[tokio::test]
async fn get_item_on_a_missing_table_is_not_mistaken_for_a_missing_item() {
    let app = TestApp::spawn().await;

    app.get_item("NoSuchTable", "No One You Know", "Call Me Today").await.assert_json(
        500,
        r#""An error occurred (ResourceNotFoundException) when calling the GetItem operation: Requested resource not found""#,
    );
}

async fn expect_table_refusals(mode: Errors, in_use: u16, not_found: u16) {
    let app = TestApp::spawn_with(mode, "Test").await;
    app.create_table("Music").await;

    app.table("PUT").header("table: Music").send().await.assert_json(
        in_use,
        r#""An error occurred (ResourceInUseException) when calling the CreateTable operation: Table already exists: Music""#,
    );
    app.table("DELETE").header("table: NoSuchTable").send().await.assert_json(
        not_found,
        r#""An error occurred (ResourceNotFoundException) when calling the DeleteTable operation: Requested resource not found: Table: NoSuchTable not found""#,
    );

    // Deleting a table twice: the second time it is missing.
    app.table("DELETE")
        .header("table: Music")
        .send()
        .await
        .assert_json(200, r#""Table deleted""#);
    app.table("DELETE").header("table: Music").send().await.assert_json(
        not_found,
        r#""An error occurred (ResourceNotFoundException) when calling the DeleteTable operation: Requested resource not found: Table: Music not found""#,
    );
}

#[tokio::test]
async fn creating_a_table_twice_and_deleting_a_missing_one_get_500_in_seed_mode() {
    expect_table_refusals(Errors::Seed, 500, 500).await;
}

#[tokio::test]
async fn creating_a_table_twice_is_409_and_deleting_a_missing_one_404_in_http_mode() {
    expect_table_refusals(Errors::Http, 409, 404).await;
}

#[tokio::test]
async fn values_dynamodb_refuses_get_400_and_botocores_text_in_http_mode() {
    let app = TestApp::spawn_in_http_mode().await;
    // On a table that exists: on a missing one, DynamoDB's "no such table" comes first.
    app.create_table("Music").await;
    for refusal in validation_refusals(&app) {
        let expected = botocore_text("ValidationException", refusal.operation, &refusal.message);
        refusal
            .request
            .send()
            .await
            .assert_json_for(refusal.what, 400, &expected);
    }
    app.assert_still_serves().await;
}

#[tokio::test]
async fn an_empty_artist_header_is_400_in_http_mode() {
    let app = TestApp::spawn_in_http_mode().await;
    // On a table that exists: on a missing one, DynamoDB's "no such table" comes first.
    app.create_table("Music").await;

    app.item("PUT")
        .header("table: Music")
        .header("artist;")
        .header("songtitle: Call Me Today")
        .header("albumtitle: Somewhat Famous")
        .send()
        .await
        .assert_json(
            400,
            r#""An error occurred (ValidationException) when calling the PutItem operation: One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: Artist""#,
        );
}

#[tokio::test]
async fn http_mode_answers_successes_and_client_mistakes_as_seed_mode_does() {
    let app = TestApp::spawn_in_http_mode().await;

    app.create_table("Music").await;
    app.put_item(
        "Music",
        "No One You Know",
        "Call Me Today",
        "Somewhat Famous",
    )
    .await;
    app.get_item("Music", "No One You Know", "Never Recorded")
        .await
        .assert_json(200, r#""Item not found""#);
    app.item("PUT")
        .header("table: Music")
        .send()
        .await
        .assert_json(
            400,
            r#""KeyError exception happened while using key 'artist' to get the value.""#,
        );
    app.table("DELETE").send().await.assert_json(
        400,
        r#""KeyError exception happened while using key 'table' to get the table name.""#,
    );
}

/// Everything a client can get wrong, in one list: none of it may answer 5xx
/// in http mode, and none of it may stop the gateway.
fn bad_requests(app: &TestApp) -> Vec<(String, Curl)> {
    let mut requests: Vec<(String, Curl)> = validation_refusals(app)
        .into_iter()
        .map(|refusal| (refusal.what.to_owned(), refusal.request))
        .collect();
    for (what, operation) in item_calls_on_a_missing_table(app) {
        requests.push((format!("{operation} on a missing table"), what));
    }
    let more = [
        ("no parameters", app.item("PUT")),
        (
            "a header that is not UTF-8",
            app.table("PUT").raw_header(b"table: \xff"),
        ),
        (
            "a query value that is not UTF-8",
            app.table("PUT").query("table=%ff"),
        ),
        ("a body that is not JSON", app.table("PUT").data("{")),
        (
            "a body that is a JSON array",
            app.table("PUT").data("[1,2]"),
        ),
        (
            "a body field that is a number",
            app.table("PUT").data(r#"{"table": 5}"#),
        ),
        (
            "a repeated header",
            app.table("PUT").header("table: a").header("table: b"),
        ),
        (
            "a body over 1 MiB",
            app.table("PUT")
                .body_from_stdin(vec![b'{'; 2 * 1024 * 1024]),
        ),
        ("an unknown path", app.curl("GET", app.url("/Test/Nothing"))),
        ("an unknown method", app.item("PATCH")),
        (
            "a table deleted that never was",
            app.table("DELETE").header("table: NeverCreated"),
        ),
        (
            "a table created twice",
            app.table("PUT").header("table: Music"),
        ),
        (
            "a client request id with odd bytes",
            app.item("GET").raw_header(b"x-request-id: \xff\xfe"),
        ),
    ];
    requests.extend(more.into_iter().map(|(what, curl)| (what.to_owned(), curl)));
    requests
}

#[tokio::test]
async fn no_client_mistake_answers_5xx_in_http_mode_or_stops_the_gateway() {
    let app = TestApp::spawn_in_http_mode().await;
    app.create_table("Music").await;

    for (what, request) in bad_requests(&app) {
        let answer = request.send().await;
        assert!((400..500).contains(&answer.status), "{what}: {answer:?}");
        assert_eq!(
            answer.header("content-type"),
            Some("application/json"),
            "{what}: {answer:?}"
        );
    }

    app.assert_still_serves().await;
    app.stop().await;
}

#[tokio::test]
async fn in_seed_mode_only_dynamodbs_refusals_answer_500() {
    let app = TestApp::spawn().await;
    app.create_table("Music").await;

    for (what, request) in bad_requests(&app) {
        let answer = request.send().await;
        if answer.status >= 500 {
            assert_eq!(answer.status, 500, "{what}: {answer:?}");
            assert!(
                answer.body.starts_with(r#""An error occurred ("#),
                "{what}: a 500 that is not DynamoDB's refusal: {answer:?}"
            );
        } else {
            assert!((400..500).contains(&answer.status), "{what}: {answer:?}");
        }
    }

    app.assert_still_serves().await;
    app.stop().await;
}
