//! The route table: the tutorial's two resources under `/{stage}`, 404 for
//! other paths and 405 with `Allow` for other methods, both with a JSON message.

use crate::helpers::{ITEM_PATH, TABLE_PATH, TestApp};

const RESOURCES_UNDER_TEST: &str = "Resources: PUT, DELETE /Test/DemoResourceMusic/DemoResourceMusicTable; GET, PUT, POST, DELETE /Test/DemoResourceMusic/DemoResourceMusicItem.";

#[tokio::test]
async fn an_unknown_path_is_404_with_a_message_saying_what_exists() {
    let app = TestApp::spawn().await;

    app.curl("GET", app.url("/Test/DemoResourceMusic/DemoResourceMusicSong"))
        .header("table: Music")
        .send()
        .await
        .assert_json(
            404,
            &format!(r#"{{"message": "No resource at /Test/DemoResourceMusic/DemoResourceMusicSong. {RESOURCES_UNDER_TEST}"}}"#),
        );
}

#[tokio::test]
async fn only_the_exact_documented_paths_are_routes() {
    let app = TestApp::spawn().await;
    for path in [
        "/",
        "/Test",
        "/Test/DemoResourceMusic",
        "/Test/DemoResourceMusic/DemoResourceMusicTable/",
        "/test/DemoResourceMusic/DemoResourceMusicTable",
        "/Test/demoresourcemusic/demoresourcemusictable",
        "/DemoResourceMusic/DemoResourceMusicTable",
        "/Test/DemoResourceMusic/DemoResourceMusicTable/extra",
    ] {
        app.curl("PUT", app.url(path))
            .header("table: Music")
            .send()
            .await
            .assert_json_for(
                path,
                404,
                &format!(r#"{{"message": "No resource at {path}. {RESOURCES_UNDER_TEST}"}}"#),
            );
    }
    // A query string is not part of the path the message names.
    app.curl("PUT", app.url("/Test/Nothing?table=Music"))
        .send()
        .await
        .assert_json(
            404,
            &format!(r#"{{"message": "No resource at /Test/Nothing. {RESOURCES_UNDER_TEST}"}}"#),
        );
}

#[tokio::test]
async fn an_unsupported_method_on_the_table_resource_is_405_with_allow() {
    let app = TestApp::spawn().await;
    for method in ["GET", "POST", "PATCH"] {
        let answer = app.table(method).header("table: Music").send().await;
        answer.assert_json_for(
            method,
            405,
            &format!(
                r#"{{"message": "/Test/DemoResourceMusic/DemoResourceMusicTable does not support {method}; it supports PUT, DELETE."}}"#
            ),
        );
        assert_eq!(answer.header("allow"), Some("PUT, DELETE"), "{method}");
    }
}

#[tokio::test]
async fn an_unsupported_method_on_the_item_resource_is_405_with_allow() {
    let app = TestApp::spawn().await;
    for method in ["PATCH", "OPTIONS"] {
        let answer = app.item(method).header("table: Music").send().await;
        answer.assert_json_for(
            method,
            405,
            &format!(
                r#"{{"message": "/Test/DemoResourceMusic/DemoResourceMusicItem does not support {method}; it supports GET, PUT, POST, DELETE."}}"#
            ),
        );
        assert_eq!(
            answer.header("allow"),
            Some("GET, PUT, POST, DELETE"),
            "{method}"
        );
    }
}

#[tokio::test]
async fn an_empty_stage_serves_the_routes_without_a_prefix() {
    let app = TestApp::spawn_with_stage("").await;

    app.curl("PUT", app.url(TABLE_PATH))
        .header("table: Music")
        .send()
        .await
        .assert_json(200, r#""Table created""#);
    app.put_item(
        "Music",
        "No One You Know",
        "Call Me Today",
        "Somewhat Famous",
    )
    .await;
    app.curl("GET", app.url(ITEM_PATH))
        .header("table: Music")
        .header("artist: No One You Know")
        .header("songtitle: Call Me Today")
        .send()
        .await
        .assert_json(
            200,
            r#"{"Artist": {"S": "No One You Know"}, "SongTitle": {"S": "Call Me Today"}, "AlbumTitle": {"S": "Somewhat Famous"}}"#,
        );

    app.curl("PUT", app.url(&format!("/Test{TABLE_PATH}")))
        .header("table: Music")
        .send()
        .await
        .assert_json(
            404,
            r#"{"message": "No resource at /Test/DemoResourceMusic/DemoResourceMusicTable. Resources: PUT, DELETE /DemoResourceMusic/DemoResourceMusicTable; GET, PUT, POST, DELETE /DemoResourceMusic/DemoResourceMusicItem."}"#,
        );
}

#[tokio::test]
async fn another_stage_serves_its_own_prefix_and_not_test() {
    let app = TestApp::spawn_with_stage("Prod").await;

    app.curl("PUT", app.url(&format!("/Prod{TABLE_PATH}")))
        .header("table: Music")
        .send()
        .await
        .assert_json(200, r#""Table created""#);
    app.curl("PUT", app.url(&format!("/Test{ITEM_PATH}")))
        .header("table: Music")
        .header("artist: No One You Know")
        .header("songtitle: Call Me Today")
        .header("albumtitle: Somewhat Famous")
        .send()
        .await
        .assert_json(
            404,
            r#"{"message": "No resource at /Test/DemoResourceMusic/DemoResourceMusicItem. Resources: PUT, DELETE /Prod/DemoResourceMusic/DemoResourceMusicTable; GET, PUT, POST, DELETE /Prod/DemoResourceMusic/DemoResourceMusicItem."}"#,
        );
    app.curl("GET", app.url(&format!("/Prod{TABLE_PATH}")))
        .send()
        .await
        .assert_json(
            405,
            r#"{"message": "/Prod/DemoResourceMusic/DemoResourceMusicTable does not support GET; it supports PUT, DELETE."}"#,
        );
}
