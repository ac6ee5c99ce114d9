//! STARTTLS for the c2s link (docs/DESIGN.md decision 90): rustls, trusting the
//! Mozilla roots (webpki-roots), or only `--tls-ca`, or nothing (`--tls-insecure`).
//!
//! tokio-xmpp 6's own STARTTLS connector builds its trust store itself and offers no
//! way to give a private CA, so the connector here does the `<starttls/>` exchange
//! with tokio-xmpp's public stream pieces and the handshake with tokio-rustls.

use crate::exit::{self, Fatal};
use futures::{SinkExt as _, StreamExt as _};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sasl::common::ChannelBinding;
use std::borrow::Cow;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use tokio::io::BufStream;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{self, CryptoProvider};
use tokio_rustls::rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_rustls::TlsConnector;
use tokio_xmpp::connect::{ServerConnector, ServerConnectorError};
use tokio_xmpp::error::Error as XmppError;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::starttls;
use tokio_xmpp::xmlstream::{
    initiate_stream, PendingFeaturesRecv, ReadError, StreamHeader, Timeouts, XmppStreamElement,
};

/// rustls's client settings, as [`client_config`] makes them.
pub use tokio_rustls::rustls::ClientConfig;

/// The TLS settings from `--tls-ca` and `--tls-insecure`.
pub fn client_config(ca: Option<&Path>, insecure: bool) -> Result<Arc<ClientConfig>, Fatal> {
    let builder = ClientConfig::builder();
    let config = if insecure {
        tracing::warn!("--tls-insecure: the server's certificate is not checked");
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider())))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        match ca {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| {
                        Fatal::new(exit::SETUP, format!("--tls-ca {}: {e}", path.display()))
                    })?;
                if certs.is_empty() {
                    return Err(Fatal::new(
                        exit::SETUP,
                        format!("--tls-ca {}: no certificate in it", path.display()),
                    ));
                }
                for cert in certs {
                    roots.add(cert).map_err(|e| {
                        Fatal::new(exit::SETUP, format!("--tls-ca {}: {e}", path.display()))
                    })?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(crypto::ring::default_provider())
}

/// `--tls-insecure`: any certificate, but the handshake signatures are still checked.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, tokio_rustls::rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Why TLS could not be set up: never retried (exit 5).
#[derive(Debug)]
pub struct TlsFailure(pub String);

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsFailure {}
impl ServerConnectorError for TlsFailure {}

fn tls_failure(why: String) -> XmppError {
    XmppError::Connection(Box::new(TlsFailure(why)))
}

/// TCP to `server`, then STARTTLS with `config`.
#[derive(Clone, Debug)]
pub struct StartTls {
    /// Where the server is (`--server` or DNS SRV).
    pub server: crate::srv::Server,
    /// rustls settings.
    pub config: Arc<ClientConfig>,
}

impl ServerConnector for StartTls {
    type Stream = BufStream<TlsStream<TcpStream>>;

    async fn connect(
        &self,
        jid: &Jid,
        ns: &'static str,
        timeouts: Timeouts,
    ) -> Result<(PendingFeaturesRecv<Self::Stream>, ChannelBinding), XmppError> {
        let domain = jid.domain().as_str();
        let header = || StreamHeader {
            to: Some(Cow::Borrowed(domain)),
            from: None,
            id: None,
        };
        let (tcp, target) = self.server.connect().await?;
        let plain = initiate_stream(BufStream::new(tcp), ns, header(), timeouts).await?;
        let (features, mut stream) = plain
            .recv_features::<tokio_xmpp::xmlstream::FallibleStreamElement>()
            .await?;
        if !features.can_starttls() {
            return Err(tls_failure(format!("{target} does not offer STARTTLS")));
        }
        stream
            .send(&XmppStreamElement::Starttls(starttls::Nonza::Request(
                starttls::Request,
            )))
            .await?;
        loop {
            match stream
                .next()
                .await
                .map(|v| v.and_then(|v| v.into_read_error()))
            {
                Some(Ok(XmppStreamElement::Starttls(starttls::Nonza::Proceed(_)))) => break,
                Some(Ok(_)) | Some(Err(ReadError::SoftTimeout)) => {}
                Some(Err(ReadError::HardError(e))) => return Err(e.into()),
                Some(Err(ReadError::ParseError(e))) => {
                    return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e).into())
                }
                None | Some(Err(ReadError::StreamFooterReceived)) => {
                    return Err(tls_failure("the server refused STARTTLS".into()))
                }
            }
        }
        let tcp = stream.into_inner().into_inner();
        let name = ServerName::try_from(domain.to_owned())
            .map_err(|e| tls_failure(format!("{domain} as a TLS name: {e}")))?;
        let tls = TlsConnector::from(self.config.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| tls_failure(format!("TLS handshake with {target}: {e}")))?;
        let secure = initiate_stream(BufStream::new(tls), ns, header(), timeouts).await?;
        Ok((secure, ChannelBinding::None))
    }
}
