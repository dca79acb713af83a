//! TLS for the servers of both programs, rustls with aws-lc-rs (the provider
//! the AWS SDK already builds): an acceptor from PEM files, optionally
//! requiring client certificates signed by a given CA (mTLS). Every file is
//! read and checked at start ([`crate::pem`]), so a bad one stops the program
//! with its name.

use std::{path::Path, sync::Arc};

use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        self, RootCertStore, ServerConfig,
        server::{VerifierBuilderError, WebPkiClientVerifier},
    },
};

use crate::pem::{self, PemError};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(transparent)]
    Pem(#[from] PemError),
    #[error("the certificate and key do not make a TLS server configuration: {0}")]
    Config(#[from] rustls::Error),
    #[error("the client CA {path} cannot verify client certificates: {source}")]
    ClientCa {
        path: String,
        source: VerifierBuilderError,
    },
}

/// What a TLS listener offers in ALPN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alpn {
    /// `h2` and `http/1.1` (the gateway).
    Http2AndHttp1,
    /// `h2` only (gRPC).
    Http2,
}

/// An acceptor from a PEM certificate chain and private key; with
/// `client_ca`, every client must present a certificate that CA signed.
pub fn acceptor(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
    alpn: Alpn,
) -> Result<TlsAcceptor, TlsError> {
    let chain = pem::certificates(cert)?.parsed;
    let key = pem::private_key(key)?.parsed;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for certificate in pem::certificates(ca)?.parsed {
                roots.add(certificate)?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|source| TlsError::ClientCa {
                    path: ca.display().to_string(),
                    source,
                })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = match alpn {
        Alpn::Http2AndHttp1 => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        Alpn::Http2 => vec![b"h2".to_vec()],
    };
    Ok(TlsAcceptor::from(Arc::new(config)))
}
