//! The in-process host around a [`WasmEngine`], with the guest's failure surfaced.
//!
//! [`InprocHost`] drives any engine; this wrapper adds what only a guest can do:
//! stop (fuel, memory cap, trap). Every call checks [`WasmEngine::failure`] and
//! turns it into a [`HarnessError`] naming the limit, so the case at hand fails
//! with that message and the runner fails the rest of the suite with it.

use super::WasmEngine;
use crate::harness::{ConnectError, Harness, HarnessError, ReadEvent, SockId, TargetInfo};
use crate::inproc::InprocHost;
use async_trait::async_trait;
use pass_core::xml::Element;
use std::net::SocketAddr;
use std::time::Duration;

/// [`InprocHost`] over a guest module instance.
pub struct WasmHarness {
    inner: InprocHost<WasmEngine>,
}

impl WasmHarness {
    /// Wraps a host whose engine is a guest instance.
    pub fn new(inner: InprocHost<WasmEngine>) -> Self {
        WasmHarness { inner }
    }

    /// The guest instance.
    pub fn engine(&self) -> &WasmEngine {
        self.inner.engine()
    }

    fn check(&self) -> Result<(), HarnessError> {
        match self.inner.engine().failure() {
            Some(e) => Err(HarnessError(e.to_string())),
            None => Ok(()),
        }
    }

    /// `result`, unless the guest failed meanwhile.
    fn after<T>(&self, result: Result<T, HarnessError>) -> Result<T, HarnessError> {
        self.check()?;
        result
    }
}

#[async_trait(?Send)]
impl Harness for WasmHarness {
    fn info(&self) -> &TargetInfo {
        self.inner.info()
    }

    async fn send_stanza(&mut self, stanza: &Element) -> Result<(), HarnessError> {
        self.check()?;
        let r = self.inner.send_stanza(stanza).await;
        self.after(r)
    }

    async fn next_stanza(&mut self, wait: Duration) -> Result<Option<Element>, HarnessError> {
        self.check()?;
        let r = self.inner.next_stanza(wait).await;
        self.after(r)
    }

    async fn connect(&mut self, addr: SocketAddr) -> Result<(SockId, SocketAddr), ConnectError> {
        if let Err(e) = self.check() {
            return Err(ConnectError::Other(e.0));
        }
        let r = self.inner.connect(addr).await;
        match self.check() {
            Err(e) => Err(ConnectError::Other(e.0)),
            Ok(()) => r,
        }
    }

    async fn write(&mut self, sock: SockId, data: &[u8]) -> Result<(), HarnessError> {
        self.check()?;
        let r = self.inner.write(sock, data).await;
        self.after(r)
    }

    async fn shutdown_write(&mut self, sock: SockId) -> Result<(), HarnessError> {
        self.check()?;
        let r = self.inner.shutdown_write(sock).await;
        self.after(r)
    }

    async fn close(&mut self, sock: SockId) {
        self.inner.close(sock).await;
    }

    async fn read(&mut self, sock: SockId, wait: Duration) -> Result<ReadEvent, HarnessError> {
        self.check()?;
        let r = self.inner.read(sock, wait).await;
        self.after(r)
    }

    async fn sleep(&mut self, d: Duration) {
        self.inner.sleep(d).await;
    }

    fn clock(&self) -> std::time::Instant {
        self.inner.clock()
    }

    async fn reset(&mut self) -> Result<(), HarnessError> {
        self.check()?;
        let r = self.inner.reset().await;
        self.after(r)
    }
}
