//! `lease_machine`: bytes decoded as a [`Script`] of host events (registers,
//! closes, listen results, connections, hang-ups and half-closes, owner answers,
//! time jumps, shutdown) and run by the one model of the lease invariants,
//! [`pass_core::sim::model`], through the simulated host of `pass_core::sim` — the
//! same model the quickcheck properties of pass-core run on stable.

use pass_core::sim::model::{self, Summary};
use pass_core::sim::Script;

/// Runs the script `data` decodes to; panics if an invariant fails.
pub fn check(data: &[u8]) -> Summary {
    let script = Script::decode(data);
    match model::run(&script) {
        Ok(summary) => summary,
        Err(v) => panic!("{v}\n{script:?}"),
    }
}
