//! TLS for the gateway, rustls only: serving HTTPS to clients, and reaching
//! an `https://` music-service (trusting a given CA, presenting a client
//! certificate for mTLS).

use std::{path::Path, sync::Arc};

use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{self, ServerConfig},
};
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM {what}")]
    Pem { path: String, what: &'static str },
    #[error("the certificate and key do not make a TLS server configuration: {0}")]
    Config(#[from] rustls::Error),
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Reads PEM certificates, refusing a file with none or with a broken one.
fn read_certificates(path: &Path) -> Result<Vec<u8>, TlsError> {
    let pem = read(path)?;
    let certificates: Result<Vec<CertificateDer<'_>>, _> =
        CertificateDer::pem_slice_iter(&pem).collect();
    match certificates {
        Ok(certificates) if !certificates.is_empty() => Ok(pem),
        _ => Err(TlsError::Pem {
            path: path.display().to_string(),
            what: "certificate",
        }),
    }
}

/// Reads a PEM private key, refusing a file without a valid one.
fn read_private_key(path: &Path) -> Result<Vec<u8>, TlsError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| TlsError::Pem {
        path: path.display().to_string(),
        what: "private key",
    })?;
    Ok(pem)
}

/// An HTTPS acceptor from a PEM certificate chain and private key (ALPN h2 and HTTP/1.1).
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let pem_error = |path: &Path, what| TlsError::Pem {
        path: path.display().to_string(),
        what,
    };
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&read_certificates(cert)?)
            .collect::<Result<_, _>>()
            .map_err(|_| pem_error(cert, "certificate"))?;
    if chain.is_empty() {
        return Err(pem_error(cert, "certificate"));
    }
    let key_der =
        PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|_| pem_error(key, "private key"))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)?;
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
        config = config.ca_certificate(Certificate::from_pem(read_certificates(ca)?));
    }
    if let Some((cert, key)) = identity {
        config = config.identity(Identity::from_pem(
            read_certificates(cert)?,
            read_private_key(key)?,
        ));
    }
    if let Some(domain) = domain {
        config = config.domain_name(domain);
    }
    Ok(config)
}
