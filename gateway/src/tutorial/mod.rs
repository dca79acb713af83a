//! The tutorial's routes (`/{stage}/DemoResourceMusic/…`): the route table
//! (`routes`), where each parameter comes from (`params`: header › query ›
//! JSON body), and the six calls, answered as the tutorial's Lambda functions
//! answer (a JSON string, or the item in DynamoDB JSON) — with the Lambda
//! proxy integration, or combined with its status into one 200 answer as
//! the non-proxy integration shows it (`--integration non-proxy`) — each
//! step in the execution log.

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
    execution::{Execution, ExecutionLog},
    facts::IntegrationFacts,
    request::bounded,
    state::Gateway,
    upstream::CallContext,
};

/// What the tutorial's routes need: the shared state, the route table of the
/// stage, how DynamoDB's refusals are answered, the integration's answer
/// shape, and the execution log.
#[derive(Debug, Clone)]
pub struct Tutorial {
    pub gateway: Gateway,
    pub routes: RouteTable,
    pub error_mode: ErrorMode,
    pub integration: Integration,
    pub execution: ExecutionLog,
}

/// How the Lambda functions' answers reach the client, as API Gateway's two
/// Lambda integrations pass them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Integration {
    /// The function's status is the answer's status, its body the answer's body.
    #[default]
    Proxy,
    /// Every answer is 200 with the function's status and body combined:
    /// `{"statusCode": 200, "body": "\"Table created\""}`.
    NonProxy,
}

/// The non-proxy integration's body: the function's return value as
/// `json.dumps` wrote it.
#[derive(Serialize)]
struct Combined<'a> {
    #[serde(rename = "statusCode")]
    status_code: u16,
    body: &'a str,
}

impl From<ParamError> for ApiError {
    fn from(error: ParamError) -> Self {
        ApiError::text(StatusCode::BAD_REQUEST, &error.to_string())
    }
}

/// Every request the router's fallback does not give to `/v1`
/// (`rest::is_v1`): the tutorial's routes, or their 404 and 405.
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
    let context = CallContext::of_request(&parts, arrived + tutorial.gateway.timeout);
    let exec = tutorial.execution.start(&context.request_id, arrived);
    exec.method_request(
        &parts.method,
        parts.uri.path(),
        &parts.headers,
        parts.uri.query(),
        &body,
    );
    let params = Params::new(&parts.headers, parts.uri.query(), &body);
    let called = Instant::now();
    let answer = handle(&tutorial, call, &params, &context, &exec).await;
    let facts = IntegrationFacts {
        latency: called.elapsed(),
        status: match &answer {
            Ok(_) => 200,
            Err(refusal) => refusal.status.as_u16(),
        },
    };
    let answer = match (tutorial.integration, answer) {
        (Integration::Proxy, Ok(body)) => Ok(body),
        (Integration::Proxy, Err(refusal)) => Err(refusal),
        (Integration::NonProxy, answer) => {
            let (status, body) = match &answer {
                Ok(body) => (StatusCode::OK, body.as_str()),
                Err(refusal) => (refusal.status, refusal.body.as_str()),
            };
            Ok(crate::pyjson::dumps(&Combined {
                status_code: status.as_u16(),
                body,
            }))
        }
    };
    let mut response = match answer {
        Ok(body) => {
            if exec.is_on() {
                exec.method_response(StatusCode::OK, &http::HeaderMap::new(), body.as_bytes());
            }
            (
                StatusCode::OK,
                [(http::header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response()
        }
        Err(refusal) => {
            if exec.is_on() {
                exec.method_response(
                    refusal.status,
                    &http::HeaderMap::new(),
                    refusal.body.as_bytes(),
                );
            }
            refusal.into_response()
        }
    };
    response.extensions_mut().insert(facts);
    response
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
    exec: &Execution<'_>,
) -> Result<String, ApiError> {
    match run(&tutorial.gateway, call, params, context, exec).await {
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

/// One call to the service: the message sent (and logged), the answer
/// received (and logged), its message or failure.
macro_rules! call {
    ($exec:expr, $context:expr, $client:ident . $method:ident, $rpc:literal, $sent:literal, $received:literal, $message:expr) => {{
        let message = $message;
        $exec.endpoint_request($rpc, $sent, &message);
        let answer = $client.$method($context.request(message)).await;
        $exec.endpoint_response($received, &answer);
        answer?.into_inner()
    }};
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
    exec: &Execution<'_>,
) -> Result<String, CallError> {
    use Param::{AlbumTitle, Artist, SongTitle, Table};
    let mut tables = gateway.upstream.tables.clone();
    let mut items = gateway.upstream.items.clone();
    let done = |text: &str| Ok(crate::pyjson::dumps(text));
    match call {
        Call::CreateTable => {
            let [table_name] = params.require([Table], Wording::Table)?;
            call!(
                exec,
                context,
                tables.create_table,
                "music.v1.TableService/CreateTable",
                "music.v1.CreateTableRequest",
                "music.v1.Table",
                pb::CreateTableRequest {
                    table_name,
                    provisioned_throughput: None,
                }
            );
            done("Table created")
        }
        Call::DeleteTable => {
            let [table_name] = params.require([Table], Wording::Table)?;
            call!(
                exec,
                context,
                tables.delete_table,
                "music.v1.TableService/DeleteTable",
                "music.v1.DeleteTableRequest",
                "music.v1.DeleteTableResponse",
                pb::DeleteTableRequest { table_name }
            );
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
            call!(
                exec,
                context,
                items.put_item,
                "music.v1.ItemService/PutItem",
                "music.v1.PutItemRequest",
                "music.v1.PutItemResponse",
                pb::PutItemRequest {
                    table_name,
                    song: Some(song),
                    ..Default::default()
                }
            );
            done("Item added")
        }
        Call::UpdateItem => {
            let [table_name, artist, song_title, album_title] =
                params.require([Table, Artist, SongTitle, AlbumTitle], Wording::Item)?;
            call!(
                exec,
                context,
                items.update_item,
                "music.v1.ItemService/UpdateItem",
                "music.v1.UpdateItemRequest",
                "music.v1.Song",
                pb::UpdateItemRequest {
                    table_name,
                    artist,
                    song_title,
                    album_title,
                    ..Default::default()
                }
            );
            done("Item updated")
        }
        Call::GetItem => {
            let [table_name, artist, song_title] =
                params.require([Table, Artist, SongTitle], Wording::Item)?;
            let song = call!(
                exec,
                context,
                items.get_item,
                "music.v1.ItemService/GetItem",
                "music.v1.GetItemRequest",
                "music.v1.Song",
                pb::GetItemRequest {
                    table_name,
                    artist,
                    song_title,
                }
            );
            Ok(item_json(&song))
        }
        Call::DeleteItem => {
            let [table_name, artist, song_title] =
                params.require([Table, Artist, SongTitle], Wording::Item)?;
            call!(
                exec,
                context,
                items.delete_item,
                "music.v1.ItemService/DeleteItem",
                "music.v1.DeleteItemRequest",
                "music.v1.DeleteItemResponse",
                pb::DeleteItemRequest {
                    table_name,
                    artist,
                    song_title,
                    ..Default::default()
                }
            );
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
