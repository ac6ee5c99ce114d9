//! The catalogue as a list.

use crate::catalogue::{section_title, Case};
use crate::spec::{self, SPEC_VERSION};
use std::fmt::Write;

/// One line per case: id, section, listing, level, description; under it, indented,
/// the XEP-0003 text it checks.
pub fn list_text<C>(cases: &[Case<C>]) -> String {
    let w = cases.iter().map(|c| c.id.len()).max().unwrap_or(0);
    let mut s = String::new();
    for c in cases {
        let listing = c.listing.map(|n| format!("L{n}")).unwrap_or_default();
        let _ = writeln!(
            s,
            "{:<w$}  §{:<10} {:<3}  {:<6}  {}",
            c.id,
            c.section,
            listing,
            c.level.to_string(),
            c.description
        );
        if !c.requirement.is_empty() {
            let _ = writeln!(s, "{:w$}  \"{}\"", "", spec::quote(c.requirement));
        }
    }
    s
}

/// A Markdown table per section (for docs/CONFORMANCE.md).
pub fn list_markdown<C>(cases: &[Case<C>]) -> String {
    let mut s = String::new();
    let mut current = "";
    for c in cases {
        if c.section != current {
            current = c.section;
            let _ = writeln!(s, "\n### §{} {}\n", c.section, section_title(c.section));
            let _ = writeln!(
                s,
                "| Id | Listing | Level | Checks | XEP-0003 {SPEC_VERSION} says |\n|---|---|---|---|---|"
            );
        }
        let listing = c
            .listing
            .map(|n| n.to_string())
            .unwrap_or_else(|| "–".into());
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {} |",
            c.id,
            listing,
            c.level,
            c.description.replace('|', "\\|"),
            if c.requirement.is_empty() {
                "(spec silent)".to_string()
            } else {
                format!("“{}”", spec::quote(c.requirement).replace('|', "\\|"))
            }
        );
    }
    s
}
