//! Test builds only (`--features faults`, never the default or the package): the
//! engine wrapped with a pass-faults fault named by `PASS_NODE_FAULT`, so that the
//! conformance suite can prove, through a real XMPP server, that it catches each
//! fault (DESIGN decision 124). The names are `pass-conformance list --faults`'s.

use crate::config::ConfigError;
use pass_faults::Fault;

/// The environment variable naming the fault.
pub const FAULT_ENV: &str = "PASS_NODE_FAULT";

/// The fault `PASS_NODE_FAULT` names, if it is set and not empty.
pub fn from_env() -> Result<Option<Fault>, ConfigError> {
    let name = match std::env::var(FAULT_ENV) {
        Ok(n) if !n.is_empty() => n,
        _ => return Ok(None),
    };
    match Fault::from_name(&name) {
        Some(f) => Ok(Some(f)),
        None => {
            let known: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
            let why = if name.starts_with("host-") {
                "is a host fault (the in-process target's); the node breaks only its engine"
            } else {
                "names no engine fault"
            };
            Err(ConfigError {
                field: FAULT_ENV.to_owned(),
                reason: format!("{name:?} {why}; engine faults: {}", known.join(", ")),
            })
        }
    }
}
