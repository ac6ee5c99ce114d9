//! Verdicts a correct implementation can trust (DESIGN decision 40): an error that
//! carries the code XEP-0003's table asks for, with another valid RFC 6120 condition
//! than XEP-0086's, is a WARN naming both, never a FAIL (unless `--strict`).

use pass_conformance::catalogue;
use pass_conformance::inproc::{reference_config, InprocHost, SERVICE_JID};
use pass_conformance::runner::{run_suite, RunOptions, Status, SuiteReport};
use pass_core::engine::Engine;
use pass_core::lease::{Action, ConnId, ListenError};
use pass_core::service::Service;
use pass_core::stanza::{Condition, ErrorType, IqType};
use pass_core::time::Instant;
use pass_core::xml::Element;
use std::net::SocketAddr;

/// The reference service, except that a full pool is answered as an independent
/// implementation might: `<error code='502' type='wait'><resource-constraint/>`.
/// Legitimate: the code is XEP-0003's, the condition a valid RFC 6120 one.
struct ResourceConstraint502(Service);

impl Engine for ResourceConstraint502 {
    fn handle_stanza(&mut self, now: Instant, stanza: &Element) {
        self.0.handle_stanza(now, stanza)
    }
    fn handle_listen_result(&mut self, now: Instant, port: u16, result: Result<(), ListenError>) {
        self.0.handle_listen_result(now, port, result)
    }
    fn handle_connection(&mut self, now: Instant, conn: ConnId, local_port: u16, peer: SocketAddr) {
        self.0.handle_connection(now, conn, local_port, peer)
    }
    fn handle_closed(&mut self, now: Instant, conn: ConnId) {
        self.0.handle_closed(now, conn)
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.0.handle_timeout(now)
    }
    fn shutdown(&mut self, now: Instant) {
        self.0.shutdown(now)
    }
    fn poll_action(&mut self) -> Option<Action> {
        match self.0.poll_action()? {
            Action::Send(mut iq) if iq.kind == IqType::Error => {
                if let Some(e) = iq.error.as_mut().filter(|e| e.code == Some(502)) {
                    e.condition = Some(Condition::ResourceConstraint);
                    e.kind = Some(ErrorType::Wait);
                }
                Some(Action::Send(iq))
            }
            a => Some(a),
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.0.poll_timeout()
    }
}

fn run_502(strict: bool) -> SuiteReport {
    let c = reference_config();
    let engine = ResourceConstraint502(Service::new(c.clone()).unwrap());
    let host = InprocHost::new(engine, SERVICE_JID, c.advertised.clone(), c.answer_timeout);
    let opts = RunOptions {
        only: vec![glob::Pattern::new("pass/2/no-ports-502").unwrap()],
        strict,
        ..RunOptions::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run_suite(Box::new(host), "inproc", &catalogue(), &opts))
        .0
}

#[test]
fn resource_constraint_502_warns_and_does_not_fail() {
    let report = run_502(false);
    let o = &report.outcomes[0];
    assert_eq!(o.id, "pass/2/no-ports-502");
    assert_eq!(o.status, Status::Warn, "{o:?}");
    assert!(o.failure.is_none(), "{o:?}");
    assert!(
        o.notes
            .iter()
            .any(|n| n.contains("<resource-constraint/>") && n.contains("<service-unavailable/>")),
        "the warning names both conditions: {:?}",
        o.notes
    );
    assert_eq!(report.exit_code(), 0);
}

#[test]
fn resource_constraint_502_fails_only_under_strict() {
    let report = run_502(true);
    assert_eq!(report.outcomes[0].status, Status::Fail, "{report:?}");
    assert_eq!(report.exit_code(), 1);
}
