//! The service's TLS settings read into a tonic `ServerTlsConfig`, with every
//! PEM file checked here so that a bad one is refused at start with its name,
//! not later as tonic's bare "transport error".

use std::path::Path;

use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} holds no valid PEM {what}")]
    Pem { path: String, what: &'static str },
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Reads PEM certificates, refusing a file with none or with a broken one.
pub fn read_certificates(path: &Path) -> Result<Vec<u8>, TlsError> {
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
pub fn read_private_key(path: &Path) -> Result<Vec<u8>, TlsError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| TlsError::Pem {
        path: path.display().to_string(),
        what: "private key",
    })?;
    Ok(pem)
}

/// A server identity, and a client CA when client certificates are required (mTLS).
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<ServerTlsConfig, TlsError> {
    let mut config = ServerTlsConfig::new().identity(Identity::from_pem(
        read_certificates(cert)?,
        read_private_key(key)?,
    ));
    if let Some(ca) = client_ca {
        config = config.client_ca_root(Certificate::from_pem(read_certificates(ca)?));
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_without_valid_pem_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no pem here").unwrap();
        for path in [&garbage, &empty] {
            let error = read_certificates(path).unwrap_err().to_string();
            assert!(error.contains(&path.display().to_string()), "{error}");
            assert!(read_private_key(path).is_err());
        }
        let missing = dir.path().join("missing.pem");
        assert!(
            read_certificates(&missing)
                .unwrap_err()
                .to_string()
                .starts_with("cannot read")
        );
    }
}
