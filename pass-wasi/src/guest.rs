//! The engine between calls, and one event in, its actions out.

use crate::action::{write_action, write_error, write_next};
use crate::config::{parse_config, GuestConfig};
use crate::event::{parse_event, Event};
use pass_core::engine::Engine;
use pass_core::service::Service;
use pass_core::xml::{parse_element, Limits};
use std::boxed::Box;
use std::format;
use std::string::String;

/// The module's state: nothing until the configuration record arrives.
#[derive(Default)]
pub struct Guest {
    engine: Option<Box<dyn Engine>>,
}

impl Guest {
    /// Handles one event record and returns the output records: the actions, then
    /// `next` (or `error` then `next` when the record was refused).
    pub fn handle(&mut self, input: &[u8]) -> String {
        let mut out = String::new();
        if let Err(message) = self.dispatch(input) {
            write_error(&mut out, &message);
        }
        if let Some(engine) = self.engine.as_mut() {
            while let Some(action) = engine.poll_action() {
                write_action(&mut out, &action);
            }
        }
        write_next(
            &mut out,
            self.engine.as_ref().and_then(|e| e.poll_timeout()),
        );
        out
    }

    /// Refuses an event the host could not even deliver: `error`, then `next`.
    pub fn refuse(&self, message: &str) -> String {
        let mut out = String::new();
        write_error(&mut out, message);
        write_next(
            &mut out,
            self.engine.as_ref().and_then(|e| e.poll_timeout()),
        );
        out
    }

    fn dispatch(&mut self, input: &[u8]) -> Result<(), String> {
        let event = parse_event(input)?;
        if let Event::Config(fields) = event {
            if self.engine.is_some() {
                return Err(String::from("config: already configured"));
            }
            self.engine = Some(build_engine(parse_config(fields)?)?);
            return Ok(());
        }
        let engine = self
            .engine
            .as_mut()
            .ok_or_else(|| String::from("the first event must be config"))?;
        match event {
            Event::Config(_) => {}
            Event::Stanza { now, xml } => {
                let stanza = parse_element(xml.as_bytes(), &Limits::default())
                    .map_err(|e| format!("stanza: {e}"))?;
                engine.handle_stanza(now, &stanza);
            }
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
fn build_engine(config: GuestConfig) -> Result<Box<dyn Engine>, String> {
    let service = Service::new(config.config).map_err(|e| format!("config: {e}"))?;
    match config.fault {
        None => Ok(Box::new(service)),
        #[cfg(feature = "faults")]
        Some(name) => {
            let fault = pass_faults::Fault::from_name(&name)
                .ok_or_else(|| format!("config: fault: no fault named {name:?}"))?;
            Ok(Box::new(pass_faults::FaultyEngine::new(service, fault)))
        }
        #[cfg(not(feature = "faults"))]
        Some(name) => Err(format!(
            "config: fault {name:?}: built without the `faults` feature"
        )),
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
        assert_eq!(g.refuse("bad buffer"), "error bad buffer\nnext none\n");
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
    }
}
