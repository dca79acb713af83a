//! The tutorial's routes (`/{stage}/DemoResourceMusic/…`): the route table
//! (`routes`), where each parameter comes from (`params`: header › query ›
//! JSON body), and the six calls, answered as the tutorial's Lambda functions
//! answer (a JSON string, or the item in DynamoDB JSON).

pub mod params;
pub mod routes;

use std::{sync::Arc, time::Instant};

use axum::{
    extract::{Request, State},
    response::{IntoResponse, Response},
};
use http::StatusCode;
use music_api::pb;
use serde::Serialize;
use tonic::Status;

use self::routes::RouteTable;
use self::{
    params::{Param, ParamError, Params, Wording},
    routes::{Call, Unrouted},
};
use crate::{
    body::read_body,
    error::{self, ApiError, ErrorMode},
    request::{TraceContext, X_REQUEST_ID, bounded},
    state::Gateway,
    upstream::CallContext,
};

/// What the tutorial's routes need: the shared state, the route table of the
/// stage, and how DynamoDB's refusals are answered.
#[derive(Debug, Clone)]
pub struct Tutorial {
    pub gateway: Gateway,
    pub routes: RouteTable,
    pub error_mode: ErrorMode,
}

impl From<ParamError> for ApiError {
    fn from(error: ParamError) -> Self {
        ApiError::text(StatusCode::BAD_REQUEST, &error.to_string())
    }
}

/// The router's fallback: every request that is not an admin path.
pub async fn dispatch(State(tutorial): State<Arc<Tutorial>>, request: Request) -> Response {
    // The integration timeout counts from arrival, as API Gateway's does.
    let arrived = Instant::now();
    let (parts, body) = request.into_parts();
    let call = match tutorial.routes.route(&parts.method, parts.uri.path()) {
        Ok(call) => call,
        Err(Unrouted::NotFound) => {
            let named = if parts.uri.path().is_empty() {
                // CONNECT names an authority, not a path.
                parts.uri.authority().map_or("", |a| a.as_str())
            } else {
                parts.uri.path()
            };
            return ApiError::message(
                StatusCode::NOT_FOUND,
                &format!(
                    "No resource at {}. Resources: {}.",
                    bounded(named),
                    tutorial.routes.describe()
                ),
            )
            .into_response();
        }
        Err(Unrouted::MethodNotAllowed(resource)) => {
            return ApiError::message(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!(
                    "{} does not support {}; it supports {}.",
                    tutorial.routes.path_of(resource),
                    parts.method,
                    resource.allow()
                ),
            )
            .allow(resource.allow())
            .into_response();
        }
    };
    let body = match read_body(&parts.headers, body).await {
        Ok(bytes) => bytes,
        Err(refusal) => return refusal.into_response(),
    };
    let context = CallContext {
        request_id: parts
            .headers
            .get(X_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned(),
        traceparent: parts
            .extensions
            .get::<TraceContext>()
            .map(|t| t.traceparent.clone())
            .unwrap_or_default(),
        deadline: arrived + tutorial.gateway.timeout,
    };
    let params = Params::new(&parts.headers, parts.uri.query(), &body);
    match handle(&tutorial, call, &params, &context).await {
        Ok(body) => (
            StatusCode::OK,
            [(http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(refusal) => refusal.into_response(),
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

/// Runs one call: its success body, or the tutorial's answer to its failure.
pub async fn handle(
    tutorial: &Tutorial,
    call: Call,
    params: &Params<'_>,
    context: &CallContext,
) -> Result<String, ApiError> {
    match run(&tutorial.gateway, call, params, context).await {
        Ok(body) => Ok(body),
        Err(CallError::Param(error)) => Err(error.into()),
        Err(CallError::Upstream(status)) => {
            if call == Call::GetItem && error::is_item_not_found(&status) {
                return Ok(crate::pyjson::dumps("Item not found"));
            }
            Err(ApiError::from_call(&status, tutorial.error_mode))
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

/// One call's parameters, its request to the service, and its success body.
/// The call is bounded by the request's deadline, sent as `grpc-timeout`: a
/// remote service's channel enforces it on the client side (tonic's
/// `GrpcTimeout`), the in-process service's `observe` layer on its side.
async fn run(
    gateway: &Gateway,
    call: Call,
    params: &Params<'_>,
    context: &CallContext,
) -> Result<String, CallError> {
    use Param::{AlbumTitle, Artist, SongTitle, Table};
    let mut tables = gateway.upstream.tables.clone();
    let mut items = gateway.upstream.items.clone();
    let done = |text: &str| Ok(crate::pyjson::dumps(text));
    match call {
        Call::CreateTable => {
            let [table_name] = params.require([Table], Wording::Table)?;
            let request = context.request(pb::CreateTableRequest {
                table_name,
                provisioned_throughput: None,
            });
            tables.create_table(request).await?;
            done("Table created")
        }
        Call::DeleteTable => {
            let [table_name] = params.require([Table], Wording::Table)?;
            tables
                .delete_table(context.request(pb::DeleteTableRequest { table_name }))
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
                ..Default::default()
            };
            items
                .put_item(context.request(pb::PutItemRequest {
                    table_name,
                    song: Some(song),
                    ..Default::default()
                }))
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
                ..Default::default()
            });
            items.update_item(request).await?;
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
            let song = items.get_item(request).await?.into_inner();
            Ok(item_json(&song))
        }
        Call::DeleteItem => {
            let [table_name, artist, song_title] =
                params.require([Table, Artist, SongTitle], Wording::Item)?;
            let request = context.request(pb::DeleteItemRequest {
                table_name,
                artist,
                song_title,
                ..Default::default()
            });
            items.delete_item(request).await?;
            done("Item deleted")
        }
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
            ..Default::default()
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
                    ..Default::default()
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
