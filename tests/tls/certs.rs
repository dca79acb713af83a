//! Certificates made at run time with rcgen, written as PEM files into a
//! temporary directory: a CA, a server certificate for `localhost` and
//! 127.0.0.1 and a client certificate it signed, and an unrelated CA with a
//! client certificate of its own (the wrong client).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A certificate and its private key, as PEM files.
#[derive(Debug)]
pub(crate) struct Pair {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

impl Pair {
    pub(crate) fn cert_pem(&self) -> String {
        std::fs::read_to_string(&self.cert).expect("certificate PEM")
    }

    pub(crate) fn key_pem(&self) -> String {
        std::fs::read_to_string(&self.key).expect("key PEM")
    }
}

/// Everything the tests need, in one temporary directory.
#[derive(Debug)]
pub(crate) struct Pki {
    pub(crate) dir: tempfile::TempDir,
    /// The CA that signs the server and the right client.
    pub(crate) ca: PathBuf,
    /// `localhost` and 127.0.0.1, signed by `ca`.
    pub(crate) server: Pair,
    /// A client certificate signed by `ca`.
    pub(crate) client: Pair,
    /// An unrelated CA.
    pub(crate) other_ca: PathBuf,
    /// A client certificate signed by `other_ca`.
    pub(crate) other_client: Pair,
}

impl Pki {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (ca, ca_issuer) = authority(dir.path(), "ca", "music-api test CA");
        let server = leaf(
            dir.path(),
            "server",
            "localhost",
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
            &ca_issuer,
        );
        let client = leaf(
            dir.path(),
            "client",
            "music-gateway",
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
            &ca_issuer,
        );
        let (other_ca, other_issuer) = authority(dir.path(), "other-ca", "an unrelated CA");
        let other_client = leaf(
            dir.path(),
            "other-client",
            "music-gateway",
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
            &other_issuer,
        );
        Self {
            dir,
            ca,
            server,
            client,
            other_ca,
            other_client,
        }
    }

    /// A file in the PKI's directory with `contents` (for bad configurations).
    pub(crate) fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write a test file");
        path
    }
}

fn write(dir: &Path, name: &str, pem: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pem).expect("write PEM");
    path
}

/// A self-signed CA: its certificate file and an issuer to sign with.
fn authority(dir: &Path, name: &str, common_name: &str) -> (PathBuf, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().expect("a CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).expect("a self-signed CA");
    let path = write(dir, &format!("{name}.pem"), &cert.pem());
    (path, Issuer::new(params, key))
}

/// An end-entity certificate signed by `issuer`.
fn leaf(
    dir: &Path,
    name: &str,
    common_name: &str,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
    issuer: &Issuer<'_, KeyPair>,
) -> Pair {
    let key = KeyPair::generate().expect("a key");
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names).expect("certificate parameters");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    let cert = params
        .signed_by(&key, issuer)
        .expect("a signed certificate");
    Pair {
        cert: write(dir, &format!("{name}.pem"), &cert.pem()),
        key: write(dir, &format!("{name}-key.pem"), &key.serialize_pem()),
    }
}
