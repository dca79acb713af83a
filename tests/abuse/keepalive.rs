//! An HTTP/2 peer that stops answering is disconnected by the service's
//! keep-alive pings (`--keepalive-interval`, `--keepalive-timeout`), even
//! with a request in flight: a raw-socket client sends one GetItem and then
//! never answers anything (no SETTINGS ACK, no PING ACK) while the store
//! takes 5 s; the server closes the connection well before that answer
//! could come, instead of holding the stream and its socket for a peer that
//! is gone.

use std::time::{Duration, Instant};

use music_service::embedded::EmbeddedStore;
use tokio::{io::AsyncWriteExt, net::TcpStream};

use crate::{
    gauge::bounded,
    wire::{
        DATA, END_HEADERS, END_STREAM, Ending, GET_ITEM, HEADERS, PREFACE, ending, frame,
        grpc_header_block, grpc_message, settings,
    },
};
use music_testkit::{
    Program,
    grpc::{create_table, get_request},
    store_proxy::StoreProxy,
};

/// What the store takes for every call once the request is sent.
const STORE_LATENCY: Duration = Duration::from_secs(5);
/// The service's ping interval and timeout.
const KEEPALIVE: Duration = Duration::from_millis(500);
/// The silent peer is disconnected within this of sending its request:
/// one interval and one timeout (1 s), plus slack, and well before the store
/// answers.
const DISCONNECTED_WITHIN: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread")]
async fn a_peer_that_does_not_answer_pings_is_disconnected_with_its_request_in_flight() {
    bounded(async {
        let store = EmbeddedStore::start(None).await.expect("embedded store");
        let proxy = StoreProxy::start(&store.endpoint()).await;
        let service = Program::service_on(
            &proxy.url(),
            &[
                "--keepalive-interval",
                "500ms",
                "--keepalive-timeout",
                "500ms",
            ],
        )
        .await;
        let grpc = service.addr("grpc");
        create_table(grpc, "Music").await;
        proxy.set_latency(STORE_LATENCY);

        let mut socket = TcpStream::connect(grpc)
            .await
            .expect("connect to the service");
        let since = Instant::now();
        let request = [
            PREFACE,
            &settings(),
            &frame(HEADERS, END_HEADERS, 1, &grpc_header_block(GET_ITEM)),
            &frame(
                DATA,
                END_STREAM,
                1,
                &grpc_message(&get_request("Music", "Keepalive", "Never Read")),
            ),
        ]
        .concat();
        socket
            .write_all(&request)
            .await
            .expect("the request is sent");
        // From here on the client writes nothing: its PING ACKs never come.
        // It reads only to see when the server closes the connection.
        let ending = ending(socket, since, STORE_LATENCY + Duration::from_secs(3)).await;
        eprintln!(
            "keep-alive every {KEEPALIVE:?}, timeout {KEEPALIVE:?}, store latency \
             {STORE_LATENCY:?}: a peer that never ACKs: {ending:?} after its request"
        );
        assert!(
            matches!(ending, Ending::Closed(after) if after < DISCONNECTED_WITHIN),
            "the silent peer is disconnected within {DISCONNECTED_WITHIN:?}: {ending:?}"
        );
    })
    .await;
}
