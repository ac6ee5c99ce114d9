//! One guest instance behind the [`Engine`] trait.

use super::limits::{MemoryCap, MemoryCapExceeded};
use super::{GuestLimits, WasmError};
use pass_abi::{ConfigRecord, Event, Output};
use pass_core::engine::Engine;
use pass_core::lease::{Action, Config, ConnId, ListenError};
use pass_core::time::Instant;
use pass_core::xml::Element;
use std::collections::VecDeque;
use std::net::SocketAddr;
use wasmtime::{InstancePre, Memory, Store, Trap, TypedFunc};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::WasiCtxBuilder;

/// Most bytes of guest stdout/stderr kept for error messages.
const CONSOLE_BYTES: usize = 1 << 20;

/// How much of the console an error message quotes.
const CONSOLE_QUOTE_CHARS: usize = 2000;

/// What the store holds for the host functions.
pub(super) struct HostState {
    pub(super) wasi: WasiP1Ctx,
    cap: MemoryCap,
}

/// A guest module instance driven as a [`pass_core::engine::Engine`].
///
/// The trait has no error channel: when the guest fails (fuel, memory cap, trap, a
/// record it refuses or garbles), the instance stops, takes no more events, has no
/// actions and no deadline, and [`WasmEngine::failure`] says why.
pub struct WasmEngine {
    store: Store<HostState>,
    memory: Memory,
    alloc: TypedFunc<u32, u32>,
    handle: TypedFunc<(u32, u32), u64>,
    console: MemoryOutputPipe,
    limits: GuestLimits,
    actions: VecDeque<Action>,
    next: Option<Instant>,
    failure: Option<WasmError>,
}

impl WasmEngine {
    pub(super) fn new(
        pre: &InstancePre<HostState>,
        limits: GuestLimits,
        config: &Config,
        fault: Option<&str>,
    ) -> Result<WasmEngine, WasmError> {
        let console = MemoryOutputPipe::new(CONSOLE_BYTES);
        let wasi = WasiCtxBuilder::new()
            .stdout(console.clone())
            .stderr(console.clone())
            .build_p1();
        let mut store = Store::new(
            pre.module().engine(),
            HostState {
                wasi,
                cap: MemoryCap::new(limits.memory_mib),
            },
        );
        store.limiter(|s| &mut s.cap);
        store
            .set_fuel(limits.fuel_per_event)
            .map_err(|e| WasmError::Load(format!("{e:#}")))?;
        let instance = pre
            .instantiate(&mut store)
            .map_err(|e| classify(&store, &console, limits, e))?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| WasmError::Abi("no exported memory `memory`".into()))?;
        let typed = |store: &mut Store<HostState>, name: &str| {
            instance
                .get_func(&mut *store, name)
                .ok_or_else(|| WasmError::Abi(format!("no exported function `{name}`")))
        };
        let version = typed(&mut store, "pass_abi_version")?
            .typed::<(), u32>(&store)
            .map_err(|e| WasmError::Abi(format!("pass_abi_version: {e:#}")))?;
        let alloc = typed(&mut store, "pass_alloc")?
            .typed::<u32, u32>(&store)
            .map_err(|e| WasmError::Abi(format!("pass_alloc: {e:#}")))?;
        let handle = typed(&mut store, "pass_handle")?
            .typed::<(u32, u32), u64>(&store)
            .map_err(|e| WasmError::Abi(format!("pass_handle: {e:#}")))?;
        // A reactor initialises itself here; a command's `_start` is never called.
        if let Some(init) = instance.get_func(&mut store, "_initialize") {
            let init = init
                .typed::<(), ()>(&store)
                .map_err(|e| WasmError::Abi(format!("_initialize: {e:#}")))?;
            init.call(&mut store, ())
                .map_err(|e| classify(&store, &console, limits, e))?;
        }
        store
            .set_fuel(limits.fuel_per_event)
            .map_err(|e| WasmError::Load(format!("{e:#}")))?;
        let v = version
            .call(&mut store, ())
            .map_err(|e| classify(&store, &console, limits, e))?;
        if v != pass_abi::VERSION {
            return Err(WasmError::Abi(format!(
                "module speaks version {v}, this host {}",
                pass_abi::VERSION
            )));
        }
        let mut engine = WasmEngine {
            store,
            memory,
            alloc,
            handle,
            console,
            limits,
            actions: VecDeque::new(),
            next: None,
            failure: None,
        };
        let record = ConfigRecord {
            config: config.clone(),
            fault: fault.map(String::from),
        };
        engine.exchange(&Event::Config(record));
        match engine.failure.take() {
            Some(e) => Err(e),
            None => Ok(engine),
        }
    }

    /// Why the instance stopped, if it did.
    pub fn failure(&self) -> Option<&WasmError> {
        self.failure.as_ref()
    }

    /// Everything the guest wrote to stdout and stderr so far (lossy UTF-8).
    pub fn console(&self) -> String {
        String::from_utf8_lossy(&self.console.contents()).into_owned()
    }

    /// Sends `record` as is and returns the guest's output unparsed, for tests and
    /// tracing. The output's actions are not queued: drive an engine either
    /// through [`Engine`] or through this, not both.
    pub fn call_raw(&mut self, record: &str) -> Result<String, WasmError> {
        if let Some(e) = &self.failure {
            return Err(e.clone());
        }
        self.call(record)
    }

    /// Sends one event and takes in the output, or records the failure: a refused
    /// event too, since a conforming host only sends what a module must take.
    fn exchange(&mut self, event: &Event) {
        if self.failure.is_some() {
            return;
        }
        let record = event.to_string();
        let result = self.call(&record).and_then(|text| {
            match Output::decode(&text) {
                Ok(Output {
                    refused: Some(message),
                    ..
                }) => Err(format!("engine refused the event: {message}")),
                Ok(out) => Ok(out),
                Err(e) => Err(e.to_string()),
            }
            .map_err(|m| WasmError::Protocol(format!("{m} (after event `{}`)", quote(&record))))
        });
        match result {
            Ok(out) => {
                self.actions.extend(out.actions);
                self.next = out.next;
            }
            Err(e) => {
                self.actions.clear();
                self.next = None;
                self.failure = Some(e);
            }
        }
    }

    /// One call: `pass_alloc`, write the record, `pass_handle`, read the output.
    fn call(&mut self, record: &str) -> Result<String, WasmError> {
        let limits = self.limits;
        let fail = |store: &Store<HostState>, console: &MemoryOutputPipe, e| {
            classify(store, console, limits, e)
        };
        self.store
            .set_fuel(limits.fuel_per_event)
            .map_err(|e| WasmError::Trap(format!("{e:#}")))?;
        let bytes = record.as_bytes();
        let len = u32::try_from(bytes.len())
            .map_err(|_| WasmError::Protocol("event record over 4 GiB".into()))?;
        let ptr = self
            .alloc
            .call(&mut self.store, len)
            .map_err(|e| fail(&self.store, &self.console, e))?;
        if ptr == 0 {
            return Err(WasmError::Protocol(format!("pass_alloc({len}) returned 0")));
        }
        self.memory
            .write(&mut self.store, ptr as usize, bytes)
            .map_err(|_| {
                WasmError::Protocol(format!("pass_alloc({len}) returned {ptr}, outside memory"))
            })?;
        let packed = self
            .handle
            .call(&mut self.store, (ptr, len))
            .map_err(|e| fail(&self.store, &self.console, e))?;
        let (out_ptr, out_len) = pass_abi::unpack_output(packed);
        let (out_ptr, out_len) = (out_ptr as usize, out_len as usize);
        let out = self
            .memory
            .data(&self.store)
            .get(out_ptr..out_ptr.saturating_add(out_len))
            .ok_or_else(|| {
                WasmError::Protocol(format!(
                    "pass_handle returned {out_len} bytes at {out_ptr}, outside memory"
                ))
            })?;
        String::from_utf8(out.to_vec())
            .map_err(|_| WasmError::Protocol("output is not UTF-8".into()))
    }
}

/// Names the limit a failed call hit, or quotes the trap and the guest's console.
fn classify(
    store: &Store<HostState>,
    console: &MemoryOutputPipe,
    limits: GuestLimits,
    e: wasmtime::Error,
) -> WasmError {
    if store.data().cap.hit || e.downcast_ref::<MemoryCapExceeded>().is_some() {
        return WasmError::MemoryCap {
            mib: limits.memory_mib,
        };
    }
    if e.downcast_ref::<Trap>() == Some(&Trap::OutOfFuel) {
        return WasmError::FuelExhausted {
            budget: limits.fuel_per_event,
        };
    }
    let text = String::from_utf8_lossy(&console.contents()).into_owned();
    let tail: String = {
        let chars: Vec<char> = text.trim_end().chars().collect();
        chars[chars.len().saturating_sub(CONSOLE_QUOTE_CHARS)..]
            .iter()
            .collect()
    };
    let first_line = format!("{e}");
    if tail.is_empty() {
        WasmError::Trap(first_line)
    } else {
        WasmError::Trap(format!("{first_line}; guest output: {tail}"))
    }
}

/// The start of a record, for error messages.
fn quote(record: &str) -> String {
    let mut q: String = record.chars().take(120).collect();
    if q.len() < record.len() {
        q.push('…');
    }
    q
}

impl Engine for WasmEngine {
    fn handle_stanza(&mut self, now: Instant, stanza: &Element) {
        let stanza = stanza.clone();
        self.exchange(&Event::Stanza { now, stanza });
    }

    fn handle_listen_result(&mut self, now: Instant, port: u16, result: Result<(), ListenError>) {
        self.exchange(&Event::ListenResult { now, port, result });
    }

    fn handle_connection(&mut self, now: Instant, conn: ConnId, local_port: u16, peer: SocketAddr) {
        self.exchange(&Event::Connection {
            now,
            conn,
            local_port,
            peer,
        });
    }

    fn handle_closed(&mut self, now: Instant, conn: ConnId) {
        self.exchange(&Event::Closed { now, conn });
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.exchange(&Event::Timeout { now });
    }

    fn shutdown(&mut self, now: Instant) {
        self.exchange(&Event::Shutdown { now });
    }

    fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }
}
