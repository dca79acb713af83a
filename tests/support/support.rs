//! What the tokio suites (ops, faults) share besides processes, the proxy
//! and DynamoDB Local: gRPC clients of a running service, the real curl for
//! HTTP, a reader of Prometheus' text format, and waiting for a condition
//! with a bound.
//!
//! Owns: `channel`/`items`/`create_table`/request builders, `health`,
//! `curl`/`try_curl`/`http_status`, [`Metrics`], [`eventually`]. Included by
//! each suite with `#[path = "../support/support.rs"] mod support;`.

// Each suite uses a part of these helpers; the rest is dead code there.
#![allow(dead_code)]

use std::{
    collections::BTreeMap,
    future::Future,
    net::SocketAddr,
    time::{Duration, Instant},
};

use music_api::pb::{self, item_service_client::ItemServiceClient};
use tonic::transport::Channel;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// Longest a single curl call may take before the test fails instead of hanging.
const CURL_MAX_SECS: &str = "30";

/// A gRPC channel to `addr`, connected.
pub(crate) async fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("a valid URI")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
}

pub(crate) async fn items(addr: SocketAddr) -> ItemServiceClient<Channel> {
    ItemServiceClient::new(channel(addr).await)
}

/// Creates `table` through the service (the store must answer promptly).
pub(crate) async fn create_table(addr: SocketAddr, table: &str) {
    let mut tables = pb::table_service_client::TableServiceClient::new(channel(addr).await);
    tables
        .create_table(pb::CreateTableRequest {
            table_name: table.to_owned(),
            provisioned_throughput: None,
        })
        .await
        .unwrap_or_else(|e| panic!("create table {table}: {e:?}"));
}

pub(crate) fn put_request(
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
        }),
    }
}

pub(crate) fn get_request(table: &str, artist: &str, song_title: &str) -> pb::GetItemRequest {
    pb::GetItemRequest {
        table_name: table.to_owned(),
        artist: artist.to_owned(),
        song_title: song_title.to_owned(),
    }
}

/// gRPC health of `service` ("" for the whole server) on a fresh connection,
/// as a mesh's health checker asks it.
pub(crate) async fn health(addr: SocketAddr, service: &str) -> Result<ServingStatus, String> {
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

pub(crate) use crate::common::CurlAnswer;

/// Runs the real curl with `args` (plus `-s -i` and a time bound).
pub(crate) async fn curl(args: &[&str]) -> CurlAnswer {
    try_curl(args)
        .await
        .unwrap_or_else(|e| panic!("curl {args:?} failed: {e}"))
}

/// [`curl`], for answers that may not come (curl's failure as the error).
pub(crate) async fn try_curl(args: &[&str]) -> Result<CurlAnswer, String> {
    let output = tokio::process::Command::new("curl")
        .args(["-s", "-S", "-i", "--max-time", CURL_MAX_SECS])
        .args(args)
        .output()
        .await
        .expect("curl runs");
    if !output.status.success() {
        return Err(format!(
            "{}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let text = String::from_utf8(output.stdout).expect("the answer is UTF-8");
    Ok(CurlAnswer::parse(&text))
}

/// `GET url` with curl; the status, or 0 when nothing answered.
pub(crate) async fn http_status(url: &str) -> u16 {
    let output = tokio::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "3",
        ])
        .arg(url)
        .output()
        .await
        .expect("curl runs");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// One sample of Prometheus' text format.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    pub(crate) name: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) value: f64,
}

/// A scraped `/metrics` page.
#[derive(Debug, Clone)]
pub(crate) struct Metrics {
    pub(crate) text: String,
    pub(crate) samples: Vec<Sample>,
}

impl Metrics {
    pub(crate) async fn scrape(url: &str) -> Self {
        let answer = curl(&[url]).await;
        assert_eq!(answer.status, 200, "GET {url}: {}", answer.body);
        Self::parse(&answer.body)
    }

    pub(crate) fn parse(text: &str) -> Self {
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(parse_sample)
            .collect();
        Self {
            text: text.to_owned(),
            samples,
        }
    }

    /// The sum of the samples named `name` that carry all of `labels`
    /// (`None` when there is none).
    pub(crate) fn sum(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let matching: Vec<f64> = self
            .samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .collect();
        (!matching.is_empty()).then(|| matching.iter().sum())
    }

    /// The lines of the page that mention `name`, for a report.
    pub(crate) fn excerpt(&self, name: &str) -> String {
        self.text
            .lines()
            .filter(|l| l.contains(name))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn parse_sample(line: &str) -> Option<Sample> {
    let (series, value) = line.trim().rsplit_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        None => (series, BTreeMap::new()),
        Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}')?)?),
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// `a="x",b="y"`, with `\"`, `\\` and `\n` escapes in values.
fn parse_labels(text: &str) -> Option<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                '"' => break i,
                other => value.push(other),
            }
        };
        labels.insert(key.trim_start_matches(',').trim().to_owned(), value);
        rest = after[end + 1..].trim_start_matches(',');
    }
    Some(labels)
}

/// Polls `check` every `every` until it is true or `within` has passed;
/// the time it took, if it became true.
pub(crate) async fn eventually<F, Fut>(
    within: Duration,
    every: Duration,
    mut check: F,
) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return Some(started.elapsed());
        }
        if started.elapsed() >= within {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}

#[test]
fn prometheus_text_is_read_with_labels_and_escapes() {
    let metrics = Metrics::parse(
        "# TYPE music_grpc_requests_total counter\n\
         music_grpc_requests_total{method=\"PutItem\",code=\"OK\"} 7\n\
         music_grpc_requests_total{method=\"GetItem\",code=\"NOT_FOUND\"} 3\n\
         odd{a=\"x,\\\"y\\\"\",b=\"z\"} 1.5\n\
         music_grpc_requests_in_flight 0\n",
    );
    assert_eq!(
        metrics.sum(
            "music_grpc_requests_total",
            &[("method", "PutItem"), ("code", "OK")]
        ),
        Some(7.0)
    );
    assert_eq!(metrics.sum("music_grpc_requests_total", &[]), Some(10.0));
    assert_eq!(
        metrics.sum("odd", &[("a", "x,\"y\""), ("b", "z")]),
        Some(1.5)
    );
    assert_eq!(metrics.sum("music_grpc_requests_in_flight", &[]), Some(0.0));
    assert_eq!(metrics.sum("absent", &[]), None);
}
