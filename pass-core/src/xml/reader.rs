//! The strict reader. (stub: the XML work item fills this in)
use super::{Element, Limits, XmlError};

/// Parses one complete element.
pub fn parse_element(_input: &[u8], _limits: &Limits) -> Result<Element, XmlError> {
    Err(XmlError::Malformed("reader not implemented yet".into()))
}
