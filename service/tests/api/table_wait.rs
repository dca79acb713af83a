//! CreateTable and DeleteTable return only once the table is ACTIVE or gone,
//! and a table still CREATING when the bounded wait runs out is
//! DEADLINE_EXCEEDED. On every backend, the service reaches the store through
//! testkit's store proxy with the [`TableStatuses`] hook, which keeps tables
//! CREATING and DELETING for a while, as real DynamoDB does and the local
//! stores do not.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use music_api::pb::{self, TableStatus};
use music_service::{
    Backend as StoreBackend, StaticCredentials, StoreSettings, embedded::EmbeddedStore,
};
use music_testkit::{
    store_proxy::StoreProxy,
    table_statuses::{TableStatuses, Windows},
};
use tonic::Code;

use crate::helpers::{Backend, TestApp, backends, error_info, song, unique_table};

/// A service on one backend's store, seen through a store proxy that
/// emulates the transient table statuses.
struct Rig {
    app: TestApp,
    proxy: StoreProxy,
    statuses: Arc<TableStatuses>,
    /// The embedded backend's store, which is started here: the one inside a
    /// `MusicService` is out of the proxy's reach.
    embedded: Option<EmbeddedStore>,
}

impl Rig {
    /// Always `Some`; an `Option` so call sites read as the other suites do.
    async fn start(backend: &Backend, windows: Windows, table_wait_secs: u64) -> Option<Self> {
        let (upstream, embedded) = match backend.settings.backend {
            StoreBackend::Embedded => {
                let store = EmbeddedStore::start(None)
                    .await
                    .expect("embedded store starts");
                (store.endpoint(), Some(store))
            }
            StoreBackend::Dynamodb => {
                let endpoint = backend.settings.dynamodb_endpoint.clone();
                (
                    endpoint.expect("the DynamoDB backend names its endpoint"),
                    None,
                )
            }
        };
        let statuses = Arc::new(TableStatuses::new(windows));
        let proxy = StoreProxy::start_with(&upstream, Arc::clone(&statuses) as _).await;
        let app = TestApp::start(&Backend {
            name: backend.name,
            settings: StoreSettings {
                table_wait: Duration::from_secs(table_wait_secs),
                // dynoxide checks no signature: fixed credentials keep the
                // test independent of the environment's AWS configuration.
                static_credentials: embedded.as_ref().map(|_| StaticCredentials {
                    access_key_id: "proxied".into(),
                    secret_access_key: "proxied".into(),
                }),
                ..StoreSettings::dynamodb(proxy.url())
            },
        })
        .await;
        Some(Self {
            app,
            proxy,
            statuses,
            embedded,
        })
    }

    async fn stop(self) {
        self.app.stop().await;
        drop(self.proxy);
        if let Some(store) = self.embedded {
            store.stop().await;
        }
    }
}

const WINDOW: Duration = Duration::from_millis(1500);

#[tokio::test]
async fn create_table_returns_only_once_the_table_is_active() {
    for backend in backends() {
        let windows = Windows {
            creating: WINDOW,
            deleting: Duration::ZERO,
        };
        let Some(mut rig) = Rig::start(&backend, windows, 25).await else {
            continue;
        };
        let name = unique_table("Creating");

        let started = Instant::now();
        let table = rig.app.create_table(&name).await;
        let took = started.elapsed();
        eprintln!(
            "[{}] CreateTable took {took:?} with a {WINDOW:?} CREATING window",
            backend.name
        );
        assert_eq!(table.status(), TableStatus::Active, "[{}]", backend.name);
        // Not a speed check: the proxy says CREATING for WINDOW after the
        // store's answer, so an earlier return would be one before ACTIVE.
        assert!(
            took >= WINDOW,
            "[{}] CreateTable returned after {took:?}, while the table was still CREATING",
            backend.name
        );
        assert!(
            rig.statuses.transient_answers() > 0,
            "[{}] the service saw CREATING",
            backend.name
        );
        // Usable at once: a write straight after CreateTable succeeds.
        rig.app
            .items
            .put_item(pb::PutItemRequest {
                table_name: name.clone(),
                song: Some(song("Acme Band", "Happy Day", "Songs About Life")),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|s| {
                panic!(
                    "[{}] PutItem straight after CreateTable: {s:?}",
                    backend.name
                )
            });

        rig.app.delete_table(&name).await;
        rig.stop().await;
    }
}

#[tokio::test]
async fn delete_table_returns_only_once_the_table_is_gone() {
    for backend in backends() {
        let windows = Windows {
            creating: Duration::ZERO,
            deleting: WINDOW,
        };
        let Some(mut rig) = Rig::start(&backend, windows, 25).await else {
            continue;
        };
        let name = unique_table("Deleting");
        rig.app.create_table(&name).await;

        let started = Instant::now();
        rig.app.delete_table(&name).await;
        let took = started.elapsed();
        eprintln!(
            "[{}] DeleteTable took {took:?} with a {WINDOW:?} DELETING window",
            backend.name
        );
        assert!(
            took >= WINDOW,
            "[{}] DeleteTable returned after {took:?}, while the table was still DELETING",
            backend.name
        );
        assert!(
            rig.statuses.transient_answers() > 0,
            "[{}] the service saw DELETING",
            backend.name
        );
        let status = rig
            .app
            .tables
            .describe_table(pb::DescribeTableRequest { table_name: name })
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::NotFound,
            "[{}] gone when DeleteTable returns: {status:?}",
            backend.name
        );
        rig.stop().await;
    }
}

#[tokio::test]
async fn a_table_still_creating_after_the_bounded_wait_is_deadline_exceeded() {
    const SLOW: Duration = Duration::from_secs(5);
    for backend in backends() {
        let windows = Windows {
            creating: SLOW,
            deleting: Duration::ZERO,
        };
        let Some(mut rig) = Rig::start(&backend, windows, 1).await else {
            continue;
        };
        let name = unique_table("TooSlow");

        let started = Instant::now();
        let status = rig
            .app
            .tables
            .create_table(pb::CreateTableRequest {
                table_name: name.clone(),
                provisioned_throughput: None,
            })
            .await
            .unwrap_err();
        eprintln!(
            "[{}] CreateTable gave up after {:?}",
            backend.name,
            started.elapsed()
        );
        assert_eq!(
            status.code(),
            Code::DeadlineExceeded,
            "[{}] {status:?}",
            backend.name
        );
        assert!(
            status.message().contains("still CREATING"),
            "[{}] {}",
            backend.name,
            status.message()
        );
        let (reason, domain, operation) = error_info(&status);
        assert_eq!(reason, "TableNotReady", "[{}]", backend.name);
        assert_eq!(domain, "music.v1", "[{}]", backend.name);
        assert_eq!(operation, "CreateTable", "[{}]", backend.name);

        // The request itself was accepted: the table exists, still CREATING,
        // and is ACTIVE once the window has passed; then it can be deleted.
        let deadline = started + SLOW + Duration::from_secs(10);
        let mut first = None;
        let table = loop {
            let described = rig
                .app
                .tables
                .describe_table(pb::DescribeTableRequest {
                    table_name: name.clone(),
                })
                .await
                .unwrap_or_else(|s| panic!("[{}] describe {name}: {s:?}", backend.name))
                .into_inner();
            first.get_or_insert(described.status());
            if described.status() == TableStatus::Active || Instant::now() > deadline {
                break described;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(
            first,
            Some(TableStatus::Creating),
            "[{}] right after the error",
            backend.name
        );
        assert_eq!(
            table.status(),
            TableStatus::Active,
            "[{}] after the window",
            backend.name
        );
        rig.app.delete_table(&name).await;
        rig.stop().await;
    }
}
