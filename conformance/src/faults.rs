//! Every fault the suite is proven against, engine faults (pass-faults) and host
//! faults (the simulated host's), with the cases each declares must catch it
//! (docs/DESIGN.md decision 80): exactly those cases do not pass, with exactly the
//! declared verdicts, and every other case passes.

use crate::catalogue::Case;
use crate::harness::Harness;
use crate::inproc::{reference_config, InprocHost, SERVICE_JID};
use crate::runner::{Status, SuiteReport};
use pass_core::service::Service;
use pass_faults::{fail, warn, Catch, Fault, FaultyEngine, Verdict};
use std::fmt::Write;

pub use pass_core::sim::HostFault;

/// A fault the in-process target can switch on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KnownFault {
    /// A broken engine (pass-faults).
    Engine(Fault),
    /// A broken host around the reference engine.
    Host(HostFault),
}

/// What each host fault breaks, and the cases that catch it.
fn host_fault(f: HostFault) -> (&'static str, &'static [Catch]) {
    match f {
        HostFault::NoDisconnectPropagation => (
            "(host) a hang-up is not passed on",
            &const {
                [
                    fail(
                        &["pass/3/disconnect-third-party", "pass/3/disconnect-owner"],
                        "they check the other side is disconnected",
                    ),
                    fail(
                        &["pass/2/relisten-after-relay"],
                        "it ends its relay by hanging up, and the relay never ends",
                    ),
                ]
            },
        ),
        HostFault::CorruptRelayByte => (
            "(host) one relayed byte of each direction changed",
            &const {
                [
                    fail(
                        &[
                            "pass/2/relisten-after-relay",
                            "pass/3/accept-relay",
                            "pass/3/relay-4mib-byte-exact",
                            "pass/3/disconnect-third-party",
                            "pass/3/disconnect-owner",
                            "pass/4.2/oneshot-notice",
                            "pass/4.2/oneshot-ack",
                            "pass/4.2/port-closed-after-oneshot",
                            "pass/4.2/oneshot-overrides-expire",
                        ],
                        "they relay bytes and compare them",
                    ),
                    warn(
                        &[
                            "pass/3/proxy-port-single-use",
                            "pass/3/half-close",
                            "pass/3/first-eof-ends-session",
                        ],
                        "they relay bytes and compare them",
                    ),
                ]
            },
        ),
        HostFault::NoHalfClose => (
            "(host) a half-close is not passed on",
            &const {
                [warn(
                    &["pass/3/half-close", "pass/3/first-eof-ends-session"],
                    "they half-close and wait for the EOF on the other side",
                )]
            },
        ),
        HostFault::IgnoreUnlisten => (
            "(host) closed ports keep accepting",
            &const {
                [
                    fail(
                        &[
                            "pass/4.1/port-closed-after-expire",
                            "pass/4.2/port-closed-after-oneshot",
                            "pass/4.2/oneshot-overrides-expire",
                            "pass/4.3/close-port-closed",
                        ],
                        "they connect to a port that must be shut",
                    ),
                    warn(
                        &["pass/4.3/close-other-resource"],
                        "it connects to a port that must be shut",
                    ),
                    // Each passes alone: the collision needs the ports of the cases before.
                    fail(
                        &["pass/5.2/deny-relisten", "pass/5.2/deny-keeps-oneshot"],
                        "ports earlier cases closed still listen, and a new lease on one \
                         is refused as in use",
                    ),
                    warn(
                        &["pass/robustness/survives-malformed"],
                        "ports earlier cases closed still listen, and a new lease on one \
                         is refused as in use",
                    ),
                ]
            },
        ),
        // A host fault added to pass-core declares nothing until it is added here;
        // the proof tests fail on a fault no case catches.
        _ => ("(host) not yet declared here", &[]),
    }
}

impl KnownFault {
    /// Every fault: the engine faults, then the host faults.
    pub fn all() -> impl Iterator<Item = KnownFault> {
        Fault::ALL
            .into_iter()
            .map(KnownFault::Engine)
            .chain(HostFault::ALL.into_iter().map(KnownFault::Host))
    }

    /// The fault with this name (`pass-conformance inproc --fault NAME`).
    pub fn from_name(name: &str) -> Option<KnownFault> {
        KnownFault::all().find(|f| f.name() == name)
    }

    /// Its stable name.
    pub fn name(self) -> &'static str {
        match self {
            KnownFault::Engine(f) => f.name(),
            KnownFault::Host(f) => f.name(),
        }
    }

    /// One line: what is broken.
    pub fn summary(self) -> &'static str {
        match self {
            KnownFault::Engine(f) => f.summary(),
            KnownFault::Host(f) => host_fault(f).0,
        }
    }

    /// The cases that must catch it, in groups with their reasons.
    pub fn caught_by(self) -> &'static [Catch] {
        match self {
            KnownFault::Engine(f) => f.caught_by(),
            KnownFault::Host(f) => host_fault(f).1,
        }
    }

    /// The status the case with this id must have with this fault on: its declared
    /// verdict (FAIL under `strict`), or PASS when no group names it.
    pub fn expected_status(self, id: &str, strict: bool) -> Status {
        match self.caught_by().iter().find(|c| c.cases.contains(&id)) {
            None => Status::Pass,
            Some(c) if c.verdict == Verdict::Fail || strict => Status::Fail,
            Some(_) => Status::Warn,
        }
    }

    /// Every case of `report` whose status is not the one this fault declares, one
    /// line each; empty when the report proves the declaration.
    pub fn mismatches(self, report: &SuiteReport) -> Vec<String> {
        report
            .outcomes
            .iter()
            .filter_map(|o| {
                let want = self.expected_status(&o.id, report.strict);
                (o.status != want).then(|| {
                    format!(
                        "{}{}: {} is {}, declared {want}",
                        self.name(),
                        if report.strict { " (strict)" } else { "" },
                        o.id,
                        o.status
                    )
                })
            })
            .collect()
    }

    /// The in-process reference target with this fault on.
    pub fn inproc_host(self) -> Result<Box<dyn Harness>, String> {
        let config = reference_config();
        let timeout = config.answer_timeout;
        let ips = config.advertised.clone();
        let service = Service::new(config).map_err(|e| format!("reference config: {e}"))?;
        Ok(match self {
            KnownFault::Engine(f) => Box::new(InprocHost::new(
                FaultyEngine::new(service, f),
                SERVICE_JID,
                ips,
                timeout,
            )),
            KnownFault::Host(f) => {
                Box::new(InprocHost::new(service, SERVICE_JID, ips, timeout).with_fault(f))
            }
        })
    }
}

/// Ids a fault declares that are not in `cases` (a typo, or a renamed case).
pub fn unknown_ids(cases: &[Case]) -> Vec<(&'static str, &'static str)> {
    KnownFault::all()
        .flat_map(|f| {
            f.caught_by()
                .iter()
                .flat_map(|c| c.cases)
                .map(move |id| (f.name(), *id))
        })
        .filter(|(_, id)| !cases.iter().any(|c| c.id == *id))
        .collect()
}

/// What the fault lists say of a sequence fault, which no case catches.
const SEQUENCE_TEXT: &str =
    "only a sequence of operations shows it: `pass-conformance explore` finds it";

/// One line per fault and group: name, verdict, cases, why.
pub fn list_text() -> String {
    let w = KnownFault::all().map(|f| f.name().len()).max().unwrap_or(0);
    let mut s = String::new();
    for f in KnownFault::all() {
        let _ = writeln!(s, "{:<w$}  {}", f.name(), f.summary());
        if f.caught_by().is_empty() {
            let _ = writeln!(s, "{:w$}    {SEQUENCE_TEXT}", "");
        }
        for c in f.caught_by() {
            let _ = writeln!(
                s,
                "{:w$}    {} ({}): {}",
                "",
                c.verdict.as_str(),
                c.why,
                c.cases.join(", ")
            );
        }
    }
    s
}

/// The fault table of docs/CONFORMANCE.md: a row per fault and group of cases.
pub fn list_markdown() -> String {
    let mut s =
        String::from("| Fault | What is broken | Verdict | Cases | Why |\n|---|---|---|---|---|\n");
    for f in KnownFault::all() {
        if f.caught_by().is_empty() {
            let _ = writeln!(
                s,
                "| `{}` | {} | — | none | {SEQUENCE_TEXT} |",
                f.name(),
                f.summary()
            );
        }
        for (i, c) in f.caught_by().iter().enumerate() {
            let (name, summary) = if i == 0 {
                (format!("`{}`", f.name()), f.summary())
            } else {
                (String::new(), "")
            };
            let cases: Vec<String> = c.cases.iter().map(|id| format!("`{id}`")).collect();
            let _ = writeln!(
                s,
                "| {name} | {summary} | {} | {} | {} |",
                c.verdict.as_str(),
                cases.join(", "),
                c.why
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::catalogue;
    use pass_faults::repeated_case;

    #[test]
    fn every_declared_case_exists() {
        assert_eq!(unknown_ids(&catalogue()), Vec::new());
    }

    #[test]
    fn names_are_unique_and_found() {
        for f in KnownFault::all() {
            assert_eq!(KnownFault::from_name(f.name()), Some(f));
            assert_eq!(
                KnownFault::all().filter(|g| g.name() == f.name()).count(),
                1
            );
        }
        assert_eq!(KnownFault::from_name("no-such-fault"), None);
    }

    #[test]
    fn a_case_is_declared_once_per_fault() {
        for f in KnownFault::all() {
            assert_eq!(repeated_case(f.caught_by()), None, "{}", f.name());
        }
    }

    #[test]
    fn expected_status_follows_the_declaration() {
        let f = KnownFault::Engine(Fault::WrongErrorType);
        assert_eq!(
            f.expected_status("pass/2/no-ports-502", false),
            Status::Warn
        );
        assert_eq!(f.expected_status("pass/2/no-ports-502", true), Status::Fail);
        assert_eq!(
            f.expected_status("pass/2/register-result", true),
            Status::Pass
        );
        let f = KnownFault::Engine(Fault::NoExpireNotice);
        assert_eq!(
            f.expected_status("pass/4.1/expire-notice", false),
            Status::Fail
        );
    }
}
