//! The engine between calls, and one event in, its actions out.

use pass_abi::{ConfigRecord, Event, Output, RecordError};
use pass_core::engine::Engine;
use pass_core::lease::ConfigError;
use pass_core::service::Service;
use std::boxed::Box;
use std::fmt;
use std::string::{String, ToString};

/// The module's state: nothing until the configuration record arrives.
#[derive(Default)]
pub struct Guest {
    engine: Option<Box<dyn Engine>>,
}

/// Why the module refuses an event (its `error` line).
#[derive(Debug)]
pub enum Refusal {
    /// The bytes are not a record.
    Record(RecordError),
    /// An event before `config`.
    NotConfigured,
    /// A second `config`.
    AlreadyConfigured,
    /// The service refused the settings.
    Service(ConfigError),
    /// `fault=NAME` names no pass-faults fault.
    #[cfg(feature = "faults")]
    NoSuchFault(String),
    /// `fault=NAME` in a module built without fault injection.
    #[cfg(not(feature = "faults"))]
    NoFaults(String),
    /// `pass_handle` was given a buffer other than `pass_alloc`'s.
    ForeignBuffer,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Record(e) => write!(f, "{e}"),
            Refusal::NotConfigured => f.write_str("the first event must be config"),
            Refusal::AlreadyConfigured => f.write_str("config: already configured"),
            Refusal::Service(e) => write!(f, "config: {e}"),
            #[cfg(feature = "faults")]
            Refusal::NoSuchFault(name) => write!(f, "config: fault: no fault named {name:?}"),
            #[cfg(not(feature = "faults"))]
            Refusal::NoFaults(name) => write!(
                f,
                "config: fault {name:?}: this module has no fault injection \
                 (pass-wasi is built with it by `--features faults`)"
            ),
            Refusal::ForeignBuffer => {
                f.write_str("pass_handle: the buffer is not the one pass_alloc returned")
            }
        }
    }
}

impl std::error::Error for Refusal {}

impl Guest {
    /// Handles one event record and returns the output records: the actions, then
    /// `next` (or `error` then `next` when the record was refused).
    pub fn handle(&mut self, input: &[u8]) -> String {
        let refused = self.dispatch(input).err();
        self.answer(refused)
    }

    /// Refuses an event the host could not even deliver: `error`, then `next`.
    pub fn refuse(&mut self, why: Refusal) -> String {
        self.answer(Some(why))
    }

    /// The output: the refusal if any, every action the engine has, its deadline.
    fn answer(&mut self, refused: Option<Refusal>) -> String {
        let mut output = Output {
            refused: refused.map(|r| r.to_string()),
            ..Output::default()
        };
        if let Some(engine) = self.engine.as_mut() {
            output
                .actions
                .extend(core::iter::from_fn(|| engine.poll_action()));
            output.next = engine.poll_timeout();
        }
        output.to_string()
    }

    fn dispatch(&mut self, input: &[u8]) -> Result<(), Refusal> {
        let event = Event::decode(input).map_err(Refusal::Record)?;
        if let Event::Config(config) = event {
            if self.engine.is_some() {
                return Err(Refusal::AlreadyConfigured);
            }
            self.engine = Some(build_engine(config)?);
            return Ok(());
        }
        let engine = self.engine.as_mut().ok_or(Refusal::NotConfigured)?;
        match event {
            Event::Config(_) => {}
            Event::Stanza { now, stanza } => engine.handle_stanza(now, &stanza),
            Event::ListenResult { now, port, result } => {
                engine.handle_listen_result(now, port, result)
            }
            Event::Connection {
                now,
                conn,
                local_port,
                peer,
            } => engine.handle_connection(now, conn, local_port, peer),
            Event::Closed { now, conn } => engine.handle_closed(now, conn),
            Event::Timeout { now } => engine.handle_timeout(now),
            Event::Shutdown { now } => engine.shutdown(now),
        }
        Ok(())
    }
}

/// The service, wrapped in the requested fault if any.
fn build_engine(record: ConfigRecord) -> Result<Box<dyn Engine>, Refusal> {
    let service = Service::new(record.config).map_err(Refusal::Service)?;
    match record.fault {
        None => Ok(Box::new(service)),
        #[cfg(feature = "faults")]
        Some(name) => {
            let fault = pass_faults::Fault::from_name(&name).ok_or(Refusal::NoSuchFault(name))?;
            Ok(Box::new(pass_faults::FaultyEngine::new(service, fault)))
        }
        #[cfg(not(feature = "faults"))]
        Some(name) => Err(Refusal::NoFaults(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &[u8] = b"config service=pass.example advertised=192.0.2.1";

    #[test]
    fn events_before_config_are_refused() {
        let mut g = Guest::default();
        assert_eq!(
            g.handle(b"timeout 5"),
            "error the first event must be config\nnext none\n"
        );
        assert_eq!(g.handle(CONFIG), "next none\n");
        assert_eq!(
            g.handle(CONFIG),
            "error config: already configured\nnext none\n"
        );
        assert_eq!(
            g.refuse(Refusal::ForeignBuffer),
            "error pass_handle: the buffer is not the one pass_alloc returned\nnext none\n"
        );
    }

    #[test]
    fn bad_config_leaves_the_guest_unconfigured() {
        let mut g = Guest::default();
        let out = g.handle(b"config service=pass.example advertised=192.0.2.1 max_leases=0");
        assert_eq!(
            out,
            "error config: max_leases: must be at least 1\nnext none\n"
        );
        assert_eq!(g.handle(CONFIG), "next none\n");
    }

    #[test]
    fn unknown_fault_is_refused() {
        let mut g = Guest::default();
        let out = g.handle(b"config service=pass.example advertised=192.0.2.1 fault=nope");
        assert!(out.starts_with("error config: fault"), "{out}");
        // Still unconfigured: a good record is taken afterwards.
        assert_eq!(g.handle(CONFIG), "next none\n");
    }

    #[cfg(feature = "faults")]
    #[test]
    fn known_fault_is_taken() {
        let mut g = Guest::default();
        let record = b"config service=pass.example advertised=192.0.2.1 fault=deny-ignored";
        assert_eq!(g.handle(record), "next none\n");
    }

    #[cfg(not(feature = "faults"))]
    #[test]
    fn faults_need_the_feature() {
        let mut g = Guest::default();
        let record = b"config service=pass.example advertised=192.0.2.1 fault=deny-ignored";
        assert_eq!(
            g.handle(record),
            "error config: fault \"deny-ignored\": this module has no fault injection \
             (pass-wasi is built with it by `--features faults`)\nnext none\n"
        );
    }
}
