//! What XEP-0086 maps each legacy error code of XEP-0003's tables to.
//!
//! XEP-0003 specifies codes only: the code is the requirement. The RFC 6120 condition
//! and `type` are XEP-0086's advice, so a difference is a warning, not a failure
//! (DESIGN decision 40).

use pass_core::stanza::{Condition, ErrorType};

/// The condition and type XEP-0086 gives a legacy code, for the codes the suite
/// checks. `None` for a code it does not use.
pub fn mapping(code: u16) -> Option<(Condition, ErrorType)> {
    use Condition::*;
    use ErrorType::*;
    Some(match code {
        400 => (BadRequest, Modify),
        401 => (NotAuthorized, Auth),
        404 => (ItemNotFound, Cancel),
        405 => (NotAllowed, Cancel),
        // XEP-0086: "502 Remote Server Error" -> <service-unavailable/>, wait.
        502 => (ServiceUnavailable, Wait),
        503 => (ServiceUnavailable, Cancel),
        _ => return None,
    })
}

/// An RFC 6120 defined condition by its element name (exactly: no aliases).
pub fn defined_condition(name: &str) -> Option<Condition> {
    Condition::ALL.iter().copied().find(|c| c.as_str() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_agrees_with_pass_core_where_both_speak() {
        // pass-core maps conditions to codes; for these codes both directions agree.
        for code in [400, 401, 404, 405, 503] {
            let (cond, kind) = mapping(code).unwrap();
            assert_eq!(cond.legacy(), (code, kind), "{code}");
        }
        assert_eq!(
            mapping(502),
            Some((Condition::ServiceUnavailable, ErrorType::Wait))
        );
        assert_eq!(mapping(200), None);
    }

    #[test]
    fn only_rfc_6120_names_are_defined() {
        assert_eq!(
            defined_condition("resource-constraint"),
            Some(Condition::ResourceConstraint)
        );
        assert_eq!(defined_condition("payment-required"), None);
        assert_eq!(defined_condition("no-such-condition"), None);
    }
}
