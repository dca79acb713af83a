//! gRPC clients of a running music-service, as the suites call it: a
//! connected channel, the item and table clients, the requests they send
//! most, and the health check a mesh's checker makes.
//!
//! Owns: [`channel`], [`items`], [`tables`], [`create_table`],
//! [`put_request`], [`get_request`], [`health`].

use std::{net::SocketAddr, time::Duration};

use music_api::pb::{
    self, item_service_client::ItemServiceClient, table_service_client::TableServiceClient,
};
use tonic::transport::Channel;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// A gRPC channel to `addr`, connected.
pub async fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("a valid URI")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
}

pub async fn items(addr: SocketAddr) -> ItemServiceClient<Channel> {
    ItemServiceClient::new(channel(addr).await)
}

pub async fn tables(addr: SocketAddr) -> TableServiceClient<Channel> {
    TableServiceClient::new(channel(addr).await)
}

/// Creates `table` through the service (the store must answer promptly).
pub async fn create_table(addr: SocketAddr, table: &str) {
    tables(addr)
        .await
        .create_table(pb::CreateTableRequest {
            table_name: table.to_owned(),
            provisioned_throughput: None,
        })
        .await
        .unwrap_or_else(|e| panic!("create table {table}: {e:?}"));
}

pub fn put_request(
    table: &str,
    artist: &str,
    song_title: &str,
    album_title: &str,
) -> pb::PutItemRequest {
    pb::PutItemRequest {
        table_name: table.to_owned(),
        song: Some(pb::Song {
            artist: artist.to_owned(),
            song_title: song_title.to_owned(),
            album_title: Some(album_title.to_owned()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn get_request(table: &str, artist: &str, song_title: &str) -> pb::GetItemRequest {
    pb::GetItemRequest {
        table_name: table.to_owned(),
        artist: artist.to_owned(),
        song_title: song_title.to_owned(),
    }
}

/// gRPC health of `service` ("" for the whole server) on a fresh connection,
/// as a mesh's health checker asks it.
pub async fn health(addr: SocketAddr, service: &str) -> Result<ServingStatus, String> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("a valid URI")
        .connect_timeout(Duration::from_secs(1))
        .connect()
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: service.to_owned(),
    });
    request.set_timeout(Duration::from_secs(1));
    HealthClient::new(channel)
        .check(request)
        .await
        .map(|answer| answer.into_inner().status())
        .map_err(|status| format!("{:?}: {}", status.code(), status.message()))
}
