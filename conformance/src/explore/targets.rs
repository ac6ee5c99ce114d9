//! The targets explore runs against: the in-process reference (with or without a
//! fault), a wasm module, a networked component, and a service behind a real XMPP
//! server (c2s).

use super::exec::Timing;
use super::{model_config, InProcess, Target};
use crate::c2s::{C2sHarness, C2sOptions};
use crate::component::{ComponentHarness, ComponentOptions, Spawned};
use crate::faults::KnownFault;
use crate::harness::TargetInfo;
use crate::inproc::{reference_config, reference_host};
use crate::wasm::{wasm_host, WasmModule};
use async_trait::async_trait;
use pass_core::sim::reference::ReferenceConfig;
use std::time::Duration;

/// What the model is told beyond the target's own facts.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// `--pool-size`: with it, 502s are judged.
    pub pool_size: Option<usize>,
    /// `--timing-tolerance`.
    pub tolerance: Duration,
}

impl Settings {
    /// The model's view of a target with this proxy window.
    fn model(&self, info: &TargetInfo, proxy_window: Duration) -> ReferenceConfig {
        model_config(info, proxy_window, self.pool_size, self.tolerance)
    }
}

/// The harness a network target keeps across runs, reset for the next one.
async fn take_reset(
    slot: &mut Option<Box<dyn crate::Harness>>,
    what: &str,
) -> Result<Box<dyn crate::Harness>, String> {
    let mut h = slot
        .take()
        .ok_or_else(|| format!("the {what} harness is in use"))?;
    h.reset().await.map_err(|e| e.to_string())?;
    Ok(h)
}

fn proxy_window() -> Duration {
    Duration::from_millis(
        u64::try_from(reference_config().proxy_window.as_millis()).unwrap_or(u64::MAX),
    )
}

/// The in-process reference service, or with `fault` on.
pub fn inproc(fault: Option<KnownFault>, s: Settings) -> InProcess {
    let name = match fault {
        Some(f) => format!("inproc (fault {})", f.name()),
        None => "inproc".to_string(),
    };
    InProcess {
        name,
        make: Box::new(move || match fault {
            Some(f) => f.inproc_host(),
            None => Ok(Box::new(reference_host()?)),
        }),
        proxy_window: proxy_window(),
        pool_size: s.pool_size,
        tolerance: s.tolerance,
    }
}

/// A fresh instance of `module` for each run, configured as the in-process
/// reference (with `fault=NAME` if given, for a module built with faults).
pub fn wasm(module: WasmModule, label: &str, fault: Option<String>, s: Settings) -> InProcess {
    let name = match &fault {
        Some(f) => format!("wasm {label} (fault {f})"),
        None => format!("wasm {label}"),
    };
    InProcess {
        name,
        make: Box::new(move || {
            wasm_host(&module, fault.as_deref())
                .map(|h| Box::new(h) as Box<dyn crate::Harness>)
                .map_err(|e| e.to_string())
        }),
        proxy_window: proxy_window(),
        pool_size: s.pool_size,
        tolerance: s.tolerance,
    }
}

/// A networked implementation connected as an XEP-0114 component; one stream for
/// every run (each run closes its leases at the end), real and bounded waits, and
/// the nemesis: the stream is cut and must be re-established with leases kept.
pub struct Component {
    name: String,
    harness: Option<Box<dyn crate::Harness>>,
    spawned: Option<Spawned>,
    proxy_window: Duration,
    settings: Settings,
    io_wait: Duration,
}

/// Starts listening, spawns the implementation if asked, and waits for it.
pub async fn component(
    copts: ComponentOptions,
    proxy_window: Duration,
    settings: Settings,
) -> Result<Component, String> {
    let mut harness = ComponentHarness::start(&copts)
        .await
        .map_err(|e| e.to_string())?;
    let spawned = match &copts.spawn {
        Some(cmd) => Some(Spawned::start(cmd).map_err(|e| e.to_string())?),
        None => None,
    };
    if let Err(e) = harness.connect_implementation().await {
        let tail = match spawned {
            Some(s) => format!("; its output ends with:\n{}", s.stop().await),
            None => String::new(),
        };
        return Err(format!("{e}{tail}"));
    }
    Ok(Component {
        name: format!("component {} ({})", copts.listen, copts.domain),
        harness: Some(Box::new(harness)),
        spawned,
        proxy_window,
        settings,
        io_wait: copts.io_wait,
    })
}

#[async_trait(?Send)]
impl Target for Component {
    fn describe(&self) -> String {
        self.name.clone()
    }

    async fn fresh(&mut self) -> Result<Box<dyn crate::Harness>, String> {
        take_reset(&mut self.harness, "component's").await
    }

    async fn done(&mut self, h: Box<dyn crate::Harness>) {
        self.harness = Some(h);
    }

    fn reference(&self, info: &TargetInfo) -> ReferenceConfig {
        self.settings.model(info, self.proxy_window)
    }

    fn timing(&self) -> Timing {
        Timing {
            // Long enough for a stanza over loopback, short enough for many steps.
            settle: Duration::from_millis(150),
            io_wait: self.io_wait,
        }
    }

    fn nemesis(&self) -> bool {
        true
    }

    async fn finish(&mut self) {
        if let Some(s) = self.spawned.take() {
            s.stop().await;
        }
        self.harness = None;
    }
}

/// A service reached through a real XMPP server as ordinary accounts (DESIGN
/// decision 135): explore's accounts are the first `--accounts` of `--account`, its
/// two resources of each are logged in at the start of every run (and out at its
/// end), real and bounded waits, no nemesis (the runner holds no stream of the
/// service's to cut).
pub struct C2s {
    name: String,
    harness: Option<Box<dyn crate::Harness>>,
    copts: C2sOptions,
    proxy_window: Duration,
    settings: Settings,
}

/// Registers the accounts in band if asked, and checks every login.
pub async fn c2s(
    copts: C2sOptions,
    proxy_window: Duration,
    settings: Settings,
) -> Result<C2s, String> {
    let harness = C2sHarness::new(&copts).map_err(|e| e.to_string())?;
    if copts.register {
        for (i, a) in copts.accounts.iter().enumerate() {
            if let Err(e) = crate::ibr::register(&copts.server, &copts.tls, a).await {
                for made in &copts.accounts[..i] {
                    let _ = crate::c2s::remove(&copts, made).await;
                }
                return Err(format!("in-band registration: {e}"));
            }
        }
    }
    let mut t = C2s {
        name: format!("c2s {} ({})", copts.server, copts.service),
        harness: None,
        copts,
        proxy_window,
        settings,
    };
    if let Err(e) = harness.check_logins().await {
        // Removes what --register made.
        t.finish().await;
        return Err(e.to_string());
    }
    t.harness = Some(Box::new(harness));
    Ok(t)
}

#[async_trait(?Send)]
impl Target for C2s {
    fn describe(&self) -> String {
        self.name.clone()
    }

    async fn fresh(&mut self) -> Result<Box<dyn crate::Harness>, String> {
        take_reset(&mut self.harness, "c2s").await
    }

    async fn done(&mut self, h: Box<dyn crate::Harness>) {
        self.harness = Some(h);
    }

    fn reference(&self, info: &TargetInfo) -> ReferenceConfig {
        self.settings.model(info, self.proxy_window)
    }

    fn timing(&self) -> Timing {
        Timing {
            // Two hops through the server (runner → server → service and back).
            settle: Duration::from_millis(250),
            io_wait: self.copts.io_wait,
        }
    }

    async fn finish(&mut self) {
        if let Some(mut h) = self.harness.take() {
            let _ = h.reset().await;
        }
        if self.copts.register {
            for a in &self.copts.accounts {
                let _ = crate::c2s::remove(&self.copts, a).await;
            }
        }
    }
}
