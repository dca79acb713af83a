//! `--worker-threads`: each program's runtime has as many workers as the flag
//! (or its environment variable) asks, says so in its start-up log line, and
//! serves with them; without it, tokio's default (one per core, or
//! `TOKIO_WORKER_THREADS`), which the flag overrides; a count that
//! is not a whole number from 1 to 1024 is refused before anything starts,
//! naming the flag.

use std::time::Duration;

use music_testkit::{Curl, Program};

const TABLE_PATH: &str = "/Test/DemoResourceMusic/DemoResourceMusicTable";
const ITEM_PATH: &str = "/Test/DemoResourceMusic/DemoResourceMusicItem";

/// The `workers` field of the program's "runtime started" line.
fn logged_workers(program: &Program) -> usize {
    let log = program.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("runtime started"))
        .unwrap_or_else(|| panic!("a \"runtime started\" line in:\n{log}"));
    let (_, after) = line
        .split_once("workers=")
        .unwrap_or_else(|| panic!("workers=N in {line:?}"));
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("a number after workers= in {line:?}"))
}

/// What the runtime has without the flag: the workers of tokio's default
/// runtime, built in this process (the same environment and CPUs as the
/// programs'), on a thread of its own so that it can be dropped there.
fn default_workers() -> usize {
    std::thread::spawn(|| {
        tokio::runtime::Builder::new_multi_thread()
            .build()
            .expect("tokio's default runtime starts")
            .metrics()
            .num_workers()
    })
    .join()
    .expect("the default runtime's thread")
}

/// The tutorial's create-table, put and get through `base`: the song comes back.
async fn tutorial_round_trip(base: &str) {
    Curl::request("PUT", format!("{base}{TABLE_PATH}"))
        .header("table: Music")
        .send()
        .await
        .assert_json(200, r#""Table created""#);
    Curl::request("PUT", format!("{base}{ITEM_PATH}"))
        .header("table: Music")
        .header("artist: No One You Know")
        .header("albumtitle: Somewhat Famous")
        .header("songtitle: Call Me Today")
        .send()
        .await
        .assert_json(200, r#""Item added""#);
    let got = Curl::request("GET", format!("{base}{ITEM_PATH}"))
        .header("table: Music")
        .header("artist: No One You Know")
        .header("songtitle: Call Me Today")
        .send()
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert!(got.body.contains("Somewhat Famous"), "{}", got.body);
}

#[tokio::test]
async fn one_worker_each_serves_the_two_process_stack() {
    let service = Program::service(&["--in-memory", "--worker-threads", "1"]).await;
    assert_eq!(logged_workers(&service), 1);
    // The environment variable does the same for the gateway.
    let gateway = Program::gateway(
        &service.url("grpc"),
        &[],
        &[("MUSIC_GATEWAY_WORKER_THREADS", "1")],
    )
    .await;
    assert_eq!(logged_workers(&gateway), 1);
    tutorial_round_trip(&gateway.url("http")).await;
}

#[tokio::test]
async fn the_in_process_gateway_runs_on_the_workers_asked_for() {
    let gateway = Program::in_process_gateway(&["--worker-threads", "3"]).await;
    assert_eq!(logged_workers(&gateway), 3);
    tutorial_round_trip(&gateway.url("http")).await;
}

#[tokio::test]
async fn without_the_flag_there_is_tokios_default_and_the_flag_wins_over_it() {
    let service = Program::service(&["--in-memory"]).await;
    assert_eq!(logged_workers(&service), default_workers());
    // tokio's own variable is that default; the flag is set over it.
    let service = Program::service_at(
        "127.0.0.1:0",
        &["--in-memory"],
        &[("TOKIO_WORKER_THREADS", "3")],
    )
    .await;
    assert_eq!(logged_workers(&service), 3);
    let service = Program::service_at(
        "127.0.0.1:0",
        &["--in-memory", "--worker-threads", "1"],
        &[("TOKIO_WORKER_THREADS", "3")],
    )
    .await;
    assert_eq!(logged_workers(&service), 1);
}

#[tokio::test]
async fn a_count_out_of_range_or_not_a_number_is_refused_naming_the_flag() {
    for program in ["music-service", "music-gateway"] {
        for (bad, says) in [
            ("0", "0 is not in 1..=1024"),
            ("1025", "1025 is not in 1..=1024"),
            ("-1", "-1 is not in 1..=1024"),
            ("two", "invalid digit"),
            ("", "cannot parse integer from empty string"),
        ] {
            let exit = Program::builder(program)
                .arg(format!("--worker-threads={bad}"))
                .run_to_exit(Duration::from_secs(20))
                .await;
            assert_eq!(
                exit.code,
                Some(2),
                "{program} --worker-threads {bad:?}: {}",
                exit.stderr
            );
            assert!(
                exit.stderr.contains("--worker-threads") && exit.stderr.contains(says),
                "{program} --worker-threads={bad} names the flag and says {says:?}:\n{}",
                exit.stderr
            );
        }
    }
    // The environment variables are held to the same range.
    for (program, variable) in [
        ("music-service", "MUSIC_SERVICE_WORKER_THREADS"),
        ("music-gateway", "MUSIC_GATEWAY_WORKER_THREADS"),
    ] {
        let exit = Program::builder(program)
            .env(variable, "0")
            .run_to_exit(Duration::from_secs(20))
            .await;
        assert_eq!(exit.code, Some(2), "{variable}=0: {}", exit.stderr);
        assert!(
            exit.stderr.contains("--worker-threads")
                && exit.stderr.contains("0 is not in 1..=1024"),
            "{variable}=0: {}",
            exit.stderr
        );
    }
}
