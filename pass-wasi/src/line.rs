//! Keeping XML on one line: the ABI is line-oriented, and XML may hold raw line
//! breaks only in text and attribute values, where character references mean the
//! same (better, for attributes: a raw break there is normalised to a space).

use std::string::String;

/// Appends `xml` to `out` with CR and LF written as character references.
pub fn push_one_line(out: &mut String, xml: &str) {
    for c in xml.chars() {
        match c {
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_become_references() {
        let mut s = String::new();
        push_one_line(&mut s, "<a b='x\ny'>1\r\n2</a>");
        assert_eq!(s, "<a b='x&#10;y'>1&#13;&#10;2</a>");
    }
}
