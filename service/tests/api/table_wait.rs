//! CreateTable and DeleteTable return only once the table is ACTIVE or gone,
//! shown against DynamoDB Local started with `-delayTransientStatuses`, where
//! tables really pass through CREATING and DELETING.

use std::time::Instant;

use music_api::pb::{self, TableStatus};
use music_service::StoreSettings;
use tonic::Code;

use crate::helpers::{Backend, TestApp, endpoint_from_env, error_info, song, unique_table};

fn delayed_backend(table_wait_secs: u64) -> Option<Backend> {
    let endpoint = endpoint_from_env("MUSIC_TEST_DYNAMODB_DELAYED_ENDPOINT")?;
    Some(Backend {
        name: "dynamodb-local-delayed",
        settings: StoreSettings {
            table_wait_secs,
            ..StoreSettings::dynamodb(endpoint)
        },
    })
}

#[tokio::test]
async fn create_table_waits_until_the_table_is_active() {
    let Some(backend) = delayed_backend(60) else { return };
    let mut app = TestApp::start(&backend).await;
    let name = unique_table("Delayed");
    let started = Instant::now();
    let table = app.create_table(&name).await;
    let waited = started.elapsed();
    eprintln!("CreateTable on the delayed store took {waited:?}");
    assert_eq!(table.status(), TableStatus::Active);
    // Usable at once: a write straight after CreateTable succeeds.
    app.items
        .put_item(pb::PutItemRequest {
            table_name: name.clone(),
            song: Some(song("a", "b", "c")),
        })
        .await
        .expect("the table takes writes as soon as CreateTable returns");

    let started = Instant::now();
    app.delete_table(&name).await;
    eprintln!("DeleteTable on the delayed store took {:?}", started.elapsed());
    let status = app
        .tables
        .describe_table(pb::DescribeTableRequest { table_name: name })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "gone when DeleteTable returns");
    app.stop().await;
}

#[tokio::test]
async fn a_table_still_creating_after_the_bounded_wait_is_deadline_exceeded() {
    let Some(backend) = delayed_backend(0) else { return };
    let mut app = TestApp::start(&backend).await;
    let name = unique_table("TooSlow");
    let status = app
        .tables
        .create_table(pb::CreateTableRequest {
            table_name: name.clone(),
            provisioned_throughput: None,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(status.message().contains("still CREATING"), "{}", status.message());
    assert_eq!(error_info(&status).0, "TableNotReady");
    assert_eq!(error_info(&status).1, "music.v1");
    app.stop().await;

    // Tidy up with a patient service once the table has settled.
    let mut patient = TestApp::start(&delayed_backend(60).unwrap()).await;
    let wait = StoreSettings::dynamodb("unused").table_wait();
    let deadline = Instant::now() + wait * 4;
    loop {
        let described = patient
            .tables
            .describe_table(pb::DescribeTableRequest { table_name: name.clone() })
            .await
            .unwrap()
            .into_inner();
        if described.status() == TableStatus::Active || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    patient.delete_table(&name).await;
    patient.stop().await;
}
