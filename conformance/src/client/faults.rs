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

/// Every fault, in the order of the issue that asked for them.
pub const CLIENT_FAULTS: &[ClientFault] = &[ClientFault {
    name: "no-ack",
    description: "never acknowledges an expire or oneshot notice",
    caught_by: &[
        "pass/client/4.1/expire-ack-listing-6",
        "pass/client/4.2/oneshot-ack-listing-8",
    ],
}];

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
