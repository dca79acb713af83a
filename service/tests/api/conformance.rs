//! The store conformance suite: the same behaviour over every backend
//! (embedded dynoxide always, DynamoDB Local when configured), through the
//! gRPC API on a real socket.

use music_api::pb::{self, KeyType, TableStatus};
use tonic::Code;

use crate::helpers::{TestApp, backends, content, error_info, song, unique_table};

#[tokio::test]
async fn create_table_returns_an_active_table_with_the_tutorials_schema() {
    for backend in backends() {
        let mut app = TestApp::start(&backend).await;
        let name = unique_table("Music");
        let table = app.create_table(&name).await;
        assert_eq!(table.name, name, "[{}]", backend.name);
        assert_eq!(table.status(), TableStatus::Active, "[{}]", backend.name);
        let keys: Vec<_> = table
            .key_schema
            .iter()
            .map(|k| (k.attribute_name.as_str(), k.key_type()))
            .collect();
        assert_eq!(
            keys,
            [("Artist", KeyType::Hash), ("SongTitle", KeyType::Range)],
            "[{}]",
            backend.name
        );
        let throughput = table.provisioned_throughput.expect("throughput");
        assert_eq!(
            (
                throughput.read_capacity_units,
                throughput.write_capacity_units
            ),
            (5, 5)
        );

        let described = app
            .tables
            .describe_table(pb::DescribeTableRequest {
                table_name: name.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(described.status(), TableStatus::Active);
        assert!(
            described.created_at.is_some(),
            "[{}] created_at",
            backend.name
        );
        app.delete_table(&name).await;
        app.stop().await;
    }
}

#[tokio::test]
async fn create_table_honours_requested_throughput() {
    for backend in backends() {
        let mut app = TestApp::start(&backend).await;
        let name = unique_table("Throughput");
        let table = app
            .tables
            .create_table(pb::CreateTableRequest {
                table_name: name.clone(),
                provisioned_throughput: Some(pb::ProvisionedThroughput {
                    read_capacity_units: 7,
                    write_capacity_units: 3,
                }),
            })
            .await
            .unwrap()
            .into_inner();
        let t = table.provisioned_throughput.unwrap();
        assert_eq!(
            (t.read_capacity_units, t.write_capacity_units),
            (7, 3),
            "[{}]",
            backend.name
        );
        app.delete_table(&name).await;
        app.stop().await;
    }
}

#[tokio::test]
async fn creating_a_table_twice_is_already_exists() {
    for backend in backends() {
        let mut app = TestApp::start(&backend).await;
        let name = unique_table("Twice");
        app.create_table(&name).await;
        let status = app
            .tables
            .create_table(pb::CreateTableRequest {
                table_name: name.clone(),
                provisioned_throughput: None,
            })
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::AlreadyExists,
            "[{}] {status:?}",
            backend.name
        );
        assert_eq!(
            error_info(&status),
            (
                "ResourceInUseException".into(),
                "dynamodb".into(),
                "CreateTable".into()
            )
        );
        app.delete_table(&name).await;
        app.stop().await;
    }
}

#[tokio::test]
async fn deleting_a_missing_table_is_not_found() {
    for backend in backends() {
        let mut app = TestApp::start(&backend).await;
        let status = app
            .tables
            .delete_table(pb::DeleteTableRequest {
                table_name: unique_table("Missing"),
            })
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::NotFound,
            "[{}] {status:?}",
            backend.name
        );
        assert_eq!(
            error_info(&status),
            (
                "ResourceNotFoundException".into(),
                "dynamodb".into(),
                "DeleteTable".into()
            )
        );
        let status = app
            .tables
            .describe_table(pb::DescribeTableRequest {
                table_name: unique_table("Missing"),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "[{}]", backend.name);
        app.stop().await;
    }
}

#[tokio::test]
async fn deleted_tables_are_gone_when_delete_table_returns() {
    for backend in backends() {
        let mut app = TestApp::start(&backend).await;
        let name = unique_table("Gone");
        app.create_table(&name).await;
        app.delete_table(&name).await;
        let status = app
            .tables
            .describe_table(pb::DescribeTableRequest { table_name: name })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "[{}]", backend.name);
        app.stop().await;
    }
}

#[tokio::test]
async fn list_tables_pages_through_every_table() {
    for backend in backends() {
        let mut app = TestApp::start(&backend).await;
        let prefix = unique_table("List");
        let names: Vec<String> = (0..3).map(|i| format!("{prefix}-{i}")).collect();
        for name in &names {
            app.create_table(name).await;
        }
        let mut seen = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let page = app
                .tables
                .list_tables(pb::ListTablesRequest {
                    page_size: 1,
                    page_token: token.clone(),
                })
                .await
                .unwrap()
                .into_inner();
            assert!(
                page.table_names.len() <= 1,
                "[{}] page size honoured",
                backend.name
            );
            seen.extend(page.table_names);
            pages += 1;
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
            assert!(pages < 10_000, "pagination ends");
        }
        for name in &names {
            assert!(seen.contains(name), "[{}] {name} listed", backend.name);
            app.delete_table(name).await;
        }
        let status = app
            .tables
            .list_tables(pb::ListTablesRequest {
                page_size: 101,
                page_token: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        app.stop().await;
    }
}

#[tokio::test]
async fn items_are_put_read_updated_and_deleted() {
    for backend in backends() {
        let mut app = TestApp::start(&backend).await;
        let table = unique_table("Items");
        app.create_table(&table).await;
        let b = backend.name;

        let put = app
            .items
            .put_item(pb::PutItemRequest {
                table_name: table.clone(),
                song: Some(song("No One You Know", "Call Me Today", "Somewhat Famous")),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!put.replaced, "[{b}] first put replaces nothing");

        let key = || pb::GetItemRequest {
            table_name: table.clone(),
            artist: "No One You Know".into(),
            song_title: "Call Me Today".into(),
        };
        let got = app.items.get_item(key()).await.unwrap().into_inner();
        assert_eq!(
            content(&got),
            song("No One You Know", "Call Me Today", "Somewhat Famous"),
            "[{b}]"
        );
        assert_eq!(got.etag.len(), 32, "[{b}] a song read carries its etag");

        let updated = app
            .items
            .update_item(pb::UpdateItemRequest {
                table_name: table.clone(),
                artist: "No One You Know".into(),
                song_title: "Call Me Today".into(),
                album_title: "Louder Than Ever".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            content(&updated),
            song("No One You Know", "Call Me Today", "Louder Than Ever"),
            "[{b}]"
        );
        assert_ne!(updated.etag, got.etag, "[{b}] new content, new etag");
        assert_eq!(
            app.items.get_item(key()).await.unwrap().into_inner(),
            updated,
            "[{b}]"
        );

        let replaced = app
            .items
            .put_item(pb::PutItemRequest {
                table_name: table.clone(),
                song: Some(song("No One You Know", "Call Me Today", "Somewhat Famous")),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(replaced.replaced, "[{b}] second put replaces");

        let delete = || pb::DeleteItemRequest {
            table_name: table.clone(),
            artist: "No One You Know".into(),
            song_title: "Call Me Today".into(),
            ..Default::default()
        };
        assert!(
            app.items
                .delete_item(delete())
                .await
                .unwrap()
                .into_inner()
                .existed,
            "[{b}]"
        );
        assert!(
            !app.items
                .delete_item(delete())
                .await
                .unwrap()
                .into_inner()
                .existed,
            "[{b}] idempotent"
        );

        let missing = app.items.get_item(key()).await.unwrap_err();
        assert_eq!(missing.code(), Code::NotFound, "[{b}]");
        assert_eq!(error_info(&missing).0, "ITEM_NOT_FOUND", "[{b}]");

        app.delete_table(&table).await;
        app.stop().await;
    }
}

#[tokio::test]
async fn update_item_creates_an_absent_song() {
    for backend in backends() {
        let mut app = TestApp::start(&backend).await;
        let table = unique_table("Upsert");
        app.create_table(&table).await;
        let created = app
            .items
            .update_item(pb::UpdateItemRequest {
                table_name: table.clone(),
                artist: "Acme Band".into(),
                song_title: "Happy Day".into(),
                album_title: "Songs About Life".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            content(&created),
            song("Acme Band", "Happy Day", "Songs About Life"),
            "[{}]",
            backend.name
        );
        let got = app
            .items
            .get_item(pb::GetItemRequest {
                table_name: table.clone(),
                artist: "Acme Band".into(),
                song_title: "Happy Day".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got, created, "[{}]", backend.name);
        app.delete_table(&table).await;
        app.stop().await;
    }
}

#[tokio::test]
async fn unicode_survives_the_round_trip() {
    for backend in backends() {
        let mut app = TestApp::start(&backend).await;
        let table = unique_table("Unicode");
        app.create_table(&table).await;
        let sigur = song("Sigur Rós", "Hoppípolla", "Takk…");
        app.items
            .put_item(pb::PutItemRequest {
                table_name: table.clone(),
                song: Some(sigur.clone()),
                ..Default::default()
            })
            .await
            .unwrap();
        let got = app
            .items
            .get_item(pb::GetItemRequest {
                table_name: table.clone(),
                artist: "Sigur Rós".into(),
                song_title: "Hoppípolla".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(content(&got), sigur, "[{}]", backend.name);
        app.delete_table(&table).await;
        app.stop().await;
    }
}

#[tokio::test]
async fn item_calls_on_a_missing_table_are_not_found() {
    for backend in backends() {
        let mut app = TestApp::start(&backend).await;
        let table = unique_table("NoSuchTable");
        let get = app
            .items
            .get_item(pb::GetItemRequest {
                table_name: table.clone(),
                artist: "a".into(),
                song_title: "b".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(get.code(), Code::NotFound, "[{}]", backend.name);
        assert_eq!(
            error_info(&get),
            (
                "ResourceNotFoundException".into(),
                "dynamodb".into(),
                "GetItem".into()
            )
        );
        let put = app
            .items
            .put_item(pb::PutItemRequest {
                table_name: table.clone(),
                song: Some(song("a", "b", "c")),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(put.code(), Code::NotFound, "[{}]", backend.name);
        assert_eq!(error_info(&put).2, "PutItem");
        app.stop().await;
    }
}

#[tokio::test]
async fn invalid_input_is_refused_before_dynamodb_with_the_field_named() {
    use tonic_types::StatusExt;
    for backend in backends() {
        let mut app = TestApp::start(&backend).await;
        // On a table that exists: on a missing one, DynamoDB's "no such
        // table" comes first (the error-precedence suite shows it).
        let music = unique_table("Invalid");
        app.create_table(&music).await;
        let cases: Vec<(pb::PutItemRequest, &str, &str)> = vec![
            (
                pb::PutItemRequest {
                    table_name: "ab".into(),
                    song: Some(song("a", "b", "c")),
                    ..Default::default()
                },
                "table_name",
                "Member must have length greater than or equal to 3",
            ),
            (
                pb::PutItemRequest {
                    table_name: "x".repeat(256),
                    song: Some(song("a", "b", "c")),
                    ..Default::default()
                },
                "table_name",
                "Member must have length less than or equal to 255",
            ),
            (
                pb::PutItemRequest {
                    table_name: "a/b".into(),
                    song: Some(song("a", "b", "c")),
                    ..Default::default()
                },
                "table_name",
                "regular expression pattern",
            ),
            (
                pb::PutItemRequest {
                    table_name: music.clone(),
                    song: Some(song("", "b", "c")),
                    ..Default::default()
                },
                "song.artist",
                "Key: Artist",
            ),
            (
                pb::PutItemRequest {
                    table_name: music.clone(),
                    song: Some(song(&"a".repeat(2049), "b", "c")),
                    ..Default::default()
                },
                "song.artist",
                "2048 bytes",
            ),
            (
                pb::PutItemRequest {
                    table_name: music.clone(),
                    song: Some(song("a", &"b".repeat(1025), "c")),
                    ..Default::default()
                },
                "song.song_title",
                "1024 bytes",
            ),
            (
                pb::PutItemRequest {
                    table_name: music.clone(),
                    song: Some(song("a", "b", &"c".repeat(410_000))),
                    ..Default::default()
                },
                "song.album_title",
                "Item size has exceeded the maximum allowed size",
            ),
        ];
        for (request, field, text) in cases {
            let status = app.items.put_item(request).await.unwrap_err();
            assert_eq!(
                status.code(),
                Code::InvalidArgument,
                "[{}] {field}",
                backend.name
            );
            assert!(
                status.message().contains(text),
                "{field}: {}",
                status.message()
            );
            assert_eq!(
                error_info(&status),
                (
                    "ValidationException".into(),
                    "dynamodb".into(),
                    "PutItem".into()
                )
            );
            let violations = status
                .get_details_bad_request()
                .expect("BadRequest")
                .field_violations;
            assert_eq!(violations[0].field, field);
        }
        app.delete_table(&music).await;
        app.stop().await;
    }
}
