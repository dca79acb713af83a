//! DynamoDB's error precedence, with DynamoDB Local as the arbiter (a missing
//! table is answered before a malformed key or item): for item calls that are malformed (an empty or over-long key,
//! an item over 400 KB) and aimed at a table that does not exist, the same
//! request is sent straight to DynamoDB Local with aws-sdk-dynamodb and
//! through music-service on it; the service's ErrorInfo reason must be
//! DynamoDB Local's error code, case by case. The same faults with a bad
//! table name are compared the same way, and on a table that exists: there,
//! wherever DynamoDB Local refuses, the service refuses alike, and where
//! DynamoDB Local lets a fault through (a Query on an artist over 2048 bytes
//! answers an empty page), the service's own key check stands (INVALID_ARGUMENT).
//!
//! DynamoDB Local only (skipped with a note without
//! `MUSIC_TEST_DYNAMODB_ENDPOINT`, except under `CI=true`).

use std::collections::HashMap;

use aws_sdk_dynamodb::{
    Client,
    error::ProvideErrorMetadata,
    types::{AttributeValue, KeysAndAttributes, PutRequest, ReturnValue, WriteRequest},
};
use music_api::pb::{self, item_service_client::ItemServiceClient};
use music_testkit::{Program, dynamodb, env::dynamodb_endpoint, grpc, names::unique_table};
use tonic::{Code, transport::Channel};
use tonic_types::StatusExt;

/// A key or content fault, as the request's values.
#[derive(Debug, Clone, Copy)]
enum Fault {
    EmptyArtist,
    LongArtist,
    EmptyTitle,
    LongTitle,
    /// An item of 410 KB: over DynamoDB's 400 KB.
    LargeItem,
    /// Both an empty artist and a 410 KB item: which does DynamoDB judge first?
    EmptyArtistLargeItem,
    /// None: a well-formed request (for the bad-table-name rows).
    None,
}

impl Fault {
    /// (artist, song title, album title).
    fn values(self) -> (String, String, String) {
        let (artist, title, album) = ("Precedence Artist", "Precedence Song", "Album");
        match self {
            Self::EmptyArtist => (String::new(), title.into(), album.into()),
            Self::LongArtist => ("a".repeat(2049), title.into(), album.into()),
            Self::EmptyTitle => (artist.into(), String::new(), album.into()),
            Self::LongTitle => (artist.into(), "t".repeat(1025), album.into()),
            Self::LargeItem => (artist.into(), title.into(), "x".repeat(410 * 1024)),
            Self::EmptyArtistLargeItem => (String::new(), title.into(), "x".repeat(410 * 1024)),
            Self::None => (artist.into(), title.into(), album.into()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Call {
    GetItem,
    PutItem,
    UpdateItem,
    DeleteItem,
    /// ListSongs, a Query on the artist.
    Query,
    BatchGetItem,
    BatchWriteItem,
}

fn key(artist: &str, title: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("Artist".to_owned(), AttributeValue::S(artist.to_owned())),
        ("SongTitle".to_owned(), AttributeValue::S(title.to_owned())),
    ])
}

/// DynamoDB Local's error code for the request the service makes for `call`
/// (as service/src/store builds it), or "OK".
async fn straight(client: &Client, call: Call, table: &str, fault: Fault) -> String {
    let (artist, title, album) = fault.values();
    let mut item = key(&artist, &title);
    item.insert("AlbumTitle".to_owned(), AttributeValue::S(album.clone()));
    fn code<T, E: ProvideErrorMetadata>(result: Result<T, E>) -> String {
        match result {
            Ok(_) => "OK".to_owned(),
            Err(e) => e.code().unwrap_or("no error code").to_owned(),
        }
    }
    match call {
        Call::GetItem => code(
            client
                .get_item()
                .table_name(table)
                .set_key(Some(key(&artist, &title)))
                .consistent_read(true)
                .send()
                .await,
        ),
        Call::PutItem => code(
            client
                .put_item()
                .table_name(table)
                .set_item(Some(item))
                .return_values(ReturnValue::AllOld)
                .send()
                .await,
        ),
        Call::UpdateItem => code(
            client
                .update_item()
                .table_name(table)
                .set_key(Some(key(&artist, &title)))
                .update_expression("SET #AT = :t")
                .expression_attribute_names("#AT", "AlbumTitle")
                .expression_attribute_values(":t", AttributeValue::S(album))
                .return_values(ReturnValue::AllNew)
                .send()
                .await,
        ),
        Call::DeleteItem => code(
            client
                .delete_item()
                .table_name(table)
                .set_key(Some(key(&artist, &title)))
                .return_values(ReturnValue::AllOld)
                .send()
                .await,
        ),
        Call::Query => code(
            client
                .query()
                .table_name(table)
                .key_condition_expression("#A = :a")
                .expression_attribute_names("#A", "Artist")
                .expression_attribute_values(":a", AttributeValue::S(artist))
                .consistent_read(true)
                .limit(101)
                .send()
                .await,
        ),
        Call::BatchGetItem => code(
            client
                .batch_get_item()
                .request_items(
                    table,
                    KeysAndAttributes::builder()
                        .keys(key(&artist, &title))
                        .consistent_read(true)
                        .build()
                        .unwrap(),
                )
                .send()
                .await,
        ),
        Call::BatchWriteItem => code(
            client
                .batch_write_item()
                .request_items(
                    table,
                    vec![
                        WriteRequest::builder()
                            .put_request(
                                PutRequest::builder().set_item(Some(item)).build().unwrap(),
                            )
                            .build(),
                    ],
                )
                .send()
                .await,
        ),
    }
}

/// The service's answer to `call`: its ErrorInfo reason and gRPC code, or "OK".
async fn through_service(
    items: &mut ItemServiceClient<Channel>,
    call: Call,
    table: &str,
    fault: Fault,
) -> (String, Option<Code>) {
    let (artist, song_title, album) = fault.values();
    let table_name = table.to_owned();
    let song = pb::Song {
        artist: artist.clone(),
        song_title: song_title.clone(),
        album_title: Some(album.clone()),
        ..Default::default()
    };
    let result: Result<(), tonic::Status> = match call {
        Call::GetItem => items
            .get_item(pb::GetItemRequest {
                table_name,
                artist,
                song_title,
            })
            .await
            .map(drop),
        Call::PutItem => items
            .put_item(pb::PutItemRequest {
                table_name,
                song: Some(song),
                ..Default::default()
            })
            .await
            .map(drop),
        Call::UpdateItem => items
            .update_item(pb::UpdateItemRequest {
                table_name,
                artist,
                song_title,
                album_title: album,
                ..Default::default()
            })
            .await
            .map(drop),
        Call::DeleteItem => items
            .delete_item(pb::DeleteItemRequest {
                table_name,
                artist,
                song_title,
                ..Default::default()
            })
            .await
            .map(drop),
        Call::Query => items
            .list_songs(pb::ListSongsRequest {
                table_name,
                artist,
                ..Default::default()
            })
            .await
            .map(drop),
        Call::BatchGetItem => items
            .batch_get_songs(pb::BatchGetSongsRequest {
                table_name,
                keys: vec![pb::SongKey { artist, song_title }],
            })
            .await
            .map(drop),
        Call::BatchWriteItem => items
            .batch_write_songs(pb::BatchWriteSongsRequest {
                table_name,
                writes: vec![pb::SongWrite {
                    write: Some(pb::song_write::Write::Put(song)),
                }],
            })
            .await
            .map(drop),
    };
    match result {
        Ok(()) => ("OK".to_owned(), None),
        Err(status) => (reason(&status), Some(status.code())),
    }
}

fn reason(status: &tonic::Status) -> String {
    status
        .get_details_error_info()
        .map_or_else(|| format!("no ErrorInfo ({status:?})"), |info| info.reason)
}

/// The gRPC code the service answers a DynamoDB error code with (None: OK).
fn mapped(code: &str) -> Option<Code> {
    match code {
        "OK" => None,
        "ResourceNotFoundException" => Some(Code::NotFound),
        "ValidationException" => Some(Code::InvalidArgument),
        other => panic!("no mapping for {other} in this test"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_item_calls_on_a_missing_table_answer_what_dynamodb_local_answers() {
    let Some(endpoint) = dynamodb_endpoint() else {
        return;
    };
    let service = Program::service_on(&endpoint, &[]).await;
    let mut items = grpc::items(service.addr("grpc")).await;
    let missing = unique_table("NoSuchTable");
    let existing = unique_table("Precedence");
    grpc::create_table(service.addr("grpc"), &existing).await;
    let store = dynamodb::client(&endpoint);

    use Call::*;
    use Fault::*;
    let key_faults = [EmptyArtist, LongArtist, EmptyTitle, LongTitle];
    let mut cases: Vec<(Call, Fault)> = Vec::new();
    for call in [
        GetItem,
        PutItem,
        UpdateItem,
        DeleteItem,
        BatchGetItem,
        BatchWriteItem,
    ] {
        cases.extend(key_faults.iter().map(|fault| (call, *fault)));
    }
    for call in [PutItem, UpdateItem, BatchWriteItem] {
        cases.extend([(call, LargeItem), (call, EmptyArtistLargeItem)]);
    }
    cases.extend([(Query, EmptyArtist), (Query, LongArtist)]);

    let mut rows = Vec::new();
    for (table, name) in [
        (missing.as_str(), "missing table"),
        (existing.as_str(), "existing table"),
        // A bad table name, with and without a key fault.
        ("ab", "bad table name"),
    ] {
        let faults: Vec<_> = if name == "bad table name" {
            vec![
                (GetItem, None),
                (GetItem, EmptyArtist),
                (PutItem, LargeItem),
                (Query, LongArtist),
            ]
        } else {
            cases.clone()
        };
        for (call, fault) in faults {
            let dynamodb = straight(&store, call, table, fault).await;
            let (service, code) = through_service(&mut items, call, table, fault).await;
            eprintln!(
                "{name:>14} {call:?} {fault:?}: DynamoDB Local {dynamodb}, music-service {service} ({code:?})"
            );
            rows.push((name, call, fault, dynamodb, service, code));
        }
    }
    // Where DynamoDB Local refuses, the same code; where it lets a fault
    // through on a table that exists, the service's own key check refuses it.
    let agrees = |name: &str, dynamodb: &str, service: &str, code: Option<Code>| {
        if name == "existing table" && dynamodb == "OK" {
            service == "ValidationException" && code == Some(Code::InvalidArgument)
        } else {
            dynamodb == service && mapped(dynamodb) == code
        }
    };
    let disagreements: Vec<_> = rows
        .iter()
        .filter(|(name, _, _, dynamodb, service, code)| !agrees(name, dynamodb, service, *code))
        .collect();
    let lenient: Vec<_> = rows
        .iter()
        .filter(|(_, _, _, dynamodb, service, _)| dynamodb == "OK" && service != "OK")
        .map(|(name, call, fault, ..)| format!("{call:?} {fault:?} on the {name}"))
        .collect();
    eprintln!("DynamoDB Local lets through, the service refuses: {lenient:?}");
    let not_found = rows
        .iter()
        .filter(|(name, .., dynamodb, _, _)| {
            *name == "missing table" && dynamodb == "ResourceNotFoundException"
        })
        .count();
    let on_missing = rows
        .iter()
        .filter(|(name, ..)| *name == "missing table")
        .count();
    eprintln!(
        "{} cases, {} where music-service and DynamoDB Local disagree; on the missing table DynamoDB Local answered ResourceNotFoundException to {not_found} of {on_missing}",
        rows.len(),
        disagreements.len()
    );
    assert!(
        disagreements.is_empty(),
        "music-service answers what DynamoDB Local answers: {disagreements:#?}"
    );
}
