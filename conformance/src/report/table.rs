//! The report for people.

use super::transcript_lines;
use crate::runner::{Status, SuiteReport};
use crate::spec::SPEC_VERSION;
use std::fmt::Write;

/// How much the table shows.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct TableOptions {
    /// Details and transcripts of passing cases too (`--verbose`).
    pub verbose: bool,
}

impl TableOptions {
    /// With the details and transcripts of passing cases too, or not.
    pub fn verbose(verbose: bool) -> TableOptions {
        TableOptions { verbose }
    }
}

/// A table (id, section, level, status) followed by the details of every case that
/// did not pass (failure, notes, transcript), and a summary line.
pub fn table(report: &SuiteReport) -> String {
    table_with(report, TableOptions::default())
}

/// [`table`], and with `opts.verbose` the details and transcript of every passing
/// case as well.
pub fn table_with(report: &SuiteReport, opts: TableOptions) -> String {
    let mut s = String::new();
    let w = report
        .outcomes
        .iter()
        .map(|o| o.id.len())
        .max()
        .unwrap_or(2)
        .max(2);
    let _ = writeln!(
        s,
        "pass-conformance: {}{}",
        report.target,
        if report.strict { " (strict)" } else { "" }
    );
    let _ = writeln!(s, "{:<w$}  {:<14}  {:<6}  STATUS", "ID", "SECTION", "LEVEL");
    for o in &report.outcomes {
        let section = match o.listing {
            Some(n) => format!("§{} L{n}", o.section),
            None => format!("§{}", o.section),
        };
        let _ = writeln!(
            s,
            "{:<w$}  {:<14}  {:<6}  {}",
            o.id,
            section,
            o.level.to_string(),
            o.status
        );
    }
    let details: Vec<_> = report
        .outcomes
        .iter()
        .filter(|o| opts.verbose || o.status != Status::Pass)
        .collect();
    if !details.is_empty() {
        let _ = writeln!(s, "\nDetails:");
    }
    for o in details {
        let _ = writeln!(s, "\n{} {} [{}] {}", o.status, o.id, o.level, o.description);
        if let Some(f) = o.failure_text() {
            for line in f.lines() {
                let _ = writeln!(s, "  {line}");
            }
        }
        for n in &o.notes {
            let _ = writeln!(s, "  note: {n}");
        }
        if let Some(e) = &o.expected {
            let _ = writeln!(
                s,
                "  expected {} (--expect line {}, case {:?}): {}",
                e.outcome, e.line, e.case, e.reason
            );
        }
        if !o.transcript.is_empty() {
            let _ = writeln!(s, "  transcript:");
            s.push_str(&transcript_lines(&o.transcript, "    "));
        }
    }
    let unexpected = report.unexpected_passes();
    if !unexpected.is_empty() {
        let _ = writeln!(
            s,
            "\nUnexpected passes (expected not to pass; update the expectations):"
        );
        for o in unexpected {
            if let Some(e) = &o.expected {
                let _ = writeln!(
                    s,
                    "  {}: expected {} (line {}, case {:?}): {}",
                    o.id, e.outcome, e.line, e.case, e.reason
                );
            }
        }
    }
    if !report.stale_expectations.is_empty() {
        let _ = writeln!(s, "\nStale expectations (match no case):");
        for e in &report.stale_expectations {
            let _ = writeln!(s, "  line {}: case {:?}: {}", e.line, e.case, e.reason);
        }
    }
    if let Some(b) = &report.baseline {
        let _ = writeln!(
            s,
            "\nBaseline {}: {} regression(s) (passed there, not now){}",
            b.file,
            b.regressions.len(),
            if b.regressions.is_empty() {
                String::new()
            } else {
                format!(": {}", b.regressions.join(", "))
            }
        );
        if !b.known.is_empty() {
            let _ = writeln!(
                s,
                "  not counted (did not pass there either): {}",
                b.known.join(", ")
            );
        }
    }
    let unmet = report.requirements_not_met();
    if !unmet.is_empty() {
        let _ = writeln!(s, "\nRequirements not met (XEP-0003 {SPEC_VERSION}):");
        for u in unmet {
            let _ = writeln!(s, "  §{} \"{}\"", u.section, u.quote);
            let _ = writeln!(s, "    cases: {}", u.cases.join(", "));
        }
    }
    if let Some(tail) = &report.impl_log_tail {
        let _ = writeln!(s, "\nThe implementation's output ends with:\n{tail}");
    }
    let _ = writeln!(
        s,
        "\n{} cases: {} passed, {} failed, {} warnings, {} skipped{}{}",
        report.outcomes.len(),
        report.count(Status::Pass),
        report.count(Status::Fail),
        report.count(Status::Warn),
        report.count(Status::Skip),
        match report.count(Status::Xfail) {
            0 => String::new(),
            n => format!(", {n} expected failures"),
        },
        match report.unexpected_passes().len() {
            0 => String::new(),
            n => format!(", {n} unexpected passes"),
        }
    );
    s
}
