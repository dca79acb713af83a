//! Graceful shutdown under load, with real processes and the real `kill`:
//! on SIGTERM the listener closes at once, the requests in flight all get
//! complete answers, every write answered OK is in the store, and the process
//! exits 0; requests that outlive the grace period are cut, counted in the log,
//! and the process still exits 0 when the grace is over.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use music_service::embedded::EmbeddedStore;
use tokio::{net::TcpStream, task::JoinHandle};

use music_testkit::{
    Program, curl, eventually,
    grpc::{create_table, get_request, items, put_request},
    http_status,
    metrics::Metrics,
    store_proxy::StoreProxy,
    try_curl,
};

/// Concurrent writes in flight when SIGTERM arrives.
const WRITES: usize = 16;
/// What the store takes per request: long enough for SIGTERM to land mid-flight.
const STORE_LATENCY: Duration = Duration::from_millis(400);
/// The same for 16 curl processes, which start one by one: long enough that
/// the first is still in flight when the last arrives, on a loaded machine too.
const HTTP_STORE_LATENCY: Duration = Duration::from_secs(1);
const GRACE_SECS: u64 = 5;

/// A write's song title and album, and how the service answered it.
type WriteOutcome = (String, String, Result<(), tonic::Status>);

/// Polls a `/metrics` page until the gauge `name` reads `value`.
async fn gauge_reaches(url: &str, name: &str, value: f64, within: Duration) -> bool {
    eventually(within, Duration::from_millis(5), move || async move {
        Metrics::scrape(url).await.sum(name, &[]) == Some(value)
    })
    .await
    .is_some()
}

/// Polls until a new TCP connection to `addr` is refused.
async fn refuses_connections(addr: std::net::SocketAddr, within: Duration) -> Option<Duration> {
    eventually(within, Duration::from_millis(5), || async move {
        TcpStream::connect(addr).await.is_err()
    })
    .await
}

/// Reads back `(song title, album)` pairs through a fresh service on `endpoint`;
/// the titles whose album is not what was written.
async fn missing_writes(endpoint: &str, writes: &[(String, String)]) -> Vec<String> {
    let reader = Program::service_on(endpoint, &[]).await;
    let mut client = items(reader.addr("grpc")).await;
    let mut missing = Vec::new();
    for (title, album) in writes {
        match client
            .get_item(get_request("Music", "Shutdown", title))
            .await
        {
            Ok(song) if song.get_ref().album_title.as_deref() == Some(album) => {}
            other => {
                eprintln!("write of {title:?} not found as written: {other:?}");
                missing.push(title.clone());
            }
        }
    }
    missing
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_in_flight_at_sigterm_all_finish_and_every_acknowledged_write_is_stored() {
    let store = EmbeddedStore::start(None).await.expect("embedded store");
    let proxy = StoreProxy::start(&store.endpoint()).await;
    let grace = GRACE_SECS.to_string();
    let mut service =
        Program::service_on(&proxy.url(), &["--shutdown-grace-secs", grace.as_str()]).await;
    let grpc = service.addr("grpc");
    let metrics_url = format!("{}/metrics", service.url("admin"));
    create_table(grpc, "Music").await;
    proxy.set_latency(STORE_LATENCY);

    let client = items(grpc).await;
    let answered = Arc::new(AtomicUsize::new(0));
    let calls: Vec<JoinHandle<WriteOutcome>> = (0..WRITES)
        .map(|i| {
            let mut client = client.clone();
            let answered = Arc::clone(&answered);
            tokio::spawn(async move {
                let (title, album) = (format!("Song {i:02}"), format!("Album {i:02}"));
                let result = client
                    .put_item(put_request("Music", "Shutdown", &title, &album))
                    .await
                    .map(|_| ());
                answered.fetch_add(1, Ordering::SeqCst);
                (title, album, result)
            })
        })
        .collect();
    assert!(
        gauge_reaches(
            &metrics_url,
            "music_grpc_requests_in_flight",
            WRITES as f64,
            Duration::from_secs(2)
        )
        .await,
        "all {WRITES} writes reach the service"
    );
    let in_flight = WRITES - answered.load(Ordering::SeqCst);
    service.terminate();
    let signalled = Instant::now();

    let refused = refuses_connections(grpc, Duration::from_secs(1)).await;
    let running_when_refused = service.is_running();
    let mut completed = Vec::new();
    let mut failed = Vec::new();
    for call in calls {
        let (title, album, result) = call.await.expect("the call task");
        match result {
            Ok(()) => completed.push((title, album)),
            Err(status) => {
                failed.push(format!("{title}: {:?} {}", status.code(), status.message()))
            }
        }
    }
    let exit = service.wait_exit(Duration::from_secs(GRACE_SECS + 2)).await;
    let exited_after = signalled.elapsed();
    drop(proxy);
    let missing = missing_writes(&store.endpoint(), &completed).await;

    eprintln!(
        "SIGTERM under load: in flight {in_flight}, completed {}, failed {}, lost {}; \
         new connections refused {refused:?} after SIGTERM; exit {exit:?} after {exited_after:?}",
        completed.len(),
        failed.len(),
        missing.len()
    );
    assert_eq!(
        in_flight, WRITES,
        "SIGTERM came while every write was in flight"
    );
    assert!(
        failed.is_empty(),
        "every request in flight finished: {failed:#?}"
    );
    assert!(
        refused.is_some() && running_when_refused,
        "the listener closed while requests were still draining (refused: {refused:?})"
    );
    assert!(
        exit.is_some_and(|s| s.code() == Some(0)),
        "exit 0 within the grace period: {exit:?}\n{}",
        service.log_text()
    );
    assert!(
        exited_after < Duration::from_secs(GRACE_SECS),
        "exited once drained, within the grace period: {exited_after:?}"
    );
    assert!(
        missing.is_empty(),
        "every write answered OK is stored: {missing:?}"
    );
    let log = service.log_text();
    assert!(
        log.contains("SIGTERM received") && !log.contains("grace period of"),
        "a drain, not a cut:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_one_command_gateway_finishes_http_requests_in_flight_at_sigterm() {
    let store = EmbeddedStore::start(None).await.expect("embedded store");
    let proxy = StoreProxy::start(&store.endpoint()).await;
    let grace = GRACE_SECS.to_string();
    let endpoint = proxy.url();
    let mut gateway = Program::start(
        "music-gateway",
        &[
            "--listen",
            "127.0.0.1:0",
            "--grpc-listen",
            "127.0.0.1:0",
            "--backend",
            "dynamodb",
            "--dynamodb-endpoint",
            &endpoint,
            "--shutdown-grace-secs",
            &grace,
        ],
        &[],
        2,
    )
    .await;
    let base = gateway.url("http");
    let table_url = format!("{base}/Test/DemoResourceMusic/DemoResourceMusicTable");
    let item_url = format!("{base}/Test/DemoResourceMusic/DemoResourceMusicItem");
    let created = curl(&["-X", "PUT", &table_url, "-H", "table: Music"]).await;
    assert_eq!(created.status, 200, "{}", created.body);
    proxy.set_latency(HTTP_STORE_LATENCY);

    let calls: Vec<JoinHandle<(String, String, u16, String)>> = (0..WRITES)
        .map(|i| {
            let url = item_url.clone();
            tokio::spawn(async move {
                let (title, album) = (format!("Song {i:02}"), format!("Album {i:02}"));
                let answer = curl(&[
                    "-X",
                    "PUT",
                    &url,
                    "-H",
                    "table: Music",
                    "-H",
                    "artist: Shutdown",
                    "-H",
                    &format!("songtitle: {title}"),
                    "-H",
                    &format!("albumtitle: {album}"),
                ])
                .await;
                (title, album, answer.status, answer.body)
            })
        })
        .collect();
    // Scraped on the admin listener, so the scrape is not one of the requests counted.
    assert!(
        gauge_reaches(
            &format!("{}/metrics", gateway.url("admin")),
            "music_http_requests_in_flight",
            WRITES as f64,
            Duration::from_secs(3)
        )
        .await,
        "all {WRITES} PUTs reach the gateway"
    );
    gateway.terminate();
    let signalled = Instant::now();

    let refused = refuses_connections(gateway.addr("http"), Duration::from_secs(1)).await;
    let running_when_refused = gateway.is_running();
    let mut completed = Vec::new();
    let mut failed = Vec::new();
    for call in calls {
        let (title, album, status, body) = call.await.expect("the curl task");
        if status == 200 && body == r#""Item added""# {
            completed.push((title, album));
        } else {
            failed.push(format!("{title}: {status} {body}"));
        }
    }
    let exit = gateway.wait_exit(Duration::from_secs(GRACE_SECS + 2)).await;
    let exited_after = signalled.elapsed();
    drop(proxy);
    let missing = missing_writes(&store.endpoint(), &completed).await;

    eprintln!(
        "SIGTERM under load (one-command gateway): in flight {WRITES}, completed {}, failed {}, \
         lost {}; new connections refused {refused:?} after SIGTERM; exit {exit:?} after {exited_after:?}",
        completed.len(),
        failed.len(),
        missing.len()
    );
    assert!(
        failed.is_empty(),
        "every request in flight got 200: {failed:#?}"
    );
    assert!(
        refused.is_some() && running_when_refused,
        "the HTTP listener closed while requests were still draining (refused: {refused:?})"
    );
    assert!(
        exit.is_some_and(|s| s.code() == Some(0)),
        "exit 0 within the grace period: {exit:?}\n{}",
        gateway.log_text()
    );
    assert!(
        missing.is_empty(),
        "every write answered 200 is stored: {missing:?}"
    );
}

/// Slow enough that no request finishes within a 1 s grace period.
const SLOW_STORE: Duration = Duration::from_secs(5);
/// SDK budgets above the slow store's latency, so that only the grace period
/// can end the requests.
const PATIENT_SDK: [&str; 4] = [
    "--dynamodb-timeout-ms",
    "20000",
    "--dynamodb-attempt-timeout-ms",
    "20000",
];
/// Requests in flight when SIGTERM arrives, all cut by the grace period.
const CUT: usize = 3;

#[tokio::test(flavor = "multi_thread")]
async fn requests_outliving_the_grace_period_are_cut_and_counted_and_the_exit_is_still_0() {
    let store = EmbeddedStore::start(None).await.expect("embedded store");
    let proxy = StoreProxy::start(&store.endpoint()).await;
    let mut args = vec!["--shutdown-grace-secs", "1"];
    args.extend(PATIENT_SDK);
    let mut service = Program::service_on(&proxy.url(), &args).await;
    let grpc = service.addr("grpc");
    let admin = service.url("admin");
    create_table(grpc, "Music").await;
    proxy.set_latency(SLOW_STORE);

    let client = items(grpc).await;
    let calls: Vec<JoinHandle<Result<(), tonic::Status>>> = (0..CUT)
        .map(|i| {
            let mut client = client.clone();
            tokio::spawn(async move {
                client
                    .put_item(put_request("Music", "Grace", &format!("Slow {i}"), "Late"))
                    .await
                    .map(|_| ())
            })
        })
        .collect();
    assert!(
        gauge_reaches(
            &format!("{admin}/metrics"),
            "music_grpc_requests_in_flight",
            CUT as f64,
            Duration::from_secs(2)
        )
        .await,
        "the slow writes are in flight"
    );
    service.terminate();
    let signalled = Instant::now();
    let not_ready = eventually(
        Duration::from_millis(800),
        Duration::from_millis(10),
        || {
            let url = format!("{admin}/readyz");
            async move { http_status(&url).await == 503 }
        },
    )
    .await;
    let exit = service.wait_exit(Duration::from_secs(6)).await;
    let exited_after = signalled.elapsed();
    let mut outcomes = Vec::new();
    for call in calls {
        outcomes.push(match call.await.expect("the call task") {
            Ok(()) => "OK".to_owned(),
            Err(status) => format!("{:?}: {}", status.code(), status.message()),
        });
    }
    let log = service.log_text();
    let grace_line = log
        .lines()
        .find(|l| l.contains("grace period of 1s is over"))
        .unwrap_or("(none)")
        .to_owned();
    eprintln!(
        "grace 1 s, store 5 s: /readyz 503 after {not_ready:?}; exit {exit:?} after \
         {exited_after:?}; the clients saw {outcomes:?}; log: {grace_line}"
    );

    assert!(not_ready.is_some(), "/readyz says 503 while draining");
    assert!(
        exit.is_some_and(|s| s.code() == Some(0)),
        "exit 0 once the grace is over: {exit:?}\n{log}"
    );
    assert!(
        exited_after >= Duration::from_millis(800) && exited_after <= Duration::from_secs(3),
        "exited at the 1 s grace, not the store's 5 s: {exited_after:?}"
    );
    assert!(
        grace_line.contains(&format!("cut={CUT}")),
        "the log says the grace is over and how many requests were cut: {grace_line}\n{log}"
    );
    assert!(
        outcomes.iter().all(|o| o != "OK"),
        "the cut requests did not succeed: {outcomes:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_one_command_gateway_cuts_requests_outliving_its_grace_period_and_exits_0() {
    let store = EmbeddedStore::start(None).await.expect("embedded store");
    let proxy = StoreProxy::start(&store.endpoint()).await;
    let endpoint = proxy.url();
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--grpc-listen",
        "127.0.0.1:0",
        "--backend",
        "dynamodb",
        "--dynamodb-endpoint",
        &endpoint,
        "--shutdown-grace-secs",
        "1",
    ];
    args.extend(PATIENT_SDK);
    let mut gateway = Program::start("music-gateway", &args, &[], 2).await;
    let base = gateway.url("http");
    let table_url = format!("{base}/Test/DemoResourceMusic/DemoResourceMusicTable");
    let item_url = format!("{base}/Test/DemoResourceMusic/DemoResourceMusicItem");
    let created = curl(&["-X", "PUT", &table_url, "-H", "table: Music"]).await;
    assert_eq!(created.status, 200, "{}", created.body);
    proxy.set_latency(SLOW_STORE);

    let calls: Vec<JoinHandle<Result<u16, String>>> = (0..CUT)
        .map(|i| {
            let url = item_url.clone();
            tokio::spawn(async move {
                try_curl(&[
                    "-X",
                    "PUT",
                    &url,
                    "-H",
                    "table: Music",
                    "-H",
                    "artist: Grace",
                    "-H",
                    &format!("songtitle: Slow {i}"),
                    "-H",
                    "albumtitle: Late",
                ])
                .await
                .map(|answer| answer.status)
            })
        })
        .collect();
    assert!(
        gauge_reaches(
            &format!("{}/metrics", gateway.url("admin")),
            "music_http_requests_in_flight",
            CUT as f64,
            Duration::from_secs(3)
        )
        .await,
        "the slow PUTs are in flight"
    );
    gateway.terminate();
    let signalled = Instant::now();
    let exit = gateway.wait_exit(Duration::from_secs(6)).await;
    let exited_after = signalled.elapsed();
    let mut outcomes = Vec::new();
    for call in calls {
        outcomes.push(call.await.expect("the curl task"));
    }
    let log = gateway.log_text();
    let grace_lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("grace period of 1s is over"))
        .collect();
    eprintln!(
        "one-command gateway, grace 1 s, store 5 s: exit {exit:?} after {exited_after:?}; \
         the clients saw {outcomes:?}; log: {grace_lines:#?}"
    );

    assert!(
        exit.is_some_and(|s| s.code() == Some(0)),
        "exit 0 once the grace is over: {exit:?}\n{log}"
    );
    assert!(
        exited_after >= Duration::from_millis(800) && exited_after <= Duration::from_secs(3),
        "exited at the 1 s grace, not the store's 5 s: {exited_after:?}"
    );
    let cut = format!("cut={CUT}");
    assert!(
        !grace_lines.is_empty() && grace_lines.iter().all(|l| l.contains(&cut)),
        "the log says the grace is over and that {CUT} requests were cut:\n{log}"
    );
    assert!(
        outcomes.iter().all(|o| o != &Ok(200)),
        "the cut requests did not succeed: {outcomes:?}"
    );
}
