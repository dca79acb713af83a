//! Where parameters come from: per name, the headers (names case-insensitive,
//! values trimmed), else the query string, else a JSON object body.

use crate::helpers::TestApp;

const CALL_ME_TODAY: &str = r#"{"Artist": {"S": "No One You Know"}, "SongTitle": {"S": "Call Me Today"}, "AlbumTitle": {"S": "Somewhat Famous"}}"#;

#[tokio::test]
async fn every_call_takes_its_parameters_from_the_query_string() {
    let app = TestApp::spawn().await;
    let song = "table=Music&artist=No+One+You+Know&songtitle=Call%20Me%20Today";

    app.table("PUT")
        .query("table=Music")
        .send()
        .await
        .assert_json(200, r#""Table created""#);
    app.item("PUT")
        .query(&format!("{song}&albumtitle=Somewhat+Famous"))
        .send()
        .await
        .assert_json(200, r#""Item added""#);
    app.item("GET")
        .query(song)
        .send()
        .await
        .assert_json(200, CALL_ME_TODAY);
    app.item("POST")
        .query(&format!("{song}&albumtitle=Louder+Than+Ever"))
        .send()
        .await
        .assert_json(200, r#""Item updated""#);
    app.item("GET").query(song).send().await.assert_json(
        200,
        r#"{"Artist": {"S": "No One You Know"}, "SongTitle": {"S": "Call Me Today"}, "AlbumTitle": {"S": "Louder Than Ever"}}"#,
    );
    app.item("DELETE")
        .query(song)
        .send()
        .await
        .assert_json(200, r#""Item deleted""#);
    app.item("GET")
        .query(song)
        .send()
        .await
        .assert_json(200, r#""Item not found""#);
    app.table("DELETE")
        .query("table=Music")
        .send()
        .await
        .assert_json(200, r#""Table deleted""#);
}

#[tokio::test]
async fn every_call_takes_its_parameters_from_a_json_body() {
    let app = TestApp::spawn().await;
    let song = r#""table": "Music", "artist": "No One You Know", "songtitle": "Call Me Today""#;

    app.table("PUT")
        .data(r#"{"table":"Music"}"#)
        .send()
        .await
        .assert_json(200, r#""Table created""#);
    app.item("PUT")
        .data(&format!(r#"{{{song}, "albumtitle": "Somewhat Famous"}}"#))
        .send()
        .await
        .assert_json(200, r#""Item added""#);
    app.item("GET")
        .data(&format!("{{{song}}}"))
        .send()
        .await
        .assert_json(200, CALL_ME_TODAY);
    app.item("POST")
        .data(&format!(r#"{{{song}, "albumtitle": "Louder Than Ever"}}"#))
        .send()
        .await
        .assert_json(200, r#""Item updated""#);
    app.item("DELETE")
        .data(&format!("{{{song}}}"))
        .send()
        .await
        .assert_json(200, r#""Item deleted""#);
    app.item("GET")
        .data(&format!("{{{song}}}"))
        .send()
        .await
        .assert_json(200, r#""Item not found""#);
    app.table("DELETE")
        .data(r#"{"table":"Music"}"#)
        .send()
        .await
        .assert_json(200, r#""Table deleted""#);
}

#[tokio::test]
async fn a_header_beats_the_query_string_which_beats_the_body() {
    let app = TestApp::spawn().await;
    app.create_table("Music").await;
    let body = r#"{"table": "FromBody", "artist": "No One You Know", "songtitle": "Call Me Today", "albumtitle": "Somewhat Famous"}"#;

    // Had the query or the body won, the table would not exist.
    app.item("PUT")
        .header("table: Music")
        .query("table=FromQuery")
        .data(body)
        .send()
        .await
        .assert_json(200, r#""Item added""#);
    // Had the body won, the table would not exist.
    app.item("GET")
        .query("table=Music")
        .data(r#"{"table": "FromBody", "artist": "No One You Know", "songtitle": "Call Me Today"}"#)
        .send()
        .await
        .assert_json(200, CALL_ME_TODAY);
}

#[tokio::test]
async fn each_parameter_is_looked_up_on_its_own() {
    let app = TestApp::spawn().await;
    app.create_table("Music").await;

    app.item("PUT")
        .header("table: Music")
        .query("artist=No+One+You+Know")
        .data(r#"{"songtitle": "Call Me Today", "albumtitle": "Somewhat Famous", "unrelated": 5}"#)
        .send()
        .await
        .assert_json(200, r#""Item added""#);

    app.get_item("Music", "No One You Know", "Call Me Today")
        .await
        .assert_json(200, CALL_ME_TODAY);
}

#[tokio::test]
async fn header_names_are_case_insensitive() {
    let app = TestApp::spawn().await;

    app.table("PUT")
        .header("TABLE: Music")
        .send()
        .await
        .assert_json(200, r#""Table created""#);
    app.item("PUT")
        .header("Table: Music")
        .header("ARTIST: No One You Know")
        .header("SongTitle: Call Me Today")
        .header("AlbumTitle: Somewhat Famous")
        .send()
        .await
        .assert_json(200, r#""Item added""#);
    app.get_item("Music", "No One You Know", "Call Me Today")
        .await
        .assert_json(200, CALL_ME_TODAY);
}

#[tokio::test]
async fn blanks_around_header_values_are_trimmed() {
    let app = TestApp::spawn().await;
    app.create_table("Music").await;

    app.item("PUT")
        .header("table:Music")
        .header("artist:    No One You Know   ")
        .header("songtitle:\tCall Me Today\t")
        .header("albumtitle: Somewhat Famous ")
        .send()
        .await
        .assert_json(200, r#""Item added""#);

    app.get_item("Music", "No One You Know", "Call Me Today")
        .await
        .assert_json(200, CALL_ME_TODAY);
}

#[tokio::test]
async fn query_values_are_percent_decoded_utf8_with_plus_as_a_blank() {
    let app = TestApp::spawn().await;
    app.create_table("Music").await;

    app.item("PUT")
        .query(
            "table=Music&artist=Sigur+R%C3%B3s&songtitle=Hopp%C3%ADpolla&albumtitle=Takk%E2%80%A6",
        )
        .send()
        .await
        .assert_json(200, r#""Item added""#);

    app.get_item("Music", "Sigur Rós", "Hoppípolla").await.assert_json(
        200,
        r#"{"Artist": {"S": "Sigur R\u00f3s"}, "SongTitle": {"S": "Hopp\u00edpolla"}, "AlbumTitle": {"S": "Takk\u2026"}}"#,
    );
}

#[tokio::test]
async fn json_body_strings_may_use_unicode_escapes() {
    let app = TestApp::spawn().await;
    app.create_table("Music").await;

    app.item("PUT")
        .data(r#"{"table": "Music", "artist": "Sigur R\u00f3s", "songtitle": "Hopp\u00edpolla", "albumtitle": "Takk\u2026"}"#)
        .send()
        .await
        .assert_json(200, r#""Item added""#);

    app.get_item("Music", "Sigur Rós", "Hoppípolla").await.assert_json(
        200,
        r#"{"Artist": {"S": "Sigur R\u00f3s"}, "SongTitle": {"S": "Hopp\u00edpolla"}, "AlbumTitle": {"S": "Takk\u2026"}}"#,
    );
}

#[tokio::test]
async fn an_empty_album_title_is_stored_as_an_empty_string() {
    let app = TestApp::spawn().await;
    app.create_table("Music").await;

    // DynamoDB allows empty strings outside the key.
    app.item("PUT")
        .header("table: Music")
        .header("artist: No One You Know")
        .header("songtitle: Call Me Today")
        .header("albumtitle;")
        .send()
        .await
        .assert_json(200, r#""Item added""#);

    app.get_item("Music", "No One You Know", "Call Me Today").await.assert_json(
        200,
        r#"{"Artist": {"S": "No One You Know"}, "SongTitle": {"S": "Call Me Today"}, "AlbumTitle": {"S": ""}}"#,
    );
}
