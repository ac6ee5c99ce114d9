//! Rendering a [`SuiteReport`]: a table for people, JSON and
//! JUnit XML for machines, and the case list (plain or Markdown).

mod junit;
mod list;
mod table;

pub use junit::junit;
pub use list::{list_markdown, list_text};
pub use table::table;

use crate::runner::SuiteReport;

/// The report as pretty JSON (serde_json).
pub fn json(report: &SuiteReport) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
