//! PEM files for TLS, read and checked at start so that a bad one is refused
//! with its name rather than later as tonic's or rustls' bare error. Both
//! programs load their certificates and keys through here.

use std::path::Path;

use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

#[derive(Debug, thiserror::Error)]
pub enum PemError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} holds no valid PEM {what}")]
    Invalid { path: String, what: &'static str },
}

/// A PEM file's text (what tonic takes) and what it holds, parsed (what rustls takes).
#[derive(Debug)]
pub struct Loaded<T> {
    pub pem: Vec<u8>,
    pub parsed: T,
}

fn read(path: &Path) -> Result<Vec<u8>, PemError> {
    std::fs::read(path).map_err(|source| PemError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn invalid(path: &Path, what: &'static str) -> PemError {
    PemError::Invalid {
        path: path.display().to_string(),
        what,
    }
}

/// One or more certificates; a file with none, or with a broken one, is refused.
pub fn certificates(path: &Path) -> Result<Loaded<Vec<CertificateDer<'static>>>, PemError> {
    let pem = read(path)?;
    let parsed: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|_| invalid(path, "certificate"))?;
    if parsed.is_empty() {
        return Err(invalid(path, "certificate"));
    }
    Ok(Loaded { pem, parsed })
}

/// A private key; a file without a valid one is refused.
pub fn private_key(path: &Path) -> Result<Loaded<PrivateKeyDer<'static>>, PemError> {
    let pem = read(path)?;
    let parsed = PrivateKeyDer::from_pem_slice(&pem).map_err(|_| invalid(path, "private key"))?;
    Ok(Loaded { pem, parsed })
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
            let error = certificates(path).unwrap_err().to_string();
            assert!(error.contains(&path.display().to_string()), "{error}");
            assert!(private_key(path).is_err());
        }
        let missing = dir.path().join("missing.pem");
        assert!(
            certificates(&missing)
                .unwrap_err()
                .to_string()
                .starts_with("cannot read")
        );
    }
}
