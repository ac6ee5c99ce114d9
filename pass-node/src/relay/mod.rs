//! Relays: the bytes between a third party (client) and a lease owner, both ways,
//! byte-exact, with half-close propagation: EOF on one side shuts down the writing
//! side of the other. A relay ends when both directions are done, or at the first
//! error (a reset); then both sockets are closed.
//!
//! Two ways to move bytes: [`copy`] through large user-space buffers (portable,
//! rate-limitable), and on Linux [`splice`] through a pipe, zero-copy.

pub mod copy;
pub mod rate;
#[cfg(target_os = "linux")]
pub mod splice;

use crate::config::{RelayMode, RelaySettings};
use rate::{SharedBucket, Throttle, TokenBucket};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpStream;

/// Bytes relayed since start, both ways, over all relays (exported as metrics).
#[derive(Debug, Default)]
pub struct ByteCounters {
    /// From third parties to owners.
    pub client_to_owner: AtomicU64,
    /// From owners to third parties.
    pub owner_to_client: AtomicU64,
}

/// What every relay shares: settings, the total-rate bucket, the counters.
#[derive(Debug, Clone)]
pub struct RelayEnv {
    settings: RelaySettings,
    total: Option<SharedBucket>,
    /// Byte counters over all relays.
    pub counters: Arc<ByteCounters>,
}

impl RelayEnv {
    /// The shared state for relays with these settings.
    pub fn new(settings: RelaySettings) -> Self {
        RelayEnv {
            settings,
            total: settings
                .total_rate
                .map(|r| Arc::new(Mutex::new(TokenBucket::new(r)))),
            counters: Arc::new(ByteCounters::default()),
        }
    }

    /// The way bytes will move: splice only where it exists, and under `auto` only
    /// when no rate limit applies (splice cannot pace below a pipe's worth).
    pub fn effective_mode(&self) -> RelayMode {
        let unlimited = self.settings.relay_rate.is_none() && self.settings.total_rate.is_none();
        match self.settings.mode {
            RelayMode::Splice if cfg!(target_os = "linux") => RelayMode::Splice,
            RelayMode::Auto if cfg!(target_os = "linux") && unlimited => RelayMode::Splice,
            _ => RelayMode::Copy,
        }
    }

    fn throttle(&self) -> Throttle {
        Throttle::new(self.settings.relay_rate, self.total.clone())
    }
}

/// How a relay ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayOutcome {
    /// Bytes moved from client to owner.
    pub client_to_owner: u64,
    /// Bytes moved from owner to client.
    pub owner_to_client: u64,
    /// The error that ended it, if any (`None`: both sides closed cleanly).
    pub error: Option<String>,
}

/// One direction's running byte count, added to the global counter as it goes.
pub(crate) struct Tally<'a> {
    pub(crate) bytes: u64,
    global: &'a AtomicU64,
}

impl Tally<'_> {
    pub(crate) fn add(&mut self, n: usize) {
        self.bytes += n as u64;
        self.global.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Relays between `client` and `owner` until both directions are done or one fails.
/// The sockets are closed when this returns.
pub async fn relay(client: TcpStream, owner: TcpStream, env: &RelayEnv) -> RelayOutcome {
    let _ = client.set_nodelay(true);
    let _ = owner.set_nodelay(true);
    let mut up = Tally {
        bytes: 0,
        global: &env.counters.client_to_owner,
    };
    let mut down = Tally {
        bytes: 0,
        global: &env.counters.owner_to_client,
    };
    let result: io::Result<()> = match env.effective_mode() {
        #[cfg(target_os = "linux")]
        RelayMode::Splice => {
            splice::relay(
                &client,
                &owner,
                env.throttle(),
                env.throttle(),
                &mut up,
                &mut down,
            )
            .await
        }
        _ => {
            let mut client = client;
            let mut owner = owner;
            let r = copy::relay(
                &mut client,
                &mut owner,
                env.throttle(),
                env.throttle(),
                &mut up,
                &mut down,
            )
            .await;
            drop((client, owner));
            r
        }
    };
    RelayOutcome {
        client_to_owner: up.bytes,
        owner_to_client: down.bytes,
        error: result.err().map(|e| e.to_string()),
    }
}
