//! music-service over TLS and mTLS, called with tonic: plaintext refused,
//! clients without the right certificate refused, the right one served.

use crate::{
    certs::Pki,
    support::{Client, create_table, tls_service},
};

/// Asserts that a call failed, and shows how (`--nocapture`).
fn refused(call: Result<String, String>, served: &str) {
    match call {
        Ok(table) => panic!("{served}: created {table}"),
        Err(error) => eprintln!("refused as expected: {error}"),
    }
}

#[tokio::test]
async fn plaintext_is_refused_when_tls_is_on() {
    let pki = Pki::new();
    let service = tls_service(&pki, None).await;
    let grpc = service.addr("grpc");

    refused(
        create_table(Client::Plaintext, "127.0.0.1", grpc, "Music").await,
        "a plaintext client got an answer from the TLS service",
    );

    let trusting = Client::Tls {
        ca: &pki.ca,
        identity: None,
    };
    assert_eq!(
        create_table(trusting, "localhost", grpc, "Music")
            .await
            .as_deref(),
        Ok("Music"),
        "a TLS client trusting the CA is served; service log:\n{}",
        service.log_text()
    );
    // The certificate names 127.0.0.1 too.
    assert_eq!(
        create_table(trusting, "127.0.0.1", grpc, "Music2")
            .await
            .as_deref(),
        Ok("Music2")
    );

    // A client that does not trust the service's CA refuses the service.
    let distrusting = Client::Tls {
        ca: &pki.other_ca,
        identity: None,
    };
    refused(
        create_table(distrusting, "localhost", grpc, "Music3").await,
        "a client trusting another CA accepted the service",
    );
}

#[tokio::test]
async fn mtls_refuses_a_client_without_a_certificate() {
    let pki = Pki::new();
    let service = tls_service(&pki, Some(&pki.ca)).await;
    let grpc = service.addr("grpc");

    let anonymous = Client::Tls {
        ca: &pki.ca,
        identity: None,
    };
    refused(
        create_table(anonymous, "localhost", grpc, "Music").await,
        "a client without a certificate was served under mTLS",
    );
    refused(
        create_table(Client::Plaintext, "127.0.0.1", grpc, "Music").await,
        "plaintext was served",
    );

    // The service still serves the right client afterwards.
    let right = Client::Tls {
        ca: &pki.ca,
        identity: Some(&pki.client),
    };
    assert_eq!(
        create_table(right, "localhost", grpc, "Music")
            .await
            .as_deref(),
        Ok("Music")
    );
}

#[tokio::test]
async fn mtls_refuses_a_client_certificate_from_another_ca() {
    let pki = Pki::new();
    let service = tls_service(&pki, Some(&pki.ca)).await;
    let grpc = service.addr("grpc");

    let wrong = Client::Tls {
        ca: &pki.ca,
        identity: Some(&pki.other_client),
    };
    refused(
        create_table(wrong, "localhost", grpc, "Music").await,
        "a client certificate from another CA was accepted",
    );

    // Nor does the server's own certificate (signed by the CA, but for
    // server authentication only) pass as a client's.
    let server_as_client = Client::Tls {
        ca: &pki.ca,
        identity: Some(&pki.server),
    };
    refused(
        create_table(server_as_client, "localhost", grpc, "Music").await,
        "a server-only certificate was accepted as a client's",
    );
}

#[tokio::test]
async fn mtls_accepts_the_right_client_certificate() {
    let pki = Pki::new();
    let service = tls_service(&pki, Some(&pki.ca)).await;
    let grpc = service.addr("grpc");

    let right = Client::Tls {
        ca: &pki.ca,
        identity: Some(&pki.client),
    };
    assert_eq!(
        create_table(right, "localhost", grpc, "Music")
            .await
            .as_deref(),
        Ok("Music"),
        "service log:\n{}",
        service.log_text()
    );
    // A second call on a new connection: the table exists now (a gRPC
    // answer from the service, not a TLS failure).
    let again = create_table(right, "localhost", grpc, "Music").await;
    let error = again.expect_err("the table already exists");
    assert!(error.contains("AlreadyExists"), "{error}");
}
