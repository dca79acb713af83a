//! API keys and usage plans: which keys get through, the plans' per-method
//! throttles, quotas answered `Limit Exceeded`, and quota counts kept in the
//! service's usage table — across a drain and restart, across a crash (within
//! one flush interval near the quota), and across two gateways in front of
//! one service, on the embedded store and on DynamoDB Local; far from the
//! quota, a flush a max interval.

use std::time::{Duration, Instant};

use music_api::pb::{self, usage_service_client::UsageServiceClient};
use music_testkit::{
    Answer, Curl, Program, env::dynamodb_endpoint, metrics::Metrics, names::unique_table,
};

use crate::support::{Files, ITEM, TABLE, gateway, hash, refused_start, service};

const ALICE: &str = "alice-key-7f3a9c2e5b1d4f60";
const BOB: &str = "bob-key-0c8e2a4f6b1d3e57";
const CAROL: &str = "carol-key-9d1f3b5a7c2e4068";

/// GET and DELETE on items need a key; `basic` has a quota of `limit` a day
/// and a DELETE throttle of 1/s (burst 2); bob's key is disabled; carol's
/// plan has no quota.
fn plans(limit: u64) -> String {
    format!(
        r#"api_key_required = ["/DemoResourceMusic/DemoResourceMusicItem/GET", "/DemoResourceMusic/DemoResourceMusicItem/DELETE"]

[[plans]]
id = "basic"
throttle = {{ rate = 1000, burst = 1000 }}
quota = {{ limit = {limit}, period = "DAY" }}
methods = {{ "/DemoResourceMusic/DemoResourceMusicItem/DELETE" = {{ rate = 1, burst = 2 }} }}

[[plans]]
id = "open"

[[keys]]
id = "alice"
sha256 = "{}"
plan = "basic"

[[keys]]
id = "bob"
sha256 = "{}"
plan = "basic"
enabled = false

[[keys]]
id = "carol"
sha256 = "{}"
plan = "open"
"#,
        hash(ALICE),
        hash(BOB),
        hash(CAROL)
    )
}

async fn get_item(base: &str, table: &str, key: Option<&str>) -> Answer {
    let mut curl = Curl::request("GET", format!("{base}{ITEM}"))
        .header(format!("table: {table}"))
        .header("artist: No One You Know")
        .header("songtitle: Call Me Today");
    if let Some(key) = key {
        curl = curl.header(format!("x-api-key: {key}"));
    }
    curl.send().await
}

async fn create_table(base: &str, table: &str) {
    Curl::request("PUT", format!("{base}{TABLE}"))
        .header(format!("table: {table}"))
        .send()
        .await
        .assert_json(200, r#""Table created""#);
}

#[tokio::test]
async fn keys_missing_unknown_disabled_are_forbidden_and_a_valid_one_is_served() {
    let files = Files::new();
    let plans = files.write("plans.toml", &plans(100));
    let service = service().await;
    let gateway = gateway(&service.url("grpc"), &["--usage-plans", &plans]).await;
    let base = gateway.url("http");
    // The table's methods need no key.
    create_table(&base, "Music").await;
    for (key, why) in [
        (None, "missing"),
        (Some("not-a-key-of-any-plan"), "unknown"),
        (Some(BOB), "disabled"),
    ] {
        let answer = get_item(&base, "Music", key).await;
        answer.assert_json_for(why, 403, r#"{"message":"Forbidden"}"#);
        assert_eq!(
            answer.header("x-amzn-errortype"),
            Some("ForbiddenException")
        );
    }
    get_item(&base, "Music", Some(ALICE))
        .await
        .assert_json(200, r#""Item not found""#);
    get_item(&base, "Music", Some(CAROL))
        .await
        .assert_json(200, r#""Item not found""#);

    let metrics = Metrics::scrape(&format!("{}/metrics", gateway.url("admin"))).await;
    for reason in ["api_key_missing", "api_key_unknown", "api_key_disabled"] {
        assert_eq!(
            metrics.sum("music_edge_refusals_total", &[("reason", reason)]),
            Some(1.0),
            "{reason}"
        );
    }
    let served = gateway
        .line(Duration::from_secs(5), |l| {
            l.contains("request answered") && l.contains("apiKeyId=alice")
        })
        .await;
    assert!(served.is_some(), "{}", gateway.log_text());
    let refused = gateway
        .line(Duration::from_secs(5), |l| {
            l.contains("apiKeyId=bob") && l.contains("refusal=\"api_key_disabled\"")
        })
        .await;
    assert!(refused.is_some(), "{}", gateway.log_text());
    let log = gateway.log_text();
    for key in [ALICE, BOB, CAROL] {
        assert!(!log.contains(key), "a key's value is in the log");
    }
}

#[tokio::test]
async fn plans_and_the_stage_throttle_methods_of_their_own() {
    let files = Files::new();
    let plans = files.write("plans.toml", &plans(100));
    let service = service().await;
    let gateway = gateway(
        &service.url("grpc"),
        &[
            "--usage-plans",
            &plans,
            "--method-throttle",
            "/DemoResourceMusic/DemoResourceMusicTable/DELETE=0.5:1",
        ],
    )
    .await;
    let base = gateway.url("http");
    create_table(&base, "Music").await;
    let delete = || {
        Curl::request("DELETE", format!("{base}{ITEM}"))
            .header("table: Music")
            .header("artist: a")
            .header("songtitle: b")
            .header(format!("x-api-key: {ALICE}"))
    };
    // The plan's DELETE bucket holds 2.
    delete().send().await.assert_json(200, r#""Item deleted""#);
    delete().send().await.assert_json(200, r#""Item deleted""#);
    let throttled = delete().send().await;
    throttled.assert_json(429, r#"{"message":"Too Many Requests"}"#);
    assert_eq!(throttled.header("retry-after"), Some("1"));
    assert_eq!(
        throttled.header("x-amzn-errortype"),
        Some("TooManyRequestsException")
    );
    // GET is another method: its own budget.
    get_item(&base, "Music", Some(ALICE))
        .await
        .assert_json(200, r#""Item not found""#);

    // The stage's override for DELETE on the table: one, then 429 (for 2 s).
    let drop_table = || Curl::request("DELETE", format!("{base}{TABLE}")).header("table: Other");
    assert_eq!(
        drop_table().send().await.status,
        500,
        "no such table, but let through"
    );
    let throttled = drop_table().send().await;
    throttled.assert_json(429, r#"{"message":"Too Many Requests"}"#);
    assert_eq!(throttled.header("retry-after"), Some("2"));
}

#[tokio::test]
async fn a_spent_quota_is_limit_exceeded() {
    let files = Files::new();
    let plans = files.write("plans.toml", &plans(5));
    let service = service().await;
    let gateway = gateway(&service.url("grpc"), &["--usage-plans", &plans]).await;
    let base = gateway.url("http");
    create_table(&base, "Music").await;
    for _ in 0..5 {
        get_item(&base, "Music", Some(ALICE))
            .await
            .assert_json(200, r#""Item not found""#);
    }
    let spent = get_item(&base, "Music", Some(ALICE)).await;
    spent.assert_json(429, r#"{"message":"Limit Exceeded"}"#);
    assert_eq!(
        spent.header("x-amzn-errortype"),
        Some("LimitExceededException")
    );
    assert!(spent.header("retry-after").is_some(), "until the day ends");
    // Another plan's key is not affected.
    get_item(&base, "Music", Some(CAROL))
        .await
        .assert_json(200, r#""Item not found""#);
}

/// Requests with alice's key until one is `Limit Exceeded` (at most `bound`);
/// how many were served.
async fn serve_until_spent(base: &str, bound: usize) -> usize {
    for served in 0..bound {
        let answer = get_item(base, "Music", Some(ALICE)).await;
        match answer.status {
            200 => {}
            429 => {
                answer.assert_json(429, r#"{"message":"Limit Exceeded"}"#);
                return served;
            }
            other => panic!("{other}: {answer:?}"),
        }
    }
    panic!("still served after {bound} requests");
}

#[tokio::test]
async fn the_quota_survives_a_drain_and_restart() {
    let files = Files::new();
    let plans = files.write("plans.toml", &plans(30));
    let service = service().await;
    let upstream = service.url("grpc");
    let mut first = gateway(&upstream, &["--usage-plans", &plans]).await;
    create_table(&first.url("http"), "Music").await;
    for _ in 0..12 {
        get_item(&first.url("http"), "Music", Some(ALICE))
            .await
            .assert_json(200, r#""Item not found""#);
    }
    // No pause: the drain's last flush must carry the counts.
    first.terminate();
    assert!(
        first
            .wait_exit(Duration::from_secs(15))
            .await
            .is_some_and(|s| s.success())
    );
    let second = gateway(&upstream, &["--usage-plans", &plans]).await;
    let served = serve_until_spent(&second.url("http"), 40).await;
    eprintln!("quota 30: 12 served before SIGTERM, {served} after the restart");
    assert_eq!(served, 18, "the restart kept every count");
}

#[tokio::test]
async fn the_quota_survives_a_crash_within_one_second_of_counts() {
    const RATE: u64 = 20;
    let files = Files::new();
    let plans = files.write("plans.toml", &plans(60));
    let service = service().await;
    let upstream = service.url("grpc");
    let mut first = gateway(&upstream, &["--usage-plans", &plans]).await;
    let base = first.url("http");
    create_table(&base, "Music").await;
    let started = Instant::now();
    let before = 40u64;
    for n in 0..before {
        get_item(&base, "Music", Some(ALICE))
            .await
            .assert_json(200, r#""Item not found""#);
        let next = started + Duration::from_millis(1000 / RATE * (n + 1));
        tokio::time::sleep_until(next.into()).await;
    }
    // SIGKILL: no drain, no last flush.
    first.kill().await;
    let second = gateway(&upstream, &["--usage-plans", &plans]).await;
    let served = serve_until_spent(&second.url("http"), 100).await as u64;
    let lost = before + served - 60;
    eprintln!(
        "quota 60: {before} served at {RATE}/s before SIGKILL, {served} after the restart: {lost} counts lost (at most {RATE}, one second's)"
    );
    assert!(
        served <= 60 - before + RATE,
        "lost more than a second of counts: {lost}"
    );
    assert!(served >= 60 - before, "counted more than was served");
}

/// The total in the service's usage table of alice's counter today (an
/// AddUsage of 0 reads it).
async fn alice_total(service: &Program) -> i64 {
    let today = time::OffsetDateTime::now_utc().date();
    let counter = format!(
        "basic/alice/{}-{:02}-{:02}",
        today.year(),
        u8::from(today.month()),
        today.day()
    );
    let channel = music_testkit::grpc::channel(service.addr("grpc")).await;
    let answer = UsageServiceClient::new(channel)
        .add_usage(pb::AddUsageRequest {
            increments: vec![pb::UsageIncrement { counter, count: 0 }],
        })
        .await
        .expect("AddUsage reads a total")
        .into_inner();
    answer.totals[0].total
}

/// A key far from its quota has its counts sent once a max interval, not at
/// every tick (a write a key and tick would cost the usage table 1,000
/// writes a second for 1,000 busy keys); its total is read at start in a
/// batch, and the drain's last flush still carries every count.
#[tokio::test]
async fn a_key_far_from_its_quota_is_flushed_once_a_max_interval() {
    let files = Files::new();
    let plans = files.write("plans.toml", &plans(1_000_000));
    let service = service().await;
    let mut gateway = gateway(
        &service.url("grpc"),
        &[
            "--usage-plans",
            &plans,
            "--usage-flush-interval",
            "100ms",
            "--usage-flush-max-interval",
            "1s",
        ],
    )
    .await;
    let base = gateway.url("http");
    create_table(&base, "Music").await;
    let metrics = format!("{}/metrics", service.url("admin"));
    let calls = |m: &Metrics, operation: &str| {
        m.sum("music_dynamodb_calls_total", &[("operation", operation)])
            .unwrap_or(0.0)
    };
    let start = Metrics::scrape(&metrics).await;
    assert_eq!(
        calls(&start, "UpdateItem"),
        0.0,
        "{}",
        start.excerpt("music_dynamodb_calls_total")
    );
    assert!(
        calls(&start, "BatchGetItem") >= 1.0,
        "the start reads the totals"
    );

    // 10 a second for 3 s: 30 ticks of 100 ms, each with a count to send.
    let started = Instant::now();
    for n in 0..30u32 {
        get_item(&base, "Music", Some(ALICE))
            .await
            .assert_json(200, r#""Item not found""#);
        tokio::time::sleep_until((started + Duration::from_millis(100) * (n + 1)).into()).await;
    }
    let during = Metrics::scrape(&metrics).await;
    let updates = calls(&during, "UpdateItem");
    eprintln!("30 requests in 3 s: {updates} UpdateItem calls");
    assert!(
        (1.0..=6.0).contains(&updates),
        "one flush a second (3), not one a tick (30): {updates}"
    );

    gateway.terminate();
    assert!(
        gateway
            .wait_exit(Duration::from_secs(15))
            .await
            .is_some_and(|s| s.success())
    );
    assert_eq!(
        alice_total(&service).await,
        30,
        "the drain sent every count"
    );
}

/// Flush intervals that cannot work stop the start, naming the flag.
#[tokio::test]
async fn impossible_flush_intervals_stop_the_start() {
    let cases: [(&[&str], &str); 3] = [
        (
            &["--usage-flush-interval", "0"],
            "--usage-flush-interval must be longer than 0",
        ),
        (
            &["--usage-flush-max-interval", "500ms"],
            "--usage-flush-max-interval (500ms) is shorter than --usage-flush-interval (1s)",
        ),
        (
            &["--usage-flush-interval", "soon"],
            "invalid value 'soon' for '--usage-flush-interval <USAGE_FLUSH_INTERVAL>'",
        ),
    ];
    for (args, expected) in cases {
        let (code, log) = refused_start(args).await;
        assert_ne!(code, Some(0), "{args:?}: {log}");
        assert!(
            log.contains(expected),
            "{args:?}\nexpected: {expected}\nlog: {log}"
        );
        assert!(!log.contains("listening on 127.0.0.1"), "{log}");
    }
}

/// Two gateways in front of one service: one quota.
async fn two_gateways_share_one_quota(service: Program, table: &str) {
    let files = Files::new();
    let plans = files.write("plans.toml", &plans(40));
    let upstream = service.url("grpc");
    let a = gateway(&upstream, &["--usage-plans", &plans]).await;
    let b = gateway(&upstream, &["--usage-plans", &plans]).await;
    create_table(&a.url("http"), table).await;
    for _ in 0..20 {
        get_item(&a.url("http"), table, Some(ALICE))
            .await
            .assert_json(200, r#""Item not found""#);
    }
    // a flushes within a second (20 in a moment: near its quota of 40); b
    // learns the total at its first flush after its first request (10 a
    // second here: near too).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut served_b = 0;
    loop {
        let answer = get_item(&b.url("http"), table, Some(ALICE)).await;
        if answer.status == 429 {
            answer.assert_json(429, r#"{"message":"Limit Exceeded"}"#);
            break;
        }
        assert_eq!(answer.status, 200, "{answer:?}");
        served_b += 1;
        assert!(served_b <= 40, "b ignores a's counts");
        // 10 a second: b's first flush comes before it could overshoot.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("quota 40 shared: 20 served by gateway a, {served_b} by gateway b");
    assert_eq!(served_b, 20, "the two gateways counted against one quota");
    // b's last counts reach the table at its next flush (within a second),
    // and a reads the total at its own next flush after that (within another:
    // alice was used there recently).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    get_item(&a.url("http"), table, Some(ALICE))
        .await
        .assert_json(429, r#"{"message":"Limit Exceeded"}"#);
}

#[tokio::test]
async fn two_gateways_share_one_quota_on_the_embedded_store() {
    two_gateways_share_one_quota(service().await, "Music").await;
}

#[tokio::test]
async fn two_gateways_share_one_quota_on_dynamodb_local() {
    let Some(endpoint) = dynamodb_endpoint() else {
        return;
    };
    let usage = unique_table("usage");
    let service = Program::service_on(&endpoint, &["--usage-table", &usage]).await;
    two_gateways_share_one_quota(service, &unique_table("music")).await;
}
