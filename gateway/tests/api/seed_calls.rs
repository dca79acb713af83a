//! The tutorial's documented curl commands, verbatim but for the host, and the
//! item life cycle they make.

use crate::helpers::TestApp;

const CREATE_TABLE: &str = "curl -X PUT https://ixun012ycl.execute-api.us-west-2.amazonaws.com/Test/DemoResourceMusic/DemoResourceMusicTable -H 'content-type: application/json' -H 'table:Music'";
const DELETE_TABLE: &str = "curl -X DELETE https://ixun012ycl.execute-api.us-west-2.amazonaws.com/Test/DemoResourceMusic/DemoResourceMusicTable -H 'content-type: application/json' -H 'table:Music'";
const PUT_ITEM: &str = "curl -X PUT https://ixun012ycl.execute-api.us-west-2.amazonaws.com/Test/DemoResourceMusic/DemoResourceMusicItem -H 'content-type: application/json' -H 'table:Music' -H 'artist:No One You Know' -H 'albumtitle:Somewhat Famous' -H 'songtitle:Call Me Today'";
const UPDATE_ITEM: &str = "curl -X POST https://ixun012ycl.execute-api.us-west-2.amazonaws.com/Test/DemoResourceMusic/DemoResourceMusicItem -H 'content-type: application/json' -H 'table:Music' -H 'artist:No One You Know' -H 'albumtitle: Louder Than Ever' -H 'songtitle:Call Me Today'";
const GET_ITEM: &str = "curl -X GET https://ixun012ycl.execute-api.us-west-2.amazonaws.com/Test/DemoResourceMusic/DemoResourceMusicItem -H 'content-type: application/json' -H 'table:Music' -H 'artist:No One You Know' -H 'songtitle:Call Me Today'";
const DELETE_ITEM: &str = "curl -X DELETE https://ixun012ycl.execute-api.us-west-2.amazonaws.com/Test/DemoResourceMusic/DemoResourceMusicItem -H 'content-type: application/json' -H 'table:Music' -H 'artist:No One You Know' -H 'songtitle:Call Me Today'";

#[tokio::test]
async fn the_tutorials_curl_commands_work_with_only_the_host_changed() {
    let app = TestApp::spawn().await;

    app.run_tutorial_command(CREATE_TABLE)
        .await
        .assert_json(200, r#""Table created""#);
    app.run_tutorial_command(PUT_ITEM)
        .await
        .assert_json(200, r#""Item added""#);
    app.run_tutorial_command(GET_ITEM).await.assert_json(
        200,
        r#"{"Artist": {"S": "No One You Know"}, "SongTitle": {"S": "Call Me Today"}, "AlbumTitle": {"S": "Somewhat Famous"}}"#,
    );
    app.run_tutorial_command(UPDATE_ITEM)
        .await
        .assert_json(200, r#""Item updated""#);
    // 'albumtitle: Louder Than Ever' has a blank after the colon: the value is trimmed.
    app.run_tutorial_command(GET_ITEM).await.assert_json(
        200,
        r#"{"Artist": {"S": "No One You Know"}, "SongTitle": {"S": "Call Me Today"}, "AlbumTitle": {"S": "Louder Than Ever"}}"#,
    );
    app.run_tutorial_command(DELETE_ITEM)
        .await
        .assert_json(200, r#""Item deleted""#);
    app.run_tutorial_command(GET_ITEM)
        .await
        .assert_json(200, r#""Item not found""#);
    // DynamoDB's DeleteItem is idempotent, and so is the tutorial's answer.
    app.run_tutorial_command(DELETE_ITEM)
        .await
        .assert_json(200, r#""Item deleted""#);
    app.run_tutorial_command(DELETE_TABLE)
        .await
        .assert_json(200, r#""Table deleted""#);

    app.stop().await;
}

#[tokio::test]
async fn get_item_answers_item_not_found_for_a_missing_song() {
    let app = TestApp::spawn().await;
    app.create_table("Music").await;

    app.get_item("Music", "No One You Know", "Never Recorded")
        .await
        .assert_json(200, r#""Item not found""#);
}

#[tokio::test]
async fn put_item_replaces_an_existing_song() {
    let app = TestApp::spawn().await;
    app.create_table("Music").await;
    app.put_item(
        "Music",
        "No One You Know",
        "Call Me Today",
        "Somewhat Famous",
    )
    .await;

    app.put_item("Music", "No One You Know", "Call Me Today", "Greatest Hits")
        .await;

    app.get_item("Music", "No One You Know", "Call Me Today").await.assert_json(
        200,
        r#"{"Artist": {"S": "No One You Know"}, "SongTitle": {"S": "Call Me Today"}, "AlbumTitle": {"S": "Greatest Hits"}}"#,
    );
}

#[tokio::test]
async fn update_item_creates_a_song_that_was_not_there() {
    let app = TestApp::spawn().await;
    app.create_table("Music").await;

    app.item("POST")
        .header("table: Music")
        .header("artist: Acme Band")
        .header("songtitle: Happy Day")
        .header("albumtitle: Songs About Life")
        .send()
        .await
        .assert_json(200, r#""Item updated""#);

    app.get_item("Music", "Acme Band", "Happy Day").await.assert_json(
        200,
        r#"{"Artist": {"S": "Acme Band"}, "SongTitle": {"S": "Happy Day"}, "AlbumTitle": {"S": "Songs About Life"}}"#,
    );
}

#[tokio::test]
async fn non_ascii_values_round_trip_and_come_back_escaped_like_python() {
    let app = TestApp::spawn().await;
    app.create_table("Music").await;

    // Raw UTF-8 header values, as curl sends them from a UTF-8 terminal.
    app.put_item("Music", "Sigur Rós", "Hoppípolla", "Takk…")
        .await;

    app.get_item("Music", "Sigur Rós", "Hoppípolla").await.assert_json(
        200,
        r#"{"Artist": {"S": "Sigur R\u00f3s"}, "SongTitle": {"S": "Hopp\u00edpolla"}, "AlbumTitle": {"S": "Takk\u2026"}}"#,
    );
}

#[tokio::test]
async fn characters_outside_the_basic_plane_come_back_as_surrogate_pairs() {
    let app = TestApp::spawn().await;
    app.create_table("Music").await;

    app.put_item("Music", "Band 🎵", "Song \"quoted\" \\ back", "Album")
        .await;

    app.get_item("Music", "Band 🎵", "Song \"quoted\" \\ back").await.assert_json(
        200,
        r#"{"Artist": {"S": "Band \ud83c\udfb5"}, "SongTitle": {"S": "Song \"quoted\" \\ back"}, "AlbumTitle": {"S": "Album"}}"#,
    );
}

#[tokio::test]
async fn songs_are_kept_per_table() {
    let app = TestApp::spawn().await;
    app.create_table("Music").await;
    app.create_table("OtherMusic").await;
    app.put_item(
        "Music",
        "No One You Know",
        "Call Me Today",
        "Somewhat Famous",
    )
    .await;

    app.get_item("OtherMusic", "No One You Know", "Call Me Today")
        .await
        .assert_json(200, r#""Item not found""#);
}
