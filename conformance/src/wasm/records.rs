//! The ABI's text records, host side: events written for the guest, the guest's
//! output read back into actions. `docs/ENGINE-ABI.md` is the specification.

use pass_core::jid::Jid;
use pass_core::lease::{Action, Config, ConnId, ListenError};
use pass_core::stanza::Iq;
use pass_core::time::Instant;
use pass_core::xml::{parse_element, Element, Limits};
use std::fmt::Write;
use std::net::SocketAddr;

/// `config ...`: every field of `config`, then `fault=NAME` if given.
pub fn config_record(config: &Config, fault: Option<&str>) -> String {
    // No `..`: a new Config field fails to compile here until the ABI has its key.
    let Config {
        service,
        advertised,
        first_port,
        last_port,
        max_leases,
        max_leases_per_account,
        max_relays,
        max_expire,
        answer_timeout,
        proxy_window,
        seed,
        quarantine,
        iq_burst,
        iq_per_second,
        call_burst,
        call_per_second,
        stanza_limits,
    } = config;
    let advertised: Vec<String> = advertised.iter().map(|ip| ip.to_string()).collect();
    let mut s = format!(
        "config service={service} advertised={} ports={first_port}-{last_port} \
         max_leases={max_leases} max_leases_per_account={max_leases_per_account} \
         max_relays={max_relays} max_expire_ms={} answer_timeout_ms={} proxy_window_ms={} \
         seed={seed} quarantine_ms={} iq_burst={iq_burst} iq_per_second={iq_per_second} \
         call_burst={call_burst} call_per_second={call_per_second} max_stanza_bytes={} max_depth={} max_attributes={} max_attribute_bytes={} \
         max_text_bytes={}",
        advertised.join(","),
        max_expire.as_millis(),
        answer_timeout.as_millis(),
        proxy_window.as_millis(),
        quarantine.as_millis(),
        stanza_limits.max_stanza_bytes,
        stanza_limits.max_depth,
        stanza_limits.max_attributes,
        stanza_limits.max_attribute_bytes,
        stanza_limits.max_text_bytes,
    );
    if let Some(name) = fault {
        let _ = write!(s, " fault={name}");
    }
    s
}

/// `stanza NOW XML`, the XML kept on one line.
pub fn stanza_record(now: Instant, stanza: &Element) -> String {
    let mut s = format!("stanza {} ", now.as_millis());
    push_one_line(&mut s, &stanza.to_xml());
    s
}

/// `listen NOW PORT ok|addr-in-use|other`.
pub fn listen_record(now: Instant, port: u16, result: Result<(), ListenError>) -> String {
    let result = match result {
        Ok(()) => "ok",
        Err(ListenError::AddrInUse) => "addr-in-use",
        Err(ListenError::Other) => "other",
    };
    format!("listen {} {port} {result}", now.as_millis())
}

/// `conn NOW CONN LOCAL_PORT PEER`.
pub fn conn_record(now: Instant, conn: ConnId, local_port: u16, peer: SocketAddr) -> String {
    format!("conn {} {} {local_port} {peer}", now.as_millis(), conn.0)
}

/// `closed NOW CONN`.
pub fn closed_record(now: Instant, conn: ConnId) -> String {
    format!("closed {} {}", now.as_millis(), conn.0)
}

/// `timeout NOW`.
pub fn timeout_record(now: Instant) -> String {
    format!("timeout {}", now.as_millis())
}

/// `shutdown NOW`.
pub fn shutdown_record(now: Instant) -> String {
    format!("shutdown {}", now.as_millis())
}

/// CR and LF as character references: XML has raw line breaks only in text and
/// attribute values, where the references mean the same.
fn push_one_line(out: &mut String, xml: &str) {
    for c in xml.chars() {
        match c {
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// What one call into the guest produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// The actions, in order.
    pub actions: Vec<Action>,
    /// The engine's next deadline.
    pub next: Option<Instant>,
}

/// Reads the guest's output: action lines, then exactly one `next` line. An
/// `error` line (the guest refused the event) or anything malformed is an error.
pub fn parse_output(text: &str) -> Result<Output, String> {
    let text = text
        .strip_suffix('\n')
        .ok_or("output does not end with a line break")?;
    let mut actions = Vec::new();
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
        if kind == "next" {
            if lines.peek().is_some() {
                return Err("records after `next`".into());
            }
            let next = match rest {
                "none" => None,
                ms => Some(Instant::from_millis(number("next", ms)?)),
            };
            return Ok(Output { actions, next });
        }
        actions.push(parse_action(kind, rest)?);
    }
    Err("output has no `next` record".into())
}

fn parse_action(kind: &str, rest: &str) -> Result<Action, String> {
    let fields: Vec<&str> = rest.split(' ').collect();
    let action = match (kind, fields.as_slice()) {
        ("error", _) => return Err(format!("engine refused the event: {rest}")),
        ("send", _) => {
            let element = parse_element(rest.as_bytes(), &Limits::default())
                .map_err(|e| format!("send: not XML: {e}"))?;
            let iq = Iq::try_from(&element).map_err(|e| format!("send: not an IQ: {e:?}"))?;
            Action::Send(iq)
        }
        ("listen", [port]) => Action::Listen {
            port: number("listen", port)?,
        },
        ("unlisten", [port]) => Action::Unlisten {
            port: number("unlisten", port)?,
        },
        ("bridge", [client, owner, account]) => Action::Bridge {
            client: ConnId(number("bridge", client)?),
            owner: ConnId(number("bridge", owner)?),
            account: Jid::new(account).map_err(|e| format!("bridge: account: {e}"))?,
        },
        ("drop", [conn]) => Action::Drop {
            conn: ConnId(number("drop", conn)?),
        },
        ("listen" | "unlisten" | "bridge" | "drop", _) => {
            return Err(format!("{kind}: wrong number of fields in {rest:?}"))
        }
        _ => return Err(format!("unknown record {kind:?}")),
    };
    Ok(action)
}

fn number<T: std::str::FromStr>(what: &str, field: &str) -> Result<T, String> {
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what}: {field:?} is not a decimal number"));
    }
    field
        .parse()
        .map_err(|_| format!("{what}: {field:?} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_events() {
        let t = Instant::from_millis(1500);
        assert_eq!(
            listen_record(t, 40001, Err(ListenError::AddrInUse)),
            "listen 1500 40001 addr-in-use"
        );
        let peer: SocketAddr = "[2001:db8::7]:1234".parse().unwrap();
        assert_eq!(
            conn_record(t, ConnId(4), 40001, peer),
            "conn 1500 4 40001 [2001:db8::7]:1234"
        );
        assert_eq!(closed_record(t, ConnId(4)), "closed 1500 4");
        assert_eq!(timeout_record(t), "timeout 1500");
        assert_eq!(shutdown_record(t), "shutdown 1500");
        let mut s = String::new();
        push_one_line(&mut s, "a\r\nb");
        assert_eq!(s, "a&#13;&#10;b");
    }

    #[test]
    fn config_names_every_field() {
        let config = Config::new(
            Jid::new("pass.example").unwrap(),
            vec!["192.0.2.1".parse().unwrap()],
        );
        let r = config_record(&config, Some("drop-notices"));
        assert!(
            r.starts_with("config service=pass.example advertised=192.0.2.1 ports=40000-40999 "),
            "{r}"
        );
        assert!(
            r.ends_with(
                " iq_burst=20 iq_per_second=10 call_burst=100 call_per_second=20 \
                 max_stanza_bytes=65536 max_depth=32 \
                 max_attributes=32 max_attribute_bytes=4096 max_text_bytes=16384 \
                 fault=drop-notices"
            ),
            "{r}"
        );
    }

    #[test]
    fn reads_actions_and_deadline() {
        let out = parse_output(
            "listen 40001\nunlisten 40002\nbridge 1 2 u@example.org\ndrop 3\nnext 900\n",
        )
        .unwrap();
        assert_eq!(
            out.actions,
            vec![
                Action::Listen { port: 40001 },
                Action::Unlisten { port: 40002 },
                Action::Bridge {
                    client: ConnId(1),
                    owner: ConnId(2),
                    account: Jid::new("u@example.org").unwrap()
                },
                Action::Drop { conn: ConnId(3) },
            ]
        );
        assert_eq!(out.next, Some(Instant::from_millis(900)));
        assert_eq!(parse_output("next none\n").unwrap().next, None);
    }

    #[test]
    fn refuses_bad_output() {
        for (bad, needle) in [
            ("", "line break"),
            ("listen 1\n", "no `next`"),
            ("next none\nlisten 1\n", "after `next`"),
            (
                "error config: ports: need 1 <= first <= last\nnext none\n",
                "refused the event: config",
            ),
            ("listen 70000\nnext none\n", "out of range"),
            ("fly 1\nnext none\n", "unknown record"),
            ("drop\nnext none\n", "drop"),
            ("send <iq\nnext none\n", "not XML"),
            ("next soon\n", "next"),
        ] {
            let err = parse_output(bad).unwrap_err();
            assert!(err.contains(needle), "{bad:?}: {err}");
        }
    }
}
