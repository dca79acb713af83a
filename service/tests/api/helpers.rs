//! `TestApp`: a music-service on 127.0.0.1:0 over one backend, with clients.

use music_api::pb::{
    self, item_service_client::ItemServiceClient, table_service_client::TableServiceClient,
};
use music_service::{MusicService, StoreSettings};
use music_testkit::env::dynamodb_endpoint;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::transport::Channel;

/// A storage backend the suite runs against.
#[derive(Debug, Clone)]
pub(crate) struct Backend {
    pub(crate) name: &'static str,
    pub(crate) settings: StoreSettings,
}

/// The embedded store always; DynamoDB Local when MUSIC_TEST_DYNAMODB_ENDPOINT is set.
pub(crate) fn backends() -> Vec<Backend> {
    let mut backends = vec![Backend {
        name: "embedded",
        settings: StoreSettings::embedded_in_memory(),
    }];
    if let Some(endpoint) = dynamodb_endpoint() {
        backends.push(Backend {
            name: "dynamodb-local",
            settings: StoreSettings::dynamodb(endpoint),
        });
    }
    let names: Vec<_> = backends.iter().map(|b| b.name).collect();
    eprintln!("backends: {}", names.join(", "));
    backends
}

/// A table name no other test (or earlier run against a shared store) uses.
pub(crate) use music_testkit::names::unique_table;

/// A running service with clients.
pub(crate) struct TestApp {
    pub(crate) backend: &'static str,
    pub(crate) tables: TableServiceClient<Channel>,
    pub(crate) items: ItemServiceClient<Channel>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestApp {
    pub(crate) async fn start(backend: &Backend) -> Self {
        let service = MusicService::build(&backend.settings)
            .await
            .expect("service builds");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            service
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
                .expect("service serves");
        });
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .expect("connects to the service");
        Self {
            backend: backend.name,
            tables: TableServiceClient::new(channel.clone()),
            items: ItemServiceClient::new(channel),
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub(crate) async fn create_table(&mut self, name: &str) -> pb::Table {
        self.tables
            .create_table(pb::CreateTableRequest {
                table_name: name.into(),
                provisioned_throughput: None,
            })
            .await
            .unwrap_or_else(|s| panic!("[{}] create {name}: {s:?}", self.backend))
            .into_inner()
    }

    pub(crate) async fn delete_table(&mut self, name: &str) {
        self.tables
            .delete_table(pb::DeleteTableRequest {
                table_name: name.into(),
            })
            .await
            .unwrap_or_else(|s| panic!("[{}] delete {name}: {s:?}", self.backend));
    }

    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("service task ends cleanly");
        }
    }
}

/// A song as read, without its etag (derived from the content; compared apart).
pub(crate) fn content(song: &pb::Song) -> pb::Song {
    pb::Song {
        etag: String::new(),
        ..song.clone()
    }
}

pub(crate) fn song(artist: &str, title: &str, album: &str) -> pb::Song {
    pb::Song {
        artist: artist.into(),
        song_title: title.into(),
        album_title: Some(album.into()),
        ..Default::default()
    }
}

/// The ErrorInfo (reason, domain, operation) of a failed call.
pub(crate) fn error_info(status: &tonic::Status) -> (String, String, String) {
    use tonic_types::StatusExt;
    let info = status
        .get_details_error_info()
        .unwrap_or_else(|| panic!("status has ErrorInfo: {status:?}"));
    let operation = info.metadata.get("operation").cloned().unwrap_or_default();
    (info.reason, info.domain, operation)
}
