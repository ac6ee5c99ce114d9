//! What a module answers to one event (`docs/ENGINE-ABI.md`, "Output" and
//! "Errors"): action lines, then exactly one `next` line.

use crate::error::{RecordError, RecordKind};
use crate::field::{number, OneLine};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use pass_core::jid::Jid;
use pass_core::lease::{Action, ConnId};
use pass_core::stanza::Iq;
use pass_core::time::Instant;
use pass_core::xml::{parse_element, Element, Limits};

/// The answer to one event.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Output {
    /// `error MESSAGE`: the module refused the event, which had no effect. Written
    /// first, with control characters as spaces so that it stays one line.
    pub refused: Option<String>,
    /// The actions, in order. A `Bridge`'s account must be a bare JID (no spaces).
    pub actions: Vec<Action>,
    /// `next MS` or `next none`: the engine's next deadline, replacing the last one.
    pub next: Option<Instant>,
}

impl Output {
    /// Reads a module's output: `error` at most once, actions, then exactly one
    /// `next`, every line ending with LF.
    pub fn decode(text: &str) -> Result<Output, RecordError> {
        let text = text
            .strip_suffix('\n')
            .ok_or(RecordError::NoFinalLineBreak)?;
        let mut output = Output::default();
        let mut lines = text.split('\n').peekable();
        while let Some(line) = lines.next() {
            let (keyword, rest) = line.split_once(' ').unwrap_or((line, ""));
            match keyword {
                "next" => {
                    if lines.peek().is_some() {
                        return Err(RecordError::AfterNext);
                    }
                    output.next = match rest {
                        "none" => None,
                        ms => Some(Instant::from_millis(number(
                            RecordKind::Next,
                            "deadline",
                            ms,
                        )?)),
                    };
                    return Ok(output);
                }
                "error" => {
                    if output.refused.replace(String::from(rest)).is_some() {
                        return Err(RecordError::SeveralErrors);
                    }
                }
                _ => output.actions.push(decode_action(keyword, rest)?),
            }
        }
        Err(RecordError::NoNext)
    }
}

fn decode_action(keyword: &str, rest: &str) -> Result<Action, RecordError> {
    if keyword == "send" {
        let record = RecordKind::Send;
        let element = parse_element(rest.as_bytes(), &Limits::default())
            .map_err(|error| RecordError::Xml { record, error })?;
        return Iq::try_from(&element)
            .map(Action::Send)
            .map_err(RecordError::NotAnIq);
    }
    let fields: Vec<&str> = rest.split(' ').collect();
    let action = match (keyword, fields.as_slice()) {
        ("listen", [port]) => Action::Listen {
            port: number(RecordKind::Listen, "port", port)?,
        },
        ("unlisten", [port]) => Action::Unlisten {
            port: number(RecordKind::Unlisten, "port", port)?,
        },
        ("bridge", [client, owner, account]) => {
            let record = RecordKind::Bridge;
            Action::Bridge {
                client: ConnId(number(record, "client", client)?),
                owner: ConnId(number(record, "owner", owner)?),
                account: Jid::new(account).map_err(|error| RecordError::Jid {
                    record,
                    field: "account",
                    error,
                })?,
            }
        }
        ("drop", [conn]) => Action::Drop {
            conn: ConnId(number(RecordKind::Drop, "conn", conn)?),
        },
        ("listen", _) => return Err(field_count(RecordKind::Listen)),
        ("unlisten", _) => return Err(field_count(RecordKind::Unlisten)),
        ("bridge", _) => return Err(field_count(RecordKind::Bridge)),
        ("drop", _) => return Err(field_count(RecordKind::Drop)),
        _ => {
            return Err(RecordError::UnknownOutput {
                keyword: String::from(keyword),
            })
        }
    };
    Ok(action)
}

fn field_count(record: RecordKind) -> RecordError {
    RecordError::FieldCount { record }
}

/// Every line, each ending with LF.
impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(message) = &self.refused {
            f.write_str("error ")?;
            for c in message.chars() {
                write!(f, "{}", if c.is_control() { ' ' } else { c })?;
            }
            f.write_str("\n")?;
        }
        for action in &self.actions {
            write_action(f, action)?;
        }
        match self.next {
            Some(t) => writeln!(f, "next {}", t.as_millis()),
            None => writeln!(f, "next none"),
        }
    }
}

fn write_action(f: &mut fmt::Formatter<'_>, action: &Action) -> fmt::Result {
    match action {
        Action::Send(iq) => writeln!(f, "send {}", OneLine(&Element::from(iq).to_xml())),
        Action::Listen { port } => writeln!(f, "listen {port}"),
        Action::Unlisten { port } => writeln!(f, "unlisten {port}"),
        Action::Bridge {
            client,
            owner,
            account,
        } => writeln!(f, "bridge {} {} {account}", client.0, owner.0),
        Action::Drop { conn } => writeln!(f, "drop {}", conn.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn writes_and_reads_plain_actions() {
        let output = Output {
            refused: None,
            actions: vec![
                Action::Listen { port: 40001 },
                Action::Unlisten { port: 40001 },
                Action::Bridge {
                    client: ConnId(1),
                    owner: ConnId(2),
                    account: Jid::new("user@example.org").unwrap(),
                },
                Action::Drop { conn: ConnId(5) },
            ],
            next: Some(Instant::from_millis(30000)),
        };
        let text = "listen 40001\nunlisten 40001\nbridge 1 2 user@example.org\ndrop 5\n\
                    next 30000\n";
        assert_eq!(output.to_string(), text);
        assert_eq!(Output::decode(text), Ok(output));
        assert_eq!(Output::decode("next none\n"), Ok(Output::default()));
    }

    #[test]
    fn a_refusal_stays_on_one_line() {
        let output = Output {
            refused: Some("bad\nthing".to_string()),
            ..Output::default()
        };
        assert_eq!(output.to_string(), "error bad thing\nnext none\n");
        assert_eq!(
            Output::decode("error config: ports: need 1 <= first <= last\nnext none\n")
                .unwrap()
                .refused
                .as_deref(),
            Some("config: ports: need 1 <= first <= last")
        );
    }

    #[test]
    fn refuses_bad_output() {
        for (bad, needle) in [
            ("", "line break"),
            ("listen 1\n", "no `next`"),
            ("next none\nlisten 1\n", "after `next`"),
            ("error a\nerror b\nnext none\n", "more than one `error`"),
            ("listen 70000\nnext none\n", "out of range"),
            ("fly 1\nnext none\n", "unknown record \"fly\""),
            ("drop\nnext none\n", "drop"),
            ("drop 1 2\nnext none\n", "drop: wrong number of fields"),
            ("send <iq\nnext none\n", "send: not XML"),
            ("send <message/>\nnext none\n", "send: not an IQ"),
            ("bridge 1 2 @x\nnext none\n", "bridge: account"),
            ("next soon\n", "next"),
        ] {
            let err = Output::decode(bad).unwrap_err().to_string();
            assert!(err.contains(needle), "{bad:?}: {err}");
        }
    }
}
