//! One client's request id cannot break other clients' requests (issue 9,
//! point 2), on the two-process stack where every client shares the
//! gateway's one HTTP/2 connection to the service: an `x-request-id` that is
//! not 1–128 visible ASCII bytes (16 KiB, 64 KiB, 129 bytes, a space, a tab,
//! non-ASCII) is replaced by a fresh id, which the answer carries instead;
//! the received value is neither echoed, nor forwarded, nor logged; the
//! access-log line stays short; and 18 innocent clients reading the same item
//! meanwhile all get 200. A valid 128-byte id still travels end to end.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use serde_json::Value;
use tokio::task::JoinSet;

use crate::{
    gauge::bounded,
    stacks::{ITEM_ROUTE, create_music_table, pure_gateway},
};
use music_testkit::{Answer, Program, curl, eventually, try_curl};

/// Innocent clients reading the item while the abuse goes on.
const INNOCENTS: usize = 18;
/// How many times each bad id is sent (three 64 KiB ids were enough to tear
/// the shared upstream connection down).
const ROUNDS: usize = 3;
/// Longest log line a request may produce, whatever it sent.
const LOG_LINE_MAX: usize = 4 * 1024;
/// The longest request id that is kept.
const ID_MAX: usize = 128;
const LOG_WAIT: Duration = Duration::from_secs(3);

/// The two-process stack logging JSON, with the `Music` table and one item.
async fn stack() -> (Program, Program) {
    let service = Program::service(&["--in-memory", "--log-format", "json"]).await;
    let gateway = pure_gateway(&service.url("grpc"), &["--log-format", "json"]).await;
    let created = create_music_table(&gateway).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let added = curl(&[
        "-X",
        "PUT",
        &format!("{}{ITEM_ROUTE}", gateway.url("http")),
        "-H",
        "table: Music",
        "-H",
        "artist: Abuse",
        "-H",
        "songtitle: Request Ids",
        "-H",
        "albumtitle: Bounded",
    ])
    .await;
    assert_eq!(added.status, 200, "{}", added.body);
    (service, gateway)
}

/// `GET` the item through the tutorial route, with `headers` added.
async fn get_item(gateway_url: &str, headers: &[String]) -> Result<Answer, String> {
    let url = format!("{gateway_url}{ITEM_ROUTE}");
    let mut args = vec![
        url.as_str(),
        "-H",
        "table: Music",
        "-H",
        "artist: Abuse",
        "-H",
        "songtitle: Request Ids",
    ];
    for header in headers {
        args.extend(["-H", header.as_str()]);
    }
    try_curl(&args).await
}

/// The item's answer: 200 and the stored item.
fn is_the_item(answer: &Answer) -> bool {
    answer.status == 200 && answer.body.contains(r#""AlbumTitle": {"S": "Bounded"}"#)
}

/// `len` visible ASCII bytes, starting with `tag` (so each id is its own)
/// and cycling through every visible character from `!` to `~`.
fn visible_id(tag: &str, len: usize) -> String {
    let mut id = tag.to_owned();
    id.extend((b'!'..=b'~').cycle().map(char::from).take(len - tag.len()));
    id
}

/// Whether a UUID as the gateway makes them (8-4-4-4-12 hex digits).
fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The raw access-log line of the request whose id is `id`.
async fn access_line(gateway: &Program, id: &str) -> Option<String> {
    gateway
        .line(LOG_WAIT, |line| {
            serde_json::from_str::<Value>(line)
                .is_ok_and(|json| json["message"] == "request answered" && json["requestId"] == id)
        })
        .await
}

/// Whether `log` holds `value`, as written or JSON-escaped.
fn mentions(log: &str, value: &str) -> bool {
    let escaped = serde_json::to_string(value).expect("a string");
    log.contains(value) || log.contains(escaped.trim_matches('"'))
}

#[tokio::test(flavor = "multi_thread")]
async fn request_ids_that_are_too_long_or_not_visible_ascii_are_replaced_and_harm_no_other_client()
{
    bounded(async {
        let (service, gateway) = stack().await;
        let url = gateway.url("http");
        let bad_ids: Vec<(&str, String)> = vec![
            ("16 KiB", visible_id("abuse-16k-", 16 * 1024)),
            ("64 KiB", visible_id("abuse-64k-", 64 * 1024)),
            ("129 bytes", visible_id("abuse-129-", ID_MAX + 1)),
            ("a space", "abuse id with a space".to_owned()),
            ("a tab", "abuse-id\twith-a-tab".to_owned()),
            ("non-ASCII", "abuse-id-Sigur-Rós".to_owned()),
        ];

        // The innocent clients read the item in a loop until the abuse is over.
        let stop = Arc::new(AtomicBool::new(false));
        let mut innocents = JoinSet::new();
        for _ in 0..INNOCENTS {
            let (url, stop) = (url.clone(), Arc::clone(&stop));
            innocents.spawn(async move {
                let mut answers = Vec::new();
                while answers.is_empty() || !stop.load(Ordering::Relaxed) {
                    answers.push(match get_item(&url, &[]).await {
                        Ok(answer) if is_the_item(&answer) => Ok(()),
                        Ok(answer) => Err(format!("{} {}", answer.status, answer.body)),
                        Err(e) => Err(e),
                    });
                }
                answers
            });
        }

        let mut abusers = JoinSet::new();
        for round in 0..ROUNDS {
            for (label, id) in &bad_ids {
                let (url, label, id) = (url.clone(), *label, id.clone());
                abusers.spawn(async move {
                    let answer = get_item(&url, &[format!("x-request-id: {id}")]).await;
                    (round, label, id, answer)
                });
            }
        }
        let mut abused = Vec::new();
        while let Some(done) = abusers.join_next().await {
            abused.push(done.expect("an abusing request"));
        }
        // The innocents go on a little after the last abuse, to see the
        // upstream connection is still fine.
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.store(true, Ordering::Relaxed);
        let mut innocent_answers = Vec::new();
        while let Some(done) = innocents.join_next().await {
            innocent_answers.extend(done.expect("an innocent client"));
        }
        let innocent_failures: Vec<&String> = innocent_answers
            .iter()
            .filter_map(|a| a.as_ref().err())
            .collect();
        eprintln!(
            "{INNOCENTS} innocent clients: {} GETs, {} failed {:?}",
            innocent_answers.len(),
            innocent_failures.len(),
            innocent_failures.iter().take(5).collect::<Vec<_>>()
        );

        let mut problems = Vec::new();
        for (round, label, sent, answer) in &abused {
            let answer = match answer {
                Ok(answer) => answer,
                Err(e) => {
                    problems.push(format!("{label} (round {round}): curl failed: {e}"));
                    continue;
                }
            };
            let answered_id = answer.header("x-request-id").unwrap_or("");
            let line = if is_uuid(answered_id) {
                access_line(&gateway, answered_id).await
            } else {
                None
            };
            eprintln!(
                "id of {label} ({} bytes, round {round}): {} {:?}, answered id {:?} ({} bytes), \
                 x-amzn-RequestId {:?}, access-log line {:?} bytes",
                sent.len(),
                answer.status,
                answer.body.chars().take(80).collect::<String>(),
                answered_id.chars().take(40).collect::<String>(),
                answered_id.len(),
                answer
                    .header("x-amzn-requestid")
                    .map(|id| id.chars().take(40).collect::<String>()),
                line.as_ref().map(String::len),
            );
            if !is_the_item(answer) {
                problems.push(format!(
                    "{label}: {} {:?} instead of 200 and the item",
                    answer.status,
                    answer.body.chars().take(200).collect::<String>()
                ));
            }
            if answered_id == sent.as_str() || !is_uuid(answered_id) {
                problems.push(format!(
                    "{label}: answered x-request-id {:?} is not a fresh id",
                    answered_id.chars().take(80).collect::<String>()
                ));
            }
            if answer.header("x-amzn-requestid") != Some(answered_id) {
                problems.push(format!(
                    "{label}: x-amzn-RequestId differs from x-request-id"
                ));
            }
            match &line {
                None => problems.push(format!("{label}: no access-log line for the fresh id")),
                Some(line) if line.len() >= LOG_LINE_MAX => {
                    problems.push(format!("{label}: a {}-byte access-log line", line.len()))
                }
                Some(_) => {}
            }
        }
        let (gateway_log, service_log) = (gateway.log_text(), service.log_text());
        for (label, sent) in &bad_ids {
            if mentions(&gateway_log, sent) {
                problems.push(format!("{label}: the received id is in the gateway's log"));
            }
            if mentions(&service_log, sent) {
                problems.push(format!(
                    "{label}: the received id reached the service's log"
                ));
            }
        }
        let longest = gateway_log.lines().map(str::len).max().unwrap_or(0);
        eprintln!("longest gateway log line: {longest} bytes");
        if longest >= LOG_LINE_MAX {
            problems.push(format!("a {longest}-byte line in the gateway's log"));
        }

        assert!(problems.is_empty(), "{problems:#?}");
        assert!(
            innocent_failures.is_empty(),
            "{} of {} innocent GETs failed while the bad ids were sent: {innocent_failures:?}",
            innocent_failures.len(),
            innocent_answers.len()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_128_byte_visible_request_id_is_echoed_and_reaches_the_service_log() {
    bounded(async {
        let (service, gateway) = stack().await;
        let id = visible_id("abuse-128-", ID_MAX);
        let answer = get_item(&gateway.url("http"), &[format!("x-request-id: {id}")])
            .await
            .expect("curl");
        eprintln!(
            "a {}-byte id: {} {:?}, x-request-id echoed: {}",
            id.len(),
            answer.status,
            answer.body,
            answer.header("x-request-id") == Some(id.as_str())
        );
        assert!(is_the_item(&answer), "{answer:?}");
        assert_eq!(answer.header("x-request-id"), Some(id.as_str()), "echoed");
        assert_eq!(answer.header("x-amzn-requestid"), Some(id.as_str()));
        assert!(
            access_line(&gateway, &id).await.is_some(),
            "the access log carries the id:\n{}",
            gateway.log_text()
        );
        let reached = eventually(LOG_WAIT, Duration::from_millis(20), || async {
            service.log_lines().iter().any(|line| {
                serde_json::from_str::<Value>(line).is_ok_and(|json| {
                    json["message"] == "rpc finished" && json["span"]["request_id"] == id.as_str()
                })
            })
        })
        .await;
        assert!(
            reached.is_some(),
            "the service's log carries the id:\n{}",
            service.log_text()
        );
    })
    .await;
}
