//! The protocol level: which IQ type with which `<query/>` content is which XEP-0003
//! message.
//!
//! | IQ type | query children                     | message              |
//! |---------|------------------------------------|----------------------|
//! | set     | `expire(n)?`, `oneshot?`           | [`PassMessage::Register`] |
//! | set     | `client`, `proxy`                  | [`PassMessage::IncomingConnection`] |
//! | set     | `expire` (empty), `close`, `proxy` | [`PassMessage::ExpireNotice`] |
//! | set     | `oneshot`, `close`, `proxy`        | [`PassMessage::OneshotNotice`] |
//! | set     | `close`, `proxy?`                  | [`PassMessage::Close`] |
//! | result  | `server`+                          | [`PassMessage::Registered`] |
//! | result  | none, or no query                  | [`PassMessage::Ack`] |
//! | result  | `client` (no port)                 | [`PassMessage::ClientIpAnswer`] |
//! | get     | none                               | [`PassMessage::ClientIpQuery`] |
//! | error   | `client?`, `proxy?` + `<error/>`   | [`PassMessage::Deny`] |
//!
//! Order of children does not matter; a child kind given twice does (except
//! `server`, one per advertised address). Hosts that must be addresses are IPs.
use crate::jid::Jid;
use crate::ns;
use crate::stanza::{
    Condition, Iq, IqType, ParseIqError, ParseQueryError, PassEntity, Query, QueryItem, StanzaError,
};
use crate::xml::Element;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::{IpAddr, SocketAddr};

/// A `jabber:iq:pass` protocol message, as carried by an IQ of a given type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PassMessage {
    /// §2 client → service, `set`: lease a port.
    Register {
        /// Seconds until the port closes; `None` listens forever.
        expire: Option<u64>,
        /// Listen for one connection only.
        oneshot: bool,
    },
    /// §2 service → client, `result`: the leased address (one per advertised IP).
    Registered {
        /// The addresses the service listens on for this lease.
        servers: alloc::vec::Vec<SocketAddr>,
    },
    /// §3 service → owner, `set`: someone connected.
    IncomingConnection {
        /// The third party's address.
        client: SocketAddr,
        /// Where the owner connects to be bridged.
        proxy: SocketAddr,
    },
    /// Empty `result` query: accept (§3), expire/oneshot acknowledgement (§4.1, §4.2),
    /// close acknowledgement (§4.3). Which one depends on the request it answers.
    Ack,
    /// §5.2 owner → service, `error`: deny an incoming connection.
    Deny {
        /// The echoed `<client/>`, if present.
        client: Option<SocketAddr>,
        /// The echoed `<proxy/>`, if present.
        proxy: Option<SocketAddr>,
        /// The error given.
        error: StanzaError,
    },
    /// §4.1 service → owner, `set`: the lease expired.
    ExpireNotice {
        /// The lease's address.
        proxy: SocketAddr,
    },
    /// §4.2 service → owner, `set`: the oneshot lease was used and is closed.
    OneshotNotice {
        /// The lease's address.
        proxy: SocketAddr,
    },
    /// §4.3 owner → service, `set`: close a lease. `proxy` missing is a 400.
    Close {
        /// The lease's address, as given.
        proxy: Option<crate::stanza::PassEntity>,
    },
    /// §5.1 `get` with an empty query: asks a peer for its IP.
    ClientIpQuery,
    /// §5.1 `result` with `<client/>`: a peer's IP.
    ClientIpAnswer {
        /// The peer's IP.
        client: IpAddr,
    },
}

/// Why an IQ is not a valid protocol message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParsePassError {
    /// The IQ envelope is malformed (lenient reader only; the strict one takes an [`Iq`]).
    Iq(ParseIqError),
    /// The payload is not `{jabber:iq:pass}query`.
    WrongNamespace {
        /// The payload's local name.
        name: String,
        /// The payload's namespace.
        namespace: String,
    },
    /// A get or set without a `<query/>`.
    MissingQuery,
    /// The query breaks the schema.
    Query(ParseQueryError),
    /// A child kind given more than once.
    DuplicateChild(&'static str),
    /// A host that must be an IP address is not one.
    NotAnIp {
        /// The child.
        element: &'static str,
        /// Its host text.
        text: String,
    },
    /// A child the message needs is missing.
    MissingChild(&'static str),
    /// A port the message needs is missing.
    MissingPort(&'static str),
    /// A port where the message has none (the §5.1 client-IP answer).
    UnexpectedPort(&'static str),
    /// `<expire/>` with seconds where the message needs it empty (§4.1 notice), or
    /// empty where it needs seconds (registration).
    ExpireForm {
        /// Whether the message needs a value.
        needs_value: bool,
    },
    /// A child that does not belong in the message the others make.
    UnexpectedChild {
        /// The child.
        child: &'static str,
        /// The message recognised (e.g. "close").
        message: &'static str,
    },
    /// No PASS message has this IQ type with these children.
    UnknownCombination {
        /// The IQ type.
        kind: IqType,
        /// The child kinds present, in document order without repeats.
        children: Vec<&'static str>,
    },
    /// Kept from the first API draft; not produced by this reader.
    Other(String),
}

impl fmt::Display for ParsePassError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ParsePassError::*;
        match self {
            Iq(e) => fmt::Display::fmt(e, f),
            WrongNamespace { name, namespace } => write!(
                f,
                "payload <{name}/> in namespace {namespace:?} is not <query xmlns='jabber:iq:pass'/>"
            ),
            MissingQuery => f.write_str("the IQ carries no <query xmlns='jabber:iq:pass'/>"),
            Query(e) => fmt::Display::fmt(e, f),
            DuplicateChild(c) => write!(f, "<{c}/> is given more than once"),
            NotAnIp { element, text } => {
                write!(f, "<{element}/> host {text:?} is not an IP address")
            }
            MissingChild(e) => write!(f, "<{e}/> is missing"),
            MissingPort(e) => write!(f, "<{e}/> needs a port attribute"),
            UnexpectedPort(e) => write!(f, "<{e}/> must not carry a port here"),
            ExpireForm { needs_value: true } => {
                f.write_str("<expire/> must give a number of seconds in a registration")
            }
            ExpireForm { needs_value: false } => {
                f.write_str("<expire/> must be empty in an expiration notice")
            }
            UnexpectedChild { child, message } => {
                write!(f, "<{child}/> does not belong in a {message} request")
            }
            UnknownCombination { kind, children } => {
                write!(f, "no jabber:iq:pass message is an IQ {kind} with ")?;
                if children.is_empty() {
                    return f.write_str("an empty query");
                }
                for c in children {
                    write!(f, "<{c}/>")?;
                }
                Ok(())
            }
            Other(s) => f.write_str(s),
        }
    }
}

impl core::error::Error for ParsePassError {}

impl From<ParseQueryError> for ParsePassError {
    fn from(e: ParseQueryError) -> Self {
        ParsePassError::Query(e)
    }
}

impl From<ParseIqError> for ParsePassError {
    fn from(e: ParseIqError) -> Self {
        ParsePassError::Iq(e)
    }
}

impl From<&ParsePassError> for StanzaError {
    /// bad-request (400, modify) whose text names the problem (DESIGN decision 8).
    fn from(e: &ParsePassError) -> StanzaError {
        crate::stanza::error::bad_request(e)
    }
}

impl From<&ParseQueryError> for StanzaError {
    /// bad-request (400, modify) whose text names the problem.
    fn from(e: &ParseQueryError) -> StanzaError {
        crate::stanza::error::bad_request(e)
    }
}

impl From<&ParseIqError> for StanzaError {
    /// bad-request (400, modify) whose text names the problem.
    fn from(e: &ParseIqError) -> StanzaError {
        crate::stanza::error::bad_request(e)
    }
}

/// Something the lenient reader accepted that the canonical XML does not have.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Deviation {
    /// An expire/oneshot notice without `<close/>` (the Markdown rendering of §4.1/§4.2).
    NoticeWithoutClose,
    /// `<proxy/>` beside `<query/>` inside `<iq/>` rather than in the query (the
    /// Markdown rendering of §4.1/§4.2).
    ProxyOutsideQuery,
    /// An `<error/>` with the legacy code and no RFC 6120 condition.
    ErrorCodeOnly(u16),
    /// An `<error/>` with the RFC 6120 condition and no legacy code.
    ErrorConditionOnly(Condition),
}

impl fmt::Display for Deviation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Deviation::NoticeWithoutClose => {
                f.write_str("notice without <close/> (XEP-0003 §4.1/§4.2 put it in the query)")
            }
            Deviation::ProxyOutsideQuery => f.write_str(
                "<proxy/> outside <query/> (XEP-0003 §4.1/§4.2 put it inside the query)",
            ),
            Deviation::ErrorCodeOnly(c) => write!(
                f,
                "<error code='{c}'/> without its RFC 6120 condition (XEP-0086 wants both)"
            ),
            Deviation::ErrorConditionOnly(c) => write!(
                f,
                "<error/> with <{c}/> but no legacy code attribute (XEP-0086 wants both)"
            ),
        }
    }
}

/// The query's children by kind, with the document order of the kinds.
#[derive(Default)]
struct Children {
    client: Option<PassEntity>,
    close: bool,
    expire: Option<Option<u64>>,
    oneshot: bool,
    proxy: Option<PassEntity>,
    servers: Vec<PassEntity>,
    order: Vec<&'static str>,
}

impl Children {
    /// Sorts items by kind; any kind but `server` given twice is an error.
    fn sort(items: &[QueryItem]) -> Result<Children, ParsePassError> {
        let mut c = Children::default();
        for item in items {
            let name = item.name();
            let seen = c.order.contains(&name);
            if seen && name != "server" {
                return Err(ParsePassError::DuplicateChild(name));
            }
            if !seen {
                c.order.push(name);
            }
            match item {
                QueryItem::Client(p) => c.client = Some(p.clone()),
                QueryItem::Close => c.close = true,
                QueryItem::Expire(n) => c.expire = Some(*n),
                QueryItem::Oneshot => c.oneshot = true,
                QueryItem::Proxy(p) => c.proxy = Some(p.clone()),
                QueryItem::Server(p) => c.servers.push(p.clone()),
            }
        }
        Ok(c)
    }

    /// Whether exactly these kinds are present.
    fn are(&self, kinds: &[&str]) -> bool {
        self.order.len() == kinds.len() && kinds.iter().all(|k| self.order.contains(k))
    }

    fn has(&self, kind: &str) -> bool {
        self.order.contains(&kind)
    }

    /// The first kind present that is not in `allowed`.
    fn outside(&self, allowed: &[&str]) -> Option<&'static str> {
        self.order.iter().copied().find(|k| !allowed.contains(k))
    }

    fn unknown(&self, kind: IqType) -> ParsePassError {
        ParsePassError::UnknownCombination {
            kind,
            children: self.order.clone(),
        }
    }
}

fn ip(p: &PassEntity, element: &'static str) -> Result<IpAddr, ParsePassError> {
    p.host.parse().map_err(|_| ParsePassError::NotAnIp {
        element,
        text: p.host.clone(),
    })
}

fn socket(p: &PassEntity, element: &'static str) -> Result<SocketAddr, ParsePassError> {
    let addr = ip(p, element)?;
    let port = p.port.ok_or(ParsePassError::MissingPort(element))?;
    Ok(SocketAddr::new(addr, port))
}

fn required<'a>(
    p: &'a Option<PassEntity>,
    element: &'static str,
) -> Result<&'a PassEntity, ParsePassError> {
    p.as_ref().ok_or(ParsePassError::MissingChild(element))
}

fn classify_set(c: &Children) -> Result<PassMessage, ParsePassError> {
    if c.close {
        // §4.1 / §4.2 notices, or §4.3 close.
        if c.has("oneshot") {
            if !c.are(&["oneshot", "close", "proxy"]) {
                return Err(unexpected_or_unknown(
                    c,
                    &["oneshot", "close", "proxy"],
                    "oneshot notice",
                    IqType::Set,
                ));
            }
            return Ok(PassMessage::OneshotNotice {
                proxy: socket(required(&c.proxy, "proxy")?, "proxy")?,
            });
        }
        if let Some(expire) = c.expire {
            if !c.are(&["expire", "close", "proxy"]) {
                return Err(unexpected_or_unknown(
                    c,
                    &["expire", "close", "proxy"],
                    "expire notice",
                    IqType::Set,
                ));
            }
            if expire.is_some() {
                return Err(ParsePassError::ExpireForm { needs_value: false });
            }
            return Ok(PassMessage::ExpireNotice {
                proxy: socket(required(&c.proxy, "proxy")?, "proxy")?,
            });
        }
        if let Some(child) = c.outside(&["close", "proxy"]) {
            return Err(ParsePassError::UnexpectedChild {
                child,
                message: "close",
            });
        }
        return Ok(PassMessage::Close {
            proxy: c.proxy.clone(),
        });
    }
    if c.has("client") || c.has("proxy") {
        if !c.are(&["client", "proxy"]) {
            return Err(unexpected_or_unknown(
                c,
                &["client", "proxy"],
                "incoming connection",
                IqType::Set,
            ));
        }
        let client = socket(required(&c.client, "client")?, "client")?;
        let proxy = socket(required(&c.proxy, "proxy")?, "proxy")?;
        return Ok(PassMessage::IncomingConnection { client, proxy });
    }
    if c.outside(&["expire", "oneshot"]).is_some() {
        return Err(c.unknown(IqType::Set));
    }
    let expire = match c.expire {
        None => None,
        Some(Some(n)) => Some(n),
        Some(None) => return Err(ParsePassError::ExpireForm { needs_value: true }),
    };
    Ok(PassMessage::Register {
        expire,
        oneshot: c.oneshot,
    })
}

/// A message with all its anchors but an extra child names the extra child;
/// otherwise the combination is unknown.
fn unexpected_or_unknown(
    c: &Children,
    kinds: &[&'static str],
    message: &'static str,
    kind: IqType,
) -> ParsePassError {
    let complete = kinds.iter().all(|k| c.has(k));
    match c.outside(kinds) {
        Some(child) if complete => ParsePassError::UnexpectedChild { child, message },
        _ => c.unknown(kind),
    }
}

fn classify(
    kind: IqType,
    c: &Children,
    error: Option<&StanzaError>,
) -> Result<PassMessage, ParsePassError> {
    match kind {
        IqType::Set => classify_set(c),
        IqType::Get => {
            if c.order.is_empty() {
                Ok(PassMessage::ClientIpQuery)
            } else {
                Err(c.unknown(kind))
            }
        }
        IqType::Result => {
            if c.order.is_empty() {
                Ok(PassMessage::Ack)
            } else if c.are(&["server"]) {
                let servers = c
                    .servers
                    .iter()
                    .map(|s| socket(s, "server"))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(PassMessage::Registered { servers })
            } else if c.are(&["client"]) {
                let p = required(&c.client, "client")?;
                if p.port.is_some() {
                    return Err(ParsePassError::UnexpectedPort("client"));
                }
                Ok(PassMessage::ClientIpAnswer {
                    client: ip(p, "client")?,
                })
            } else {
                Err(c.unknown(kind))
            }
        }
        IqType::Error => {
            if let Some(child) = c.outside(&["client", "proxy"]) {
                return Err(ParsePassError::UnexpectedChild {
                    child,
                    message: "deny",
                });
            }
            let client = c.client.as_ref().map(|p| socket(p, "client")).transpose()?;
            let proxy = c.proxy.as_ref().map(|p| socket(p, "proxy")).transpose()?;
            // Iq parsing guarantees an error IQ has its error.
            let error = error
                .cloned()
                .unwrap_or_else(|| StanzaError::new(Condition::UndefinedCondition));
            Ok(PassMessage::Deny {
                client,
                proxy,
                error,
            })
        }
    }
}

/// The query of an IQ's payload (`None` without payload).
fn payload_query(payload: Option<&Element>) -> Result<Option<Query>, ParsePassError> {
    match payload {
        None => Ok(None),
        Some(p) if p.is("query", ns::PASS) => Ok(Some(Query::try_from(p)?)),
        Some(p) => Err(ParsePassError::WrongNamespace {
            name: p.name.clone(),
            namespace: p.namespace.clone(),
        }),
    }
}

impl PassMessage {
    /// Reads the message an IQ carries, strictly (canonical forms only).
    ///
    /// Errors given with the legacy code alone or the condition alone are accepted
    /// (DESIGN decision 5); [`PassMessage::from_element_lenient`] also reports them.
    pub fn from_iq(iq: &crate::stanza::Iq) -> Result<PassMessage, ParsePassError> {
        let query = payload_query(iq.payload.as_ref())?;
        if query.is_none() && matches!(iq.kind, IqType::Get | IqType::Set) {
            return Err(ParsePassError::MissingQuery);
        }
        let items = query.map(|q| q.items).unwrap_or_default();
        let children = Children::sort(&items)?;
        classify(iq.kind, &children, iq.error.as_ref())
    }

    /// Reads a whole `<iq/>` leniently (DESIGN decision 3): besides the canonical
    /// forms it accepts the Markdown rendering's notices (no `<close/>`, `<proxy/>` as
    /// a sibling of `<query/>`) and reports each departure as a [`Deviation`], as well
    /// as errors with only the legacy code or only the condition.
    pub fn from_element_lenient(
        iq: &Element,
    ) -> Result<(PassMessage, Vec<Deviation>), ParsePassError> {
        let mut deviations = Vec::new();
        // A <proxy/> beside the query, in the stanza's namespace or jabber:iq:pass.
        let mut envelope = iq.clone();
        let mut stray = Element::new("query", ns::PASS);
        envelope.children.retain(|n| match n {
            crate::xml::Node::Element(e)
                if e.name == "proxy"
                    && (e.namespace == iq.namespace || e.namespace == ns::PASS) =>
            {
                let mut p = e.clone();
                p.namespace = String::from(ns::PASS);
                stray.children.push(crate::xml::Node::Element(p));
                false
            }
            _ => true,
        });
        let parsed = Iq::try_from(&envelope)?;
        let mut items = payload_query(parsed.payload.as_ref())?
            .map(|q| q.items)
            .unwrap_or_default();
        if !stray.children.is_empty() {
            // Several stray proxies end up as a DuplicateChild error below.
            deviations.push(Deviation::ProxyOutsideQuery);
            items.extend(Query::try_from(&stray)?.items);
        }
        let mut children = Children::sort(&items)?;
        let is_notice = parsed.kind == IqType::Set
            && !children.close
            && (children.are(&["expire", "proxy"]) && children.expire == Some(None)
                || children.are(&["oneshot", "proxy"]));
        if is_notice {
            deviations.push(Deviation::NoticeWithoutClose);
            children.close = true;
            children.order.push("close");
        }
        if let Some(e) = &parsed.error {
            match (e.code, e.condition) {
                (Some(code), None) => deviations.push(Deviation::ErrorCodeOnly(code)),
                (None, Some(c)) => deviations.push(Deviation::ErrorConditionOnly(c)),
                _ => {}
            }
        }
        let msg = classify(parsed.kind, &children, parsed.error.as_ref())?;
        Ok((msg, deviations))
    }

    /// The IQ type that carries this message.
    pub fn iq_type(&self) -> crate::stanza::IqType {
        match self {
            PassMessage::Register { .. }
            | PassMessage::IncomingConnection { .. }
            | PassMessage::ExpireNotice { .. }
            | PassMessage::OneshotNotice { .. }
            | PassMessage::Close { .. } => IqType::Set,
            PassMessage::Registered { .. }
            | PassMessage::Ack
            | PassMessage::ClientIpAnswer { .. } => IqType::Result,
            PassMessage::ClientIpQuery => IqType::Get,
            PassMessage::Deny { .. } => IqType::Error,
        }
    }

    /// The schema-level query in canonical form (children in the spec's order).
    pub fn to_query_items(&self) -> Query {
        fn entity(a: &SocketAddr) -> PassEntity {
            PassEntity {
                host: alloc::format!("{}", a.ip()),
                port: Some(a.port()),
            }
        }
        let items = match self {
            PassMessage::Register { expire, oneshot } => {
                let mut v = Vec::new();
                if let Some(n) = expire {
                    v.push(QueryItem::Expire(Some(*n)));
                }
                if *oneshot {
                    v.push(QueryItem::Oneshot);
                }
                v
            }
            PassMessage::Registered { servers } => servers
                .iter()
                .map(|s| QueryItem::Server(entity(s)))
                .collect(),
            PassMessage::IncomingConnection { client, proxy } => alloc::vec![
                QueryItem::Client(entity(client)),
                QueryItem::Proxy(entity(proxy)),
            ],
            PassMessage::Ack | PassMessage::ClientIpQuery => Vec::new(),
            PassMessage::Deny { client, proxy, .. } => client
                .iter()
                .map(|c| QueryItem::Client(entity(c)))
                .chain(proxy.iter().map(|p| QueryItem::Proxy(entity(p))))
                .collect(),
            PassMessage::ExpireNotice { proxy } => alloc::vec![
                QueryItem::Expire(None),
                QueryItem::Close,
                QueryItem::Proxy(entity(proxy)),
            ],
            PassMessage::OneshotNotice { proxy } => alloc::vec![
                QueryItem::Oneshot,
                QueryItem::Close,
                QueryItem::Proxy(entity(proxy)),
            ],
            PassMessage::Close { proxy } => core::iter::once(QueryItem::Close)
                .chain(proxy.iter().map(|p| QueryItem::Proxy(p.clone())))
                .collect(),
            PassMessage::ClientIpAnswer { client } => alloc::vec![QueryItem::Client(PassEntity {
                host: alloc::format!("{client}"),
                port: None,
            })],
        };
        Query { items }
    }

    /// The `<query xmlns='jabber:iq:pass'>` payload in canonical form.
    pub fn to_query(&self) -> crate::xml::Element {
        Element::from(&self.to_query_items())
    }

    /// The whole IQ carrying this message: its type, the canonical query as payload
    /// and, for [`PassMessage::Deny`], its error.
    pub fn to_iq(&self, id: &str, from: Option<Jid>, to: Option<Jid>) -> Iq {
        Iq {
            id: String::from(id),
            kind: self.iq_type(),
            from,
            to,
            payload: Some(self.to_query()),
            error: match self {
                PassMessage::Deny { error, .. } => Some(error.clone()),
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stanza::PassError;

    fn c(name: &str) -> Element {
        Element::new(name, ns::PASS)
    }
    fn ent(name: &str, host: &str, port: Option<&str>) -> Element {
        let e = c(name).with_text(host);
        match port {
            Some(p) => e.with_attr("port", p),
            None => e,
        }
    }
    fn iq(kind: IqType, children: &[Element]) -> Iq {
        let mut q = c("query");
        for ch in children {
            q = q.with_child(ch.clone());
        }
        Iq {
            id: String::from("x"),
            kind,
            from: None,
            to: None,
            payload: Some(q),
            error: None,
        }
    }
    fn read(kind: IqType, children: &[Element]) -> Result<PassMessage, ParsePassError> {
        PassMessage::from_iq(&iq(kind, children))
    }
    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classifies_every_message_and_writes_it_back() {
        let proxy = ent("proxy", "1.2.3.4", Some("43253"));
        let cases = [
            (
                read(IqType::Set, &[]),
                PassMessage::Register {
                    expire: None,
                    oneshot: false,
                },
            ),
            (
                read(IqType::Set, &[c("oneshot"), c("expire").with_text("600")]),
                PassMessage::Register {
                    expire: Some(600),
                    oneshot: true,
                },
            ),
            (
                read(
                    IqType::Result,
                    &[
                        ent("server", "1.2.3.4", Some("43253")),
                        ent("server", "::1", Some("43253")),
                    ],
                ),
                PassMessage::Registered {
                    servers: alloc::vec![sa("1.2.3.4:43253"), sa("[::1]:43253")],
                },
            ),
            (
                read(
                    IqType::Set,
                    &[
                        ent("client", "4.3.2.1", Some("1234")),
                        ent("proxy", "1.2.3.4", Some("43523")),
                    ],
                ),
                PassMessage::IncomingConnection {
                    client: sa("4.3.2.1:1234"),
                    proxy: sa("1.2.3.4:43523"),
                },
            ),
            (read(IqType::Result, &[]), PassMessage::Ack),
            (
                read(IqType::Set, &[c("expire"), c("close"), proxy.clone()]),
                PassMessage::ExpireNotice {
                    proxy: sa("1.2.3.4:43253"),
                },
            ),
            (
                read(IqType::Set, &[proxy.clone(), c("close"), c("oneshot")]),
                PassMessage::OneshotNotice {
                    proxy: sa("1.2.3.4:43253"),
                },
            ),
            (
                read(
                    IqType::Set,
                    &[c("close"), ent("proxy", "pass.example", None)],
                ),
                PassMessage::Close {
                    proxy: Some(PassEntity::new("pass.example", None)),
                },
            ),
            (
                read(IqType::Set, &[c("close")]),
                PassMessage::Close { proxy: None },
            ),
            (read(IqType::Get, &[]), PassMessage::ClientIpQuery),
            (
                read(IqType::Result, &[ent("client", "4.3.2.1", None)]),
                PassMessage::ClientIpAnswer {
                    client: "4.3.2.1".parse().unwrap(),
                },
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got.as_ref(), Ok(&want));
            let written = want.to_iq("x", None, None);
            assert_eq!(written.kind, want.iq_type());
            assert_eq!(PassMessage::from_iq(&written), Ok(want));
        }
    }

    #[test]
    fn result_without_query_is_ack_and_deny_keeps_error() {
        let mut bare = iq(IqType::Result, &[]);
        bare.payload = None;
        assert_eq!(PassMessage::from_iq(&bare), Ok(PassMessage::Ack));
        let mut get = iq(IqType::Get, &[]);
        get.payload = None;
        assert_eq!(
            PassMessage::from_iq(&get),
            Err(ParsePassError::MissingQuery)
        );

        let mut deny = iq(IqType::Error, &[ent("client", "4.3.2.1", Some("1234"))]);
        deny.error = Some(PassError::Unauthorized.into());
        let msg = PassMessage::from_iq(&deny).unwrap();
        assert_eq!(
            msg,
            PassMessage::Deny {
                client: Some(sa("4.3.2.1:1234")),
                proxy: None,
                error: PassError::Unauthorized.into()
            }
        );
        assert_eq!(PassMessage::from_iq(&msg.to_iq("x", None, None)), Ok(msg));
    }

    #[test]
    fn refuses_protocol_level_mistakes() {
        let proxy = ent("proxy", "1.2.3.4", Some("1"));
        let e = |kind, ch: &[Element]| read(kind, ch).unwrap_err();
        assert_eq!(
            e(
                IqType::Set,
                &[c("expire").with_text("1"), c("expire").with_text("2")]
            ),
            ParsePassError::DuplicateChild("expire")
        );
        assert_eq!(
            e(
                IqType::Set,
                &[ent("client", "host.example", Some("1")), proxy.clone()]
            ),
            ParsePassError::NotAnIp {
                element: "client",
                text: "host.example".into()
            }
        );
        assert_eq!(
            e(
                IqType::Set,
                &[ent("client", "4.3.2.1", None), proxy.clone()]
            ),
            ParsePassError::MissingPort("client")
        );
        assert_eq!(
            e(IqType::Result, &[ent("server", "1.2.3.4", None)]),
            ParsePassError::MissingPort("server")
        );
        assert_eq!(
            e(IqType::Result, &[ent("client", "4.3.2.1", Some("9"))]),
            ParsePassError::UnexpectedPort("client")
        );
        assert_eq!(
            e(IqType::Set, &[c("expire")]),
            ParsePassError::ExpireForm { needs_value: true }
        );
        assert_eq!(
            e(
                IqType::Set,
                &[c("expire").with_text("5"), c("close"), proxy.clone()]
            ),
            ParsePassError::ExpireForm { needs_value: false }
        );
        assert_eq!(
            e(
                IqType::Set,
                &[
                    c("close"),
                    proxy.clone(),
                    ent("client", "4.3.2.1", Some("1"))
                ]
            ),
            ParsePassError::UnexpectedChild {
                child: "client",
                message: "close"
            }
        );
        assert_eq!(
            e(IqType::Set, &[ent("server", "1.2.3.4", Some("1"))]),
            ParsePassError::UnknownCombination {
                kind: IqType::Set,
                children: alloc::vec!["server"]
            }
        );
        assert_eq!(
            e(IqType::Get, &[c("close")]),
            ParsePassError::UnknownCombination {
                kind: IqType::Get,
                children: alloc::vec!["close"]
            }
        );
        let mut other = iq(IqType::Get, &[]);
        other.payload = Some(Element::new("query", "jabber:iq:version"));
        assert!(matches!(
            PassMessage::from_iq(&other),
            Err(ParsePassError::WrongNamespace { .. })
        ));
        assert!(matches!(
            e(IqType::Set, &[c("bogus")]),
            ParsePassError::Query(ParseQueryError::UnknownChild { .. })
        ));
        let why = StanzaError::from(&ParsePassError::DuplicateChild("expire"));
        assert_eq!(why.condition, Some(Condition::BadRequest));
        assert_eq!(why.code, Some(400));
        assert_eq!(
            why.text.as_deref(),
            Some("<expire/> is given more than once")
        );
    }

    #[test]
    fn lenient_reader_accepts_the_markdown_notices() {
        let notice = |first: &str| {
            Element::new("iq", "")
                .with_attr("type", "set")
                .with_attr("id", "pass3")
                .with_child(c("query").with_child(c(first)))
                .with_child(
                    Element::new("proxy", "")
                        .with_attr("port", "43253")
                        .with_text("1.2.3.4"),
                )
        };
        let (msg, dev) = PassMessage::from_element_lenient(&notice("expire")).unwrap();
        assert_eq!(
            msg,
            PassMessage::ExpireNotice {
                proxy: sa("1.2.3.4:43253")
            }
        );
        assert_eq!(
            dev,
            [Deviation::ProxyOutsideQuery, Deviation::NoticeWithoutClose]
        );
        let (msg, _) = PassMessage::from_element_lenient(&notice("oneshot")).unwrap();
        let twice = notice("oneshot").with_child(Element::new("proxy", "").with_text("::1"));
        assert_eq!(
            PassMessage::from_element_lenient(&twice),
            Err(ParsePassError::DuplicateChild("proxy"))
        );
        assert_eq!(
            msg,
            PassMessage::OneshotNotice {
                proxy: sa("1.2.3.4:43253")
            }
        );

        let canonical = Element::from(
            &PassMessage::ExpireNotice {
                proxy: sa("1.2.3.4:1"),
            }
            .to_iq("i", None, None),
        );
        assert_eq!(
            PassMessage::from_element_lenient(&canonical).unwrap().1,
            alloc::vec::Vec::<Deviation>::new()
        );

        let deny = |err: Element| {
            Element::new("iq", "")
                .with_attr("type", "error")
                .with_attr("id", "pass7")
                .with_child(err)
        };
        let (msg, dev) = PassMessage::from_element_lenient(&deny(
            Element::new("error", "").with_attr("code", "401"),
        ))
        .unwrap();
        assert!(matches!(msg, PassMessage::Deny { .. }));
        assert_eq!(dev, [Deviation::ErrorCodeOnly(401)]);
        let (_, dev) = PassMessage::from_element_lenient(&deny(
            Element::new("error", "").with_child(Element::new("not-authorized", ns::XMPP_STANZAS)),
        ))
        .unwrap();
        assert_eq!(
            dev,
            [Deviation::ErrorConditionOnly(Condition::NotAuthorized)]
        );
        assert!(matches!(
            PassMessage::from_element_lenient(&Element::new("iq", "")),
            Err(ParsePassError::Iq(ParseIqError::MissingId))
        ));
    }
}
