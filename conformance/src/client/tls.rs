//! The c2s endpoint's certificate: a CA and a leaf for the domain, 127.0.0.1 and
//! localhost, generated at start (rcgen); the CA goes to a PEM file for `PASS_TLS_CA`.

use std::io::Write as _;
use std::sync::Arc;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;

/// The TLS side of the runner's XMPP server.
pub struct Tls {
    /// The rustls server configuration (the leaf and its key).
    pub config: Arc<ServerConfig>,
    /// The CA certificate, PEM, in a file that lives as long as this value.
    pub ca_file: tempfile::NamedTempFile,
}

/// Generates a CA and a leaf for `domain` (and 127.0.0.1, ::1, localhost).
pub fn generate(domain: &str) -> Result<Tls, String> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let err = |e: rcgen::Error| format!("cannot generate the runner's certificate: {e}");
    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "pass-conformance test CA");
    let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().map_err(err)?;
    let names = vec![
        domain.to_string(),
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let mut leaf_params = CertificateParams::new(names).map_err(err)?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, domain);
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).map_err(err)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone()];
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("TLS certificate: {e}"))?;
    let mut ca_file = tempfile::Builder::new()
        .prefix("pass-conformance-ca-")
        .suffix(".pem")
        .tempfile()
        .map_err(|e| format!("cannot create the CA file: {e}"))?;
    ca_file
        .write_all(ca_cert.pem().as_bytes())
        .and_then(|()| ca_file.flush())
        .map_err(|e| format!("cannot write the CA file: {e}"))?;
    Ok(Tls {
        config: Arc::new(config),
        ca_file,
    })
}
