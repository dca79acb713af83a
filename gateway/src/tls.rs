//! TLS for the gateway, rustls only: serving HTTPS to clients, and reaching
//! an `https://` music-service (trusting a given CA, presenting a client
//! certificate for mTLS).

use std::{path::Path, sync::Arc};

use music_runtime::pem::{self, PemError};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{self, ServerConfig},
};
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(transparent)]
    Pem(#[from] PemError),
    #[error("the certificate and key do not make a TLS server configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// An HTTPS acceptor from a PEM certificate chain and private key (ALPN h2 and HTTP/1.1).
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let chain = pem::certificates(cert)?.parsed;
    let key = pem::private_key(key)?.parsed;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Client TLS towards music-service: the CA to trust (else the system's
/// roots are not used: a private CA is the norm inside a mesh), an optional
/// client identity for mTLS, and an optional name to verify.
pub fn client_config(
    ca: Option<&Path>,
    identity: Option<(&Path, &Path)>,
    domain: Option<&str>,
) -> Result<ClientTlsConfig, TlsError> {
    let mut config = ClientTlsConfig::new();
    if let Some(ca) = ca {
        config = config.ca_certificate(Certificate::from_pem(pem::certificates(ca)?.pem));
    }
    if let Some((cert, key)) = identity {
        config = config.identity(Identity::from_pem(
            pem::certificates(cert)?.pem,
            pem::private_key(key)?.pem,
        ));
    }
    if let Some(domain) = domain {
        config = config.domain_name(domain);
    }
    Ok(config)
}
