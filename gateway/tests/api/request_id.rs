//! Request ids: every answer carries `x-request-id` and the same value as
//! `x-amzn-RequestId`; a client's id is echoed, otherwise one is made.

use music_testkit::Answer;

use crate::helpers::TestApp;

/// The id of an answer, checked to be in both headers.
#[track_caller]
fn request_id(answer: &Answer) -> String {
    let id = answer
        .header("x-request-id")
        .unwrap_or_else(|| panic!("no x-request-id: {answer:?}"));
    assert_eq!(answer.header("x-amzn-requestid"), Some(id), "{answer:?}");
    id.to_owned()
}

#[track_caller]
fn assert_generated_uuid(id: &str) {
    let uuid = uuid::Uuid::parse_str(id).unwrap_or_else(|e| panic!("{id:?} is not a UUID: {e}"));
    assert_eq!(uuid.get_version_num(), 4, "{id}");
    assert_eq!(uuid.hyphenated().to_string(), id, "the canonical form");
}

#[tokio::test]
async fn an_answer_carries_a_generated_uuid_when_the_client_sent_no_id() {
    let app = TestApp::spawn().await;

    let answer = app.table("PUT").header("table: Music").send().await;
    answer.assert_json(200, r#""Table created""#);

    assert_generated_uuid(&request_id(&answer));
}

#[tokio::test]
async fn each_request_gets_its_own_id() {
    let app = TestApp::spawn().await;

    let first = request_id(&app.get_item("Music", "a", "t").await);
    let second = request_id(&app.get_item("Music", "a", "t").await);

    assert_ne!(first, second);
}

#[tokio::test]
async fn a_client_sent_id_is_echoed_in_both_headers() {
    let app = TestApp::spawn().await;

    let answer = app
        .table("PUT")
        .header("table: Music")
        .header("x-request-id: abc-123")
        .send()
        .await;

    answer.assert_json(200, r#""Table created""#);
    assert_eq!(request_id(&answer), "abc-123");
}

#[tokio::test]
async fn a_client_sent_id_is_echoed_on_failures_too() {
    let app = TestApp::spawn().await;

    let refused = app
        .item("GET")
        .header("X-Request-Id: abc-123")
        .header("table: NoSuchTable")
        .header("artist: No One You Know")
        .header("songtitle: Call Me Today")
        .send()
        .await;
    assert_eq!(refused.status, 500, "{refused:?}");
    assert_eq!(request_id(&refused), "abc-123");

    let mistaken = app.item("GET").header("x-request-id: abc-124").send().await;
    assert_eq!(mistaken.status, 400, "{mistaken:?}");
    assert_eq!(request_id(&mistaken), "abc-124");
}

#[tokio::test]
async fn every_kind_of_answer_carries_an_id() {
    let app = TestApp::spawn().await;
    let answers = [
        ("a missing parameter", app.item("PUT").send().await),
        (
            "a DynamoDB refusal",
            app.table("DELETE")
                .header("table: NoSuchTable")
                .send()
                .await,
        ),
        (
            "an unknown path",
            app.curl("GET", app.url("/Nothing")).send().await,
        ),
        ("an unsupported method", app.table("GET").send().await),
        (
            "a body over 1 MiB",
            app.item("PUT")
                .body_from_stdin(vec![b' '; 1024 * 1024 + 1])
                .send()
                .await,
        ),
        (
            "a body that is not JSON",
            app.item("PUT").data("{").send().await,
        ),
    ];
    for (what, answer) in answers {
        assert!(answer.status >= 400, "{what}: {answer:?}");
        assert_generated_uuid(&request_id(&answer));
    }
}

#[tokio::test]
async fn a_blank_client_id_is_replaced_by_a_generated_one() {
    let app = TestApp::spawn().await;

    // `x-request-id;` makes curl send the header with an empty value.
    let answer = app
        .table("PUT")
        .header("table: Music")
        .header("x-request-id;")
        .send()
        .await;

    answer.assert_json(200, r#""Table created""#);
    assert_generated_uuid(&request_id(&answer));
}
