//! The report as JUnit XML: a testsuite per spec section, a testcase per case.

use crate::catalogue::section_title;
use crate::runner::{Status, SuiteReport};
use crate::xmlfmt::escape;
use std::fmt::Write;

/// JUnit XML. A FAIL is a `<failure>`, a SKIP `<skipped>`, a WARN passes with its
/// message in `<system-out>`; the XEP-0003 text a case checks is its `requirement`
/// property. An XFAIL is `<skipped message="XFAIL: expected …: reason">` with what went
/// wrong in `<system-out>` (DESIGN decision 81); an unexpected pass passes with an
/// `unexpected-pass` property; a stale expectation is a testcase of a last
/// `expectations` testsuite, `<skipped>` (a `<failure>` under `--strict`). With a
/// baseline, a failing case that did not pass there has a `baseline` property saying
/// it is not counted. Times are seconds.
pub fn junit(report: &SuiteReport) -> String {
    let mut sections: Vec<&str> = Vec::new();
    for o in &report.outcomes {
        if !sections.contains(&o.section.as_str()) {
            sections.push(&o.section);
        }
    }
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let stale = report.stale_expectations.len();
    let total_fail = report.count(Status::Fail) + if report.strict { stale } else { 0 };
    let _ = writeln!(
        s,
        "<testsuites name=\"pass-conformance\" tests=\"{}\" failures=\"{total_fail}\">",
        report.outcomes.len() + stale
    );
    for sec in sections {
        let cases: Vec<_> = report
            .outcomes
            .iter()
            .filter(|o| o.section == sec)
            .collect();
        let fails = cases.iter().filter(|o| o.status == Status::Fail).count();
        let skips = cases
            .iter()
            .filter(|o| matches!(o.status, Status::Skip | Status::Xfail))
            .count();
        let time: u64 = cases.iter().map(|o| o.duration_ms).sum();
        let _ = writeln!(
            s,
            "  <testsuite name=\"§{} {}\" tests=\"{}\" failures=\"{fails}\" skipped=\"{skips}\" time=\"{}\">",
            escape(sec),
            escape(section_title(sec)),
            cases.len(),
            secs(time)
        );
        for o in cases {
            let _ = write!(
                s,
                "    <testcase name=\"{}\" classname=\"pass.{}.{}\" time=\"{}\">",
                escape(&o.id),
                escape(&o.section),
                o.level,
                secs(o.duration_ms)
            );
            let mut props: Vec<(&str, String)> = Vec::new();
            if !o.requirement.is_empty() {
                props.push(("requirement", o.requirement.clone()));
            }
            if let (Status::Pass, Some(e)) = (o.status, &o.expected) {
                props.push((
                    "unexpected-pass",
                    format!("expected {} (line {}): {}", e.outcome, e.line, e.reason),
                ));
            }
            if let Some(b) = &report.baseline {
                if b.known.contains(&o.id) {
                    props.push((
                        "baseline",
                        format!("did not pass in {} either; not counted", b.file),
                    ));
                }
            }
            if !props.is_empty() {
                s.push_str("\n      <properties>");
                for (name, value) in &props {
                    let _ = write!(s, "<property name=\"{name}\" value=\"{}\"/>", escape(value));
                }
                s.push_str("</properties>");
            }
            let detail = o.failure_text().unwrap_or_default();
            let mut notes = o.notes.join("\n");
            match o.status {
                Status::Pass => {}
                Status::Xfail => {
                    let why = o
                        .expected
                        .as_ref()
                        .map(|e| format!("XFAIL: expected {}: {}", e.outcome, e.reason))
                        .unwrap_or_else(|| "XFAIL".into());
                    let _ = write!(s, "\n      <skipped message=\"{}\"/>", escape(&why));
                    if !detail.is_empty() {
                        notes = format!("{detail}\n{notes}");
                    }
                }
                Status::Fail => {
                    // A deviation failed under --strict has notes but no failure.
                    let (msg, detail) = match &o.failure {
                        Some(f) => (f.step.clone(), detail),
                        None => (o.notes.first().cloned().unwrap_or_default(), {
                            let all = notes.clone();
                            notes.clear();
                            all
                        }),
                    };
                    let _ = write!(
                        s,
                        "\n      <failure message=\"{}\" type=\"{}\">{}</failure>",
                        escape(&msg),
                        o.level,
                        escape(&detail)
                    );
                }
                Status::Skip => {
                    let _ = write!(s, "\n      <skipped message=\"{}\"/>", escape(&notes));
                    notes.clear();
                }
                Status::Warn => {
                    if !detail.is_empty() {
                        notes = format!("{detail}\n{notes}");
                    }
                }
            }
            if !notes.is_empty() {
                let _ = write!(
                    s,
                    "\n      <system-out>{} {}</system-out>",
                    if o.status == Status::Xfail {
                        "XFAIL"
                    } else {
                        "WARN"
                    },
                    escape(notes.trim_end())
                );
            }
            if o.status == Status::Pass && props.is_empty() {
                s.push_str("</testcase>\n");
            } else {
                s.push_str("\n    </testcase>\n");
            }
        }
        s.push_str("  </testsuite>\n");
    }
    if !report.stale_expectations.is_empty() {
        let n = report.stale_expectations.len();
        let _ = writeln!(
            s,
            "  <testsuite name=\"expectations\" tests=\"{n}\" failures=\"{}\" skipped=\"{}\" time=\"0.000\">",
            if report.strict { n } else { 0 },
            if report.strict { 0 } else { n },
        );
        for e in &report.stale_expectations {
            let msg = format!("stale expectation (line {}): matches no case", e.line);
            let _ = write!(
                s,
                "    <testcase name=\"{}\" classname=\"pass.expectations\" time=\"0.000\">",
                escape(&e.case)
            );
            if report.strict {
                let _ = write!(
                    s,
                    "\n      <failure message=\"{}\" type=\"expectation\">{}</failure>",
                    escape(&msg),
                    escape(&e.reason)
                );
            } else {
                let _ = write!(s, "\n      <skipped message=\"{}\"/>", escape(&msg));
            }
            s.push_str("\n    </testcase>\n");
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}

fn secs(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}
