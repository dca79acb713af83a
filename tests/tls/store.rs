//! music-service on a DynamoDB endpoint reached over HTTPS, as real DynamoDB
//! is: the SDK's HTTPS client (hyper 1, rustls, aws-lc-rs; the workspace
//! builds no other) speaks TLS to the store, trusts the CAs of the system's
//! trust store (`SSL_CERT_FILE` names it here), and refuses a store whose
//! certificate no trusted CA signed. The store is the embedded one (plain
//! HTTP) behind a TLS relay this test runs, which counts the handshakes.

use std::{
    net::SocketAddr,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use music_service::embedded::EmbeddedStore;
use music_testkit::Program;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        ServerConfig,
        crypto::aws_lc_rs,
        pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    },
};

use crate::{
    certs::{Pair, Pki},
    support::{Client, create_table, path},
};

/// How long the service's warning for a failed call may take to reach its log.
const LOG_WITHIN: Duration = Duration::from_secs(5);

/// A TLS server on 127.0.0.1 that relays each connection, decrypted, to a
/// plain-HTTP store, and counts the handshakes begun and completed.
struct TlsRelay {
    addr: SocketAddr,
    begun: Arc<AtomicUsize>,
    completed: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsRelay {
    async fn start(identity: &Pair, store: SocketAddr) -> Self {
        let certs = CertificateDer::pem_file_iter(&identity.cert)
            .expect("server certificate file")
            .collect::<Result<Vec<_>, _>>()
            .expect("server certificate PEM");
        let key = PrivateKeyDer::from_pem_file(&identity.key).expect("server key PEM");
        let config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("a server certificate and its key");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let (begun, completed) = (Arc::default(), Arc::default());
        let task = tokio::spawn({
            let (begun, completed) = (Arc::clone(&begun), Arc::clone(&completed));
            async move {
                loop {
                    // An accept error (out of descriptors) loses that connection only;
                    // the pause keeps a lasting one from spinning.
                    let Ok((socket, _)) = listener.accept().await else {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    };
                    let (acceptor, begun, completed) =
                        (acceptor.clone(), Arc::clone(&begun), Arc::clone(&completed));
                    tokio::spawn(async move {
                        relay(socket, acceptor, store, &begun, &completed).await;
                    });
                }
            }
        });
        Self {
            addr,
            begun,
            completed,
            task,
        }
    }

    /// The endpoint the service is given: the name the certificate is for.
    fn endpoint(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    fn begun(&self) -> usize {
        self.begun.load(Ordering::SeqCst)
    }

    fn completed(&self) -> usize {
        self.completed.load(Ordering::SeqCst)
    }
}

impl Drop for TlsRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(
    socket: TcpStream,
    acceptor: TlsAcceptor,
    store: SocketAddr,
    begun: &AtomicUsize,
    completed: &AtomicUsize,
) {
    begun.fetch_add(1, Ordering::SeqCst);
    // A client that refuses the certificate ends the handshake: nothing to relay.
    let Ok(mut tls) = acceptor.accept(socket).await else {
        return;
    };
    completed.fetch_add(1, Ordering::SeqCst);
    // A store that is gone ends the connection; the service's call fails, as it would.
    let Ok(mut plain) = TcpStream::connect(store).await else {
        return;
    };
    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
}

/// music-service on the embedded store behind a TLS relay, trusting only
/// the CA `trusted` picks (its `SSL_CERT_FILE`), and what has to outlive it.
struct Rig {
    relay: TlsRelay,
    service: Program,
    _store: EmbeddedStore,
    _pki: Pki,
}

impl Rig {
    async fn trusting(trusted: fn(&Pki) -> &Path) -> Self {
        let pki = Pki::new();
        let store = EmbeddedStore::start(None).await.expect("embedded store");
        let relay = TlsRelay::start(&pki.server, store.addr()).await;
        let service = Program::service_at(
            "127.0.0.1:0",
            &[
                "--backend",
                "dynamodb",
                "--dynamodb-endpoint",
                &relay.endpoint(),
            ],
            &[("SSL_CERT_FILE", &path(trusted(&pki)))],
        )
        .await;
        Self {
            relay,
            service,
            _store: store,
            _pki: pki,
        }
    }

    /// One CreateTable of `Music` straight to the service.
    async fn create_table(&self) -> Result<String, String> {
        create_table(
            Client::Plaintext,
            "127.0.0.1",
            self.service.addr("grpc"),
            "Music",
        )
        .await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_reaches_a_store_over_https_when_it_trusts_its_ca() {
    let rig = Rig::trusting(|pki| &pki.ca).await;

    let created = rig.create_table().await;
    assert_eq!(
        created.as_deref(),
        Ok("Music"),
        "CreateTable through the HTTPS store; service log:\n{}",
        rig.service.log_text()
    );
    assert!(
        rig.relay.completed() >= 1,
        "the service's calls went through the TLS relay: {} handshakes begun, {} completed",
        rig.relay.begun(),
        rig.relay.completed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_refuses_a_store_whose_certificate_it_does_not_trust() {
    // The trust store holds an unrelated CA only.
    let rig = Rig::trusting(|pki| &pki.other_ca).await;
    let (relay, service) = (&rig.relay, &rig.service);

    // The health probe calls the store too: count only what this call began.
    let before = relay.begun();
    let refused = rig.create_table().await;
    let error = refused.expect_err("CreateTable on a store with an untrusted certificate");
    assert!(
        error.contains("Unavailable") && error.contains("DynamoDB could not be reached"),
        "an unreachable store is UNAVAILABLE to the caller, and says so: {error}"
    );
    assert!(
        relay.begun() > before && relay.completed() == 0,
        "the call began TLS handshakes ({} before it, {} after) and none completed ({})",
        before,
        relay.begun(),
        relay.completed()
    );
    let warned = service
        .line(LOG_WITHIN, |line| {
            line.contains("operation=CreateTable")
                && line.contains("TLS handshake failed: invalid peer certificate")
        })
        .await;
    assert!(
        warned.is_some(),
        "the service's warning for the call names the store's certificate as the cause:\n{}",
        service.log_text()
    );
}
