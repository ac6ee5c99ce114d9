//! What `expose` tells its user on stdout: one human line per event, or with
//! `--json` one JSON object per line (docs/CLIENT.md, "Output").

use pass_core::client::DenyReason;
use pass_core::ClientEvent;
use serde_json::json;
use std::io::Write as _;

/// The output style.
#[derive(Clone, Copy, Debug)]
pub struct Reporter {
    /// JSON lines instead of human lines.
    pub json: bool,
}

impl Reporter {
    /// Prints `event` if the user is told about it.
    pub fn event(&self, event: &ClientEvent) {
        let Some((human, value)) = describe(event) else {
            return;
        };
        self.print(human, value);
    }

    /// Prints that the XMPP connection is back after an outage (the lease is kept:
    /// DESIGN decision 92).
    pub fn reconnected(&self, jid: &str) {
        self.print(
            format!("connected to the XMPP server again as {jid}"),
            json!({"event": "reconnected", "jid": jid}),
        );
    }

    fn print(&self, human: String, value: serde_json::Value) {
        let line = if self.json { value.to_string() } else { human };
        let mut out = std::io::stdout().lock();
        // stdout gone (a closed pipe): nothing useful to do about it.
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

fn deny_reason(r: DenyReason) -> &'static str {
    match r {
        DenyReason::NotAllowed => "not-allowed",
        DenyReason::NoMatchingAnswer => "no-matching-answer",
        DenyReason::NoLease => "no-lease",
        _ => "other",
    }
}

/// The human line and the JSON object of an event, if it is reported.
fn describe(event: &ClientEvent) -> Option<(String, serde_json::Value)> {
    Some(match event {
        ClientEvent::Registered { servers } => {
            let first = servers.first()?;
            let all: Vec<String> = servers.iter().map(|s| s.to_string()).collect();
            (
                format!("reachable at {}", all.join(" ")),
                json!({"event": "registered", "ip": first.ip().to_string(), "port": first.port(),
                       "addresses": all}),
            )
        }
        ClientEvent::Accepted { client, .. } => (
            format!("connection from {client}"),
            json!({"event": "connection", "client": client.to_string()}),
        ),
        ClientEvent::Denied { client, reason, .. } => (
            format!("denied {client} ({})", deny_reason(*reason)),
            json!({"event": "denied", "client": client.to_string(), "reason": deny_reason(*reason)}),
        ),
        ClientEvent::ConnectFailed { client, to, error } => (
            format!("could not connect {client}'s session to {to:?}: {error}"),
            json!({"event": "connect-failed", "client": client.to_string(),
                   "to": format!("{to:?}"), "error": error.to_string()}),
        ),
        ClientEvent::SessionEnded { client } => (
            format!("session of {client} ended"),
            json!({"event": "session-ended", "client": client.to_string()}),
        ),
        ClientEvent::Expired { proxy } => (
            format!("lease {proxy} expired"),
            json!({"event": "expired", "address": proxy.to_string()}),
        ),
        ClientEvent::OneshotClosed { proxy } => (
            format!("oneshot lease {proxy} used and closed"),
            json!({"event": "closed", "address": proxy.to_string(), "reason": "oneshot"}),
        ),
        ClientEvent::Closed => (
            "lease closed".to_owned(),
            json!({"event": "closed", "reason": "close"}),
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_is_one_json_object_with_ip_and_port() {
        let ev = ClientEvent::Registered {
            servers: vec!["192.0.2.7:40001".parse().unwrap()],
        };
        let (human, value) = describe(&ev).unwrap();
        assert_eq!(human, "reachable at 192.0.2.7:40001");
        assert_eq!(value["event"], "registered");
        assert_eq!(value["ip"], "192.0.2.7");
        assert_eq!(value["port"], 40001);
    }

    #[test]
    fn a_denied_caller_is_named() {
        let ev = ClientEvent::Denied {
            client: "203.0.113.9:5555".parse().unwrap(),
            proxy: "192.0.2.7:40002".parse().unwrap(),
            reason: DenyReason::NotAllowed,
        };
        let (_, value) = describe(&ev).unwrap();
        assert_eq!(value["event"], "denied");
        assert_eq!(value["client"], "203.0.113.9:5555");
        assert_eq!(value["reason"], "not-allowed");
    }
}
