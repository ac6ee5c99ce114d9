//! A transcript as text, one line per event: what the table prints under a case, and
//! what the HTML report shows folded (DESIGN decision 46).

use crate::transcript::{Event, Side, Transcript};

/// `+S.mmms`: seconds since the case started.
pub fn time(at_ms: u64) -> String {
    format!("+{}.{:03}s", at_ms / 1000, at_ms % 1000)
}

/// What entry `i` of `t` says, without its time, on one line: stanzas as their whole
/// XML (line breaks inside written as character references), TCP events by
/// connection number, the first FIN, RST or close of a connection marked "closed
/// first".
pub fn event_text(t: &Transcript, i: usize) -> String {
    let Some(entry) = t.entries.get(i) else {
        return String::new();
    };
    let first = if t.is_first_close(i) {
        " (closed first)"
    } else {
        ""
    };
    match &entry.event {
        Event::StanzaSent { xml } => format!("sent  {}", one_line(xml)),
        Event::StanzaReceived { xml } => format!("recv  {}", one_line(xml)),
        Event::Connect {
            conn,
            local,
            remote,
        } => format!("conn {conn}: connect {local} -> {remote}"),
        Event::ConnectFailed { remote, error } => {
            format!("connect to {remote} failed: {}", one_line(error))
        }
        Event::Accept {
            conn,
            local,
            remote,
        } => format!("conn {conn}: accept on {local} from {remote}"),
        Event::Bytes { conn, from, len } => {
            format!("conn {conn}: {} sent {len} bytes", side(*from))
        }
        Event::Fin { conn, by } => format!("conn {conn}: FIN from {}{first}", side(*by)),
        Event::Reset { conn, by } => format!("conn {conn}: RST from {}{first}", side(*by)),
        Event::Close { conn, by } => format!("conn {conn}: closed by {}{first}", side(*by)),
        Event::Note { text } => format!("note  {}", one_line(text)),
    }
}

/// Every entry as `TIME  TEXT`, one per line, each line starting with `indent`.
pub fn transcript_lines(t: &Transcript, indent: &str) -> String {
    let mut s = String::new();
    for (i, e) in t.entries.iter().enumerate() {
        s.push_str(indent);
        s.push_str(&time(e.at_ms));
        s.push_str("  ");
        s.push_str(&event_text(t, i));
        s.push('\n');
    }
    s
}

fn side(s: Side) -> &'static str {
    match s {
        Side::Runner => "runner",
        Side::Implementation => "implementation",
    }
}

/// `s` on one line: CR and LF become XML character references (what they are in
/// XML anyway), other control characters `\u{..}` escapes.
fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::{Entry, Event, Side, Transcript};

    fn t(events: Vec<(u64, Event)>) -> Transcript {
        Transcript {
            entries: events
                .into_iter()
                .map(|(at_ms, event)| Entry { at_ms, event })
                .collect(),
        }
    }

    #[test]
    fn one_line_per_event_with_times_and_who_closed_first() {
        let tr = t(vec![
            (
                0,
                Event::StanzaSent {
                    xml: "<iq type='set' id='a'><query xmlns='jabber:iq:pass'/></iq>".into(),
                },
            ),
            (
                1,
                Event::StanzaReceived {
                    xml: "<iq type='result' id='a'><x>two\nlines</x></iq>".into(),
                },
            ),
            (
                2,
                Event::Connect {
                    conn: 1,
                    local: "203.0.113.7:30001".into(),
                    remote: "127.0.0.1:40000".into(),
                },
            ),
            (
                3,
                Event::Bytes {
                    conn: 1,
                    from: Side::Runner,
                    len: 40,
                },
            ),
            (
                1234,
                Event::Fin {
                    conn: 1,
                    by: Side::Implementation,
                },
            ),
            (
                1234,
                Event::Close {
                    conn: 1,
                    by: Side::Runner,
                },
            ),
            (
                65_002,
                Event::ConnectFailed {
                    remote: "127.0.0.1:40000".into(),
                    error: "connection refused".into(),
                },
            ),
            (
                65_002,
                Event::Reset {
                    conn: 2,
                    by: Side::Implementation,
                },
            ),
            (
                70_000,
                Event::Note {
                    text: "no stanza to a@b within 2 s".into(),
                },
            ),
        ]);
        assert_eq!(
            transcript_lines(&tr, "  "),
            "  +0.000s  sent  <iq type='set' id='a'><query xmlns='jabber:iq:pass'/></iq>\n\
             \x20 +0.001s  recv  <iq type='result' id='a'><x>two&#10;lines</x></iq>\n\
             \x20 +0.002s  conn 1: connect 203.0.113.7:30001 -> 127.0.0.1:40000\n\
             \x20 +0.003s  conn 1: runner sent 40 bytes\n\
             \x20 +1.234s  conn 1: FIN from implementation (closed first)\n\
             \x20 +1.234s  conn 1: closed by runner\n\
             \x20 +65.002s  connect to 127.0.0.1:40000 failed: connection refused\n\
             \x20 +65.002s  conn 2: RST from implementation (closed first)\n\
             \x20 +70.000s  note  no stanza to a@b within 2 s\n"
        );
    }
}
