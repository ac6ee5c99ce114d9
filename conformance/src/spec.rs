//! The canonical text of XEP-0003, stored in the repository with its version: the
//! source every case's requirement is quoted from, verbatim (DESIGN decision 43).

/// The version of XEP-0003 the quotes come from (its latest `<revision>`).
pub const SPEC_VERSION: &str = "1.4";

/// The XEP-0003 source, as published by the XSF (`conformance/spec/xep-0003.xml`).
pub const SPEC_SOURCE: &str = include_str!("../spec/xep-0003.xml");

/// The spec as a reader sees its prose: the five XML entities decoded and runs of
/// whitespace collapsed to one space, so a quote is matched as it reads.
pub fn prose() -> String {
    let decoded = SPEC_SOURCE
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A requirement as shown in reports: the fragments joined by " … ".
pub fn quote(fragments: &[&str]) -> String {
    fragments.join(" … ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_the_stored_specs_latest_revision() {
        let first = SPEC_SOURCE
            .split("<version>")
            .nth(1)
            .and_then(|s| s.split("</version>").next());
        assert_eq!(first, Some(SPEC_VERSION));
    }

    /// (id, requirement, description) of every case: service (c2s-only ones too)
    /// and client.
    fn all_cases() -> Vec<(&'static str, &'static [&'static str], &'static str)> {
        // for_c2s is the whole catalogue plus the cases only the c2s target runs.
        let service = crate::catalogue::for_c2s()
            .into_iter()
            .map(|c| (c.id, c.requirement, c.description));
        let client = crate::client::client_catalogue()
            .into_iter()
            .map(|c| (c.id, c.requirement, c.description));
        service.chain(client).collect()
    }

    #[test]
    fn every_quote_is_verbatim_spec_text() {
        let prose = prose();
        for (id, requirement, _) in all_cases() {
            for fragment in requirement {
                let normal = fragment.split_whitespace().collect::<Vec<_>>().join(" ");
                assert!(
                    prose.contains(&normal),
                    "{id}: {fragment:?} is not in XEP-0003 {SPEC_VERSION}"
                );
            }
        }
    }

    #[test]
    fn only_cases_on_which_the_spec_is_silent_quote_nothing() {
        for (id, requirement, description) in all_cases() {
            assert_eq!(
                requirement.is_empty(),
                description.contains("spec silent"),
                "{id}: quote the requirement, or say the spec is silent"
            );
        }
    }
}
