//! Rendering a [`SuiteReport`]: a table and a self-contained HTML page for people,
//! JSON and JUnit XML for machines, and the case list (plain or Markdown). Every renderer is a
//! function of the report alone, whatever target made it.

mod html;
mod junit;
mod list;
mod table;
mod transcript_text;

pub use html::html;
pub use junit::junit;
pub use list::{list_markdown, list_text};
pub use table::{table, table_with, TableOptions};
pub use transcript_text::{event_text, transcript_lines};

use crate::runner::{SuiteReport, Unmet};
use crate::spec::SPEC_VERSION;

/// The JSON report: the suite report, the spec version the quotes come from and the
/// requirements not met.
#[derive(serde::Serialize)]
struct JsonReport<'a> {
    #[serde(flatten)]
    report: &'a SuiteReport,
    spec_version: &'static str,
    requirements_not_met: Vec<Unmet>,
    /// Ids of the cases that passed although an expectation said they would not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unexpected_passes: Vec<&'a str>,
}

/// The report as pretty JSON (serde_json), with the spec version the quotes come from
/// and the requirements not met; each case's `transcript` (when it has one) as a list
/// of `{"at_ms", "kind", …}` entries (DESIGN decision 44); with `--expect`, each judged case's `expected`, the
/// `unexpected_passes` and `stale_expectations`; with `--baseline`, the `baseline`
/// comparison.
pub fn json(report: &SuiteReport) -> String {
    let doc = JsonReport {
        report,
        spec_version: SPEC_VERSION,
        requirements_not_met: report.requirements_not_met(),
        unexpected_passes: report
            .unexpected_passes()
            .into_iter()
            .map(|o| o.id.as_str())
            .collect(),
    };
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
