//! The soak's load generator: a mixed load (REST through the gateway, gRPC
//! straight to the service) over a fixed set of songs, sent either closed
//! loop (each worker back to back: capacity) or open loop (at a constant
//! rate: the soak). No tool available here does this: wrk cannot pace;
//! oha (crates.io only, not packaged in Debian) paces with latency
//! correction, but one request shape per run, HTTP only, and with its
//! percentiles only at the end of a run, where the soak needs one schedule
//! mixing REST and gRPC calls and percentiles per window of a long run. So
//! this is its own small client: hyper's HTTP/1.1 connections and tonic.
//! (The benchmark's closed-loop HTTP load is wrk's: `wrk.rs`.)
//!
//! Open loop works like wrk2: request `i` is due at `start + i / rate`
//! whatever happened before; a worker takes the next request off the
//! schedule, waits until it is due, sends it, and its latency counts from the
//! due time when the worker took it late (all workers were busy: the queueing
//! a slow answer causes is counted, not hidden, which is the coordinated
//! omission correction), or from the actual send when the worker had to wait
//! for it (then the timer's 1 ms granularity is the generator's, and is left
//! out).

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty};
use hyper::{Request, StatusCode, body::Bytes, client::conn::http1};
use hyper_util::rt::TokioIo;
use music_api::pb::{GetItemRequest, PutItemRequest, Song, item_service_client::ItemServiceClient};
use tokio::{net::TcpStream, task::JoinSet, time::Instant};
use tonic::transport::Channel;
use tonic_types::StatusExt;

use crate::{
    error::BenchError,
    grpc_load,
    scenario::{ALBUM_TITLE, ITEM_PATH, TABLE},
};

/// Longest latency a histogram holds (longer ones are clamped to it).
const MAX_LATENCY_US: u64 = 60_000_000;
/// A request without an answer after this long is an error (wrk's `--timeout` in the benchmark).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// gRPC channels (HTTP/2 connections) the workers' gRPC calls share.
pub(crate) const GRPC_CHANNELS: usize = 2;
/// Error messages kept for the report.
const ERROR_MESSAGES: usize = 5;
/// The album title the updates write (the puts write the tutorial's).
const UPDATED_ALBUM_TITLE: &str = "Louder Than Ever";
/// The `ErrorInfo.reason` of the service's GetItem on a key with no item.
const ITEM_NOT_FOUND: &str = "ITEM_NOT_FOUND";

/// One kind of request of the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Op {
    /// GET on the item path: GetItem through the gateway.
    RestGet,
    /// PUT on the item path: PutItem.
    RestPut,
    /// POST on the item path: UpdateItem.
    RestUpdate,
    /// DELETE on the item path: DeleteItem.
    RestDelete,
    /// gRPC GetItem straight to the service.
    GrpcGet,
    /// gRPC PutItem straight to the service.
    GrpcPut,
}

/// The mix, in percent. Deletes are outweighed by puts and updates (both
/// create the song), so most reads find their song.
pub(crate) const MIX: [(Op, u32); 6] = [
    (Op::RestGet, 40),
    (Op::RestPut, 20),
    (Op::RestUpdate, 20),
    (Op::RestDelete, 10),
    (Op::GrpcGet, 5),
    (Op::GrpcPut, 5),
];

impl Op {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::RestGet => "REST GET",
            Self::RestPut => "REST PUT",
            Self::RestUpdate => "REST POST",
            Self::RestDelete => "REST DELETE",
            Self::GrpcGet => "gRPC GetItem",
            Self::GrpcPut => "gRPC PutItem",
        }
    }
}

/// Request `i`'s kind and song (in `0..songs`). A fixed function of `i`, so
/// every run sends the same sequence, spread evenly over the mix and the songs.
pub(crate) fn pick(i: u64, songs: u32) -> (Op, u32) {
    let bits = splitmix64(i);
    let mut roll = (bits % 100) as u32;
    let song = ((bits >> 32) % u64::from(songs.max(1))) as u32;
    for (op, weight) in MIX {
        if roll < weight {
            return (op, song);
        }
        roll -= weight;
    }
    unreachable!("the mix's weights add up to 100")
}

/// SplitMix64's output function: consecutive inputs give unrelated outputs.
fn splitmix64(i: u64) -> u64 {
    let mut z = i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Song `n`'s key: ten artists, `songs / 10` titles each.
pub(crate) fn song_key(n: u32) -> (String, String) {
    (format!("Soak Artist {}", n % 10), format!("Soak Song {n}"))
}

/// The open loop's timetable: request `i` is due `i / rate` seconds after
/// the start, computed from `i` (not by adding intervals), so it cannot drift.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    rate: f64,
}

impl Schedule {
    pub(crate) fn new(rate: f64) -> Self {
        Self { rate }
    }

    /// When request `i` is due, after the start.
    pub(crate) fn offset(self, i: u64) -> Duration {
        Duration::from_secs_f64(i as f64 / self.rate)
    }

    /// How many requests are due in the first `span`.
    pub(crate) fn due_within(self, span: Duration) -> u64 {
        (span.as_secs_f64() * self.rate).ceil() as u64
    }
}

/// Latencies, request and error counts since the last [`Recorder::take`].
#[derive(Debug)]
pub(crate) struct Tally {
    pub(crate) histogram: Histogram<u64>,
    pub(crate) errors: u64,
}

impl Tally {
    fn new() -> Self {
        Self {
            histogram: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("valid histogram bounds"),
            errors: 0,
        }
    }

    /// Requests answered (or failed) in it.
    pub(crate) fn requests(&self) -> u64 {
        self.histogram.len()
    }

    pub(crate) fn at(&self, quantile: f64) -> Duration {
        Duration::from_micros(self.histogram.value_at_quantile(quantile))
    }
}

/// Where the workers record each request; the soak takes a window's worth at
/// a time. A mutex is plenty at a few thousand requests per second.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    tally: Arc<Mutex<Tally>>,
    messages: Arc<Mutex<Vec<String>>>,
    errors: Arc<AtomicU64>,
}

impl Recorder {
    pub(crate) fn new() -> Self {
        Self {
            tally: Arc::new(Mutex::new(Tally::new())),
            messages: Arc::new(Mutex::new(Vec::new())),
            errors: Arc::new(AtomicU64::new(0)),
        }
    }

    fn record(&self, latency: Duration, outcome: Result<(), String>) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let mut tally = self.tally.lock().expect("tally lock");
        tally
            .histogram
            .saturating_record(micros.clamp(1, MAX_LATENCY_US));
        if let Err(message) = outcome {
            tally.errors += 1;
            drop(tally);
            self.errors.fetch_add(1, Ordering::Relaxed);
            let mut messages = self.messages.lock().expect("messages lock");
            if messages.len() < ERROR_MESSAGES {
                messages.push(message);
            }
        }
    }

    /// Everything recorded since the last call.
    pub(crate) fn take(&self) -> Tally {
        std::mem::replace(&mut *self.tally.lock().expect("tally lock"), Tally::new())
    }

    /// The first few error messages of the whole run.
    pub(crate) fn messages(&self) -> Vec<String> {
        self.messages.lock().expect("messages lock").clone()
    }

    /// Errors of the whole run.
    pub(crate) fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
}

/// What the load is sent to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target {
    /// The gateway's HTTP listener.
    pub(crate) http: SocketAddr,
    /// The service's gRPC listener.
    pub(crate) grpc: SocketAddr,
    pub(crate) songs: u32,
}

/// Puts every song of the key space, so the soak starts on its steady data size.
pub(crate) async fn fill(target: Target) -> Result<(), BenchError> {
    let mut client = ItemServiceClient::new(grpc_load::channel(target.grpc).await?);
    for n in 0..target.songs {
        client
            .put_item(put_request(n))
            .await
            .map_err(|status| BenchError::Setup(format!("PutItem of song {n} failed: {status}")))?;
    }
    Ok(())
}

/// When a request is to be sent.
#[derive(Debug, Clone, Copy)]
enum Due {
    Now,
    At(Instant),
}

/// The load's workers, each with its own HTTP/1.1 connection to the gateway
/// and a share of [`GRPC_CHANNELS`] channels to the service; connected once,
/// reused by every run of load.
#[derive(Debug)]
pub(crate) struct Workers {
    target: Target,
    workers: Vec<Worker>,
}

impl Workers {
    pub(crate) async fn connect(target: Target, workers: u32) -> Result<Self, BenchError> {
        let mut channels = Vec::with_capacity(GRPC_CHANNELS);
        for _ in 0..GRPC_CHANNELS {
            channels.push(grpc_load::channel(target.grpc).await?);
        }
        let mut connected = Vec::with_capacity(workers as usize);
        for w in 0..workers as usize {
            connected.push(Worker {
                http: Http::connect(target.http).await?,
                grpc: ItemServiceClient::new(channels[w % channels.len()].clone()),
            });
        }
        Ok(Self {
            target,
            workers: connected,
        })
    }

    /// Each worker sends its next request as soon as its last one is
    /// answered, for `duration`.
    pub(crate) async fn closed_loop(
        &mut self,
        duration: Duration,
        recorder: &Recorder,
    ) -> Result<(), BenchError> {
        let deadline = Instant::now() + duration;
        self.drive(recorder, move |_| {
            (Instant::now() < deadline).then_some(Due::Now)
        })
        .await
    }

    /// Requests at `rate` per second from `start` for `duration`.
    pub(crate) async fn open_loop(
        &mut self,
        rate: f64,
        start: Instant,
        duration: Duration,
        recorder: &Recorder,
    ) -> Result<(), BenchError> {
        let schedule = Schedule::new(rate);
        let total = schedule.due_within(duration);
        self.drive(recorder, move |i| {
            (i < total).then(|| Due::At(start + schedule.offset(i)))
        })
        .await
    }

    /// Runs every worker, taking requests 0, 1, 2, … until `due` says there
    /// are no more.
    async fn drive(
        &mut self,
        recorder: &Recorder,
        due: impl Fn(u64) -> Option<Due> + Send + Copy + 'static,
    ) -> Result<(), BenchError> {
        let songs = self.target.songs;
        let next = Arc::new(AtomicU64::new(0));
        let mut tasks = JoinSet::new();
        for mut worker in std::mem::take(&mut self.workers) {
            let next = Arc::clone(&next);
            let recorder = recorder.clone();
            tasks.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(due) = due(i) else { break };
                    let (op, song) = pick(i, songs);
                    let now = Instant::now();
                    let from = match due {
                        Due::At(at) if at > now => {
                            tokio::time::sleep_until(at).await;
                            Instant::now()
                        }
                        Due::At(at) if now - at > REQUEST_TIMEOUT => {
                            // Its answer could only come after the timeout: an
                            // error at once, so a stall cannot leave a backlog
                            // that outlasts the run.
                            recorder.record(
                                now - at,
                                Err(format!(
                                    "{}: not sent, the schedule had fallen more than {} s behind",
                                    op.label(),
                                    REQUEST_TIMEOUT.as_secs()
                                )),
                            );
                            continue;
                        }
                        Due::At(at) => at,
                        Due::Now => now,
                    };
                    let outcome = worker.send(op, song).await;
                    recorder.record(from.elapsed(), outcome);
                }
                worker
            });
        }
        // Dropping the set (an error, Ctrl-C) aborts the workers.
        while let Some(joined) = tasks.join_next().await {
            let worker =
                joined.map_err(|e| BenchError::Load(format!("a load worker failed: {e}")))?;
            self.workers.push(worker);
        }
        Ok(())
    }
}

/// One worker: its own HTTP/1.1 connection, a share of a gRPC channel.
#[derive(Debug)]
struct Worker {
    http: Http,
    grpc: ItemServiceClient<Channel>,
}

impl Worker {
    /// Sends one request; an error is a transport failure, a timeout, a
    /// non-2xx answer or a gRPC status other than OK (and GetItem's "no such
    /// item", which is the REST GET's 200 "Item not found").
    async fn send(&mut self, op: Op, song: u32) -> Result<(), String> {
        let exchange = async {
            match op {
                Op::RestGet | Op::RestPut | Op::RestUpdate | Op::RestDelete => {
                    self.http.send(op, song).await
                }
                Op::GrpcGet => {
                    let (artist, song_title) = song_key(song);
                    let request = GetItemRequest {
                        table_name: TABLE.into(),
                        artist,
                        song_title,
                    };
                    match self.grpc.get_item(request).await {
                        Ok(_) => Ok(()),
                        Err(status) if is_item_not_found(&status) => Ok(()),
                        Err(status) => Err(grpc_error(op, &status)),
                    }
                }
                Op::GrpcPut => self
                    .grpc
                    .put_item(put_request(song))
                    .await
                    .map(drop)
                    .map_err(|status| grpc_error(op, &status)),
            }
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(outcome) => outcome,
            Err(_) => {
                // The connection may still carry the late answer: start afresh.
                self.http.sender = None;
                Err(format!(
                    "{}: no answer within {} s",
                    op.label(),
                    REQUEST_TIMEOUT.as_secs()
                ))
            }
        }
    }
}

fn put_request(song: u32) -> PutItemRequest {
    let (artist, song_title) = song_key(song);
    PutItemRequest {
        table_name: TABLE.into(),
        song: Some(Song {
            artist,
            song_title,
            album_title: Some(ALBUM_TITLE.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn is_item_not_found(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::NotFound
        && status
            .get_details_error_info()
            .is_some_and(|info| info.reason == ITEM_NOT_FOUND)
}

fn grpc_error(op: Op, status: &tonic::Status) -> String {
    format!("{}: {:?} {}", op.label(), status.code(), status.message())
}

/// A keep-alive HTTP/1.1 connection to the gateway, opened again after a failure.
#[derive(Debug)]
struct Http {
    addr: SocketAddr,
    sender: Option<http1::SendRequest<Empty<Bytes>>>,
}

impl Http {
    async fn connect(addr: SocketAddr) -> Result<Self, BenchError> {
        let mut http = Self { addr, sender: None };
        http.sender().await.map_err(|e| {
            BenchError::Setup(format!("cannot connect to the gateway at {addr}: {e}"))
        })?;
        Ok(http)
    }

    async fn sender(&mut self) -> Result<&mut http1::SendRequest<Empty<Bytes>>, String> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = TcpStream::connect(self.addr)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            stream
                .set_nodelay(true)
                .map_err(|e| format!("TCP_NODELAY: {e}"))?;
            let (sender, connection) = http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            // Ends when the sender is dropped or the gateway closes the connection.
            tokio::spawn(connection);
            self.sender = Some(sender);
        }
        Ok(self.sender.as_mut().expect("connected just now"))
    }

    async fn send(&mut self, op: Op, song: u32) -> Result<(), String> {
        let outcome = self.exchange(op, song).await;
        if outcome.is_err() {
            self.sender = None;
        }
        match outcome {
            Ok((status, _)) if status.is_success() => Ok(()),
            Ok((status, body)) => Err(format!(
                "{}: {status}: {}",
                op.label(),
                String::from_utf8_lossy(&body[..body.len().min(200)])
            )),
            Err(e) => Err(format!("{}: {e}", op.label())),
        }
    }

    async fn exchange(&mut self, op: Op, song: u32) -> Result<(StatusCode, Bytes), String> {
        let (method, album_title) = match op {
            Op::RestGet => ("GET", None),
            Op::RestPut => ("PUT", Some(ALBUM_TITLE)),
            Op::RestUpdate => ("POST", Some(UPDATED_ALBUM_TITLE)),
            Op::RestDelete => ("DELETE", None),
            Op::GrpcGet | Op::GrpcPut => unreachable!("gRPC calls do not go over HTTP/1.1"),
        };
        let (artist, song_title) = song_key(song);
        // The tutorial's call: parameters in headers (as bench/src/wrk.rs sends them).
        let mut request = Request::builder()
            .method(method)
            .uri(ITEM_PATH)
            .header("host", self.addr.to_string())
            .header("content-type", "application/json")
            .header("table", TABLE)
            .header("artist", artist)
            .header("songtitle", song_title);
        if let Some(album_title) = album_title {
            request = request.header("albumtitle", album_title);
        }
        let request = request
            .body(Empty::new())
            .map_err(|e| format!("request: {e}"))?;
        let sender = self.sender().await?;
        sender
            .ready()
            .await
            .map_err(|e| format!("connection: {e}"))?;
        let answer = sender
            .send_request(request)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = answer.status();
        let body = answer
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("answer body: {e}"))?
            .to_bytes();
        Ok((status, body))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    #[test]
    fn the_mix_adds_up_to_one_hundred_percent() {
        assert_eq!(MIX.iter().map(|(_, w)| w).sum::<u32>(), 100);
    }

    #[test]
    fn picks_follow_the_mix_within_half_a_percent() {
        let n = 200_000_u64;
        let mut counts: HashMap<Op, u64> = HashMap::new();
        for i in 0..n {
            *counts.entry(pick(i, 1000).0).or_default() += 1;
        }
        for (op, weight) in MIX {
            let share = counts[&op] as f64 / n as f64 * 100.0;
            assert!(
                (share - f64::from(weight)).abs() < 0.5,
                "{op:?}: {share:.2} % instead of {weight} %"
            );
        }
    }

    #[test]
    fn picks_cover_every_song_and_no_other() {
        let songs: HashSet<u32> = (0..50_000).map(|i| pick(i, 1000).1).collect();
        assert_eq!(songs.len(), 1000);
        assert!(songs.iter().all(|s| *s < 1000));
        assert!((0..100).all(|i| pick(i, 1).1 == 0));
    }

    #[test]
    fn picks_are_the_same_every_run() {
        let first: Vec<_> = (0..100).map(|i| pick(i, 1000)).collect();
        let again: Vec<_> = (0..100).map(|i| pick(i, 1000)).collect();
        assert_eq!(first, again);
    }

    #[test]
    fn the_schedule_spaces_requests_evenly_without_drift() {
        let schedule = Schedule::new(2_000.0);
        assert_eq!(schedule.offset(0), Duration::ZERO);
        assert_eq!(schedule.offset(1), Duration::from_micros(500));
        assert_eq!(schedule.offset(2_000), Duration::from_secs(1));
        // Ten minutes in, still on the microsecond.
        let late = schedule.offset(1_200_000);
        assert!(late.abs_diff(Duration::from_secs(600)) < Duration::from_micros(1));
    }

    #[test]
    fn the_schedule_counts_the_requests_due_in_a_span() {
        let schedule = Schedule::new(2_000.0);
        assert_eq!(schedule.due_within(Duration::from_secs(10)), 20_000);
        assert_eq!(Schedule::new(0.5).due_within(Duration::from_secs(3)), 2);
        // Every counted request is due inside the span.
        let span = Duration::from_millis(1_234);
        let n = Schedule::new(333.0).due_within(span);
        assert!(Schedule::new(333.0).offset(n - 1) < span);
        assert!(Schedule::new(333.0).offset(n) >= span);
    }

    #[test]
    fn songs_have_distinct_keys() {
        let keys: HashSet<_> = (0..1000).map(song_key).collect();
        assert_eq!(keys.len(), 1000);
    }

    #[test]
    fn the_recorder_hands_over_each_window_once_and_keeps_the_first_errors() {
        let recorder = Recorder::new();
        recorder.record(Duration::from_micros(300), Ok(()));
        for n in 0..7 {
            recorder.record(Duration::from_millis(2), Err(format!("failure {n}")));
        }
        let window = recorder.take();
        assert_eq!((window.requests(), window.errors), (8, 7));
        assert_eq!(recorder.take().requests(), 0);
        assert_eq!(recorder.errors(), 7);
        assert_eq!(recorder.messages().len(), ERROR_MESSAGES);
        assert_eq!(recorder.messages()[0], "failure 0");
    }
}
