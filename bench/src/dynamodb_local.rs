//! DynamoDB Local for the bench: found where scripts/test.sh and
//! scripts/bench.sh install it, and seeded with the table and song over its
//! JSON protocol, so that the direct scenario needs no SDK. Starting it, and
//! its calls, are testkit's (`music_testkit::dynamodb_local`).

use std::path::{Path, PathBuf};

use music_testkit::dynamodb_local::{self, DynamoDbLocal};

use crate::{
    error::BenchError,
    scenario::{ALBUM_TITLE, ARTIST, SONG_TITLE, TABLE},
    wrk::dynamodb_get_item_body,
};

/// The folder with DynamoDBLocal.jar: `dir`, else the one scripts/test.sh
/// installs under `${MUSIC_TEST_CACHE:-~/.cache/music-api}`.
pub(crate) fn find(dir: Option<&Path>) -> Result<PathBuf, BenchError> {
    dynamodb_local::find_installed(dir).map_err(|what| {
        BenchError::Setup(format!(
            "{what}; run scripts/bench.sh (it installs DynamoDB Local), pass --dynamodb-local-dir, \
             or leave those scenarios out with --skip-dynamodb-local"
        ))
    })
}

/// Creates the table (the tutorial's schema) and puts the song; then checks
/// that GetItem, as the direct scenario sends it, finds it.
pub(crate) async fn seed(local: &DynamoDbLocal) -> Result<(), BenchError> {
    let create = format!(
        r#"{{"TableName":"{TABLE}","AttributeDefinitions":[{{"AttributeName":"Artist","AttributeType":"S"}},{{"AttributeName":"SongTitle","AttributeType":"S"}}],"KeySchema":[{{"AttributeName":"Artist","KeyType":"HASH"}},{{"AttributeName":"SongTitle","KeyType":"RANGE"}}],"ProvisionedThroughput":{{"ReadCapacityUnits":5,"WriteCapacityUnits":5}}}}"#
    );
    let answer = local.call("CreateTable", &create).await?;
    if answer.status != 200 && !answer.body.contains("ResourceInUseException") {
        return Err(BenchError::Setup(format!(
            "DynamoDB Local refused CreateTable: {} {}",
            answer.status, answer.body
        )));
    }
    let put = format!(
        r#"{{"TableName":"{TABLE}","Item":{{"Artist":{{"S":"{ARTIST}"}},"SongTitle":{{"S":"{SONG_TITLE}"}},"AlbumTitle":{{"S":"{ALBUM_TITLE}"}}}}}}"#
    );
    let answer = local.call("PutItem", &put).await?;
    if answer.status != 200 {
        return Err(BenchError::Setup(format!(
            "DynamoDB Local refused PutItem: {} {}",
            answer.status, answer.body
        )));
    }
    let answer = local.call("GetItem", &dynamodb_get_item_body()).await?;
    if answer.status != 200 || !answer.body.contains(ALBUM_TITLE) {
        return Err(BenchError::Setup(format!(
            "DynamoDB Local's GetItem did not find the seeded song: {} {}",
            answer.status, answer.body
        )));
    }
    Ok(())
}
