//! The incremental stream framer.
//!
//! A light scanner walks the bytes once as they arrive, tracking only what it needs to
//! find where a stanza ends (quotes inside tags, CDATA, element depth); when a stanza
//! is complete, the strict reader parses exactly those bytes. Every byte is scanned once
//! and parsed once, whatever the chunking, so a peer trickling one byte at a time costs
//! linear work; and no stanza is buffered past [`Limits::max_stanza_bytes`].
use super::error::{ForbiddenConstruct, Limit};
use super::reader::{classify_markup, parse_in_scope, parse_stream_open, Markup};
use super::writer::escape_attr;
use super::{Attribute, Element, Limits, XmlError};
use crate::ns;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// What a peer sends to close its stream.
pub const STREAM_CLOSE: &str = "</stream:stream>";

/// The opening `<stream:stream ...>` tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamHeader {
    /// The `id` attribute (the server's stream id, used in the XEP-0114 handshake).
    pub id: Option<String>,
    /// The `from` attribute.
    pub from: Option<String>,
    /// The `to` attribute.
    pub to: Option<String>,
    /// The default namespace declared on the header (`jabber:component:accept`).
    pub default_namespace: String,
    /// All other attributes.
    pub attributes: Vec<Attribute>,
}

impl StreamHeader {
    /// A header for `default_namespace` with no attributes.
    pub fn new(default_namespace: &str) -> Self {
        StreamHeader {
            id: None,
            from: None,
            to: None,
            default_namespace: String::from(default_namespace),
            attributes: Vec::new(),
        }
    }

    /// The XML declaration and the opening tag, as either side of XEP-0114 sends it:
    /// `<?xml version='1.0'?><stream:stream xmlns='…'
    /// xmlns:stream='http://etherx.jabber.org/streams' to='…' from='…' id='…'>`
    /// (absent attributes left out, other attributes after them).
    pub fn to_open_tag(&self) -> String {
        let mut out = String::from("<?xml version='1.0'?><stream:stream xmlns='");
        escape_attr(&mut out, &self.default_namespace);
        out.push_str("' xmlns:stream='");
        out.push_str(ns::STREAM);
        out.push('\'');
        let named = [("to", &self.to), ("from", &self.from), ("id", &self.id)];
        for (name, value) in named {
            if let Some(v) = value {
                push_attr(&mut out, "", name, v);
            }
        }
        let mut declared: Vec<&str> = Vec::new();
        for a in &self.attributes {
            let prefix = match a.namespace.as_str() {
                "" => String::new(),
                ns::XML => String::from("xml"),
                ns => {
                    let n = match declared.iter().position(|d| *d == ns) {
                        Some(n) => n,
                        None => {
                            declared.push(ns);
                            let n = declared.len() - 1;
                            push_attr(&mut out, "xmlns", &format!("ns{n}"), ns);
                            n
                        }
                    };
                    format!("ns{n}")
                }
            };
            push_attr(&mut out, &prefix, &a.name, &a.value);
        }
        out.push('>');
        out
    }
}

fn push_attr(out: &mut String, prefix: &str, name: &str, value: &str) {
    out.push(' ');
    if !prefix.is_empty() {
        out.push_str(prefix);
        out.push(':');
    }
    out.push_str(name);
    out.push_str("='");
    escape_attr(out, value);
    out.push('\'');
}

/// What the framer yields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// The stream header.
    Header(StreamHeader),
    /// A complete top-level element (stanza or `<handshake/>`), namespaces resolved
    /// with the stream's default namespace in scope.
    Stanza(Element),
    /// `<stream:error>`, as its element.
    StreamError(Element),
    /// `</stream:stream>`.
    End,
}

/// Where the stream is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Before the end of the header's start tag.
    Header,
    /// Between or inside stanzas.
    Stanzas,
    /// After `</stream:stream>`: further bytes are ignored.
    Ended,
}

/// What the scanner is in the middle of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lex {
    /// Outside any element: whitespace expected.
    Between,
    /// Character data inside a stanza.
    Text,
    /// Just after a `<` (at `tag_start`), kind not known yet.
    Markup,
    /// Inside a start tag; `quote` is the open quote, `slash` whether the last byte
    /// outside quotes was `/`.
    StartTag { quote: Option<u8>, slash: bool },
    /// Inside an end tag.
    EndTag,
    /// Inside CDATA; how many `]` just went by (capped at 2).
    Cdata { brackets: u8 },
    /// Inside the XML declaration; whether the last byte was `?`.
    XmlDecl { question: bool },
}

/// Feed bytes in any chunking; pull events.
#[derive(Debug)]
pub struct StreamFramer {
    limits: Limits,
    /// Received bytes not yet dropped; indices below are into this buffer.
    buf: Vec<u8>,
    /// Bytes before this index are finished with.
    consumed: usize,
    /// Next byte the scanner looks at.
    scan: usize,
    /// Start of the item being scanned (the header, or the current stanza).
    item_start: usize,
    /// The `<` of the markup being scanned.
    tag_start: usize,
    /// Bytes dropped from the front of `buf`, so errors can give stream offsets.
    dropped: usize,
    phase: Phase,
    lex: Lex,
    /// Open elements in the current stanza.
    depth: usize,
    /// Whether the XML declaration has been seen.
    saw_declaration: bool,
    /// The header's namespace declarations `(prefix, uri)`, in scope for stanzas.
    scope: Vec<(String, String)>,
    /// The header's qualified name, which the closing tag must repeat.
    stream_name: String,
    error: Option<XmlError>,
    /// Bytes the scanner has examined, for the linearity test.
    scanned: usize,
}

impl StreamFramer {
    /// A framer expecting a stream header first.
    pub fn new(limits: Limits) -> Self {
        StreamFramer {
            limits,
            buf: Vec::new(),
            consumed: 0,
            scan: 0,
            item_start: 0,
            tag_start: 0,
            dropped: 0,
            phase: Phase::Header,
            lex: Lex::Between,
            depth: 0,
            saw_declaration: false,
            scope: Vec::new(),
            stream_name: String::new(),
            error: None,
            scanned: 0,
        }
    }

    /// Appends bytes received from the peer.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.phase == Phase::Ended || self.error.is_some() {
            return;
        }
        // Drop finished bytes once they are at least half the buffer, so each byte
        // is moved at most a bounded number of times.
        if self.consumed > 0 && self.consumed * 2 >= self.buf.len() {
            let n = self.consumed;
            self.buf.drain(..n);
            self.dropped += n;
            self.consumed = 0;
            self.scan -= n;
            self.item_start = self.item_start.saturating_sub(n);
            self.tag_start = self.tag_start.saturating_sub(n);
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete event, `None` when more bytes are needed. After an error the
    /// framer keeps returning that error: the stream cannot be resynchronised.
    pub fn next_event(&mut self) -> Option<Result<StreamEvent, XmlError>> {
        if let Some(e) = &self.error {
            return Some(Err(e.clone()));
        }
        if self.phase == Phase::Ended {
            return None;
        }
        match self.step() {
            Ok(None) => None,
            Ok(Some(ev)) => Some(Ok(ev)),
            Err(e) => {
                self.error = Some(e.clone());
                Some(Err(e))
            }
        }
    }

    /// Whether the stream header has been read.
    pub fn header_seen(&self) -> bool {
        self.phase != Phase::Header
    }

    fn in_item(&self) -> bool {
        self.phase == Phase::Header || self.lex != Lex::Between
    }

    fn syntax(&self, at: usize, expected: &'static str) -> XmlError {
        XmlError::Syntax {
            offset: self.dropped + at,
            expected,
        }
    }

    /// Scans until an event is complete or the bytes run out.
    fn step(&mut self) -> Result<Option<StreamEvent>, XmlError> {
        loop {
            // Never look further than the current item's size limit.
            let end = if self.in_item() {
                let limit_end = self.item_start.saturating_add(self.limits.max_stanza_bytes);
                if self.scan >= limit_end && self.buf.len() > limit_end {
                    return Err(XmlError::LimitExceeded(Limit::StanzaBytes));
                }
                self.buf.len().min(limit_end)
            } else {
                self.buf.len()
            };
            if self.scan >= end {
                return Ok(None);
            }
            let window = &self.buf[self.scan..end];
            match self.lex {
                Lex::Between => {
                    let ws = window.iter().take_while(|b| is_ws(**b)).count();
                    self.scanned += ws;
                    self.scan += ws;
                    if self.phase != Phase::Header {
                        self.consumed = self.scan;
                    }
                    match window.get(ws) {
                        None => {}
                        Some(b'<') => {
                            if self.phase != Phase::Header {
                                self.item_start = self.scan;
                            }
                            self.tag_start = self.scan;
                            self.scan += 1;
                            self.lex = Lex::Markup;
                        }
                        Some(_) => {
                            return Err(self.syntax(
                                self.scan,
                                if self.phase == Phase::Header {
                                    "'<' starting the stream header"
                                } else {
                                    "only whitespace between stanzas"
                                },
                            ))
                        }
                    }
                }
                Lex::Text => {
                    let n = window.iter().position(|b| *b == b'<');
                    self.scanned += n.unwrap_or(window.len());
                    match n {
                        None => self.scan = end,
                        Some(n) => {
                            self.tag_start = self.scan + n;
                            self.scan += n + 1;
                            self.lex = Lex::Markup;
                        }
                    }
                }
                Lex::Markup => match classify_markup(&self.buf[self.tag_start..end]) {
                    None => {
                        // Too few bytes to tell; the limit check above bounds waiting.
                        if end < self.buf.len() {
                            return Err(XmlError::LimitExceeded(Limit::StanzaBytes));
                        }
                        return Ok(None);
                    }
                    Some(m) => self.begin_markup(m)?,
                },
                Lex::StartTag {
                    mut quote,
                    mut slash,
                } => {
                    let mut done = None;
                    for (i, &b) in window.iter().enumerate() {
                        match quote {
                            Some(q) if b == q => quote = None,
                            Some(_) => {}
                            None if b == b'\'' || b == b'"' => {
                                quote = Some(b);
                                slash = false;
                            }
                            None if b == b'>' => {
                                done = Some(i);
                                break;
                            }
                            None => slash = b == b'/',
                        }
                    }
                    self.scanned += done.map_or(window.len(), |i| i + 1);
                    match done {
                        None => {
                            self.scan = end;
                            self.lex = Lex::StartTag { quote, slash };
                        }
                        Some(i) => {
                            self.scan += i + 1;
                            if let Some(ev) = self.end_of_start_tag(slash)? {
                                return Ok(Some(ev));
                            }
                        }
                    }
                }
                Lex::EndTag => {
                    let n = window.iter().position(|b| *b == b'>');
                    self.scanned += n.map_or(window.len(), |n| n + 1);
                    match n {
                        None => self.scan = end,
                        Some(n) => {
                            self.scan += n + 1;
                            if let Some(ev) = self.end_of_end_tag()? {
                                return Ok(Some(ev));
                            }
                        }
                    }
                }
                Lex::Cdata { mut brackets } => {
                    let mut done = None;
                    for (i, &b) in window.iter().enumerate() {
                        if b == b'>' && brackets == 2 {
                            done = Some(i);
                            break;
                        }
                        brackets = if b == b']' { (brackets + 1).min(2) } else { 0 };
                    }
                    self.scanned += done.map_or(window.len(), |i| i + 1);
                    match done {
                        None => {
                            self.scan = end;
                            self.lex = Lex::Cdata { brackets };
                        }
                        Some(i) => {
                            self.scan += i + 1;
                            self.lex = Lex::Text;
                        }
                    }
                }
                Lex::XmlDecl { mut question } => {
                    let mut done = None;
                    for (i, &b) in window.iter().enumerate() {
                        if b == b'>' && question {
                            done = Some(i);
                            break;
                        }
                        question = b == b'?';
                    }
                    self.scanned += done.map_or(window.len(), |i| i + 1);
                    match done {
                        None => {
                            self.scan = end;
                            self.lex = Lex::XmlDecl { question };
                        }
                        Some(i) => {
                            self.scan += i + 1;
                            self.lex = Lex::Between;
                        }
                    }
                }
            }
        }
    }

    /// Moves into the markup that starts at `tag_start`.
    fn begin_markup(&mut self, m: Markup) -> Result<(), XmlError> {
        let header = self.phase == Phase::Header;
        match m {
            Markup::StartTag => {
                self.scan = self.tag_start + 1;
                self.lex = Lex::StartTag {
                    quote: None,
                    slash: false,
                };
            }
            Markup::EndTag if header => {
                return Err(self.syntax(self.tag_start, "the <stream:stream> header"))
            }
            Markup::EndTag => {
                self.scan = self.tag_start + 2;
                self.lex = Lex::EndTag;
            }
            Markup::Cdata if self.depth > 0 => {
                self.scan = self.tag_start + "<![CDATA[".len();
                self.lex = Lex::Cdata { brackets: 0 };
            }
            Markup::Cdata => {
                return Err(self.syntax(self.tag_start, "an element, not CDATA, at stream level"))
            }
            Markup::XmlDecl if header && !self.saw_declaration => {
                self.saw_declaration = true;
                self.scan = self.tag_start + "<?xml".len();
                self.lex = Lex::XmlDecl { question: false };
            }
            Markup::XmlDecl => {
                return Err(XmlError::Forbidden(
                    ForbiddenConstruct::ProcessingInstruction,
                ))
            }
            Markup::Forbidden(c) => return Err(XmlError::Forbidden(c)),
            Markup::Unknown => {
                return Err(self.syntax(self.tag_start, "'<![CDATA[' or an element after '<!'"))
            }
        }
        Ok(())
    }

    /// A start tag ended at `scan`; `empty` when it was `/>`.
    fn end_of_start_tag(&mut self, empty: bool) -> Result<Option<StreamEvent>, XmlError> {
        if self.phase == Phase::Header {
            return self.read_header().map(Some);
        }
        if empty {
            if self.depth == 0 {
                return self.finish_stanza().map(Some);
            }
        } else {
            self.depth += 1;
            if self.depth > self.limits.max_depth {
                return Err(XmlError::LimitExceeded(Limit::Depth));
            }
        }
        self.lex = Lex::Text;
        Ok(None)
    }

    /// An end tag ended at `scan`.
    fn end_of_end_tag(&mut self) -> Result<Option<StreamEvent>, XmlError> {
        if self.depth == 0 {
            // At stream level: must close the stream.
            let name_bytes = &self.buf[self.tag_start + 2..self.scan - 1];
            let end = name_bytes
                .iter()
                .rposition(|b| !is_ws(*b))
                .map_or(0, |i| i + 1);
            let found = String::from_utf8_lossy(&name_bytes[..end]);
            if found != self.stream_name.as_str() {
                return Err(XmlError::MismatchedEndTag {
                    expected: self.stream_name.clone(),
                    found: found.into_owned(),
                });
            }
            self.phase = Phase::Ended;
            self.consumed = self.scan;
            self.buf = Vec::new();
            return Ok(Some(StreamEvent::End));
        }
        self.depth -= 1;
        if self.depth == 0 {
            return self.finish_stanza().map(Some);
        }
        self.lex = Lex::Text;
        Ok(None)
    }

    /// Parses the header bytes (`item_start..scan`).
    fn read_header(&mut self) -> Result<StreamEvent, XmlError> {
        let open = parse_stream_open(&self.buf[self.item_start..self.scan], &self.limits)?;
        if !open.element.is("stream", ns::STREAM) {
            return Err(self.syntax(
                self.tag_start,
                "a <stream:stream> header in namespace http://etherx.jabber.org/streams",
            ));
        }
        let mut header = StreamHeader::new("");
        for a in open.element.attributes {
            let slot = match (a.namespace.is_empty(), a.name.as_str()) {
                (true, "id") => &mut header.id,
                (true, "from") => &mut header.from,
                (true, "to") => &mut header.to,
                _ => {
                    header.attributes.push(a);
                    continue;
                }
            };
            *slot = Some(a.value);
        }
        if let Some((_, uri)) = open.declarations.iter().rev().find(|(p, _)| p.is_empty()) {
            header.default_namespace.clone_from(uri);
        }
        self.scope = open.declarations;
        self.stream_name = open.qualified_name;
        self.phase = Phase::Stanzas;
        self.lex = Lex::Between;
        self.consumed = self.scan;
        Ok(StreamEvent::Header(header))
    }

    /// Parses the stanza bytes (`item_start..scan`) with the header's scope.
    fn finish_stanza(&mut self) -> Result<StreamEvent, XmlError> {
        let scope: Vec<(&str, &str)> = self
            .scope
            .iter()
            .map(|(p, u)| (p.as_str(), u.as_str()))
            .collect();
        let element = parse_in_scope(&self.buf[self.item_start..self.scan], &self.limits, &scope)?;
        self.lex = Lex::Between;
        self.consumed = self.scan;
        Ok(if element.is("error", ns::STREAM) {
            StreamEvent::StreamError(element)
        } else {
            StreamEvent::Stanza(element)
        })
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::testgen::Tree;
    use crate::xml::Node;
    use alloc::vec;
    use quickcheck::{Arbitrary, Gen, QuickCheck};

    const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' from='pass.example.org' id='3BF96D32'>";

    /// Feeds `chunks` one by one, collecting every event after each feed.
    fn run(limits: &Limits, chunks: &[&[u8]]) -> Vec<Result<StreamEvent, XmlError>> {
        let mut f = StreamFramer::new(limits.clone());
        let mut events = Vec::new();
        for c in chunks {
            f.feed(c);
            while let Some(ev) = f.next_event() {
                let stop = ev.is_err();
                events.push(ev);
                if stop {
                    return events;
                }
            }
        }
        events
    }

    fn run_str(s: &str) -> Vec<Result<StreamEvent, XmlError>> {
        run(&Limits::default(), &[s.as_bytes()])
    }

    fn header_event() -> StreamEvent {
        let mut h = StreamHeader::new(ns::COMPONENT);
        h.from = Some("pass.example.org".into());
        h.id = Some("3BF96D32".into());
        StreamEvent::Header(h)
    }

    #[test]
    fn a_whole_component_stream() {
        let s = format!(
            "{HEADER}\n  <handshake/>\n<iq type='get' id='1'><query xmlns='jabber:iq:pass'/></iq> \
             <stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>"
        );
        let events = run_str(&s);
        assert_eq!(events.len(), 5, "{events:?}");
        assert_eq!(events[0], Ok(header_event()));
        assert_eq!(
            events[1],
            Ok(StreamEvent::Stanza(Element::new(
                "handshake",
                ns::COMPONENT
            )))
        );
        let iq = Element::new("iq", ns::COMPONENT)
            .with_attr("type", "get")
            .with_attr("id", "1")
            .with_child(Element::new("query", ns::PASS));
        assert_eq!(events[2], Ok(StreamEvent::Stanza(iq)));
        match &events[3] {
            Ok(StreamEvent::StreamError(e)) => {
                assert!(e.is("error", ns::STREAM));
                assert!(e.get_child("not-authorized", ns::XMPP_STREAMS).is_some());
            }
            other => panic!("expected a stream error, got {other:?}"),
        }
        assert_eq!(events[4], Ok(StreamEvent::End));
    }

    #[test]
    fn header_without_declaration_and_other_attributes() {
        let events = run_str(
            "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='pass.localhost' xmlns='jabber:component:accept' version='1.0' xml:lang='en'>",
        );
        let mut h = StreamHeader::new(ns::COMPONENT);
        h.to = Some("pass.localhost".into());
        h.attributes = vec![
            Attribute {
                name: "version".into(),
                namespace: "".into(),
                value: "1.0".into(),
            },
            Attribute {
                name: "lang".into(),
                namespace: ns::XML.into(),
                value: "en".into(),
            },
        ];
        assert_eq!(events, vec![Ok(StreamEvent::Header(h))]);
    }

    #[test]
    fn open_tag_round_trips() {
        let mut h = StreamHeader::new(ns::COMPONENT);
        h.to = Some("pass.localhost".into());
        h.from = Some("a'b".into());
        h.id = Some("x".into());
        h.attributes.push(Attribute {
            name: "lang".into(),
            namespace: ns::XML.into(),
            value: "en".into(),
        });
        h.attributes.push(Attribute {
            name: "v".into(),
            namespace: "urn:v".into(),
            value: "1".into(),
        });
        let tag = h.to_open_tag();
        assert!(tag.starts_with(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='pass.localhost' from='a&apos;b' id='x'"
        ), "{tag}");
        assert_eq!(run_str(&tag), vec![Ok(StreamEvent::Header(h))]);
        let end = run_str(&format!("{tag}{STREAM_CLOSE}"));
        assert_eq!(end.last(), Some(&Ok(StreamEvent::End)));
    }

    #[test]
    fn nothing_until_complete() {
        let mut f = StreamFramer::new(Limits::default());
        assert_eq!(f.next_event(), None);
        f.feed(&HEADER.as_bytes()[..HEADER.len() - 1]);
        assert_eq!(f.next_event(), None);
        assert!(!f.header_seen());
        f.feed(b">");
        assert_eq!(f.next_event(), Some(Ok(header_event())));
        assert!(f.header_seen());
        f.feed(b"<iq><a x='>'>&lt;<![CDATA[</iq>]]></a>");
        assert_eq!(f.next_event(), None);
        f.feed(b"</iq>");
        match f.next_event() {
            Some(Ok(StreamEvent::Stanza(e))) => {
                assert_eq!(e.elements().next().map(|a| a.text()), Some("<</iq>".into()))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(f.next_event(), None);
    }

    #[test]
    fn errors_stick() {
        let mut f = StreamFramer::new(Limits::default());
        f.feed(format!("{HEADER}<a><!-- x --></a><b/>").as_bytes());
        assert_eq!(f.next_event(), Some(Ok(header_event())));
        let err = Err(XmlError::Forbidden(ForbiddenConstruct::Comment));
        assert_eq!(f.next_event(), Some(err.clone()));
        f.feed(b"<c/>");
        assert_eq!(f.next_event(), Some(err));
    }

    #[test]
    fn after_the_end_nothing_more() {
        let mut f = StreamFramer::new(Limits::default());
        f.feed(format!("{HEADER}</stream:stream><iq/>").as_bytes());
        assert_eq!(f.next_event(), Some(Ok(header_event())));
        assert_eq!(f.next_event(), Some(Ok(StreamEvent::End)));
        f.feed(b"<iq/>");
        assert_eq!(f.next_event(), None);
    }

    fn last_error(s: &str, limits: &Limits) -> XmlError {
        match run(limits, &[s.as_bytes()]).pop() {
            Some(Err(e)) => e,
            other => panic!("expected an error for {s:?}, got {other:?}"),
        }
    }

    #[test]
    fn stream_level_errors() {
        let l = Limits::default();
        assert_eq!(
            last_error("hello", &l),
            XmlError::Syntax {
                offset: 0,
                expected: "'<' starting the stream header"
            }
        );
        assert!(matches!(
            last_error("<iq xmlns='jabber:component:accept'>", &l),
            XmlError::Syntax { .. }
        ));
        assert!(matches!(
            last_error("<stream:stream xmlns:stream='urn:wrong'>", &l),
            XmlError::Syntax { .. }
        ));
        assert_eq!(
            last_error("<s:stream>", &l),
            XmlError::UndeclaredPrefix("s".into())
        );
        assert!(matches!(
            last_error(
                "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>",
                &l
            ),
            XmlError::Syntax { .. }
        ));
        assert!(matches!(
            last_error("</stream:stream>", &l),
            XmlError::Syntax { offset: 0, .. }
        ));
        let at = HEADER.len() + 1;
        assert_eq!(
            last_error(&format!("{HEADER} x<iq/>"), &l),
            XmlError::Syntax {
                offset: at,
                expected: "only whitespace between stanzas"
            }
        );
        assert!(matches!(
            last_error(&format!("{HEADER}<![CDATA[x]]>"), &l),
            XmlError::Syntax { .. }
        ));
        assert_eq!(
            last_error(&format!("{HEADER}</stream>"), &l),
            XmlError::MismatchedEndTag {
                expected: "stream:stream".into(),
                found: "stream".into()
            }
        );
        assert_eq!(
            last_error(&format!("{HEADER}<iq><a></iq></a>"), &l),
            XmlError::MismatchedEndTag {
                expected: "a".into(),
                found: "iq".into()
            }
        );
        assert!(matches!(
            last_error(&format!("{HEADER}<iq><!X></iq>"), &l),
            XmlError::Syntax { .. }
        ));
    }

    #[test]
    fn forbidden_constructs_in_a_stream() {
        use ForbiddenConstruct::*;
        let l = Limits::default();
        for (s, what) in [
            (String::from("<!DOCTYPE stream><stream:stream>"), Dtd),
            (
                String::from("<?xml version='1.0'?><?xml version='1.0'?>"),
                ProcessingInstruction,
            ),
            (String::from("<?pi?><stream:stream>"), ProcessingInstruction),
            (String::from("<!-- hi --><stream:stream>"), Comment),
            (format!("{HEADER}<!-- hi -->"), Comment),
            (format!("{HEADER}<?pi?>"), ProcessingInstruction),
            (
                format!("{HEADER}<?xml version='1.0'?>"),
                ProcessingInstruction,
            ),
            (format!("{HEADER}<!ENTITY x 'y'>"), EntityDeclaration),
            (format!("{HEADER}<iq><!DOCTYPE x></iq>"), Dtd),
        ] {
            assert_eq!(last_error(&s, &l), XmlError::Forbidden(what), "{s}");
        }
        assert_eq!(
            last_error(&format!("{HEADER}<iq>&foo;</iq>"), &l),
            XmlError::UndeclaredEntity("foo".into())
        );
        assert_eq!(
            run(&l, &[HEADER.as_bytes(), b"<iq>\xFF</iq>"]).pop(),
            Some(Err(XmlError::InvalidUtf8 { offset: 4 }))
        );
    }

    #[test]
    fn limits_apply_per_stanza() {
        let l = Limits {
            max_stanza_bytes: 16,
            ..Limits::default()
        };
        let header = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>";
        assert_eq!(
            last_error(header, &l),
            XmlError::LimitExceeded(Limit::StanzaBytes)
        );
        let l = Limits {
            max_stanza_bytes: header.len() + 1,
            ..Limits::default()
        };
        // Many small stanzas and lots of whitespace are fine; one big stanza is not.
        let mut s = String::from(header);
        for _ in 0..100 {
            s.push_str("   <a>xy</a>\n");
        }
        let events = run(&l, &[s.as_bytes()]);
        assert_eq!(events.len(), 101);
        assert!(events.iter().all(|e| e.is_ok()));
        s.push_str(&"<a>".repeat(100));
        assert_eq!(
            last_error(&s, &l),
            XmlError::LimitExceeded(Limit::StanzaBytes)
        );

        let shallow = Limits {
            max_depth: 2,
            ..Limits::default()
        };
        assert!(run(&shallow, &[HEADER.as_bytes(), b"<a><b/></a>"])
            .iter()
            .all(|e| e.is_ok()));
        assert_eq!(
            last_error(&format!("{HEADER}<a><b><c>"), &shallow),
            XmlError::LimitExceeded(Limit::Depth)
        );
        let few = Limits {
            max_attributes: 1,
            ..Limits::default()
        };
        assert_eq!(
            last_error(&format!("{HEADER}<a x='1' y='2'/>"), &few),
            XmlError::LimitExceeded(Limit::Attributes)
        );
        let short = Limits {
            max_attribute_bytes: 1,
            ..Limits::default()
        };
        assert_eq!(
            last_error(&format!("{HEADER}<a x='12'/>"), &short),
            XmlError::LimitExceeded(Limit::AttributeBytes)
        );
        let terse = Limits {
            max_text_bytes: 1,
            ..Limits::default()
        };
        assert_eq!(
            last_error(&format!("{HEADER}<a>12</a>"), &terse),
            XmlError::LimitExceeded(Limit::TextBytes)
        );
    }

    #[test]
    fn a_stanza_that_never_closes_is_not_buffered_forever() {
        let l = Limits::default();
        let mut f = StreamFramer::new(l.clone());
        f.feed(HEADER.as_bytes());
        assert_eq!(f.next_event(), Some(Ok(header_event())));
        f.feed(b"<iq>");
        let mut fed = 0;
        let err = loop {
            f.feed(&[b'x'; 1000]);
            fed += 1000;
            if let Some(ev) = f.next_event() {
                break ev;
            }
            assert!(
                fed <= l.max_stanza_bytes,
                "still buffering after {fed} bytes"
            );
        };
        assert_eq!(err, Err(XmlError::LimitExceeded(Limit::StanzaBytes)));
        f.feed(&[b'x'; 1000]);
        assert!(
            f.buf.len() <= l.max_stanza_bytes + 2000,
            "input after an error is dropped"
        );
    }

    #[test]
    fn one_byte_at_a_time_is_linear() {
        let mut s = String::from(HEADER);
        for i in 0..200 {
            s.push_str(&format!("<iq id='{i}' to='a&gt;b'><query xmlns='jabber:iq:pass'><![CDATA[]>]]><x/>text</query></iq>\n"));
        }
        let mut f = StreamFramer::new(Limits::default());
        let mut stanzas = 0;
        for b in s.as_bytes() {
            f.feed(core::slice::from_ref(b));
            while let Some(ev) = f.next_event() {
                assert!(ev.is_ok(), "{ev:?}");
                stanzas += 1;
            }
        }
        assert_eq!(stanzas, 201);
        // Each byte examined once by the scanner (classification peeks are constant).
        assert!(
            f.scanned <= s.len(),
            "scanned {} of {} bytes",
            f.scanned,
            s.len()
        );
        assert!(
            f.buf.len() < 200,
            "finished bytes are dropped: {}",
            f.buf.len()
        );
    }

    /// A stream and the chunk boundaries to feed it in.
    #[derive(Clone, Debug)]
    struct Chunked {
        bytes: Vec<u8>,
        cuts: Vec<usize>,
        stanzas: Vec<Element>,
    }

    impl Arbitrary for Chunked {
        fn arbitrary(g: &mut Gen) -> Self {
            let mut s = String::from(HEADER);
            let mut stanzas = Vec::new();
            for _ in 0..usize::arbitrary(g) % 6 {
                let mut e = Tree::arbitrary(g).0;
                if e.is("error", ns::STREAM) {
                    e.name = "not-an-error".into();
                }
                s.push_str(
                    g.choose(&["", " ", "\n\t", "\r\n  "])
                        .copied()
                        .unwrap_or(""),
                );
                e.write_in(&mut s, ns::COMPONENT);
                stanzas.push(e);
            }
            s.push_str(STREAM_CLOSE);
            let bytes = s.into_bytes();
            let mut cuts: Vec<usize> = (0..usize::arbitrary(g) % 12)
                .map(|_| usize::arbitrary(g) % (bytes.len() + 1))
                .collect();
            cuts.sort_unstable();
            Chunked {
                bytes,
                cuts,
                stanzas,
            }
        }
    }

    #[test]
    fn any_chunking_gives_the_same_events() {
        fn prop(c: Chunked) -> bool {
            let whole = run(&Limits::default(), &[&c.bytes]);
            let mut chunks: Vec<&[u8]> = Vec::new();
            let mut from = 0;
            for &cut in &c.cuts {
                chunks.push(&c.bytes[from..cut]);
                from = cut;
            }
            chunks.push(&c.bytes[from..]);
            let mut expected = vec![Ok(header_event())];
            expected.extend(
                c.stanzas
                    .iter()
                    .cloned()
                    .map(|e| Ok(StreamEvent::Stanza(e))),
            );
            expected.push(Ok(StreamEvent::End));
            whole == expected && run(&Limits::default(), &chunks) == whole
        }
        QuickCheck::new()
            .tests(1000)
            .quickcheck(prop as fn(Chunked) -> bool);
    }

    #[test]
    fn byte_by_byte_equals_one_feed() {
        let s = format!("{HEADER}<a b='&apos;>'><![CDATA[ ]] ]]]>x</a><c/></stream:stream>");
        let one: Vec<&[u8]> = s.as_bytes().chunks(1).collect();
        assert_eq!(run(&Limits::default(), &one), run_str(&s));
        assert_eq!(run_str(&s).len(), 4);
        let _ = Node::Text(String::new());
    }

    /// Broken streams too: any chunking gives the same events and the same error as
    /// one feed, and nothing panics.
    #[test]
    fn mutated_streams_chunk_the_same() {
        const ALPHABET: &[u8] = b"<>/&;'\"=:!?[]-x \n\x00\xFF";
        fn prop(edits: Vec<(u16, u8, u8)>, cuts: Vec<u16>) -> bool {
            let mut doc = format!(
                "{HEADER}<iq a='1'><q xmlns='urn:q'>t&amp;<![CDATA[]]>]]></q></iq> <stream:error/><x/></stream:stream>"
            )
            .into_bytes();
            for (at, op, b) in edits {
                let at = usize::from(at) % (doc.len() + 1);
                let b = ALPHABET[usize::from(b) % ALPHABET.len()];
                match op % 3 {
                    0 => doc.insert(at, b),
                    1 if at < doc.len() => {
                        doc.remove(at);
                    }
                    _ if at < doc.len() => doc[at] = b,
                    _ => {}
                }
            }
            let mut cuts: Vec<usize> = cuts
                .iter()
                .map(|c| usize::from(*c) % (doc.len() + 1))
                .collect();
            cuts.sort_unstable();
            let mut chunks: Vec<&[u8]> = Vec::new();
            let mut from = 0;
            for cut in cuts {
                chunks.push(&doc[from..cut]);
                from = cut;
            }
            chunks.push(&doc[from..]);
            let limits = Limits {
                max_stanza_bytes: 200,
                max_depth: 3,
                ..Limits::default()
            };
            run(&limits, &chunks) == run(&limits, &[&doc])
        }
        QuickCheck::new()
            .rng(Gen::new(6))
            .tests(3000)
            .quickcheck(prop as fn(Vec<(u16, u8, u8)>, Vec<u16>) -> bool);
    }
}
