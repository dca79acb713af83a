//! The service's TLS settings read into a tonic `ServerTlsConfig`, every PEM
//! file checked at start (music-runtime's `pem`) so that a bad one is refused
//! with its name, not later as tonic's bare "transport error".

use std::path::Path;

use music_runtime::pem::{self, PemError};
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

/// A server identity, and a client CA when client certificates are required (mTLS).
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<ServerTlsConfig, PemError> {
    let identity = Identity::from_pem(pem::certificates(cert)?.pem, pem::private_key(key)?.pem);
    let mut config = ServerTlsConfig::new().identity(identity);
    if let Some(ca) = client_ca {
        config = config.client_ca_root(Certificate::from_pem(pem::certificates(ca)?.pem));
    }
    Ok(config)
}
