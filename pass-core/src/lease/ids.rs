//! Ids of the IQs the machine sends: `pass-<n>`, unique per machine.
//!
//! The counter is kept as a number so that answers are matched by parsing their id
//! back (no string keys, and the oldest outstanding ids sort first).

use alloc::format;
use alloc::string::String;

/// Prefix of every id the machine generates.
const PREFIX: &str = "pass-";

/// Hands out `pass-1`, `pass-2`, ...
#[derive(Debug, Default)]
pub(crate) struct IdGen {
    last: u64,
}

impl IdGen {
    /// The next id, as its number and its text.
    pub(crate) fn next(&mut self) -> (u64, String) {
        self.last = self.last.wrapping_add(1);
        (self.last, format!("{PREFIX}{}", self.last))
    }
}

/// The number of an id this machine could have generated, `None` for any other text.
pub(crate) fn parse_id(id: &str) -> Option<u64> {
    let digits = id.strip_prefix(PREFIX)?;
    // Refuse "+1", "01" and the like: only the exact form we write matches.
    if digits.is_empty() || digits.starts_with(['0', '+']) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_parse_back() {
        let mut ids = IdGen::default();
        let (n1, s1) = ids.next();
        let (n2, s2) = ids.next();
        assert_ne!(s1, s2);
        assert_eq!(s1, "pass-1");
        assert_eq!(parse_id(&s1), Some(n1));
        assert_eq!(parse_id(&s2), Some(n2));
    }

    #[test]
    fn foreign_ids_do_not_parse() {
        for id in [
            "",
            "pass-",
            "pass-01",
            "pass-+1",
            "pass-x",
            "other-1",
            "pass-99999999999999999999",
        ] {
            assert_eq!(parse_id(id), None, "{id}");
        }
    }
}
