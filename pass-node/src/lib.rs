//! `pass-node`: the reference XEP-0003 PASS relay node, an XEP-0114 external
//! component of an XMPP server, on tokio.
//!
//! The protocol lives in `pass_core`'s sans-IO engine; this crate is the I/O shell
//! around it (the quinn / quinn-proto split):
//! - [`config`]: command line, TOML file, defaults, validation;
//! - [`component`]: the XEP-0114 stream's I/O (connect, reconnect, outgoing queue;
//!   the handshake and stream errors are `pass_core::component`);
//! - `driver`: the task that owns the engine and carries out its actions;
//! - [`listen`] and [`pending`]: listening ports and sockets waiting for a relay;
//! - [`relay`]: moving bytes (copy or splice), rate limits;
//! - [`metrics`]: the Prometheus endpoint;
//! - [`state`]: the lease store, which keeps leases across restarts;
//! - [`logs`]: log output (format, filter, colour).
//!
//! [`run`] runs a node in-process until a shutdown future completes.

#![warn(missing_docs)]

pub mod clock;
pub mod component;
pub mod config;
mod driver;
#[cfg(feature = "faults")]
pub mod faults;
pub mod listen;
pub mod logs;
pub mod metrics;
pub mod pending;
pub mod relay;
pub mod state;

pub use config::NodeConfig;

use component::{Link, LinkError, LinkSettings};
use metrics::Metrics;
use relay::RelayEnv;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

/// Exit code: configuration error.
pub const EXIT_CONFIG: i32 = 1;
/// Exit code: the server refused the component handshake (wrong secret or domain).
pub const EXIT_AUTH: i32 = 3;
/// Exit code: the server refused the component for another reason at start-up.
pub const EXIT_REFUSED: i32 = 4;
/// Exit code: a local resource could not be set up (the metrics address).
pub const EXIT_SETUP: i32 = 5;
/// Exit code: the lease store cannot be used (unreadable, in use by another
/// process, or its directory cannot be made); DESIGN decision 55.
pub const EXIT_STATE: i32 = 6;

/// Why a node stopped with an error.
#[derive(Debug)]
pub enum NodeError {
    /// The XMPP server refused the component.
    Link(LinkError),
    /// The settings do not hang together (the core refused them).
    Config(config::ConfigError),
    /// The metrics endpoint could not bind.
    Metrics(SocketAddr, std::io::Error),
    /// The lease store cannot be used.
    State(state::StateError),
}

impl NodeError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            NodeError::Link(LinkError::AuthFailed(_)) => EXIT_AUTH,
            NodeError::Link(LinkError::Refused(_)) => EXIT_REFUSED,
            NodeError::Config(_) => EXIT_CONFIG,
            NodeError::Metrics(..) => EXIT_SETUP,
            NodeError::State(_) => EXIT_STATE,
        }
    }
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeError::Link(e) => e.fmt(f),
            NodeError::Config(e) => write!(f, "configuration error: {e}"),
            NodeError::Metrics(a, e) => write!(f, "metrics endpoint {a}: {e}"),
            NodeError::State(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for NodeError {}

/// Runs a node with the reference engine ([`pass_core::service::Service`]) until
/// `shutdown` completes (then: tell owners, drain relays, close the stream) or the
/// server refuses the component.
pub async fn run(config: NodeConfig, shutdown: impl Future<Output = ()>) -> Result<(), NodeError> {
    let engine = pass_core::service::Service::new(config.core.clone()).map_err(|e| {
        NodeError::Config(config::ConfigError {
            field: e.field.to_string(),
            reason: e.reason.to_string(),
        })
    })?;
    #[cfg(feature = "faults")]
    if let Some(fault) = faults::from_env().map_err(NodeError::Config)? {
        tracing::warn!(
            fault = fault.name(),
            "{}: the engine is deliberately broken (a test build)",
            faults::FAULT_ENV
        );
        let engine = pass_faults::FaultyEngine::new(engine, fault);
        return run_with_engine(config, engine, shutdown).await;
    }
    run_with_engine(config, engine, shutdown).await
}

/// Runs a node around any engine (tests, alternative cores).
pub async fn run_with_engine<E: pass_core::engine::Engine + Send + 'static>(
    config: NodeConfig,
    engine: E,
    shutdown: impl Future<Output = ()>,
) -> Result<(), NodeError> {
    // The store first: a node that cannot keep its leases must not start taking
    // new ones (DESIGN decision 55).
    let store = match &config.state {
        Some(s) => {
            let store = state::Store::open(&s.dir, s.reset).map_err(NodeError::State)?;
            let kept = store.load().map_err(NodeError::State)?;
            tracing::info!(
                path = %store.path().display(),
                leases = kept.len(),
                reset = s.reset,
                "lease store open"
            );
            Some((store, kept))
        }
        None => None,
    };
    let relay_env = RelayEnv::new(config.relay);
    let accept_env = listen::AcceptEnv::new();
    let metrics = Arc::new(Metrics::new(
        Arc::clone(&relay_env.counters),
        Arc::clone(&accept_env.counters),
    ));
    let metrics_task = match config.metrics {
        Some(addr) => Some(
            metrics::serve(addr, Arc::clone(&metrics), accept_env.clone())
                .await
                .map_err(|e| NodeError::Metrics(addr, e))?
                .1,
        ),
        None => None,
    };
    let (link_tx, link_rx) = tokio::sync::mpsc::channel(1024);
    let link = Link::spawn(
        LinkSettings {
            server: config.server.clone(),
            domain: config.core.service.to_string(),
            secret: config.secret.clone(),
            backoff: config.backoff,
            queue_limit: config.stanza_queue,
            limits: config.limits.clone(),
        },
        link_tx,
    );
    tracing::info!(
        server = %config.server,
        domain = %config.core.service,
        public = ?config.core.advertised,
        bind = ?config.bind,
        ports = %format!("{}-{}", config.core.first_port, config.core.last_port),
        relay_mode = ?relay_env.effective_mode(),
        "pass-node starting"
    );
    let (mut driver, channels) = driver::Driver::new(
        engine, config, link, link_rx, metrics, relay_env, accept_env,
    );
    if let Some((store, kept)) = store {
        driver.keep_leases(store, kept);
    }
    let result = driver.run(channels, shutdown).await;
    if let Some(t) = metrics_task {
        t.abort();
    }
    result.map_err(|driver::DriveError::Link(e)| NodeError::Link(e))
}
