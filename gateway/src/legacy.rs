//! The tutorial's six calls: parameters → music.v1 request → the Lambda
//! functions' answers (a JSON string or the item in DynamoDB JSON).

use std::time::Duration;

use http::StatusCode;
use music_api::pb;
use serde::Serialize;
use tonic::Status;

use crate::{
    app::Gateway,
    errors::{self, Failure},
    params::{Param, ParamError, Params, Wording},
    routes::Call,
    upstream::CallContext,
};

/// What a legacy route answers: a status and a Python-`json.dumps` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: StatusCode,
    pub body: String,
    pub retry_after: Option<Duration>,
}

impl Reply {
    fn ok(body: String) -> Self {
        Self {
            status: StatusCode::OK,
            body,
            retry_after: None,
        }
    }

    fn text(status: StatusCode, message: &str) -> Self {
        Self {
            status,
            body: crate::pyjson::dumps(message),
            retry_after: None,
        }
    }
}

impl From<ParamError> for Reply {
    fn from(error: ParamError) -> Self {
        Self::text(StatusCode::BAD_REQUEST, &error.to_string())
    }
}

impl From<Failure> for Reply {
    fn from(failure: Failure) -> Self {
        Self {
            retry_after: failure.retry_after,
            ..Self::text(failure.status, &failure.message)
        }
    }
}

/// An item as boto3's `get_item` returns it: DynamoDB JSON, key first.
#[derive(Serialize)]
struct DynamoItem<'a> {
    #[serde(rename = "Artist")]
    artist: StringValue<'a>,
    #[serde(rename = "SongTitle")]
    song_title: StringValue<'a>,
    #[serde(rename = "AlbumTitle", skip_serializing_if = "Option::is_none")]
    album_title: Option<StringValue<'a>>,
}

#[derive(Serialize)]
struct StringValue<'a> {
    #[serde(rename = "S")]
    s: &'a str,
}

fn item_json(song: &pb::Song) -> String {
    crate::pyjson::dumps(&DynamoItem {
        artist: StringValue { s: &song.artist },
        song_title: StringValue {
            s: &song.song_title,
        },
        album_title: song.album_title.as_deref().map(|s| StringValue { s }),
    })
}

/// Runs one call.
pub async fn handle(
    gateway: &Gateway,
    call: Call,
    params: &Params<'_>,
    context: &CallContext,
) -> Reply {
    match run(gateway, call, params, context).await {
        Ok(reply) => reply,
        Err(CallError::Param(error)) => error.into(),
        Err(CallError::Upstream(status)) => {
            if call == Call::GetItem && errors::is_item_not_found(&status) {
                return Reply::ok(crate::pyjson::dumps("Item not found"));
            }
            errors::failure(&status, gateway.error_mode).into()
        }
    }
}

enum CallError {
    Param(ParamError),
    Upstream(Status),
}

impl From<ParamError> for CallError {
    fn from(error: ParamError) -> Self {
        Self::Param(error)
    }
}

impl From<Status> for CallError {
    fn from(status: Status) -> Self {
        Self::Upstream(status)
    }
}

async fn run(
    gateway: &Gateway,
    call: Call,
    params: &Params<'_>,
    context: &CallContext,
) -> Result<Reply, CallError> {
    use Param::{AlbumTitle, Artist, SongTitle, Table};
    let budget = context.remaining();
    let mut tables = gateway.upstream.tables.clone();
    let mut items = gateway.upstream.items.clone();
    let done = |text: &str| Ok(Reply::ok(crate::pyjson::dumps(text)));
    match call {
        Call::CreateTable => {
            let [table_name] = params.require([Table], Wording::Table)?;
            let request = context.request(pb::CreateTableRequest {
                table_name,
                provisioned_throughput: None,
            });
            within(budget, tables.create_table(request)).await?;
            done("Table created")
        }
        Call::DeleteTable => {
            let [table_name] = params.require([Table], Wording::Table)?;
            within(
                budget,
                tables.delete_table(context.request(pb::DeleteTableRequest { table_name })),
            )
            .await?;
            done("Table deleted")
        }
        Call::PutItem => {
            let [table_name, artist, song_title, album_title] =
                params.require([Table, Artist, SongTitle, AlbumTitle], Wording::Item)?;
            let song = pb::Song {
                artist,
                song_title,
                album_title: Some(album_title),
            };
            within(
                budget,
                items.put_item(context.request(pb::PutItemRequest {
                    table_name,
                    song: Some(song),
                })),
            )
            .await?;
            done("Item added")
        }
        Call::UpdateItem => {
            let [table_name, artist, song_title, album_title] =
                params.require([Table, Artist, SongTitle, AlbumTitle], Wording::Item)?;
            let request = context.request(pb::UpdateItemRequest {
                table_name,
                artist,
                song_title,
                album_title,
            });
            within(budget, items.update_item(request)).await?;
            done("Item updated")
        }
        Call::GetItem => {
            let [table_name, artist, song_title] =
                params.require([Table, Artist, SongTitle], Wording::Item)?;
            let request = context.request(pb::GetItemRequest {
                table_name,
                artist,
                song_title,
            });
            let song = within(budget, items.get_item(request)).await?;
            Ok(Reply::ok(item_json(&song)))
        }
        Call::DeleteItem => {
            let [table_name, artist, song_title] =
                params.require([Table, Artist, SongTitle], Wording::Item)?;
            let request = context.request(pb::DeleteItemRequest {
                table_name,
                artist,
                song_title,
            });
            within(budget, items.delete_item(request)).await?;
            done("Item deleted")
        }
    }
}

/// Bounds a call by the gateway's integration timeout, whatever the transport
/// does with `grpc-timeout` (the in-process one has no server to enforce it).
async fn within<T>(
    budget: Duration,
    call: impl Future<Output = Result<tonic::Response<T>, Status>>,
) -> Result<T, Status> {
    match tokio::time::timeout(budget, call).await {
        Ok(result) => result.map(tonic::Response::into_inner),
        Err(_) => Err(Status::deadline_exceeded(format!(
            "The music service did not answer within the gateway's {} ms budget.",
            budget.as_millis()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_render_as_boto3_does_with_key_first() {
        let song = pb::Song {
            artist: "No One You Know".into(),
            song_title: "Call Me Today".into(),
            album_title: Some("Somewhat Famous".into()),
        };
        assert_eq!(
            item_json(&song),
            r#"{"Artist": {"S": "No One You Know"}, "SongTitle": {"S": "Call Me Today"}, "AlbumTitle": {"S": "Somewhat Famous"}}"#
        );
        let bare = pb::Song {
            album_title: None,
            ..song
        };
        assert_eq!(
            item_json(&bare),
            r#"{"Artist": {"S": "No One You Know"}, "SongTitle": {"S": "Call Me Today"}}"#
        );
    }

    mod properties {
        use music_api::pb;
        use proptest::prelude::*;
        use serde_json::{Value, json};

        use super::super::item_json;

        proptest! {
            /// Whatever a stored song holds, its DynamoDB JSON is ASCII, key
            /// first, and reads back as the same strings.
            #[test]
            fn any_song_renders_as_dynamodb_json_that_reads_back(
                artist in any::<String>(),
                song_title in any::<String>(),
                album_title in proptest::option::of(any::<String>()),
            ) {
                let song = pb::Song {
                    artist: artist.clone(),
                    song_title: song_title.clone(),
                    album_title: album_title.clone(),
                };
                let text = item_json(&song);
                prop_assert!(text.is_ascii(), "{text}");
                prop_assert!(text.starts_with(r#"{"Artist": {"S": "#), "{text}");
                let mut expected = json!({"Artist": {"S": artist}, "SongTitle": {"S": song_title}});
                if let Some(album) = album_title {
                    expected["AlbumTitle"] = json!({"S": album});
                }
                let back: Value = serde_json::from_str(&text).expect("item_json writes JSON");
                prop_assert_eq!(back, expected);
            }
        }
    }
}
