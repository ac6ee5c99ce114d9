//! The report as JUnit XML: a testsuite per spec section, a testcase per case.

use crate::catalogue::section_title;
use crate::runner::{Status, SuiteReport};
use crate::xmlfmt::escape;
use std::fmt::Write;

/// JUnit XML. A FAIL is a `<failure>`, a SKIP `<skipped>`, a WARN passes with its
/// message in `<system-out>`; the XEP-0003 text a case checks is its `requirement`
/// property. Times are seconds.
pub fn junit(report: &SuiteReport) -> String {
    let mut sections: Vec<&str> = Vec::new();
    for o in &report.outcomes {
        if !sections.contains(&o.section.as_str()) {
            sections.push(&o.section);
        }
    }
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let total_fail = report.count(Status::Fail);
    let _ = writeln!(
        s,
        "<testsuites name=\"pass-conformance\" tests=\"{}\" failures=\"{total_fail}\">",
        report.outcomes.len()
    );
    for sec in sections {
        let cases: Vec<_> = report
            .outcomes
            .iter()
            .filter(|o| o.section == sec)
            .collect();
        let fails = cases.iter().filter(|o| o.status == Status::Fail).count();
        let skips = cases.iter().filter(|o| o.status == Status::Skip).count();
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
            if !o.requirement.is_empty() {
                let _ = write!(
                    s,
                    "\n      <properties><property name=\"requirement\" value=\"{}\"/></properties>",
                    escape(&o.requirement)
                );
            }
            let detail = o.failure_text().unwrap_or_default();
            let mut notes = o.notes.join("\n");
            match o.status {
                Status::Pass | Status::Xfail => {}
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
            if o.status == Status::Pass && o.requirement.is_empty() {
                s.push_str("</testcase>\n");
            } else {
                s.push_str("\n    </testcase>\n");
            }
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}

fn secs(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}
