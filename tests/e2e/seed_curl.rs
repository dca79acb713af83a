//! The tutorial's documented curl commands, verbatim but for the host, against
//! the stack on each backend; the answers are the tutorial's own (status, JSON body, request id).

use music_testkit::Program;

use crate::stack::{Store, TwoProcessStack, curl, stores};

/// The tutorial's host, replaced by the gateway's address.
const TUTORIAL_HOST: &str = "https://ixun012ycl.execute-api.us-west-2.amazonaws.com";

const CREATE_TABLE: &str = "curl -X PUT https://ixun012ycl.execute-api.us-west-2.amazonaws.com/Test/DemoResourceMusic/DemoResourceMusicTable -H 'content-type: application/json' -H 'table:Music'";
const DELETE_TABLE: &str = "curl -X DELETE https://ixun012ycl.execute-api.us-west-2.amazonaws.com/Test/DemoResourceMusic/DemoResourceMusicTable -H 'content-type: application/json' -H 'table:Music'";
const PUT_ITEM: &str = "curl -X PUT https://ixun012ycl.execute-api.us-west-2.amazonaws.com/Test/DemoResourceMusic/DemoResourceMusicItem -H 'content-type: application/json' -H 'table:Music' -H 'artist:No One You Know' -H 'albumtitle:Somewhat Famous' -H 'songtitle:Call Me Today'";
const UPDATE_ITEM: &str = "curl -X POST https://ixun012ycl.execute-api.us-west-2.amazonaws.com/Test/DemoResourceMusic/DemoResourceMusicItem -H 'content-type: application/json' -H 'table:Music' -H 'artist:No One You Know' -H 'albumtitle: Louder Than Ever' -H 'songtitle:Call Me Today'";
const GET_ITEM: &str = "curl -X GET https://ixun012ycl.execute-api.us-west-2.amazonaws.com/Test/DemoResourceMusic/DemoResourceMusicItem -H 'content-type: application/json' -H 'table:Music' -H 'artist:No One You Know' -H 'songtitle:Call Me Today'";
const DELETE_ITEM: &str = "curl -X DELETE https://ixun012ycl.execute-api.us-west-2.amazonaws.com/Test/DemoResourceMusic/DemoResourceMusicItem -H 'content-type: application/json' -H 'table:Music' -H 'artist:No One You Know' -H 'songtitle:Call Me Today'";

/// Runs the tutorial's commands in a sensible order and checks every answer.
async fn run_the_tutorial(base_url: &str, store: &str) {
    let call = async |command: &str, status: u16, body: &str| {
        let answer = curl(&command.replace(TUTORIAL_HOST, base_url)).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (status, body),
            "[{store}] {command}"
        );
        assert_eq!(
            answer.header("content-type"),
            Some("application/json"),
            "[{store}] {command}"
        );
        let id = answer.header("x-request-id").expect("x-request-id");
        assert_eq!(
            answer.header("x-amzn-requestid"),
            Some(id),
            "[{store}] same id twice"
        );
    };
    call(CREATE_TABLE, 200, r#""Table created""#).await;
    call(PUT_ITEM, 200, r#""Item added""#).await;
    call(
        GET_ITEM,
        200,
        r#"{"Artist": {"S": "No One You Know"}, "SongTitle": {"S": "Call Me Today"}, "AlbumTitle": {"S": "Somewhat Famous"}}"#,
    ).await;
    call(UPDATE_ITEM, 200, r#""Item updated""#).await;
    call(
        GET_ITEM,
        200,
        r#"{"Artist": {"S": "No One You Know"}, "SongTitle": {"S": "Call Me Today"}, "AlbumTitle": {"S": "Louder Than Ever"}}"#,
    ).await;
    call(DELETE_ITEM, 200, r#""Item deleted""#).await;
    call(GET_ITEM, 200, r#""Item not found""#).await;
    call(DELETE_ITEM, 200, r#""Item deleted""#).await;
    call(DELETE_TABLE, 200, r#""Table deleted""#).await;
    // What the tutorial's stack answers once the table is gone: botocore's text with 500.
    let gone = curl(&GET_ITEM.replace(TUTORIAL_HOST, base_url)).await;
    assert_eq!(gone.status, 500, "[{store}]");
    assert!(
        gone.body.starts_with(
            r#""An error occurred (ResourceNotFoundException) when calling the GetItem operation: "#
        ),
        "[{store}] {}",
        gone.body
    );
}

#[tokio::test]
async fn the_tutorials_curl_commands_work_through_the_two_process_stack() {
    for store in stores() {
        let stack = TwoProcessStack::start(&store, &[]).await;
        if let Store::DynamoDbLocal(_) = store {
            // A shared DynamoDB Local may hold a Music table from an earlier, failed run.
            let _ = curl(&DELETE_TABLE.replace(TUTORIAL_HOST, &stack.base_url())).await;
        }
        run_the_tutorial(&stack.base_url(), store.name()).await;

        // The request id reaches the service: the same id is in both programs' logs.
        let answer = curl(&format!(
            "{} -H 'x-request-id: e2e-trace-42'",
            CREATE_TABLE.replace(TUTORIAL_HOST, &stack.base_url())
        ))
        .await;
        assert_eq!(answer.header("x-request-id"), Some("e2e-trace-42"));
        assert_eq!(answer.header("x-amzn-requestid"), Some("e2e-trace-42"));
        curl(&DELETE_TABLE.replace(TUTORIAL_HOST, &stack.base_url())).await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        for program in [&stack.gateway, &stack.service] {
            // At the default level the AWS SDK says nothing per call (its
            // debug output would cost more CPU than the call itself).
            assert!(
                !program.log_text().contains("aws_smithy")
                    && !program.log_text().contains("aws_sigv4"),
                "[{}] no AWS SDK lines at info level:\n{}",
                store.name(),
                program.log_text()
            );
            assert!(
                program.log_text().contains("e2e-trace-42"),
                "[{}] request id in the log:\n{}",
                store.name(),
                program.log_text()
            );
        }
    }
}

#[tokio::test]
async fn the_tutorials_curl_commands_work_against_the_one_command_stack() {
    // `cargo run -p music-gateway`: the service in the same process, embedded store.
    let data = tempfile::tempdir().unwrap();
    let gateway = Program::start(
        "music-gateway",
        &[
            "--listen",
            "127.0.0.1:0",
            "--grpc-listen",
            "127.0.0.1:0",
            "--data-dir",
            data.path().to_str().unwrap(),
        ],
        &[],
        2,
    )
    .await;
    let base_url = format!("http://{}", gateway.addr("http"));
    run_the_tutorial(&base_url, "in-process").await;
    assert!(
        data.path().join("music.db").exists(),
        "the embedded store keeps its file in --data-dir"
    );
}

#[tokio::test]
async fn http_error_mode_answers_accurate_statuses_with_the_same_text() {
    let stack = TwoProcessStack::start(&Store::Embedded, &["--errors", "http"]).await;
    let base = stack.base_url();
    let get = curl(&GET_ITEM.replace(TUTORIAL_HOST, &base)).await;
    assert_eq!(get.status, 404);
    assert!(
        get.body
            .contains("(ResourceNotFoundException) when calling the GetItem operation"),
        "{}",
        get.body
    );
    assert_eq!(
        curl(&CREATE_TABLE.replace(TUTORIAL_HOST, &base))
            .await
            .status,
        200
    );
    let again = curl(&CREATE_TABLE.replace(TUTORIAL_HOST, &base)).await;
    assert_eq!(again.status, 409);
    assert!(
        again
            .body
            .contains("(ResourceInUseException) when calling the CreateTable operation"),
        "{}",
        again.body
    );
}
