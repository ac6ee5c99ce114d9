//! The opening of a component stream (XEP-0114 §3), one machine per side. Each is
//! fed the framer's events until it reports the stream open (or why not); it never
//! reads past the server's `<handshake/>`, so stanzas behind it stay in the framer.

use super::{
    component_header, handshake, is_valid_handshake, server_header, StreamError,
    StreamErrorCondition, HANDSHAKE_ACCEPTED,
};
use crate::ns;
use crate::xml::{Element, StreamEvent};
use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;

/// What the opening waits for, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Awaiting {
    Header,
    Handshake,
    Nothing,
}

/// The component's side: send the header, answer the server's header with the
/// digest, wait for the server's `<handshake/>`.
#[derive(Clone, Debug)]
pub struct ComponentHandshake {
    secret: String,
    awaiting: Awaiting,
}

/// What the component does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ComponentStep {
    /// Write this (the `<handshake/>` with the digest) and keep feeding events.
    Send(String),
    /// A stanza before the server's answer, which XEP-0114 does not foresee: dropped.
    Ignored(Element),
    /// The server accepted the handshake: the stream is open.
    Accepted,
}

/// Why the server did not let the component in.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ComponentOpeningError {
    /// The server's stream header has no `id`, so no digest can be computed.
    NoStreamId,
    /// The server sent a stream error; `not-authorized` means a wrong secret or
    /// domain.
    Refused(StreamError),
    /// The server closed its stream.
    Closed {
        /// What the component still waited for.
        while_awaiting: &'static str,
    },
    /// Something else than the header or the answer came.
    Unexpected {
        /// What the component waited for.
        while_awaiting: &'static str,
    },
    /// The stream is already open: later events are the caller's.
    AlreadyOpen,
}

impl ComponentOpeningError {
    /// Whether the server refused the secret or the domain (`not-authorized`), as
    /// opposed to any other refusal.
    pub fn is_auth_failure(&self) -> bool {
        matches!(self, ComponentOpeningError::Refused(e) if e.condition == StreamErrorCondition::NotAuthorized)
    }
}

impl fmt::Display for ComponentOpeningError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoStreamId => f.write_str("the server's stream header has no id"),
            Self::Refused(e) if self.is_auth_failure() => {
                write!(f, "stream error {e}: check the secret and the domain")
            }
            Self::Refused(e) => write!(f, "stream error {e}"),
            Self::Closed { while_awaiting } => {
                write!(
                    f,
                    "server closed the stream while we waited for {while_awaiting}"
                )
            }
            Self::Unexpected { while_awaiting } => {
                write!(f, "unexpected data while we waited for {while_awaiting}")
            }
            Self::AlreadyOpen => f.write_str("the component stream is already open"),
        }
    }
}

impl core::error::Error for ComponentOpeningError {}

impl ComponentHandshake {
    /// Begins the opening for `domain`; also gives the stream header to write first.
    pub fn start(domain: &str, secret: &str) -> (ComponentHandshake, String) {
        let machine = ComponentHandshake {
            secret: String::from(secret),
            awaiting: Awaiting::Header,
        };
        (machine, component_header(domain).to_open_tag())
    }

    /// Whether the `<handshake/>` has gone out: a server that hangs up after it
    /// may be refusing the secret without saying so.
    pub fn handshake_sent(&self) -> bool {
        self.awaiting != Awaiting::Header
    }

    /// Takes the next event from the server's stream.
    pub fn handle(&mut self, event: StreamEvent) -> Result<ComponentStep, ComponentOpeningError> {
        let while_awaiting = match self.awaiting {
            Awaiting::Header => "the stream header",
            Awaiting::Handshake => "<handshake/>",
            Awaiting::Nothing => return Err(ComponentOpeningError::AlreadyOpen),
        };
        match (self.awaiting, event) {
            (Awaiting::Header, StreamEvent::Header(h)) => {
                let id = h.id.ok_or(ComponentOpeningError::NoStreamId)?;
                self.awaiting = Awaiting::Handshake;
                Ok(ComponentStep::Send(handshake(&id, &self.secret)))
            }
            (Awaiting::Handshake, StreamEvent::Stanza(e)) if e.name == "handshake" => {
                self.awaiting = Awaiting::Nothing;
                Ok(ComponentStep::Accepted)
            }
            (Awaiting::Handshake, StreamEvent::Stanza(e)) => Ok(ComponentStep::Ignored(e)),
            (_, StreamEvent::StreamError(e)) => Err(ComponentOpeningError::Refused(
                StreamError::from_element(&e),
            )),
            (_, StreamEvent::End) => Err(ComponentOpeningError::Closed { while_awaiting }),
            (_, StreamEvent::Header(_) | StreamEvent::Stanza(_)) => {
                Err(ComponentOpeningError::Unexpected { while_awaiting })
            }
        }
    }
}

/// The server's side: check the component's header, answer with a stream id,
/// check the digest, accept or refuse.
#[derive(Clone, Debug)]
pub struct ServerHandshake {
    domain: String,
    secret: String,
    stream_id: String,
    awaiting: Awaiting,
}

/// What the server does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerStep {
    /// Write this (the answering stream header) and keep feeding events.
    Send(String),
    /// The digest is right: write this (`<handshake/>`); the stream is open.
    Accepted(String),
    /// The digest is wrong: write this (a `not-authorized` stream error and the
    /// stream close), then close the connection.
    Refused(String),
}

/// Why the server cannot go on with the opening.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerOpeningError {
    /// Something else than what the opening waits for came.
    Unexpected {
        /// What the server waited for.
        while_awaiting: &'static str,
        /// What came (boxed: a stanza is large).
        got: Box<StreamEvent>,
    },
    /// The header's default namespace is not `jabber:component:accept`.
    WrongNamespace(String),
    /// The header's `to` is not the component's domain.
    WrongDomain {
        /// The domain the server serves.
        expected: String,
        /// The header's `to`.
        found: Option<String>,
    },
    /// The stream is already open: later events are the caller's.
    AlreadyOpen,
}

impl fmt::Display for ServerOpeningError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unexpected {
                while_awaiting,
                got,
            } => write!(f, "expected {while_awaiting}, got {got:?}"),
            Self::WrongNamespace(found) => write!(
                f,
                "stream namespace is {found:?}, expected {}",
                ns::COMPONENT
            ),
            Self::WrongDomain { expected, found } => write!(
                f,
                "stream header to={found:?}, expected the component domain {expected:?}"
            ),
            Self::AlreadyOpen => f.write_str("the component stream is already open"),
        }
    }
}

impl core::error::Error for ServerOpeningError {}

impl ServerHandshake {
    /// A server serving `domain` with `secret`, which will name its stream
    /// `stream_id` (the caller draws it: this crate has no randomness).
    pub fn new(domain: &str, secret: &str, stream_id: &str) -> ServerHandshake {
        ServerHandshake {
            domain: String::from(domain),
            secret: String::from(secret),
            stream_id: String::from(stream_id),
            awaiting: Awaiting::Header,
        }
    }

    /// The id of the stream, over which the digest is computed.
    pub fn stream_id(&self) -> &str {
        &self.stream_id
    }

    /// Takes the next event from the component's stream.
    pub fn handle(&mut self, event: StreamEvent) -> Result<ServerStep, ServerOpeningError> {
        match (self.awaiting, event) {
            (Awaiting::Header, StreamEvent::Header(h)) => {
                if h.default_namespace != ns::COMPONENT {
                    return Err(ServerOpeningError::WrongNamespace(h.default_namespace));
                }
                if h.to.as_deref() != Some(self.domain.as_str()) {
                    return Err(ServerOpeningError::WrongDomain {
                        expected: self.domain.clone(),
                        found: h.to,
                    });
                }
                self.awaiting = Awaiting::Handshake;
                let ours = server_header(&self.domain, &self.stream_id);
                Ok(ServerStep::Send(ours.to_open_tag()))
            }
            (Awaiting::Handshake, StreamEvent::Stanza(e)) if e.name == "handshake" => {
                self.awaiting = Awaiting::Nothing;
                if is_valid_handshake(&e, &self.stream_id, &self.secret) {
                    Ok(ServerStep::Accepted(String::from(HANDSHAKE_ACCEPTED)))
                } else {
                    let refusal = StreamError::new(StreamErrorCondition::NotAuthorized);
                    Ok(ServerStep::Refused(refusal.to_xml_closing()))
                }
            }
            (Awaiting::Nothing, _) => Err(ServerOpeningError::AlreadyOpen),
            (awaiting, got) => Err(ServerOpeningError::Unexpected {
                while_awaiting: if awaiting == Awaiting::Header {
                    "a stream header"
                } else {
                    "<handshake/>"
                },
                got: Box::new(got),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{Limits, StreamFramer, StreamHeader};
    use alloc::format;
    use alloc::string::ToString;
    use alloc::vec::Vec;

    /// Every event `xml` frames into.
    fn events(xml: &str) -> Vec<StreamEvent> {
        let mut f = StreamFramer::new(Limits::default());
        f.feed(xml.as_bytes());
        core::iter::from_fn(|| f.next_event().map(|e| e.unwrap())).collect()
    }

    fn one(xml: &str) -> StreamEvent {
        let mut all = events(xml);
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }

    /// Runs both machines against each other; gives the server's verdict.
    fn open(component_secret: &str, server_secret: &str) -> (ComponentHandshake, ServerStep) {
        let (mut c, header) = ComponentHandshake::start("pass.example", component_secret);
        let mut s = ServerHandshake::new("pass.example", server_secret, "3BF96D32");
        let ServerStep::Send(answer) = s.handle(one(&header)).unwrap() else {
            panic!("no answering header")
        };
        let ComponentStep::Send(hs) = c.handle(one(&answer)).unwrap() else {
            panic!("no handshake")
        };
        assert!(c.handshake_sent());
        let stream = format!("{header}{hs}");
        let verdict = s.handle(events(&stream).remove(1)).unwrap();
        (c, verdict)
    }

    #[test]
    fn both_sides_open_a_stream_with_the_same_secret() {
        let (mut c, verdict) = open("s3cret", "s3cret");
        assert_eq!(verdict, ServerStep::Accepted("<handshake/>".into()));
        let answer = format!(
            "{}<handshake/>",
            server_header("pass.example", "x").to_open_tag()
        );
        assert_eq!(
            c.handle(events(&answer).remove(1)),
            Ok(ComponentStep::Accepted)
        );
        assert_eq!(
            c.handle(StreamEvent::End),
            Err(ComponentOpeningError::AlreadyOpen)
        );
    }

    #[test]
    fn a_wrong_secret_is_refused_with_not_authorized() {
        let (mut c, verdict) = open("guess", "s3cret");
        let ServerStep::Refused(refusal) = verdict else {
            panic!("{verdict:?}")
        };
        let answer = format!(
            "{}{refusal}",
            server_header("pass.example", "x").to_open_tag()
        );
        let err = c.handle(events(&answer).remove(1)).unwrap_err();
        assert!(err.is_auth_failure());
        assert_eq!(
            err.to_string(),
            "stream error not-authorized: check the secret and the domain"
        );
    }

    #[test]
    fn the_component_reports_malformed_answers() {
        let start = || ComponentHandshake::start("pass.example", "s").0;
        let mut no_id = server_header("pass.example", "x");
        no_id.id = None;
        let mut c = start();
        assert_eq!(
            c.handle(one(&no_id.to_open_tag())),
            Err(ComponentOpeningError::NoStreamId)
        );
        assert!(!c.handshake_sent());

        let header = server_header("pass.example", "x").to_open_tag();
        let host_unknown = format!(
            "{header}<stream:error><host-unknown xmlns='{}'/></stream:error>",
            ns::XMPP_STREAMS
        );
        let mut c = start();
        c.handle(one(&header)).unwrap();
        let err = c.handle(events(&host_unknown).remove(1)).unwrap_err();
        assert!(!err.is_auth_failure());
        assert_eq!(err.to_string(), "stream error host-unknown");

        let mut c = start();
        assert_eq!(
            c.handle(StreamEvent::End).unwrap_err().to_string(),
            "server closed the stream while we waited for the stream header"
        );
        let mut c = start();
        c.handle(one(&header)).unwrap();
        let stray = Element::new("message", ns::COMPONENT);
        assert_eq!(
            c.handle(StreamEvent::Stanza(stray.clone())),
            Ok(ComponentStep::Ignored(stray))
        );
        assert_eq!(
            c.handle(StreamEvent::Header(StreamHeader::new(ns::COMPONENT)))
                .unwrap_err()
                .to_string(),
            "unexpected data while we waited for <handshake/>"
        );
    }

    #[test]
    fn the_server_checks_the_header_then_waits_for_the_handshake() {
        let server = || ServerHandshake::new("pass.example", "s", "id");
        let mut client_ns = component_header("pass.example");
        client_ns.default_namespace = ns::CLIENT.into();
        assert_eq!(
            server()
                .handle(one(&client_ns.to_open_tag()))
                .unwrap_err()
                .to_string(),
            "stream namespace is \"jabber:client\", expected jabber:component:accept"
        );
        assert_eq!(
            server()
                .handle(one(&component_header("other.example").to_open_tag()))
                .unwrap_err()
                .to_string(),
            "stream header to=Some(\"other.example\"), expected the component domain \"pass.example\""
        );
        assert!(matches!(
            server().handle(StreamEvent::End),
            Err(ServerOpeningError::Unexpected {
                while_awaiting: "a stream header",
                ..
            })
        ));
        let mut s = server();
        s.handle(one(&component_header("pass.example").to_open_tag()))
            .unwrap();
        let err = s
            .handle(StreamEvent::Stanza(Element::new("iq", ns::COMPONENT)))
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("expected <handshake/>, got Stanza("),
            "{err}"
        );
    }
}
