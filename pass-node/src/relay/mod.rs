//! Relays: the bytes between a third party (client) and a lease owner, both ways,
//! byte-exact, with half-close propagation: EOF on one side shuts down the writing
//! side of the other.
//!
//! The first clean EOF ends the session for the protocol (XEP-0003 §2, §3: a
//! disconnect on either side ends it): the relay reports that side at once (the
//! core frees the lease), while the other direction may go on, but only while it
//! moves bytes: idle for the half-close timeout, the relay closes both sockets.
//! Both reports (the first EOF, the end) are made before the other peer can see
//! anything of it (docs/DESIGN.md decision 50): a caller who saw its session close
//! and calls again at once must find the lease free.
//! An error (a reset) ends both directions at once, and a relay that moves nothing
//! either way for the idle timeout (when set) is closed like a disconnect.
//!
//! Two ways to move bytes: [`copy`] through large user-space buffers (portable,
//! rate-limitable), and on Linux [`splice`] through a pipe, zero-copy.

pub mod copy;
pub mod rate;
#[cfg(target_os = "linux")]
pub mod splice;

use crate::config::{RelayMode, RelaySettings};
use rate::{SharedBucket, Throttle, TokenBucket};
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

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

    /// The way bytes will move. `auto` means `copy`: on the machines measured
    /// (docs/BENCHMARKS.md, idle 2-core VM) 256 KiB buffers relayed about 20 Gbit/s
    /// against 16–19.7 for splice(2) through a 1 MiB pipe. `splice` stays
    /// available, on Linux, for machines where it measures faster.
    pub fn effective_mode(&self) -> RelayMode {
        match self.settings.mode {
            RelayMode::Splice if cfg!(target_os = "linux") => RelayMode::Splice,
            _ => RelayMode::Copy,
        }
    }

    /// How long a half-closed relay may stay idle before it is closed.
    pub fn half_close_timeout(&self) -> Duration {
        self.settings.half_close_timeout
    }

    /// How long a relay may move nothing either way before it is closed (`None`:
    /// no limit).
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.settings.idle_timeout
    }

    fn throttle(&self) -> Throttle {
        Throttle::new(self.settings.relay_rate, self.total.clone())
    }
}

/// A relay's two peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The third party that connected to the lease port.
    Client,
    /// The lease owner, connected to the proxy port.
    Owner,
}

/// How a relay ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayOutcome {
    /// Bytes moved from client to owner.
    pub client_to_owner: u64,
    /// Bytes moved from owner to client.
    pub owner_to_client: u64,
    /// Why it ended.
    pub ending: Ending,
    /// The error that ended it ([`Ending::Failed`]).
    pub error: Option<String>,
}

/// Why a relay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Both directions saw EOF.
    BothClosed,
    /// Neither direction moved a byte for the idle timeout.
    Idle,
    /// One direction saw EOF, then the other stayed idle for the half-close timeout.
    IdleAfterHalfClose,
    /// A read or write failed (a reset, for instance).
    Failed,
}

impl Ending {
    /// All of them, for metrics.
    pub const ALL: [Ending; 4] = [
        Ending::BothClosed,
        Ending::Idle,
        Ending::IdleAfterHalfClose,
        Ending::Failed,
    ];

    /// The name in logs and metric labels.
    pub fn label(self) -> &'static str {
        match self {
            Ending::BothClosed => "closed",
            Ending::Idle => "idle",
            Ending::IdleAfterHalfClose => "idle_after_half_close",
            Ending::Failed => "error",
        }
    }
}

/// One direction's running byte count, added to the global counter and to the
/// relay's activity counter (which the idle watchdogs sample) as it goes.
pub(crate) struct Tally<'a> {
    pub(crate) bytes: u64,
    global: &'a AtomicU64,
    activity: &'a AtomicU64,
}

impl Tally<'_> {
    pub(crate) fn add(&mut self, n: usize) {
        self.bytes += n as u64;
        self.global.fetch_add(n as u64, Ordering::Relaxed);
        self.activity.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Whose EOF came first, told once, by the direction that read it, before it
/// passes the EOF on (DESIGN decision 50: the driver hears the session's end before
/// the other peer can see it and call again).
pub(crate) struct FirstEof<F> {
    report: Mutex<Option<F>>,
}

impl<F: FnOnce(Side)> FirstEof<F> {
    fn new(report: F) -> Self {
        FirstEof {
            report: Mutex::new(Some(report)),
        }
    }

    /// `side` sent EOF: reported if it is the first.
    pub(crate) fn seen(&self, side: Side) {
        let report = self
            .report
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(report) = report {
            report(side);
        }
    }
}

/// How a relay watches for idleness and reports its first EOF.
pub(crate) struct Watch<'a, F> {
    /// Told whose EOF came first.
    pub(crate) first_eof: &'a FirstEof<F>,
    /// Bytes moved either way so far (bumped by [`Tally::add`]).
    pub(crate) activity: &'a AtomicU64,
    /// Longest idle time while both directions are open (`None`: no limit).
    pub(crate) idle_timeout: Option<Duration>,
    /// Longest idle time once one side has sent EOF.
    pub(crate) grace: Duration,
}

/// Runs both directions of a relay (`up`: client to owner, `down`: owner to
/// client; each returns `Ok` at its source's EOF, after reporting it to
/// [`FirstEof`] and propagating it). When the first one finishes cleanly, the
/// other runs on until it finishes or `activity` stops moving for `grace`. Before
/// that, `activity` still for the idle timeout ends both. The first error ends
/// both. The one place copy and splice relays share this logic.
pub(crate) async fn both_ways<U, D, F>(up: U, down: D, watch: Watch<'_, F>) -> io::Result<Ending>
where
    U: Future<Output = io::Result<()>>,
    D: Future<Output = io::Result<()>>,
{
    tokio::pin!(up);
    tokio::pin!(down);
    let activity = watch.activity;
    let idle_timeout = watch.idle_timeout;
    let idle = async {
        match idle_timeout {
            Some(limit) => idle_for(activity, limit).await,
            None => std::future::pending().await,
        }
    };
    let client_first = tokio::select! {
        r = &mut up => { r?; true }
        r = &mut down => { r?; false }
        () = idle => return Ok(Ending::Idle),
    };
    if client_first {
        while_moving(down, watch.activity, watch.grace).await
    } else {
        while_moving(up, watch.activity, watch.grace).await
    }
}

/// Runs the remaining direction until it ends or stays idle for `grace`.
async fn while_moving(
    rest: impl Future<Output = io::Result<()>>,
    activity: &AtomicU64,
    grace: Duration,
) -> io::Result<Ending> {
    tokio::select! {
        r = rest => r.map(|()| Ending::BothClosed),
        () = idle_for(activity, grace) => Ok(Ending::IdleAfterHalfClose),
    }
}

/// Returns once `activity` has not changed for `grace`. Sampling a counter (four
/// times per period) costs the byte path one relaxed add, where re-arming a timer on
/// every chunk would cost a timer-wheel update.
async fn idle_for(activity: &AtomicU64, grace: Duration) {
    let tick = (grace / 4).max(Duration::from_millis(1));
    let mut seen = activity.load(Ordering::Relaxed);
    let mut moved_at = Instant::now();
    loop {
        tokio::time::sleep(tick).await;
        let now = activity.load(Ordering::Relaxed);
        if now != seen {
            seen = now;
            moved_at = Instant::now();
        } else if moved_at.elapsed() >= grace {
            return;
        }
    }
}

/// Relays between `client` and `owner` until both directions are done, one fails,
/// nothing moves for the idle timeout, or one side sent EOF and the other
/// direction then idled for the half-close timeout. `on_first_eof` is called once,
/// at the first clean EOF, with its side, before that EOF is passed on; `on_end`
/// is called with the outcome while both sockets are still open, and they are
/// closed after it (DESIGN decision 50).
pub async fn relay(
    mut client: TcpStream,
    mut owner: TcpStream,
    env: &RelayEnv,
    on_first_eof: impl FnOnce(Side),
    on_end: impl FnOnce(RelayOutcome),
) {
    let _ = client.set_nodelay(true);
    let _ = owner.set_nodelay(true);
    let activity = AtomicU64::new(0);
    let first_eof = FirstEof::new(on_first_eof);
    let mut up = Tally {
        bytes: 0,
        global: &env.counters.client_to_owner,
        activity: &activity,
    };
    let mut down = Tally {
        bytes: 0,
        global: &env.counters.owner_to_client,
        activity: &activity,
    };
    let watch = Watch {
        first_eof: &first_eof,
        activity: &activity,
        idle_timeout: env.idle_timeout(),
        grace: env.half_close_timeout(),
    };
    let result: io::Result<Ending> = match env.effective_mode() {
        #[cfg(target_os = "linux")]
        RelayMode::Splice => {
            splice::relay(
                &client,
                &owner,
                env.throttle(),
                env.throttle(),
                &mut up,
                &mut down,
                watch,
            )
            .await
        }
        _ => {
            copy::relay(
                &mut client,
                &mut owner,
                env.throttle(),
                env.throttle(),
                &mut up,
                &mut down,
                watch,
            )
            .await
        }
    };
    let (ending, error) = match result {
        Ok(ending) => (ending, None),
        Err(e) => (Ending::Failed, Some(e.to_string())),
    };
    on_end(RelayOutcome {
        client_to_owner: up.bytes,
        owner_to_client: down.bytes,
        ending,
        error,
    });
    drop((client, owner));
}
