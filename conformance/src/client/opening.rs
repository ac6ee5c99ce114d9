//! The server side of a c2s stream's opening (RFC 6120), sans I/O: stream headers,
//! STARTTLS offered but not required, SASL (PLAIN and SCRAM-SHA-1, the mechanisms of
//! the `sasl` crate) and resource binding. Events from pass-core's framer in, [`Step`]s
//! out — the shape of `pass_core::component`'s handshakes (DESIGN decision 110).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use pass_core::ns;
use pass_core::xml::{Element, StreamEvent, StreamHeader};
use sasl::common::scram::Sha1;
use sasl::common::{ChannelBinding, Identity};
use sasl::secret;
use sasl::server::mechanisms::{Plain, Scram};
use sasl::server::{Mechanism, Provider, ProviderError, Response, Validator, ValidatorError};
use std::fmt;

/// RFC 6120 STARTTLS.
pub const NS_TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
/// RFC 6120 SASL.
pub const NS_SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
/// RFC 6120 resource binding.
pub const NS_BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";

/// What the I/O layer does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Write this text.
    Send(String),
    /// `<proceed/>` was sent: do the TLS handshake, then read a new stream.
    StartTls,
    /// A new stream starts (after SASL success): a fresh framer.
    Restart,
    /// Resource bound: the session is open for stanzas, as this full JID.
    Bound(String),
}

/// Why the opening failed (the stream is closed).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpeningError {
    /// Something came that has no place here.
    Unexpected(String),
    /// The peer ended the stream.
    Ended,
}

impl fmt::Display for OpeningError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpeningError::Unexpected(what) => {
                write!(f, "unexpected during the c2s opening: {what}")
            }
            OpeningError::Ended => f.write_str("the client ended the stream during its opening"),
        }
    }
}

impl std::error::Error for OpeningError {}

/// The accounts: any user name of the domain, one password for all (the runner gives
/// each case its own user name).
#[derive(Clone, Debug)]
pub struct Accounts {
    password: String,
    /// SCRAM-SHA-1's stored secret, derived once.
    scram: secret::Pbkdf2Sha1,
}

impl Accounts {
    /// Accounts whose password is `password`.
    pub fn new(password: &str) -> Accounts {
        // A fixed salt is fine for a test server; 4096 is RFC 5802's minimum.
        let scram = secret::Pbkdf2Sha1::derive(password, b"pass-conformance", 4096).unwrap_or(
            secret::Pbkdf2Sha1 {
                salt: Vec::new(),
                iterations: 4096,
                digest: Vec::new(),
            },
        );
        Accounts {
            password: password.to_string(),
            scram,
        }
    }
}

impl Validator<secret::Plain> for Accounts {
    fn validate(&self, _: &Identity, value: &secret::Plain) -> Result<(), ValidatorError> {
        if value.0 == self.password {
            Ok(())
        } else {
            Err(ValidatorError::AuthenticationFailed)
        }
    }
}

impl Provider<secret::Pbkdf2Sha1> for Accounts {
    fn provide(&self, _: &Identity) -> Result<secret::Pbkdf2Sha1, ProviderError> {
        Ok(self.scram.clone())
    }
}

sasl::impl_validator_using_provider!(Accounts, secret::Pbkdf2Sha1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for a stream header.
    Header,
    /// Features sent; waiting for `<starttls/>`, `<auth/>` or (authenticated) a bind.
    Features,
    /// A SASL exchange is under way.
    Sasl,
    /// Bound.
    Open,
}

/// One client connection's opening.
pub struct Opening {
    domain: String,
    accounts: Accounts,
    /// TLS is possible (a server configuration exists) and not yet done.
    tls_offered: bool,
    phase: Phase,
    user: Option<String>,
    mechanism: Option<Box<dyn Mechanism + Send>>,
    streams: u32,
}

impl Opening {
    /// An opening for `domain`'s accounts; `tls` when STARTTLS can be offered.
    pub fn new(domain: &str, accounts: Accounts, tls: bool) -> Opening {
        Opening {
            domain: domain.to_string(),
            accounts,
            tls_offered: tls,
            phase: Phase::Header,
            user: None,
            mechanism: None,
            streams: 0,
        }
    }

    /// Whether resource binding is done.
    pub fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// Feeds one framer event.
    pub fn handle(&mut self, ev: StreamEvent) -> Result<Vec<Step>, OpeningError> {
        match (self.phase, ev) {
            (_, StreamEvent::End) => Err(OpeningError::Ended),
            (_, StreamEvent::StreamError(e)) => Err(OpeningError::Unexpected(e.to_xml())),
            (Phase::Header, StreamEvent::Header(_)) => Ok(vec![Step::Send(self.open_stream())]),
            (Phase::Header, StreamEvent::Stanza(e)) => Err(OpeningError::Unexpected(format!(
                "{} before a stream header",
                e.to_xml()
            ))),
            (_, StreamEvent::Header(_)) => {
                Err(OpeningError::Unexpected("a second stream header".into()))
            }
            (Phase::Features, StreamEvent::Stanza(e)) => self.on_features(e),
            (Phase::Sasl, StreamEvent::Stanza(e)) => self.on_sasl(e),
            (Phase::Open, StreamEvent::Stanza(e)) => Err(OpeningError::Unexpected(format!(
                "{} after the opening (the session handles stanzas)",
                e.to_xml()
            ))),
        }
    }

    /// Our header and the features of this point of the opening.
    fn open_stream(&mut self) -> String {
        self.streams += 1;
        self.phase = Phase::Features;
        let mut header = StreamHeader::new(ns::CLIENT);
        header.from = Some(self.domain.clone());
        header.id = Some(format!(
            "c2s-{}-{:08x}",
            self.streams,
            rand::random::<u32>()
        ));
        header.attributes.push(pass_core::xml::Attribute {
            name: "version".into(),
            namespace: String::new(),
            value: "1.0".into(),
        });
        let mut features = Element::new("features", ns::STREAM);
        if self.user.is_some() {
            features = features.with_child(Element::new("bind", NS_BIND));
        } else {
            if self.tls_offered {
                features = features.with_child(Element::new("starttls", NS_TLS));
            }
            let mut mechs = Element::new("mechanisms", NS_SASL);
            for m in ["SCRAM-SHA-1", "PLAIN"] {
                mechs = mechs.with_child(Element::new("mechanism", NS_SASL).with_text(m));
            }
            features = features.with_child(mechs);
        }
        let mut out = header.to_open_tag();
        // pass-core's writer declares a namespace rather than use the header's
        // `stream:` prefix; features are the one element that needs the prefix.
        out.push_str(
            &features
                .to_xml()
                .replacen(
                    &format!("<features xmlns='{}'", ns::STREAM),
                    "<stream:features",
                    1,
                )
                .replace("</features>", "</stream:features>"),
        );
        out
    }

    fn on_features(&mut self, e: Element) -> Result<Vec<Step>, OpeningError> {
        if self.user.is_none() && self.tls_offered && e.is("starttls", NS_TLS) {
            self.tls_offered = false;
            self.phase = Phase::Header;
            return Ok(vec![
                Step::Send(format!("<proceed xmlns='{NS_TLS}'/>")),
                Step::StartTls,
            ]);
        }
        if self.user.is_none() && e.is("auth", NS_SASL) {
            let name = e.attr("mechanism").unwrap_or("");
            let mech: Box<dyn Mechanism + Send> = match name {
                "PLAIN" => Box::new(Plain::new(self.accounts.clone())),
                "SCRAM-SHA-1" => {
                    let first = decode(&e.text()).unwrap_or_default();
                    // The crate's server takes a gs2 'n' (no binding) only from a
                    // binding it "supports"; empty tls-unique data makes the bound
                    // data exactly the header the client sent, as RFC 5802 says.
                    let binding = if first.first() == Some(&b'n') {
                        ChannelBinding::TlsUnique(Vec::new())
                    } else {
                        ChannelBinding::None
                    };
                    Box::new(Scram::<Sha1, _>::new(self.accounts.clone(), binding))
                }
                _ => {
                    return Ok(vec![Step::Send(failure("invalid-mechanism"))]);
                }
            };
            self.mechanism = Some(mech);
            self.phase = Phase::Sasl;
            return self.sasl_step(&e.text());
        }
        if self.user.is_some() && e.name == "iq" && e.attr("type") == Some("set") {
            if let Some(bind) = e.get_child("bind", NS_BIND) {
                let id = e.attr("id").unwrap_or("");
                let resource = bind
                    .get_child("resource", NS_BIND)
                    .map(|r| r.text())
                    .filter(|r| !r.trim().is_empty())
                    .unwrap_or_else(|| format!("r{:08x}", rand::random::<u32>()));
                let user = self.user.clone().unwrap_or_default();
                let jid = format!("{user}@{}/{resource}", self.domain);
                let result = Element::new("iq", ns::CLIENT)
                    .with_attr("type", "result")
                    .with_attr("id", id)
                    .with_child(
                        Element::new("bind", NS_BIND)
                            .with_child(Element::new("jid", NS_BIND).with_text(&jid)),
                    );
                let mut out = String::new();
                result.write_in(&mut out, ns::CLIENT);
                self.phase = Phase::Open;
                return Ok(vec![Step::Send(out), Step::Bound(jid)]);
            }
        }
        Err(OpeningError::Unexpected(e.to_xml()))
    }

    fn on_sasl(&mut self, e: Element) -> Result<Vec<Step>, OpeningError> {
        if e.is("response", NS_SASL) {
            return self.sasl_step(&e.text());
        }
        if e.is("abort", NS_SASL) {
            self.mechanism = None;
            self.phase = Phase::Features;
            return Ok(vec![Step::Send(failure("aborted"))]);
        }
        Err(OpeningError::Unexpected(e.to_xml()))
    }

    fn sasl_step(&mut self, text: &str) -> Result<Vec<Step>, OpeningError> {
        let Some(payload) = decode(text) else {
            self.phase = Phase::Features;
            return Ok(vec![Step::Send(failure("incorrect-encoding"))]);
        };
        let Some(mech) = self.mechanism.as_mut() else {
            return Err(OpeningError::Unexpected(
                "a SASL response without <auth/>".into(),
            ));
        };
        match mech.respond(&payload) {
            Ok(Response::Proceed(data)) => Ok(vec![Step::Send(format!(
                "<challenge xmlns='{NS_SASL}'>{}</challenge>",
                B64.encode(data)
            ))]),
            Ok(Response::Success(identity, data)) => {
                let user = match identity {
                    Identity::Username(u) => u,
                    Identity::None => String::from("anonymous"),
                };
                self.user = Some(user);
                self.mechanism = None;
                self.phase = Phase::Header;
                let body = if data.is_empty() {
                    String::new()
                } else {
                    B64.encode(data)
                };
                Ok(vec![
                    Step::Send(format!("<success xmlns='{NS_SASL}'>{body}</success>")),
                    Step::Restart,
                ])
            }
            Err(_) => {
                self.mechanism = None;
                self.phase = Phase::Features;
                Ok(vec![Step::Send(failure("not-authorized"))])
            }
        }
    }
}

/// `<failure/>` with an RFC 6120 SASL condition.
fn failure(condition: &str) -> String {
    format!("<failure xmlns='{NS_SASL}'><{condition}/></failure>")
}

/// SASL's base64 (`=` alone is the empty payload).
fn decode(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    if t.is_empty() || t == "=" {
        return Some(Vec::new());
    }
    B64.decode(t).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pass_core::xml::{Limits, StreamFramer};

    const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
        xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";

    /// Feeds `text` as one chunk; every step the opening took.
    fn feed(o: &mut Opening, f: &mut StreamFramer, text: &str) -> Vec<Step> {
        f.feed(text.as_bytes());
        let mut steps = Vec::new();
        while let Some(ev) = f.next_event() {
            steps.extend(o.handle(ev.expect("well-formed")).expect("accepted"));
        }
        steps
    }

    fn sent(steps: &[Step]) -> String {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Send(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    fn plain(user: &str, password: &str) -> String {
        let body = B64.encode(format!("\0{user}\0{password}"));
        format!("<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{body}</auth>")
    }

    #[test]
    fn starttls_is_offered_then_plain_login_and_binding_open_the_session() {
        let mut o = Opening::new("localhost", Accounts::new("pw"), true);
        let mut f = StreamFramer::new(Limits::default());
        let first = sent(&feed(&mut o, &mut f, HEADER));
        assert!(first.contains("<stream:features>"), "{first}");
        assert!(first.contains(NS_TLS) && first.contains("<mechanism>PLAIN</mechanism>"));
        // STARTTLS is not required: a login in clear text goes on.
        let steps = feed(&mut o, &mut f, &plain("alice", "pw"));
        assert!(sent(&steps).contains("<success"), "{steps:?}");
        assert_eq!(steps.last(), Some(&Step::Restart));
        let mut f = StreamFramer::new(Limits::default());
        let second = sent(&feed(&mut o, &mut f, HEADER));
        assert!(
            second.contains(NS_BIND) && !second.contains(NS_TLS),
            "{second}"
        );
        let bind = format!(
            "<iq type='set' id='b1'><bind xmlns='{NS_BIND}'><resource>r1</resource></bind></iq>"
        );
        let steps = feed(&mut o, &mut f, &bind);
        assert_eq!(
            steps.last(),
            Some(&Step::Bound("alice@localhost/r1".into()))
        );
        assert!(sent(&steps).contains("<jid>alice@localhost/r1</jid>"));
        assert!(o.is_open());
    }

    #[test]
    fn a_wrong_password_fails_and_may_be_retried() {
        let mut o = Opening::new("localhost", Accounts::new("pw"), false);
        let mut f = StreamFramer::new(Limits::default());
        let first = sent(&feed(&mut o, &mut f, HEADER));
        assert!(!first.contains(NS_TLS), "no TLS configured: {first}");
        let steps = feed(&mut o, &mut f, &plain("alice", "nope"));
        assert!(sent(&steps).contains("<not-authorized/>"), "{steps:?}");
        let steps = feed(&mut o, &mut f, &plain("alice", "pw"));
        assert_eq!(steps.last(), Some(&Step::Restart));
    }

    #[test]
    fn starttls_asks_for_the_handshake_and_a_new_stream() {
        let mut o = Opening::new("localhost", Accounts::new("pw"), true);
        let mut f = StreamFramer::new(Limits::default());
        feed(&mut o, &mut f, HEADER);
        let steps = feed(&mut o, &mut f, &format!("<starttls xmlns='{NS_TLS}'/>"));
        assert!(sent(&steps).contains("<proceed"));
        assert_eq!(steps.last(), Some(&Step::StartTls));
        let mut f = StreamFramer::new(Limits::default());
        let again = sent(&feed(&mut o, &mut f, HEADER));
        assert!(!again.contains(NS_TLS), "offered once: {again}");
    }

    #[test]
    fn a_stanza_before_login_ends_the_opening() {
        let mut o = Opening::new("localhost", Accounts::new("pw"), true);
        let mut f = StreamFramer::new(Limits::default());
        feed(&mut o, &mut f, HEADER);
        f.feed(b"<iq type='get' id='x'><query xmlns='jabber:iq:roster'/></iq>");
        let ev = f.next_event().expect("an event").expect("well-formed");
        assert!(matches!(o.handle(ev), Err(OpeningError::Unexpected(_))));
    }
}
