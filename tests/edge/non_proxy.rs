//! The non-proxy integration: every answer of the tutorial's routes is 200
//! with the function's status and body combined, as the tutorial shows it
//! (`{"statusCode": 200, "body": "\"Table created\""}`), errors included.

use music_testkit::{Answer, Curl};

use crate::support::{gateway, service};

/// The tutorial's host, replaced by the gateway's in each command.
const HOST: &str = "https://ixun012ycl.execute-api.us-west-2.amazonaws.com";

/// The tutorial's answer without the Lambda proxy integration, as printed there.
const TUTORIALS_ANSWER: &str = r#"{"statusCode": 200, "body": "\"Table created\""}"#;

async fn run(base: &str, command: &str) -> Answer {
    Curl::command_line(&command.replace(HOST, base))
        .send()
        .await
}

#[tokio::test]
async fn the_six_calls_and_their_errors_answer_as_the_tutorial_shows() {
    let service = service().await;
    let gateway = gateway(&service.url("grpc"), &["--integration", "non-proxy"]).await;
    let base = gateway.url("http");
    let calls = [
        (
            "curl -X PUT https://ixun012ycl.execute-api.us-west-2.amazonaws.com/Test/DemoResourceMusic/DemoResourceMusicTable -H 'content-type: application/json' -H 'table:Music'",
            TUTORIALS_ANSWER.to_owned(),
        ),
        (
            "curl -X PUT https://ixun012ycl.execute-api.us-west-2.amazonaws.com/Test/DemoResourceMusic/DemoResourceMusicItem -H 'content-type: application/json' -H 'table:Music' -H 'artist:No One You Know' -H 'albumtitle:Somewhat Famous' -H 'songtitle:Call Me Today'",
            r#"{"statusCode": 200, "body": "\"Item added\""}"#.to_owned(),
        ),
        (
            "curl -X POST https://ixun012ycl.execute-api.us-west-2.amazonaws.com/Test/DemoResourceMusic/DemoResourceMusicItem -H 'content-type: application/json' -H 'table:Music' -H 'artist:No One You Know' -H 'albumtitle: Louder Than Ever' -H 'songtitle:Call Me Today'",
            r#"{"statusCode": 200, "body": "\"Item updated\""}"#.to_owned(),
        ),
        (
            "curl -X GET https://ixun012ycl.execute-api.us-west-2.amazonaws.com/Test/DemoResourceMusic/DemoResourceMusicItem -H 'content-type: application/json' -H 'table:Music' -H 'artist:No One You Know' -H 'songtitle:Call Me Today'",
            r#"{"statusCode": 200, "body": "{\"Artist\": {\"S\": \"No One You Know\"}, \"SongTitle\": {\"S\": \"Call Me Today\"}, \"AlbumTitle\": {\"S\": \"Louder Than Ever\"}}"}"#.to_owned(),
        ),
        (
            "curl -X DELETE https://ixun012ycl.execute-api.us-west-2.amazonaws.com/Test/DemoResourceMusic/DemoResourceMusicItem -H 'content-type: application/json' -H 'table:Music' -H 'artist:No One You Know' -H 'songtitle:Call Me Today'",
            r#"{"statusCode": 200, "body": "\"Item deleted\""}"#.to_owned(),
        ),
        (
            "curl -X GET https://ixun012ycl.execute-api.us-west-2.amazonaws.com/Test/DemoResourceMusic/DemoResourceMusicItem -H 'content-type: application/json' -H 'table:Music' -H 'artist:No One You Know' -H 'songtitle:Call Me Today'",
            r#"{"statusCode": 200, "body": "\"Item not found\""}"#.to_owned(),
        ),
        (
            "curl -X DELETE https://ixun012ycl.execute-api.us-west-2.amazonaws.com/Test/DemoResourceMusic/DemoResourceMusicTable -H 'content-type: application/json' -H 'table:Music'",
            r#"{"statusCode": 200, "body": "\"Table deleted\""}"#.to_owned(),
        ),
    ];
    for (command, expected) in &calls {
        run(&base, command)
            .await
            .assert_json_for(command, 200, expected);
    }

    // The Lambdas' errors: their status inside, 200 outside.
    let errors = [
        (
            "curl -X PUT https://ixun012ycl.execute-api.us-west-2.amazonaws.com/Test/DemoResourceMusic/DemoResourceMusicTable -H 'content-type: application/json'",
            r#"{"statusCode": 400, "body": "\"KeyError exception happened while using key 'table' to get the table name.\""}"#,
        ),
        (
            "curl -X PUT https://ixun012ycl.execute-api.us-west-2.amazonaws.com/Test/DemoResourceMusic/DemoResourceMusicItem -H 'content-type: application/json' -H 'table:Music'",
            r#"{"statusCode": 400, "body": "\"KeyError exception happened while using key 'artist' to get the value.\""}"#,
        ),
    ];
    for (command, expected) in errors {
        run(&base, command)
            .await
            .assert_json_for(command, 200, expected);
    }
    // DynamoDB's refusal: botocore's text, with the seed's 500 inside.
    let missing = run(&base, calls[3].0).await;
    assert_eq!(missing.status, 200, "{missing:?}");
    assert!(
        missing.body.starts_with(
            r#"{"statusCode": 500, "body": "\"An error occurred (ResourceNotFoundException) when calling the GetItem operation: "#
        ),
        "{missing:?}"
    );
    let combined: serde_json::Value = serde_json::from_str(&missing.body).expect("JSON");
    let inner: serde_json::Value =
        serde_json::from_str(combined["body"].as_str().expect("a string body"))
            .expect("the body is JSON too");
    assert!(
        inner
            .as_str()
            .is_some_and(|t| t.starts_with("An error occurred")),
        "{inner}"
    );
}

#[tokio::test]
async fn the_proxy_integration_stays_the_default() {
    let service = service().await;
    let gateway = gateway(&service.url("grpc"), &[]).await;
    run(
        &gateway.url("http"),
        "curl -X PUT https://ixun012ycl.execute-api.us-west-2.amazonaws.com/Test/DemoResourceMusic/DemoResourceMusicTable -H 'content-type: application/json' -H 'table:Music'",
    )
    .await
    .assert_json(200, r#""Table created""#);
}
