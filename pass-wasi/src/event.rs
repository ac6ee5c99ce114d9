//! Event records from the host (ENGINE-ABI.md, "Events"): one per `pass_handle`.

use pass_core::lease::{ConnId, ListenError};
use pass_core::time::Instant;
use std::format;
use std::net::SocketAddr;
use std::string::String;

/// One event, borrowed from the input buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// `config FIELDS`: the fields, still unparsed.
    Config(&'a str),
    /// `stanza NOW XML`.
    Stanza { now: Instant, xml: &'a str },
    /// `listen NOW PORT ok|addr-in-use|other`.
    ListenResult {
        now: Instant,
        port: u16,
        result: Result<(), ListenError>,
    },
    /// `conn NOW CONN LOCAL_PORT PEER`.
    Connection {
        now: Instant,
        conn: ConnId,
        local_port: u16,
        peer: SocketAddr,
    },
    /// `closed NOW CONN`.
    Closed { now: Instant, conn: ConnId },
    /// `timeout NOW`.
    Timeout { now: Instant },
    /// `shutdown NOW`.
    Shutdown { now: Instant },
}

/// Parses one record; a single trailing LF (or CRLF) is allowed.
pub fn parse_event(input: &[u8]) -> Result<Event<'_>, String> {
    let text = core::str::from_utf8(input).map_err(|_| String::from("event is not UTF-8"))?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    if text.contains('\n') {
        return Err(String::from("event holds more than one line"));
    }
    let (kind, rest) = text.split_once(' ').unwrap_or((text, ""));
    if kind == "config" {
        return Ok(Event::Config(rest));
    }
    if kind == "stanza" {
        let (now, xml) = rest
            .split_once(' ')
            .ok_or_else(|| String::from("stanza: expected `stanza NOW XML`"))?;
        return Ok(Event::Stanza {
            now: instant(now)?,
            xml,
        });
    }
    let fields: std::vec::Vec<&str> = match rest {
        "" => std::vec::Vec::new(),
        rest => rest.split(' ').collect(),
    };
    let event = match (kind, fields.as_slice()) {
        ("listen", [now, port, result]) => Event::ListenResult {
            now: instant(now)?,
            port: number("port", port)?,
            result: match *result {
                "ok" => Ok(()),
                "addr-in-use" => Err(ListenError::AddrInUse),
                "other" => Err(ListenError::Other),
                r => return Err(format!("listen: unknown result {r:?}")),
            },
        },
        ("conn", [now, conn, local_port, peer]) => Event::Connection {
            now: instant(now)?,
            conn: ConnId(number("conn", conn)?),
            local_port: number("local port", local_port)?,
            peer: peer
                .parse()
                .map_err(|_| format!("conn: peer {peer:?} is not ADDRESS:PORT"))?,
        },
        ("closed", [now, conn]) => Event::Closed {
            now: instant(now)?,
            conn: ConnId(number("conn", conn)?),
        },
        ("timeout", [now]) => Event::Timeout { now: instant(now)? },
        ("shutdown", [now]) => Event::Shutdown { now: instant(now)? },
        ("listen" | "conn" | "closed" | "timeout" | "shutdown", _) => {
            return Err(format!("{kind}: wrong number of fields"))
        }
        _ => return Err(format!("unknown event {kind:?}")),
    };
    Ok(event)
}

fn instant(field: &str) -> Result<Instant, String> {
    number("time", field).map(Instant::from_millis)
}

fn number<T: core::str::FromStr>(what: &str, field: &str) -> Result<T, String> {
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} {field:?} is not a decimal number"));
    }
    field
        .parse()
        .map_err(|_| format!("{what} {field:?} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn parses_every_kind() {
        assert_eq!(
            parse_event(b"config service=p.x\n"),
            Ok(Event::Config("service=p.x"))
        );
        assert_eq!(
            parse_event(b"stanza 7 <iq id='a b' type='get'/>"),
            Ok(Event::Stanza {
                now: at(7),
                xml: "<iq id='a b' type='get'/>"
            })
        );
        assert_eq!(
            parse_event(b"listen 8 40001 addr-in-use"),
            Ok(Event::ListenResult {
                now: at(8),
                port: 40001,
                result: Err(ListenError::AddrInUse)
            })
        );
        assert_eq!(
            parse_event(b"conn 9 3 40001 [2001:db8::2]:1234\r\n"),
            Ok(Event::Connection {
                now: at(9),
                conn: ConnId(3),
                local_port: 40001,
                peer: "[2001:db8::2]:1234".parse().unwrap()
            })
        );
        assert_eq!(
            parse_event(b"closed 10 3"),
            Ok(Event::Closed {
                now: at(10),
                conn: ConnId(3)
            })
        );
        assert_eq!(
            parse_event(b"timeout 11"),
            Ok(Event::Timeout { now: at(11) })
        );
        assert_eq!(
            parse_event(b"shutdown 12"),
            Ok(Event::Shutdown { now: at(12) })
        );
    }

    #[test]
    fn refuses_malformed_records() {
        for bad in [
            &b"\xff"[..],
            b"timeout",
            b"timeout -1",
            b"timeout 1 2",
            b"listen 1 70000 ok",
            b"listen 1 5 maybe",
            b"conn 1 2 3 nowhere",
            b"stanza 5",
            b"bogus 1",
            b"timeout 1\ntimeout 2",
        ] {
            assert!(
                parse_event(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
