//! The writer. (stub: the XML work item fills this in)
use super::Element;
use alloc::string::String;

impl Element {
    /// Serialises with namespace declarations on the root.
    pub fn to_xml(&self) -> String {
        let mut s = String::new();
        self.write_to(&mut s);
        s
    }

    /// Appends the serialisation to `out`, declaring the root's namespace.
    pub fn write_to(&self, out: &mut String) {
        self.write_in(out, "");
    }

    /// Appends the serialisation to `out`, leaving out a default namespace
    /// declaration equal to `default_ns` (the namespace already in scope).
    pub fn write_in(&self, _out: &mut String, _default_ns: &str) {
        todo!("writer")
    }
}
