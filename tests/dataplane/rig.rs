//! What every data-plane test stands on: each store the environment offers
//! (the embedded dynoxide, started here, always; DynamoDB Local when
//! `MUSIC_TEST_DYNAMODB_ENDPOINT` is set), and the built `music-service` as a
//! process on it, straight or through a store proxy that counts (and may
//! tamper with) every call it makes to the store.

use std::{collections::HashMap, sync::Arc, time::Duration};

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use music_api::pb::{self, item_service_client::ItemServiceClient};
use music_service::embedded::EmbeddedStore;
use music_testkit::{
    Program, dynamodb,
    env::dynamodb_endpoint,
    grpc::{self, create_table},
    names::unique_table,
    store_proxy::{StoreProxy, Tamper},
};
use tonic::transport::Channel;
use tonic_types::StatusExt;

/// A store to test against.
pub(crate) struct Backend {
    pub(crate) name: &'static str,
    endpoint: String,
    /// The embedded store, running in this test process for as long as the backend.
    _embedded: Option<EmbeddedStore>,
}

/// The embedded store (a fresh one) always; DynamoDB Local when
/// MUSIC_TEST_DYNAMODB_ENDPOINT is set (required under CI=true).
pub(crate) async fn backends() -> Vec<Backend> {
    let embedded = EmbeddedStore::start(None).await.expect("embedded store");
    let mut backends = vec![Backend {
        name: "embedded",
        endpoint: embedded.endpoint(),
        _embedded: Some(embedded),
    }];
    if let Some(endpoint) = dynamodb_endpoint() {
        backends.push(Backend {
            name: "dynamodb-local",
            endpoint,
            _embedded: None,
        });
    }
    let names: Vec<_> = backends.iter().map(|b| b.name).collect();
    eprintln!("backends: {}", names.join(", "));
    backends
}

impl Backend {
    /// The store's own endpoint, for a client straight to it.
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Writes `songs` straight into the store (BatchWriteItem with
    /// aws-sdk-dynamodb, 25 a call, `parallel` calls at a time): set-up for
    /// tests of reads, quicker than through the service and a proxy.
    pub(crate) async fn seed_store(&self, table: &str, songs: &[pb::Song], parallel: usize) {
        let client = dynamodb::client(&self.endpoint);
        let batches: Vec<Vec<WriteRequest>> = songs
            .chunks(25)
            .map(|chunk| chunk.iter().map(put_request).collect())
            .collect();
        let queue = Arc::new(std::sync::Mutex::new(batches));
        let workers: Vec<_> = (0..parallel)
            .map(|_| {
                let (queue, table, client) = (Arc::clone(&queue), table.to_owned(), client.clone());
                tokio::spawn(async move {
                    loop {
                        let Some(batch) = queue.lock().unwrap().pop() else {
                            return;
                        };
                        let answer = client
                            .batch_write_item()
                            .request_items(&table, batch)
                            .send()
                            .await
                            .unwrap_or_else(|e| panic!("seeding {table} straight: {e:?}"));
                        assert!(
                            answer.unprocessed_items().is_none_or(|u| u.is_empty()),
                            "the local stores process every write: {answer:?}"
                        );
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.await.expect("a seeding worker");
        }
    }

    /// music-service straight on this store.
    pub(crate) async fn service(&self) -> Stack {
        Stack::on(Program::service_on(&self.endpoint, &[]).await, None).await
    }

    /// music-service on this store through a store proxy, with `tamper` from
    /// its first call on.
    pub(crate) async fn service_through_proxy(&self, tamper: Option<Arc<dyn Tamper>>) -> Stack {
        let proxy = match tamper {
            Some(tamper) => StoreProxy::start_with(&self.endpoint, tamper).await,
            None => StoreProxy::start(&self.endpoint).await,
        };
        let service = Program::service_on(&proxy.url(), &[]).await;
        Stack::on(service, Some(proxy)).await
    }
}

/// A running service (and the proxy it reaches the store through, if any),
/// with a client.
pub(crate) struct Stack {
    pub(crate) service: Program,
    pub(crate) proxy: Option<StoreProxy>,
    pub(crate) items: ItemServiceClient<Channel>,
}

impl Stack {
    async fn on(service: Program, proxy: Option<StoreProxy>) -> Self {
        let items = grpc::items(service.addr("grpc"))
            .await
            // Pages of large songs are bigger than tonic's 4 MiB default.
            .max_decoding_message_size(64 * 1024 * 1024);
        Self {
            service,
            proxy,
            items,
        }
    }

    pub(crate) fn proxy(&self) -> &StoreProxy {
        self.proxy
            .as_ref()
            .expect("a service started through a proxy")
    }

    /// A client on a connection of its own.
    pub(crate) async fn client(&self) -> ItemServiceClient<Channel> {
        grpc::items(self.service.addr("grpc")).await
    }

    /// A new table (a name no other test uses) with the tutorial's schema.
    pub(crate) async fn table(&self, prefix: &str) -> String {
        let table = unique_table(prefix);
        create_table(self.service.addr("grpc"), &table).await;
        table
    }

    /// Writes `songs` with BatchWriteSongs, 25 a call, `parallel` calls at a
    /// time; every write must be processed.
    pub(crate) async fn seed(&self, table: &str, songs: &[pb::Song], parallel: usize) {
        let batches: Vec<Vec<pb::Song>> = songs.chunks(25).map(<[_]>::to_vec).collect();
        let queue = Arc::new(std::sync::Mutex::new(batches));
        let workers: Vec<_> = (0..parallel)
            .map(|_| {
                let (queue, table, mut client) =
                    (Arc::clone(&queue), table.to_owned(), self.items.clone());
                tokio::spawn(async move {
                    loop {
                        let Some(batch) = queue.lock().unwrap().pop() else {
                            return;
                        };
                        let writes = batch
                            .into_iter()
                            .map(|song| pb::SongWrite {
                                write: Some(pb::song_write::Write::Put(song)),
                            })
                            .collect();
                        let answer = client
                            .batch_write_songs(pb::BatchWriteSongsRequest {
                                table_name: table.clone(),
                                writes,
                            })
                            .await
                            .unwrap_or_else(|s| panic!("seeding {table}: {s:?}"))
                            .into_inner();
                        assert!(answer.unprocessed.is_empty(), "seeding: {answer:?}");
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.await.expect("a seeding worker");
        }
    }
}

/// A song as a BatchWriteItem put, as the service writes it.
fn put_request(song: &pb::Song) -> WriteRequest {
    let mut item = HashMap::from([
        ("Artist".to_owned(), AttributeValue::S(song.artist.clone())),
        (
            "SongTitle".to_owned(),
            AttributeValue::S(song.song_title.clone()),
        ),
    ]);
    if let Some(album) = &song.album_title {
        item.insert("AlbumTitle".to_owned(), AttributeValue::S(album.clone()));
    }
    let put = PutRequest::builder()
        .set_item(Some(item))
        .build()
        .expect("an item");
    WriteRequest::builder().put_request(put).build()
}

pub(crate) fn song(artist: &str, title: &str, album: &str) -> pb::Song {
    pb::Song {
        artist: artist.into(),
        song_title: title.into(),
        album_title: Some(album.into()),
        ..Default::default()
    }
}

/// The key of a song, as a pair.
pub(crate) fn key_of(song: &pb::Song) -> (String, String) {
    (song.artist.clone(), song.song_title.clone())
}

/// A failed call's ErrorInfo (reason, domain) and the fields its BadRequest names.
pub(crate) fn details(status: &tonic::Status) -> (String, String, Vec<String>) {
    let info = status
        .get_details_error_info()
        .unwrap_or_else(|| panic!("the status has an ErrorInfo: {status:?}"));
    let fields = status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default();
    (info.reason, info.domain, fields)
}

/// A request with a deadline (`grpc-timeout`).
pub(crate) fn with_deadline<T>(message: T, deadline: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(deadline);
    request
}
