//! Fields shared by several records: decimal numbers, and XML kept on one line.

use crate::error::{RecordError, RecordKind};
use alloc::string::String;
use core::fmt;
use pass_core::time::Instant;

/// A decimal number: `0`-`9` only (integer `FromStr` would also take a `+`).
pub(crate) fn number<T: TryFrom<u64>>(
    record: RecordKind,
    field: &'static str,
    value: &str,
) -> Result<T, RecordError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(record, field, value, "a decimal number"));
    }
    // One parser for every width (read as u64, then narrowed) keeps the module small.
    value
        .parse::<u64>()
        .ok()
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| RecordError::OutOfRange {
            record,
            field,
            value: String::from(value),
        })
}

/// `NOW`: milliseconds since the host's epoch.
pub(crate) fn instant(record: RecordKind, value: &str) -> Result<Instant, RecordError> {
    number(record, "now", value).map(Instant::from_millis)
}

pub(crate) fn malformed(
    record: RecordKind,
    field: &'static str,
    value: &str,
    expected: &'static str,
) -> RecordError {
    RecordError::Malformed {
        record,
        field,
        value: String::from(value),
        expected,
    }
}

/// Writes XML with CR and LF as character references: the ABI is line-oriented,
/// and XML holds raw line breaks only in text and attribute values, where the
/// references mean the same (better, for attributes: a raw break there is
/// normalised to a space).
pub(crate) struct OneLine<'a>(pub(crate) &'a str);

impl fmt::Display for OneLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['\r', '\n']) {
            f.write_str(&rest[..i])?;
            f.write_str(if rest.as_bytes()[i] == b'\n' {
                "&#10;"
            } else {
                "&#13;"
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn line_breaks_become_references() {
        assert_eq!(
            OneLine("<a b='x\ny'>1\r\n2</a>").to_string(),
            "<a b='x&#10;y'>1&#13;&#10;2</a>"
        );
        assert_eq!(OneLine("a\r\nb").to_string(), "a&#13;&#10;b");
    }

    #[test]
    fn numbers_are_plain_decimal() {
        let n = |v| number::<u16>(RecordKind::Listen, "port", v);
        assert_eq!(n("40001"), Ok(40001));
        for bad in ["", "+1", "-1", "0x10", " 1"] {
            assert!(
                matches!(n(bad), Err(RecordError::Malformed { field: "port", .. })),
                "{bad:?}"
            );
        }
        assert!(matches!(n("70000"), Err(RecordError::OutOfRange { .. })));
    }
}
