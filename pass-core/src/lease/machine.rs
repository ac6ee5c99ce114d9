//! The lease machine. (stub: the lease work item fills this in)
use super::{Action, Config};
use alloc::collections::VecDeque;

/// Counters and gauges a host exports as metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Leases held now.
    pub leases: usize,
    /// Incoming connections waiting for their owner.
    pub pending: usize,
    /// Relays bridged now.
    pub relays: usize,
}

/// The state machine.
#[derive(Debug)]
pub struct LeaseMachine {
    _config: Config,
    actions: VecDeque<Action>,
}

impl LeaseMachine {
    /// A machine with no leases.
    pub fn new(config: Config) -> Self {
        LeaseMachine { _config: config, actions: VecDeque::new() }
    }

    /// The next action.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }
}
