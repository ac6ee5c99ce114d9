//! Which pass-conformance cases must catch each fault, and how (issue 10 item 7).
//! The proof is exact, so a weakened case cannot hide behind another:
//! `conformance/tests/catches_faults.rs` (in process) and `wasm_faults.rs` (the same
//! faults compiled to wasm) assert that exactly these cases do not pass, with exactly
//! these verdicts, and that every other case passes. Every group says why its cases
//! are in it; docs/CONFORMANCE.md shows the groups (`pass-conformance list --faults`).

use crate::Fault;

/// How a case catches a fault in a run without `--strict` (with it, both are FAIL).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    /// The case FAILs: a MUST not met.
    Fail,
    /// The case WARNs: a SHOULD not met, or a deviation the verdict rules tolerate
    /// (an error `type` other than XEP-0086's).
    Warn,
}

impl Verdict {
    /// `FAIL` or `WARN`, as reports print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Fail => "FAIL",
            Verdict::Warn => "WARN",
        }
    }
}

/// Cases that catch a fault the same way, for the same reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Catch {
    /// Their verdict without `--strict`.
    pub verdict: Verdict,
    /// Their ids (`pass/<section>/<slug>`).
    pub cases: &'static [&'static str],
    /// Why the fault makes them fail.
    pub why: &'static str,
}

/// A group of cases that FAIL.
pub const fn fail(cases: &'static [&'static str], why: &'static str) -> Catch {
    Catch {
        verdict: Verdict::Fail,
        cases,
        why,
    }
}

/// A group of cases that WARN.
pub const fn warn(cases: &'static [&'static str], why: &'static str) -> Catch {
    Catch {
        verdict: Verdict::Warn,
        cases,
        why,
    }
}

/// The MUST cases that wait for an incoming-connection request (§3 listing 3): a
/// fault that loses the request fails them all.
const NEEDS_REQUEST_MUST: &[&str] = &[
    "pass/2/relisten-after-relay",
    "pass/3/incoming-request",
    "pass/3/client-is-remote-end",
    "pass/3/accept-relay",
    "pass/3/relay-4mib-byte-exact",
    "pass/3/disconnect-third-party",
    "pass/3/disconnect-owner",
    "pass/3/owner-error-drops-client",
    "pass/3/no-answer-drops-client",
    "pass/4.1/not-before-expiry",
    "pass/4.2/oneshot-notice",
    "pass/4.2/oneshot-ack",
    "pass/4.2/port-closed-after-oneshot",
    "pass/4.2/oneshot-overrides-expire",
    "pass/4.3/close-not-owner-401",
    "pass/5.1/client-ip-authenticates",
    "pass/5.2/deny-401-drops-client",
    "pass/5.2/deny-relisten",
    "pass/5.2/deny-keeps-oneshot",
];

/// The SHOULD cases that wait for an incoming-connection request.
const NEEDS_REQUEST_SHOULD: &[&str] = &[
    "pass/3/proxy-port-single-use",
    "pass/3/half-close",
    "pass/3/first-eof-ends-session",
];

/// The cases that wait for the expire notice (§4.1 listing 5).
const NEEDS_EXPIRE_NOTICE: &[&str] = &[
    "pass/4.1/expire-notice",
    "pass/4.1/expire-ack",
    "pass/4.1/port-closed-after-expire",
];

/// The cases that wait for the oneshot notice (§4.2 listing 7).
const NEEDS_ONESHOT_NOTICE: &[&str] = &[
    "pass/4.2/oneshot-notice",
    "pass/4.2/oneshot-ack",
    "pass/4.2/port-closed-after-oneshot",
    "pass/4.2/oneshot-overrides-expire",
];

/// The MUST cases that check an error-table row.
const ERROR_TABLE_ROWS: &[&str] = &[
    "pass/2/no-ports-502",
    "pass/4.3/close-missing-proxy-400",
    "pass/4.3/close-not-owner-401",
    "pass/4.3/close-unknown-port-404",
    "pass/4.3/close-wrong-ip-405",
];

/// The SHOULD cases that expect an error answer (DESIGN decision 8).
const ROBUSTNESS_ERRORS: &[&str] = &[
    "pass/robustness/malformed-bad-request",
    "pass/robustness/unknown-namespace-503",
];

/// The MUST cases that register a port and need no incoming request (those that
/// do are [`NEEDS_REQUEST_MUST`]).
const REGISTERS_MUST: &[&str] = &[
    "pass/2/register-listing-1",
    "pass/2/register-result",
    "pass/2/port-listening",
    "pass/2/no-ports-502",
    "pass/4.1/expire-notice",
    "pass/4.1/expire-ack",
    "pass/4.1/port-closed-after-expire",
    "pass/4.3/close-port-closed",
    "pass/4.3/close-ack",
    "pass/4.3/close-missing-proxy-400",
    "pass/4.3/close-unknown-port-404",
    "pass/4.3/close-wrong-ip-405",
];

/// The SHOULD cases that register a port and need no incoming request.
const REGISTERS_SHOULD: &[&str] = &[
    "pass/4.3/close-other-resource",
    "pass/robustness/survives-malformed",
];

impl Fault {
    /// One line: what is broken.
    pub fn summary(self) -> &'static str {
        match self {
            Fault::NoExpireNotice => "§4.1 expire notice never sent",
            Fault::NoOneshotNotice => "§4.2 oneshot notice never sent",
            Fault::CloseWithoutOwnerCheck => "a stranger's close is acknowledged",
            Fault::WrongErrorCode => "404 where 401 is due",
            Fault::DenyIgnored => "an owner's deny taken as an accept",
            Fault::SilentOnMalformed => "no answer to malformed requests",
            Fault::NoRelisten => "the lease port stays closed after a relay",
            Fault::NoticeToWrongJid => "requests and notices go to another resource",
            Fault::MissingServerPort => "`<server/>` without a port",
            Fault::NoClientDrop => "the client socket is never dropped",
            Fault::WrongClientPort => "`<client/>` names a wrong port",
            Fault::WrongErrorType => "every error's `type` differs from XEP-0086's",
            Fault::ExpireNoticeEarly => "the lease expires after a third of the `<expire/>` asked",
            Fault::ExpireNoticeLate => "the expire notice is held back 5 s",
            Fault::CallerDroppedAtOnce => "a caller is hung up on at once, the owner never asked",
            Fault::ErrorFromWrongJid => "errors come from `elsewhere.invalid`",
            Fault::StaleExpireTimer => {
                "(sequence) a close leaves the expiry timer running: a stale expire notice"
            }
            Fault::ProxyPortLeak => {
                "(sequence) proxy ports never return to the pool: 502 after 40 sessions"
            }
            Fault::CloseOtherLease => {
                "(sequence) with two leases on one account, a close closes the other"
            }
            Fault::NoticeToLatestResource => {
                "(sequence) notices go to the account's most recent resource"
            }
            Fault::ExpiryRestartedBySession => "(sequence) each session restarts the expiry",
            Fault::NoRelistenAfterOwnerHangUp => {
                "(sequence) the lease port stays closed after the owner hung up a session"
            }
        }
    }

    /// The cases that must catch this fault; every other case must pass.
    pub fn caught_by(self) -> &'static [Catch] {
        match self {
            Fault::NoExpireNotice => {
                &const { [fail(NEEDS_EXPIRE_NOTICE, "they wait for the notice")] }
            }
            Fault::NoOneshotNotice => {
                &const {
                    [
                        fail(NEEDS_ONESHOT_NOTICE, "they wait for the notice"),
                        warn(
                            &["pass/3/first-eof-ends-session"],
                            "it waits for the oneshot notice that ends the session",
                        ),
                    ]
                }
            }
            Fault::CloseWithoutOwnerCheck | Fault::WrongErrorCode => {
                &const {
                    [fail(
                        &["pass/4.3/close-not-owner-401"],
                        "it checks the 401 row",
                    )]
                }
            }
            Fault::DenyIgnored => {
                &const {
                    [fail(
                        &["pass/5.2/deny-401-drops-client"],
                        "it checks the client is dropped after a deny",
                    )]
                }
            }
            Fault::SilentOnMalformed => {
                &const {
                    [
                        fail(
                            &["pass/4.3/close-missing-proxy-400"],
                            "it checks the 400 row",
                        ),
                        warn(
                            &["pass/robustness/malformed-bad-request"],
                            "it expects 400 for a malformed payload",
                        ),
                    ]
                }
            }
            Fault::NoRelisten => {
                &const {
                    [fail(
                        &["pass/2/relisten-after-relay"],
                        "it connects again after a relay",
                    )]
                }
            }
            Fault::NoticeToWrongJid => {
                &const {
                    [
                        fail(
                            NEEDS_REQUEST_MUST,
                            "the request never reaches the owner's resource",
                        ),
                        warn(
                            NEEDS_REQUEST_SHOULD,
                            "the request never reaches the owner's resource",
                        ),
                        fail(
                            NEEDS_EXPIRE_NOTICE,
                            "the notice never reaches the owner's resource",
                        ),
                    ]
                }
            }
            Fault::MissingServerPort => {
                &const {
                    [
                        fail(REGISTERS_MUST, "every registration result is malformed"),
                        fail(NEEDS_REQUEST_MUST, "every registration result is malformed"),
                        warn(REGISTERS_SHOULD, "every registration result is malformed"),
                        warn(
                            NEEDS_REQUEST_SHOULD,
                            "every registration result is malformed",
                        ),
                    ]
                }
            }
            Fault::NoClientDrop => {
                &const {
                    [fail(
                        &[
                            "pass/3/owner-error-drops-client",
                            "pass/3/no-answer-drops-client",
                            "pass/5.2/deny-401-drops-client",
                            "pass/5.2/deny-relisten",
                            "pass/5.2/deny-keeps-oneshot",
                        ],
                        "they check the client is dropped (after an error, no answer or a deny)",
                    )]
                }
            }
            Fault::WrongClientPort => {
                &const {
                    [fail(
                        &["pass/3/client-is-remote-end"],
                        "it compares `<client/>` with the caller's address",
                    )]
                }
            }
            Fault::WrongErrorType => {
                &const {
                    [
                warn(
                    ERROR_TABLE_ROWS,
                    "a type other than XEP-0086's is a tolerated deviation (DESIGN decision 40)",
                ),
                warn(ROBUSTNESS_ERRORS, "they check the error's type too"),
            ]
                }
            }
            Fault::ExpireNoticeEarly => {
                &const {
                    [
                        fail(
                            NEEDS_EXPIRE_NOTICE,
                            "the notice comes before expire − tolerance",
                        ),
                        fail(
                            &["pass/4.1/not-before-expiry"],
                            "the lease is gone before expire − tolerance",
                        ),
                    ]
                }
            }
            Fault::ExpireNoticeLate => {
                &const { [fail(NEEDS_EXPIRE_NOTICE, "no notice by expire + tolerance")] }
            }
            Fault::CallerDroppedAtOnce => {
                &const {
                    [
                        fail(
                            NEEDS_REQUEST_MUST,
                            "no request reaches the owner; the caller is dropped",
                        ),
                        warn(
                            NEEDS_REQUEST_SHOULD,
                            "no request reaches the owner; the caller is dropped",
                        ),
                    ]
                }
            }
            Fault::ErrorFromWrongJid => {
                &const {
                    [
                        fail(
                            ERROR_TABLE_ROWS,
                            "an error from another JID than the service's",
                        ),
                        warn(
                            ROBUSTNESS_ERRORS,
                            "an error from another JID than the service's",
                        ),
                    ]
                }
            }
            // Only a sequence of operations shows these: no case catches them, and
            // `pass-conformance explore` must (conformance/tests/explore_faults.rs).
            Fault::StaleExpireTimer
            | Fault::ProxyPortLeak
            | Fault::CloseOtherLease
            | Fault::NoticeToLatestResource
            | Fault::ExpiryRestartedBySession
            | Fault::NoRelistenAfterOwnerHangUp => &[],
        }
    }
}

/// A case id that `catches` names more than once (a declaration names each case once).
pub fn repeated_case(catches: &[Catch]) -> Option<&'static str> {
    let mut ids = catches.iter().flat_map(|c| c.cases.iter().copied());
    let mut seen: alloc::vec::Vec<&'static str> = alloc::vec::Vec::new();
    ids.find(|id| {
        let again = seen.contains(id);
        seen.push(id);
        again
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_declares_cases_each_once_with_a_reason() {
        for f in Fault::ALL {
            let catches = f.caught_by();
            // A sequence fault declares none: explore finds it (DESIGN decision 133).
            assert_eq!(
                catches.iter().any(|c| !c.cases.is_empty()),
                !f.is_sequence(),
                "{} declares cases: {catches:?}",
                f.name()
            );
            assert_eq!(repeated_case(catches), None, "{}", f.name());
            assert!(catches.iter().all(|c| !c.why.is_empty()), "{}", f.name());
        }
    }

    #[test]
    fn a_repeated_case_is_found() {
        let twice = [fail(&["a", "b"], "x"), warn(&["c", "a"], "y")];
        assert_eq!(repeated_case(&twice), Some("a"));
        assert_eq!(repeated_case(&twice[..1]), None);
    }
}
