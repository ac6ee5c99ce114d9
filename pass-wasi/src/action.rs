//! Action records to the host (ENGINE-ABI.md, "Actions"), one line each.

use crate::line::push_one_line;
use pass_core::lease::Action;
use pass_core::time::Instant;
use pass_core::xml::Element;
use std::fmt::Write;
use std::string::String;

/// Appends `action` as one line.
pub fn write_action(out: &mut String, action: &Action) {
    // Writing to a String cannot fail.
    let _ = match action {
        Action::Send(iq) => {
            out.push_str("send ");
            push_one_line(out, &Element::from(iq).to_xml());
            out.push('\n');
            Ok(())
        }
        Action::Listen { port } => writeln!(out, "listen {port}"),
        Action::Unlisten { port } => writeln!(out, "unlisten {port}"),
        Action::Bridge {
            client,
            owner,
            account,
        } => {
            writeln!(out, "bridge {} {} {account}", client.0, owner.0)
        }
        Action::Drop { conn } => writeln!(out, "drop {}", conn.0),
    };
}

/// Appends the closing `next` line: the engine's next deadline.
pub fn write_next(out: &mut String, deadline: Option<Instant>) {
    let _ = match deadline {
        Some(t) => writeln!(out, "next {}", t.as_millis()),
        None => writeln!(out, "next none"),
    };
}

/// Appends an `error` line (the event was refused), kept on one line.
pub fn write_error(out: &mut String, message: &str) {
    out.push_str("error ");
    out.extend(
        message
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c }),
    );
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use pass_core::jid::Jid;
    use pass_core::lease::ConnId;

    #[test]
    fn writes_plain_actions() {
        let mut out = String::new();
        write_action(&mut out, &Action::Listen { port: 40001 });
        write_action(&mut out, &Action::Unlisten { port: 40001 });
        let account = Jid::new("user@example.org").unwrap();
        write_action(
            &mut out,
            &Action::Bridge {
                client: ConnId(1),
                owner: ConnId(2),
                account,
            },
        );
        write_action(&mut out, &Action::Drop { conn: ConnId(5) });
        write_next(&mut out, Some(Instant::from_millis(30000)));
        write_error(&mut out, "bad\nthing");
        write_next(&mut out, None);
        assert_eq!(
            out,
            "listen 40001\nunlisten 40001\nbridge 1 2 user@example.org\ndrop 5\n\
             next 30000\nerror bad thing\nnext none\n"
        );
    }
}
