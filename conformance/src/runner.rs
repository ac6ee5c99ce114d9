//! Runs a selection of cases against one harness and collects their outcomes.

use crate::baseline::{Baseline, Comparison};
use crate::catalogue::{Case, Level};
use crate::ctx::{Ctx, Failure, Stop, DEFAULT_TIMING_TOLERANCE};
use crate::expect::{Expectations, Expected, Stale};
use crate::harness::Harness;
use crate::spec::{self, SPEC_VERSION};
use crate::transcript::{Recorder, Transcript};
use serde::{Deserialize, Serialize};
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
    /// The implementer's declared known failures (`--expect`, DESIGN decision 81).
    pub expectations: Expectations,
    /// An earlier run's verdicts: only cases that passed there fail this run
    /// (`--baseline`, DESIGN decision 82).
    pub baseline: Option<Baseline>,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            only: Vec::new(),
            skip: Vec::new(),
            strict: false,
            timing_tolerance: DEFAULT_TIMING_TOLERANCE,
            expectations: Expectations::default(),
            baseline: None,
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Failed (FAIL, WARN or SKIP) as the implementer declared it would
    /// (`--expect`, DESIGN decision 81); it never fails a run.
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
    /// The expectation (`--expect`) that applied to the case, if any: met when the
    /// status is XFAIL, an unexpected pass when it is PASS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expected>,
    /// Every stanza and TCP event of the case, with times since its start (empty when
    /// the target records none).
    #[serde(skip_serializing_if = "Transcript::is_empty")]
    pub transcript: Transcript,
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
    /// Expectations (`--expect`) that match no case of the catalogue.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stale_expectations: Vec<Stale>,
    /// How this run compares with an earlier report (`--baseline`, DESIGN decision 82).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Comparison>,
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
    /// FAIL, and every WARN or XFAIL with a failure (a SHOULD not met, an expected
    /// failure: not a tolerated deviation, not a SKIP).
    pub fn requirements_not_met(&self) -> Vec<Unmet> {
        let mut out: Vec<Unmet> = Vec::new();
        let unmet = self.outcomes.iter().filter(|o| {
            !o.requirement.is_empty()
                && (o.status == Status::Fail
                    || (matches!(o.status, Status::Warn | Status::Xfail) && o.failure.is_some()))
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

    /// The cases that passed although an expectation said they would not.
    pub fn unexpected_passes(&self) -> Vec<&Outcome> {
        self.outcomes
            .iter()
            .filter(|o| o.status == Status::Pass && o.expected.is_some())
            .collect()
    }

    /// The outcomes that fail the run: those [`fails_run`](Self::fails_run) says,
    /// and with a baseline only those of cases that passed in it (DESIGN decision 82).
    pub fn failing(&self) -> Vec<&Outcome> {
        self.outcomes
            .iter()
            .filter(|o| self.fails_run(o.status))
            .filter(|o| self.baseline.as_ref().is_none_or(|b| b.passed(&o.id)))
            .collect()
    }

    /// The process exit code: 1 when an outcome fails the run, or with `--strict` an
    /// expectation is stale or a case passed unexpectedly (DESIGN decision 81); 0
    /// otherwise (2, a run that could not happen, is the binary's).
    pub fn exit_code(&self) -> i32 {
        let untidy = !self.stale_expectations.is_empty() || !self.unexpected_passes().is_empty();
        if !self.failing().is_empty() || (self.strict && untidy) {
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
        let mut out = blank_outcome(case);
        if broken.is_none() {
            if let Err(e) = h.reset().await {
                broken = Some(format!("implementation disconnected: {e}"));
            }
        }
        if let Some(why) = &broken {
            fail_unstarted(&mut out, why, opts);
            outcomes.push(out);
            continue;
        }
        let start = Instant::now();
        let case_start = h.clock();
        let mut ctx = Ctx::new(h, index + 1).with_tolerance(opts.timing_tolerance);
        let result = (case.run)(&mut ctx).await;
        ctx.cleanup().await;
        out.transcript = ctx.take_transcript();
        let (back, warnings) = ctx.into_parts();
        h = back;
        let seen = h.take_events();
        if !seen.is_empty() {
            let mut r = Recorder::new(case_start);
            for (at, event) in seen {
                r.record(at, event);
            }
            out.transcript.entries.extend(r.finish().entries);
            out.transcript.entries.sort_by_key(|e| e.at_ms);
        }
        out.duration_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        conclude(&mut out, result, warnings, opts);
        outcomes.push(out);
    }
    (assemble(target, outcomes, cases, opts), h)
}

/// A case's outcome before it ran: its catalogue facts, PASS, nothing noted.
pub(crate) fn blank_outcome<C>(case: &Case<C>) -> Outcome {
    Outcome {
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
        expected: None,
        transcript: Transcript::default(),
    }
}

/// A case that could not start because the target broke down: FAIL with `why`.
pub(crate) fn fail_unstarted(out: &mut Outcome, why: &str, opts: &RunOptions) {
    judge(out, Status::Fail, opts);
    out.notes.push(why.to_string());
    out.failure = Some(Failure {
        step: "start the case".into(),
        sent: None,
        expected: "the implementation connected".into(),
        got: Some(why.to_string()),
    });
}

/// The verdict of a case that ran (DESIGN decision 42): from how it ended and the
/// deviations it noted (`warnings`, which become the outcome's notes).
pub(crate) fn conclude(
    out: &mut Outcome,
    result: Result<(), Stop>,
    warnings: Vec<String>,
    opts: &RunOptions,
) {
    out.notes = warnings;
    let soft = out.level != Level::Must;
    // The verdict without --strict; `judge` applies --strict and expectations.
    match result {
        Ok(()) if out.notes.is_empty() => judge(out, Status::Pass, opts),
        // A tolerated deviation.
        Ok(()) => judge(out, Status::Warn, opts),
        Err(Stop::Skip(why)) => {
            judge(out, Status::Skip, opts);
            let why = if why.trim().is_empty() {
                "no reason given".to_string()
            } else {
                why
            };
            out.notes.push(why);
        }
        Err(Stop::Fail(f)) => {
            judge(out, if soft { Status::Warn } else { Status::Fail }, opts);
            out.failure = Some(f);
        }
        Err(Stop::Harness(e)) => {
            judge(out, Status::Fail, opts);
            out.notes.push(e.to_string());
            out.failure = Some(Failure {
                step: "talk to the implementation".into(),
                sent: None,
                expected: "the harness keeps working".into(),
                got: Some(e.to_string()),
            });
        }
    }
}

/// The report of a run: the outcomes, stale expectations against `cases`, and the
/// baseline comparison.
pub(crate) fn assemble<C>(
    target: &str,
    outcomes: Vec<Outcome>,
    cases: &[Case<C>],
    opts: &RunOptions,
) -> SuiteReport {
    let mut report = SuiteReport {
        target: target.to_string(),
        strict: opts.strict,
        outcomes,
        impl_log_tail: None,
        stale_expectations: opts.expectations.stale(cases),
        baseline: None,
    };
    if let Some(b) = &opts.baseline {
        b.apply(&mut report);
    }
    report
}

/// Sets the status of `out` from its verdict without `--strict`: under `--strict` a
/// WARN is a FAIL; an expectation that is met makes it XFAIL (DESIGN decisions 42, 81).
fn judge(out: &mut Outcome, lenient: Status, opts: &RunOptions) {
    let status = if opts.strict && lenient == Status::Warn {
        Status::Fail
    } else {
        lenient
    };
    (out.status, out.expected) = opts
        .expectations
        .judge(&out.id, lenient, status, opts.strict);
}
