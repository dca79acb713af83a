//! gRPC load: `concurrency` tasks, each calling GetItem back to back for a
//! fixed time over a few shared tonic channels (HTTP/2 connections), each
//! recording its latencies in its own HDR histogram; merged at the end.
//! Hand-written because no gRPC load tool can be had on this machine: ghz and
//! grpcurl-based loops are Go (no Go module downloads here), wrk speaks
//! HTTP/1.1 only, and oha sends no gRPC framing or trailers.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use music_api::pb::{
    CreateTableRequest, GetItemRequest, PutItemRequest, Song,
    item_service_client::ItemServiceClient, table_service_client::TableServiceClient,
};
use tonic::transport::{Channel, Endpoint};

use crate::{
    error::BenchError,
    report::Cell,
    scenario::{ALBUM_TITLE, ARTIST, SONG_TITLE, TABLE},
};

/// Longest latency a histogram holds (longer ones are clamped to it).
const MAX_LATENCY_US: u64 = 60_000_000;

/// A channel to the service at `addr`, connected now.
pub(crate) async fn channel(addr: SocketAddr) -> Result<Channel, BenchError> {
    Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| BenchError::Setup(e.to_string()))?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| BenchError::Setup(format!("cannot connect to the service at {addr}: {e}")))
}

/// Creates the table (if it is not there yet) and puts the song every read
/// scenario asks for.
pub(crate) async fn seed(addr: SocketAddr) -> Result<(), BenchError> {
    let channel = channel(addr).await?;
    let created = TableServiceClient::new(channel.clone())
        .create_table(CreateTableRequest {
            table_name: TABLE.into(),
            provisioned_throughput: None,
        })
        .await;
    match created {
        Ok(_) => {}
        Err(status) if status.code() == tonic::Code::AlreadyExists => {}
        Err(status) => return Err(BenchError::Setup(format!("CreateTable failed: {status}"))),
    }
    ItemServiceClient::new(channel)
        .put_item(PutItemRequest {
            table_name: TABLE.into(),
            song: Some(Song {
                artist: ARTIST.into(),
                song_title: SONG_TITLE.into(),
                album_title: Some(ALBUM_TITLE.into()),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .map_err(|status| BenchError::Setup(format!("PutItem failed: {status}")))?;
    Ok(())
}

/// Calls GetItem at `concurrency` for `duration` over at most `channels`
/// channels.
pub(crate) async fn get_item(
    addr: SocketAddr,
    concurrency: u32,
    channels: u32,
    duration: Duration,
) -> Result<Cell, BenchError> {
    let mut clients = Vec::new();
    for _ in 0..channels.min(concurrency) {
        clients.push(ItemServiceClient::new(channel(addr).await?));
    }
    let request = GetItemRequest {
        table_name: TABLE.into(),
        artist: ARTIST.into(),
        song_title: SONG_TITLE.into(),
    };
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..concurrency as usize)
        .map(|i| {
            let mut client = clients[i % clients.len()].clone();
            let request = request.clone();
            tokio::spawn(async move {
                let mut histogram = Histogram::<u64>::new_with_bounds(1, MAX_LATENCY_US, 3)
                    .expect("valid histogram bounds");
                let mut errors = 0_u64;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let answer = client.get_item(request.clone()).await;
                    let micros = sent.elapsed().as_micros() as u64;
                    histogram.saturating_record(micros.clamp(1, MAX_LATENCY_US));
                    if answer.is_err() {
                        errors += 1;
                    }
                }
                (histogram, errors)
            })
        })
        .collect();
    let mut histogram =
        Histogram::<u64>::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds");
    let mut errors = 0;
    for task in tasks {
        let (part, part_errors) = task
            .await
            .map_err(|e| BenchError::Load(format!("a gRPC load task failed: {e}")))?;
        histogram
            .add(&part)
            .map_err(|e| BenchError::Load(format!("cannot merge histograms: {e}")))?;
        errors += part_errors;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let at = |q: f64| Duration::from_micros(histogram.value_at_quantile(q));
    Ok(Cell {
        requests: histogram.len(),
        requests_per_sec: histogram.len() as f64 / elapsed,
        p50: at(0.5),
        p99: at(0.99),
        p999: at(0.999),
        errors,
        cpu_by_process: Vec::new(),
    })
}
