//! Runs a selection of cases against one harness and collects their outcomes.

use crate::catalogue::{Case, Level};
use crate::ctx::{Ctx, Failure, Stop, DEFAULT_TIMING_TOLERANCE};
use crate::harness::Harness;
use crate::spec::{self, SPEC_VERSION};
use serde::Serialize;
use std::time::{Duration, Instant};

/// Which cases run and how failures count.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Run only cases whose id matches one of these globs (all when empty).
    pub only: Vec<glob::Pattern>,
    /// Leave out cases whose id matches one of these globs.
    pub skip: Vec<glob::Pattern>,
    /// Anything but PASS (or XFAIL) fails the run: SHOULD/MAY failures and tolerated
    /// deviations are FAIL, and a SKIP fails the run too (DESIGN decision 42).
    pub strict: bool,
    /// How far a timed event may be from its due time either way (DESIGN decision 41).
    pub timing_tolerance: Duration,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            only: Vec::new(),
            skip: Vec::new(),
            strict: false,
            timing_tolerance: DEFAULT_TIMING_TOLERANCE,
        }
    }
}

impl RunOptions {
    /// Whether the case with this id is selected.
    pub fn selects(&self, id: &str) -> bool {
        (self.only.is_empty() || self.only.iter().any(|p| p.matches(id)))
            && !self.skip.iter().any(|p| p.matches(id))
    }
}

/// A case's verdict (DESIGN decision 42).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum Status {
    /// Did what the spec requires.
    Pass,
    /// Did not: a MUST not met, the harness broke down, or (with `--strict`) a
    /// SHOULD/MAY not met or a tolerated deviation.
    Fail,
    /// Without `--strict`: a SHOULD/MAY not met, or a deviation the spec tolerates
    /// (the notes name it).
    Warn,
    /// Could not be checked against this implementation; the notes say why.
    Skip,
    /// Failed as the implementer declared it would. Reserved: nothing produces it
    /// until expectations (`--expect`) exist; it never fails a run.
    Xfail,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Warn => "WARN",
            Status::Skip => "SKIP",
            Status::Xfail => "XFAIL",
        })
    }
}

/// The outcome of one case.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// The case id.
    pub id: String,
    /// The spec section.
    pub section: String,
    /// The listing, if any.
    pub listing: Option<u8>,
    /// The requirement level.
    pub level: Level,
    /// The XEP-0003 text the case checks, verbatim (fragments joined by " … "); empty
    /// where the spec is silent.
    pub requirement: String,
    /// What the case checks.
    pub description: String,
    /// The verdict.
    pub status: Status,
    /// Deviations, the skip reason or a harness problem.
    pub notes: Vec<String>,
    /// What went wrong, for a failure (or a SHOULD not met).
    pub failure: Option<Failure>,
    /// Wall-clock time the case took.
    pub duration_ms: u64,
}

impl Outcome {
    /// The failure as one paragraph: section, the requirement quoted, step, sent,
    /// expected, got.
    pub fn failure_text(&self) -> Option<String> {
        let f = self.failure.as_ref()?;
        let mut s = format!("§{}: {}", self.section, f.step);
        if !self.requirement.is_empty() {
            s.push_str(&format!(
                "\n  XEP-0003 {SPEC_VERSION} says: \"{}\"",
                self.requirement
            ));
        }
        s.push_str(&format!(
            "\n  expected: {}\n  got:      {}",
            f.expected,
            f.got.as_deref().unwrap_or("nothing")
        ));
        if let Some(sent) = &f.sent {
            s.push_str(&format!("\n  sent:     {sent}"));
        }
        Some(s)
    }
}

/// The outcomes of a run.
#[derive(Clone, Debug, Serialize)]
pub struct SuiteReport {
    /// What was tested (e.g. `inproc`, `component 127.0.0.1:5347`).
    pub target: String,
    /// Whether SHOULD failures count.
    pub strict: bool,
    /// One per selected case, in catalogue order.
    pub outcomes: Vec<Outcome>,
    /// The last lines a spawned implementation wrote, kept when a case failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impl_log_tail: Option<String>,
}

/// A requirement of XEP-0003 some case found not met.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unmet {
    /// The spec section.
    pub section: String,
    /// The requirement, verbatim.
    pub quote: String,
    /// The cases that found it not met.
    pub cases: Vec<String>,
}

impl SuiteReport {
    /// The requirements not met, in catalogue order, one entry per quote: from every
    /// FAIL, and every WARN that is a SHOULD not met (not a tolerated deviation).
    pub fn requirements_not_met(&self) -> Vec<Unmet> {
        let mut out: Vec<Unmet> = Vec::new();
        let unmet = self.outcomes.iter().filter(|o| {
            !o.requirement.is_empty()
                && (o.status == Status::Fail || (o.status == Status::Warn && o.failure.is_some()))
        });
        for o in unmet {
            match out
                .iter_mut()
                .find(|u| u.section == o.section && u.quote == o.requirement)
            {
                Some(u) => u.cases.push(o.id.clone()),
                None => out.push(Unmet {
                    section: o.section.clone(),
                    quote: o.requirement.clone(),
                    cases: vec![o.id.clone()],
                }),
            }
        }
        out
    }

    /// How many cases have this status.
    pub fn count(&self, s: Status) -> usize {
        self.outcomes.iter().filter(|o| o.status == s).count()
    }

    /// Whether this outcome fails the run: a FAIL always; with `--strict`, anything
    /// but PASS and XFAIL (a WARN, or a SKIP of any level).
    pub fn fails_run(&self, s: Status) -> bool {
        match s {
            Status::Pass | Status::Xfail => false,
            Status::Fail => true,
            Status::Warn | Status::Skip => self.strict,
        }
    }

    /// The process exit code: 1 when an outcome fails the run, 0 otherwise (2, a run
    /// that could not happen, is the binary's).
    pub fn exit_code(&self) -> i32 {
        if self.outcomes.iter().any(|o| self.fails_run(o.status)) {
            1
        } else {
            0
        }
    }
}

/// Runs `cases` (those `opts` selects) in order. Each case gets a fresh [`Ctx`];
/// between cases the harness is reset. If the harness cannot be reset, the remaining
/// cases fail with its message.
pub async fn run_suite(
    mut h: Box<dyn Harness>,
    target: &str,
    cases: &[Case],
    opts: &RunOptions,
) -> (SuiteReport, Box<dyn Harness>) {
    let mut outcomes = Vec::new();
    let mut broken: Option<String> = None;
    for (index, case) in cases.iter().enumerate().filter(|(_, c)| opts.selects(c.id)) {
        let mut out = Outcome {
            id: case.id.to_string(),
            section: case.section.to_string(),
            listing: case.listing,
            level: case.level,
            requirement: spec::quote(case.requirement),
            description: case.description.to_string(),
            status: Status::Pass,
            notes: Vec::new(),
            failure: None,
            duration_ms: 0,
        };
        if broken.is_none() {
            if let Err(e) = h.reset().await {
                broken = Some(format!("implementation disconnected: {e}"));
            }
        }
        if let Some(why) = &broken {
            out.status = Status::Fail;
            out.notes.push(why.clone());
            out.failure = Some(Failure {
                step: "start the case".into(),
                sent: None,
                expected: "the implementation connected".into(),
                got: Some(why.clone()),
            });
            outcomes.push(out);
            continue;
        }
        let start = Instant::now();
        let mut ctx = Ctx::new(h, index + 1).with_tolerance(opts.timing_tolerance);
        let result = (case.run)(&mut ctx).await;
        ctx.cleanup().await;
        let (back, warnings) = ctx.into_parts();
        h = back;
        out.duration_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        out.notes = warnings;
        let soft = case.level != Level::Must && !opts.strict;
        // A tolerated deviation is a WARN; under --strict it is a FAIL.
        let deviated = if opts.strict {
            Status::Fail
        } else {
            Status::Warn
        };
        match result {
            Ok(()) if out.notes.is_empty() => {}
            Ok(()) => out.status = deviated,
            Err(Stop::Skip(why)) => {
                out.status = Status::Skip;
                let why = if why.trim().is_empty() {
                    "no reason given".to_string()
                } else {
                    why
                };
                out.notes.push(why);
            }
            Err(Stop::Fail(f)) => {
                out.status = if soft { Status::Warn } else { Status::Fail };
                out.failure = Some(f);
            }
            Err(Stop::Harness(e)) => {
                out.status = Status::Fail;
                out.notes.push(e.to_string());
                out.failure = Some(Failure {
                    step: "talk to the implementation".into(),
                    sent: None,
                    expected: "the harness keeps working".into(),
                    got: Some(e.to_string()),
                });
            }
        }
        outcomes.push(out);
    }
    (
        SuiteReport {
            target: target.to_string(),
            strict: opts.strict,
            outcomes,
            impl_log_tail: None,
        },
        h,
    )
}
