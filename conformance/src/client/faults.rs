//! pass-client's deliberate faults (its non-default `faults` feature, chosen by
//! `PASS_CLIENT_FAULT`) and the client cases declared to catch each: exactly those
//! fail, every other case passes (DESIGN decisions 80 and 114).

use std::fmt::Write as _;

/// The variable that chooses a fault in a `--features faults` build of pass-client.
pub const FAULT_ENV: &str = "PASS_CLIENT_FAULT";

/// A fault of pass-client and the cases that catch it.
#[derive(Clone, Copy, Debug)]
pub struct ClientFault {
    /// The `PASS_CLIENT_FAULT` value.
    pub name: &'static str,
    /// What it breaks.
    pub description: &'static str,
    /// Exactly the case ids that fail with it (sorted).
    pub caught_by: &'static [&'static str],
}

/// Every fault, in the order of the issue that asked for them; the names are those
/// of `pass-client/src/faults.rs` (a `faults` build refuses any other).
pub const CLIENT_FAULTS: &[ClientFault] = &[
    ClientFault {
        name: "no-ack",
        description: "never acknowledges an expire or oneshot notice",
        caught_by: &[
            "pass/client/4.1/expire-ack-listing-6",
            "pass/client/4.2/oneshot-ack-listing-8",
        ],
    },
    ClientFault {
        name: "wrong-ack-id",
        description: "acknowledges a notice with another id",
        caught_by: &[
            "pass/client/4.1/expire-ack-listing-6",
            "pass/client/4.2/oneshot-ack-listing-8",
        ],
    },
    ClientFault {
        name: "accept-without-connecting",
        description: "accepts a caller but never connects to the proxy port",
        caught_by: &[
            "pass/client/3/bytes-both-ways",
            "pass/client/3/caller-hangup-closes-forward",
            "pass/client/3/forward-hangup-closes-caller",
            "pass/client/3/proxy-promptly",
            "pass/client/5.1/accepts-matching-ip",
        ],
    },
    ClientFault {
        name: "connect-after-deny",
        description: "denies a caller, then connects to its proxy port anyway",
        caught_by: &[
            "pass/client/5.1/denies-other-ip",
            "pass/client/5.2/deny-no-connect",
        ],
    },
    ClientFault {
        name: "deny-wrong-code",
        description: "denies with <forbidden/> (403) instead of 401's <not-authorized/>",
        caught_by: &["pass/client/5.2/deny-listing-14"],
    },
    ClientFault {
        name: "deny-without-query",
        description: "denies without echoing the request's <client/> and <proxy/>",
        caught_by: &["pass/client/5.2/deny-listing-14"],
    },
    ClientFault {
        name: "corrupt-forward",
        description: "flips a byte of what the caller sends on its way to PASS_FORWARD_TO",
        caught_by: &[
            "pass/client/3/bytes-both-ways",
            "pass/client/5.1/accepts-matching-ip",
        ],
    },
    ClientFault {
        name: "no-close-on-exit",
        description: "exits on SIGTERM without closing its lease",
        caught_by: &[
            "pass/client/4.3/close-listing-9",
            "pass/client/4.3/close-on-shutdown",
        ],
    },
    ClientFault {
        name: "no-peer-check",
        description: "ignores PASS_ALLOW_JID (--allow-jid): never asks, admits every caller",
        caught_by: &[
            "pass/client/5.1/asks-peer-listing-11",
            "pass/client/5.1/denies-other-ip",
        ],
    },
];

/// One line per fault: its name, what it breaks, the cases that catch it.
pub fn list_text() -> String {
    let mut s = String::new();
    for f in CLIENT_FAULTS {
        let _ = writeln!(s, "{:<22} {}", f.name, f.description);
        for id in f.caught_by {
            let _ = writeln!(s, "{:<22}   caught by {id}", "");
        }
    }
    s
}

/// The fault table of docs/CONFORMANCE.md ("Proof for the client target").
pub fn list_markdown() -> String {
    let mut s = String::from("| PASS_CLIENT_FAULT | What it breaks | Caught by |\n|---|---|---|\n");
    for f in CLIENT_FAULTS {
        let ids: Vec<String> = f.caught_by.iter().map(|id| format!("`{id}`")).collect();
        let _ = writeln!(
            s,
            "| `{}` | {} | {} |",
            f.name,
            f.description,
            ids.join(", ")
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_case_exists_and_lists_are_sorted() {
        let ids: Vec<&str> = crate::client::client_catalogue()
            .iter()
            .map(|c| c.id)
            .collect();
        for f in CLIENT_FAULTS {
            assert!(!f.caught_by.is_empty(), "{} is caught by nothing", f.name);
            for id in f.caught_by {
                assert!(ids.contains(id), "{}: no case {id}", f.name);
            }
            assert!(
                f.caught_by.windows(2).all(|w| w[0] < w[1]),
                "{}: sort the ids",
                f.name
            );
        }
    }
}
