//! Records from host to guest (`docs/ENGINE-ABI.md`, "Events"): one per call.

use crate::config::ConfigRecord;
use crate::error::{RecordError, RecordKind};
use crate::field::{instant, malformed, number, OneLine};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::SocketAddr;
use pass_core::lease::{ConnId, ListenError};
use pass_core::time::Instant;
use pass_core::xml::{parse_element, Element, Limits};

/// One event: the [`Engine`](pass_core::engine::Engine) call it stands for, or the
/// configuration that comes first.
#[derive(Clone, Debug, PartialEq, Eq)]
// The config comes once per run: boxing it would save nothing worth an
// indirection in every match on it.
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// `config ...`: the first event, exactly once.
    Config(ConfigRecord),
    /// `stanza NOW XML`: a top-level element arrived on the XMPP stream.
    Stanza {
        /// When.
        now: Instant,
        /// The element (read within the default [`Limits`]).
        stanza: Element,
    },
    /// `listen NOW PORT ok|addr-in-use|other`: how a `listen` action went.
    ListenResult {
        /// When.
        now: Instant,
        /// The port.
        port: u16,
        /// The outcome.
        result: Result<(), ListenError>,
    },
    /// `conn NOW CONN PORT PEER`: the host accepted a connection.
    Connection {
        /// When.
        now: Instant,
        /// The id the host gave it.
        conn: ConnId,
        /// The local port it arrived on.
        local_port: u16,
        /// Who connected.
        peer: SocketAddr,
    },
    /// `closed NOW CONN`: a connection ended.
    Closed {
        /// When.
        now: Instant,
        /// Which.
        conn: ConnId,
    },
    /// `timeout NOW`: the engine's deadline has passed.
    Timeout {
        /// When.
        now: Instant,
    },
    /// `shutdown NOW`: the host is going away.
    Shutdown {
        /// When.
        now: Instant,
    },
}

impl Event {
    /// Reads one event record; one trailing LF (or CRLF) is allowed.
    pub fn decode(input: &[u8]) -> Result<Event, RecordError> {
        let text = core::str::from_utf8(input).map_err(|_| RecordError::NotUtf8)?;
        let text = text.strip_suffix('\n').unwrap_or(text);
        let text = text.strip_suffix('\r').unwrap_or(text);
        if text.contains('\n') {
            return Err(RecordError::SeveralLines);
        }
        let (keyword, rest) = text.split_once(' ').unwrap_or((text, ""));
        match keyword {
            "config" => return ConfigRecord::decode_fields(rest).map(Event::Config),
            // The XML may hold spaces: only the first one after NOW separates.
            "stanza" => {
                let record = RecordKind::Stanza;
                let (now, xml) = rest
                    .split_once(' ')
                    .ok_or(RecordError::FieldCount { record })?;
                let now = instant(record, now)?;
                let stanza = parse_element(xml.as_bytes(), &Limits::default())
                    .map_err(|error| RecordError::Xml { record, error })?;
                return Ok(Event::Stanza { now, stanza });
            }
            _ => {}
        }
        let fields: Vec<&str> = match rest {
            "" => Vec::new(),
            rest => rest.split(' ').collect(),
        };
        let (record, event) = match (keyword, fields.as_slice()) {
            ("listen", [now, port, result]) => {
                let record = RecordKind::ListenResult;
                let result = match *result {
                    "ok" => Ok(()),
                    "addr-in-use" => Err(ListenError::AddrInUse),
                    "other" => Err(ListenError::Other),
                    "no-resources" => Err(ListenError::NoResources),
                    r => {
                        let expected = "ok|addr-in-use|other|no-resources";
                        return Err(malformed(record, "result", r, expected));
                    }
                };
                let event = Event::ListenResult {
                    now: instant(record, now)?,
                    port: number(record, "port", port)?,
                    result,
                };
                (record, event)
            }
            ("conn", [now, conn, local_port, peer]) => {
                let record = RecordKind::Conn;
                let event = Event::Connection {
                    now: instant(record, now)?,
                    conn: ConnId(number(record, "conn", conn)?),
                    local_port: number(record, "port", local_port)?,
                    peer: peer
                        .parse()
                        .map_err(|_| malformed(record, "peer", peer, "ADDRESS:PORT"))?,
                };
                (record, event)
            }
            ("closed", [now, conn]) => {
                let record = RecordKind::Closed;
                let event = Event::Closed {
                    now: instant(record, now)?,
                    conn: ConnId(number(record, "conn", conn)?),
                };
                (record, event)
            }
            ("timeout", [now]) => {
                let now = instant(RecordKind::Timeout, now)?;
                (RecordKind::Timeout, Event::Timeout { now })
            }
            ("shutdown", [now]) => {
                let now = instant(RecordKind::Shutdown, now)?;
                (RecordKind::Shutdown, Event::Shutdown { now })
            }
            ("listen", _) => return Err(field_count(RecordKind::ListenResult)),
            ("conn", _) => return Err(field_count(RecordKind::Conn)),
            ("closed", _) => return Err(field_count(RecordKind::Closed)),
            ("timeout", _) => return Err(field_count(RecordKind::Timeout)),
            ("shutdown", _) => return Err(field_count(RecordKind::Shutdown)),
            _ => {
                return Err(RecordError::UnknownEvent {
                    keyword: String::from(keyword),
                })
            }
        };
        debug_assert_eq!(event.kind(), record);
        Ok(event)
    }

    /// Which record this is.
    pub fn kind(&self) -> RecordKind {
        match self {
            Event::Config(_) => RecordKind::Config,
            Event::Stanza { .. } => RecordKind::Stanza,
            Event::ListenResult { .. } => RecordKind::ListenResult,
            Event::Connection { .. } => RecordKind::Conn,
            Event::Closed { .. } => RecordKind::Closed,
            Event::Timeout { .. } => RecordKind::Timeout,
            Event::Shutdown { .. } => RecordKind::Shutdown,
        }
    }
}

fn field_count(record: RecordKind) -> RecordError {
    RecordError::FieldCount { record }
}

/// The record, without a line terminator (the host needs none).
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Config(config) => write!(f, "{config}"),
            Event::Stanza { now, stanza } => write!(
                f,
                "stanza {} {}",
                now.as_millis(),
                OneLine(&stanza.to_xml())
            ),
            Event::ListenResult { now, port, result } => {
                let result = match result {
                    Ok(()) => "ok",
                    Err(ListenError::AddrInUse) => "addr-in-use",
                    Err(ListenError::NoResources) => "no-resources",
                    // `other`, and any reason a later pass-core adds, is "any other
                    // failure" to a module (ENGINE-ABI 1 knows these three).
                    Err(_) => "other",
                };
                write!(f, "listen {} {port} {result}", now.as_millis())
            }
            Event::Connection {
                now,
                conn,
                local_port,
                peer,
            } => write!(f, "conn {} {} {local_port} {peer}", now.as_millis(), conn.0),
            Event::Closed { now, conn } => write!(f, "closed {} {}", now.as_millis(), conn.0),
            Event::Timeout { now } => write!(f, "timeout {}", now.as_millis()),
            Event::Shutdown { now } => write!(f, "shutdown {}", now.as_millis()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn reads_every_kind() {
        assert!(matches!(
            Event::decode(b"config service=p.x advertised=192.0.2.1\n"),
            Ok(Event::Config(_))
        ));
        assert_eq!(
            Event::decode(b"stanza 7 <iq id='a b' type='get'/>"),
            Ok(Event::Stanza {
                now: at(7),
                stanza: Element::new("iq", "")
                    .with_attr("id", "a b")
                    .with_attr("type", "get"),
            })
        );
        assert_eq!(
            Event::decode(b"listen 8 40001 addr-in-use"),
            Ok(Event::ListenResult {
                now: at(8),
                port: 40001,
                result: Err(ListenError::AddrInUse)
            })
        );
        assert_eq!(
            Event::decode(b"conn 9 3 40001 [2001:db8::2]:1234\r\n"),
            Ok(Event::Connection {
                now: at(9),
                conn: ConnId(3),
                local_port: 40001,
                peer: "[2001:db8::2]:1234".parse().unwrap()
            })
        );
        assert_eq!(
            Event::decode(b"closed 10 3"),
            Ok(Event::Closed {
                now: at(10),
                conn: ConnId(3)
            })
        );
        assert_eq!(
            Event::decode(b"timeout 11"),
            Ok(Event::Timeout { now: at(11) })
        );
        assert_eq!(
            Event::decode(b"shutdown 12"),
            Ok(Event::Shutdown { now: at(12) })
        );
    }

    #[test]
    fn writes_every_kind() {
        let t = at(1500);
        let cases = [
            (
                Event::ListenResult {
                    now: t,
                    port: 40001,
                    result: Err(ListenError::AddrInUse),
                },
                "listen 1500 40001 addr-in-use",
            ),
            (
                Event::ListenResult {
                    now: t,
                    port: 40001,
                    result: Ok(()),
                },
                "listen 1500 40001 ok",
            ),
            (
                Event::ListenResult {
                    now: t,
                    port: 40001,
                    result: Err(ListenError::Other),
                },
                "listen 1500 40001 other",
            ),
            (
                Event::Connection {
                    now: t,
                    conn: ConnId(4),
                    local_port: 40001,
                    peer: "[2001:db8::7]:1234".parse().unwrap(),
                },
                "conn 1500 4 40001 [2001:db8::7]:1234",
            ),
            (
                Event::Closed {
                    now: t,
                    conn: ConnId(4),
                },
                "closed 1500 4",
            ),
            (Event::Timeout { now: t }, "timeout 1500"),
            (Event::Shutdown { now: t }, "shutdown 1500"),
            (
                Event::Stanza {
                    now: t,
                    stanza: Element::new("iq", "jabber:component:accept").with_text("a\r\nb"),
                },
                "stanza 1500 <iq xmlns='jabber:component:accept'>a&#xD;&#10;b</iq>",
            ),
        ];
        for (event, record) in cases {
            assert_eq!(event.to_string(), record);
            assert_eq!(Event::decode(record.as_bytes()), Ok(event));
        }
    }

    #[test]
    fn refuses_malformed_records() {
        for (bad, why) in [
            (&b"\xff"[..], RecordError::NotUtf8),
            (b"timeout 1\ntimeout 2", RecordError::SeveralLines),
            (
                b"timeout",
                RecordError::FieldCount {
                    record: RecordKind::Timeout,
                },
            ),
            (
                b"timeout 1 2",
                RecordError::FieldCount {
                    record: RecordKind::Timeout,
                },
            ),
            (
                b"stanza 5",
                RecordError::FieldCount {
                    record: RecordKind::Stanza,
                },
            ),
            (
                b"timeout -1",
                malformed(RecordKind::Timeout, "now", "-1", "a decimal number"),
            ),
            (
                b"listen 1 70000 ok",
                RecordError::OutOfRange {
                    record: RecordKind::ListenResult,
                    field: "port",
                    value: "70000".to_string(),
                },
            ),
            (
                b"listen 1 5 maybe",
                malformed(
                    RecordKind::ListenResult,
                    "result",
                    "maybe",
                    "ok|addr-in-use|other|no-resources",
                ),
            ),
            (
                b"conn 1 2 3 nowhere",
                malformed(RecordKind::Conn, "peer", "nowhere", "ADDRESS:PORT"),
            ),
            (
                b"bogus 1",
                RecordError::UnknownEvent {
                    keyword: "bogus".to_string(),
                },
            ),
        ] {
            assert_eq!(
                Event::decode(bad),
                Err(why),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(matches!(
            Event::decode(b"stanza 5 <iq"),
            Err(RecordError::Xml {
                record: RecordKind::Stanza,
                ..
            })
        ));
    }

    #[test]
    fn refusals_say_which_record_and_field() {
        let text = |bad: &[u8]| Event::decode(bad).unwrap_err().to_string();
        assert_eq!(
            text(b"timeout"),
            "timeout: wrong number of fields, expected `timeout NOW`"
        );
        assert_eq!(
            text(b"conn 5 1 40000 nowhere"),
            "conn: peer \"nowhere\" is not ADDRESS:PORT"
        );
        assert_eq!(
            text(b"closed 5 x"),
            "closed: conn \"x\" is not a decimal number"
        );
        assert_eq!(text(b"fly 5"), "unknown event \"fly\"");
        assert!(text(b"stanza 5 <iq").starts_with("stanza: not XML: "));
    }
}
