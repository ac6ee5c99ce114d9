//! The case catalogue: every listing of §2–§5 exchanged with the service, every row of
//! every error table, and the behaviours the prose requires; each case quotes the
//! XEP-0003 text it checks ([`crate::spec`]).

use crate::cases;
use crate::ctx::{CaseFut, Ctx};
use serde::Serialize;
use std::fmt;

/// How strongly the spec requires what a case checks.
///
/// Listings, error-table rows and statements of what the service does are the
/// protocol itself: MUST. Where the spec says SHOULD or MAY, so do we. Where the spec
/// is silent and docs/DESIGN.md decided, the case says so and is SHOULD.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// A failure makes the implementation non-conformant.
    Must,
    /// A failure is reported as a warning (a failure with `--strict`).
    Should,
    /// Optional behaviour; a failure is a warning (a failure with `--strict`).
    May,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
        })
    }
}

/// The scenario a case runs, on the context of its catalogue: [`Ctx`] for the
/// service-side cases, [`crate::client::ClientCtx`] for the client target's.
pub type CaseFn<C = Ctx> = for<'a> fn(&'a mut C) -> CaseFut<'a>;

/// One conformance case, run on a context of type `C`.
pub struct Case<C = Ctx> {
    /// Stable id, `pass/<section>/<slug>`.
    pub id: &'static str,
    /// The spec section, e.g. `4.3`.
    pub section: &'static str,
    /// The spec listing (1–14 in document order) the case exercises, if any.
    pub listing: Option<u8>,
    /// The requirement level.
    pub level: Level,
    /// The sentence(s) of XEP-0003 the case checks, verbatim from
    /// [`crate::spec::SPEC_SOURCE`] (version [`crate::spec::SPEC_VERSION`]); a table
    /// row is quoted cell by cell. Empty where the spec is silent (DESIGN decision 43).
    pub requirement: &'static [&'static str],
    /// One line: what the case checks.
    pub description: &'static str,
    /// The scenario.
    pub run: CaseFn<C>,
}

// By hand: a derive would ask `C: Clone`, and a context is not.
impl<C> Clone for Case<C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C> Copy for Case<C> {}

impl<C> fmt::Debug for Case<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Case")
            .field("id", &self.id)
            .field("section", &self.section)
            .field("listing", &self.listing)
            .field("level", &self.level)
            .finish()
    }
}

/// Every case, in spec order.
pub fn catalogue() -> Vec<Case> {
    let mut all = Vec::new();
    all.extend(cases::s2_registration::cases());
    all.extend(cases::s3_incoming::cases());
    all.extend(cases::s4_1_expire::cases());
    all.extend(cases::s4_2_oneshot::cases());
    all.extend(cases::s4_3_close::cases());
    all.extend(cases::s5_1_client_auth::cases());
    all.extend(cases::s5_2_deny::cases());
    all.extend(cases::robustness::cases());
    all
}

/// The cases only the c2s target can run (DESIGN decision 122): listed for it alone,
/// never SKIP on the others.
pub fn c2s_only() -> Vec<Case> {
    cases::c2s_only::cases()
}

/// The cases the c2s target runs: [`catalogue`] with [`c2s_only`] after the last
/// case of their sections.
pub fn for_c2s() -> Vec<Case> {
    let mut all = catalogue();
    for c in c2s_only() {
        let at = all
            .iter()
            .rposition(|x| x.section == c.section)
            .map_or(all.len(), |p| p + 1);
        all.insert(at, c);
    }
    all
}

/// Listings exchanged between two users, never with the service: a service target
/// cannot exchange them, so no case here claims them (they are the client target's).
pub const PEER_LISTINGS: &[u8] = &[12];

/// The title of a spec section, for reports.
pub fn section_title(section: &str) -> &'static str {
    match section {
        "2" => "Registration/Setup",
        "3" => "Incoming Connections",
        "4.1" => "Controls: expire",
        "4.2" => "Controls: oneshot",
        "4.3" => "Controls: close",
        "5.1" => "Security: Client Authentication",
        "5.2" => "Security: Denying a Connection",
        "robustness" => "Robustness (DESIGN decision 8)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let cases = for_c2s();
        let mut seen = HashSet::new();
        for c in &cases {
            assert!(seen.insert(c.id), "duplicate id {}", c.id);
            let prefix = format!("pass/{}/", c.section);
            assert!(
                c.id.starts_with(&prefix),
                "{} does not start with {prefix}",
                c.id
            );
            assert!(
                !section_title(c.section).is_empty(),
                "{} has no section title",
                c.id
            );
        }
    }

    #[test]
    fn c2s_only_cases_are_marked_and_in_their_sections() {
        let all = for_c2s();
        assert_eq!(all.len(), catalogue().len() + c2s_only().len());
        for c in c2s_only() {
            assert!(
                c.description.starts_with("(c2s target only)"),
                "{}: the listing says where it runs",
                c.id
            );
            assert!(!catalogue().iter().any(|x| x.id == c.id), "{}", c.id);
            let at = all.iter().position(|x| x.id == c.id).unwrap_or(0);
            assert_eq!(
                all[at - 1].section,
                c.section,
                "{} sits in its section",
                c.id
            );
        }
    }

    #[test]
    fn every_listing_sent_to_or_by_the_service_is_covered() {
        let cases = catalogue();
        for n in (1..=14u8).filter(|n| !PEER_LISTINGS.contains(n)) {
            assert!(
                cases.iter().any(|c| c.listing == Some(n)),
                "listing {n} has no case"
            );
        }
        for n in PEER_LISTINGS {
            assert!(
                cases.iter().all(|c| c.listing != Some(*n)),
                "listing {n} is never exchanged with the service; no case may claim it"
            );
        }
    }

    #[test]
    fn every_error_table_row_is_covered() {
        let ids: Vec<&str> = catalogue().iter().map(|c| c.id).collect();
        for code in [
            "pass/2/no-ports-502",
            "pass/4.3/close-missing-proxy-400",
            "pass/4.3/close-not-owner-401",
            "pass/4.3/close-unknown-port-404",
            "pass/4.3/close-wrong-ip-405",
            "pass/5.2/deny-401-drops-client",
        ] {
            assert!(ids.contains(&code), "missing {code}");
        }
    }
}
