//! Answers lost on the way back: the store proxy forwards a PutItem, the store
//! writes the item, and the connection is closed instead of answering.
//!
//! - One answer lost: the service retries (a put of the same item is safe to
//!   repeat) and the caller gets its OK; the item is in the store.
//! - Every answer lost: after `--dynamodb-max-attempts` the caller gets a
//!   failure (UNAVAILABLE, 503 through the gateway), never an OK; the item is
//!   nevertheless in the store: the unknown outcome a failed write means.

use music_service::embedded::EmbeddedStore;
use tonic::Code;

use crate::table::scan;
use music_testkit::{
    Program, curl,
    grpc::{create_table, items, put_request},
    store_proxy::{Fate, Fault, StoreProxy},
};

const TABLE: &str = "LostAnswers";
const ARTIST: &str = "Lost Answers";

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_answer_is_retried_to_an_ok_and_answers_always_lost_are_a_failure_never_an_ok() {
    let store = EmbeddedStore::start(None).await.expect("embedded store");
    let proxy = StoreProxy::start(&store.endpoint()).await;
    let service = Program::service_on(&proxy.url(), &["--dynamodb-max-attempts", "3"]).await;
    let gateway = Program::gateway(&service.url("grpc"), &[], &[]).await;
    create_table(service.addr("grpc"), TABLE).await;
    let mut client = items(service.addr("grpc")).await;

    // One answer lost: retried, OK.
    proxy.set_fault(Fault::drop_answer().on("PutItem").times(1));
    client
        .put_item(put_request(TABLE, ARTIST, "Retried", "Once Lost"))
        .await
        .expect("a lost answer is retried");
    let (dropped, forwarded) = (
        proxy.count("PutItem", Fate::AnswerDropped),
        proxy.count("PutItem", Fate::Forwarded),
    );
    eprintln!(
        "fault: the next PutItem answer dropped: OK after {} store requests ({dropped} answer lost)",
        dropped + forwarded
    );
    assert_eq!((dropped, forwarded), (1, 1));

    // Every answer lost: a failure, though the store did the write.
    proxy.set_fault(Fault::drop_answer().on("PutItem"));
    let status = client
        .put_item(put_request(TABLE, ARTIST, "gRPC Unknown", "Always Lost"))
        .await
        .expect_err("no answer ever comes back");
    let grpc_attempts = proxy.count("PutItem", Fate::AnswerDropped) - dropped;
    let answer = curl(&[
        "-X",
        "PUT",
        &format!(
            "{}/Test/DemoResourceMusic/DemoResourceMusicItem",
            gateway.url("http")
        ),
        "-H",
        &format!("table: {TABLE}"),
        "-H",
        &format!("artist: {ARTIST}"),
        "-H",
        "songtitle: HTTP Unknown",
        "-H",
        "albumtitle: Always Lost",
    ])
    .await;
    let http_attempts = proxy.count("PutItem", Fate::AnswerDropped) - dropped - grpc_attempts;
    proxy.clear_fault();

    let songs = scan(&store.endpoint(), TABLE).await;
    let stored = |title: &str| songs.contains_key(&(ARTIST.to_owned(), title.to_owned()));
    eprintln!(
        "fault: every PutItem answer dropped: gRPC {:?} {:?} after {grpc_attempts} attempts; gateway {} {} after {http_attempts} attempts",
        status.code(),
        status.message(),
        answer.status,
        answer.body
    );
    eprintln!(
        "in the store: retried write {}, gRPC failed write {}, HTTP failed write {} (failed writes present = unknown outcome)",
        stored("Retried"),
        stored("gRPC Unknown"),
        stored("HTTP Unknown")
    );
    assert!(stored("Retried"), "the acknowledged write is in the store");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!((grpc_attempts, http_attempts), (3, 3));
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert!(
        answer.body.starts_with('"'),
        "a JSON string: {}",
        answer.body
    );
}
