//! TLS towards an `https://` music-service: trusting a given CA, presenting
//! a client certificate for mTLS. (HTTPS to clients is music-runtime's `tls`.)

use std::path::Path;

use music_runtime::pem::{self, PemError};
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

/// Client TLS towards music-service: the CA to trust (else the system's
/// roots are not used: a private CA is the norm inside a mesh), an optional
/// client identity for mTLS, and an optional name to verify.
pub fn client_config(
    ca: Option<&Path>,
    identity: Option<(&Path, &Path)>,
    domain: Option<&str>,
) -> Result<ClientTlsConfig, PemError> {
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
