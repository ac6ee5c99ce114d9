//! Lenient where the spec is (DESIGN decisions 3 and 5): the Markdown rendering's
//! notices (<proxy/> outside <query/>, no <close/>) and errors with one form only are
//! accepted and reported WARN with the deviation, never FAIL.

use pass_conformance::ctx::{Ctx, Lease, Stop};
use pass_conformance::harness::{
    ConnectError, Harness, HarnessError, ReadEvent, SockId, TargetInfo,
};
use pass_core::xml::{parse_element, Element};
use std::net::SocketAddr;
use std::time::Duration;

/// A harness that only hands out canned stanzas.
struct Scripted {
    info: TargetInfo,
    stanzas: Vec<Element>,
}

#[async_trait::async_trait(?Send)]
impl Harness for Scripted {
    fn info(&self) -> &TargetInfo {
        &self.info
    }
    async fn send_stanza(&mut self, _: &Element) -> Result<(), HarnessError> {
        Ok(())
    }
    async fn next_stanza(&mut self, _: Duration) -> Result<Option<Element>, HarnessError> {
        Ok(if self.stanzas.is_empty() {
            None
        } else {
            Some(self.stanzas.remove(0))
        })
    }
    async fn connect(&mut self, _: SocketAddr) -> Result<(SockId, SocketAddr), ConnectError> {
        Err(ConnectError::Refused)
    }
    async fn write(&mut self, _: SockId, _: &[u8]) -> Result<(), HarnessError> {
        Ok(())
    }
    async fn shutdown_write(&mut self, _: SockId) -> Result<(), HarnessError> {
        Ok(())
    }
    async fn close(&mut self, _: SockId) {}
    async fn read(&mut self, _: SockId, _: Duration) -> Result<ReadEvent, HarnessError> {
        Ok(ReadEvent::Eof)
    }
    async fn sleep(&mut self, _: Duration) {}
    async fn reset(&mut self) -> Result<(), HarnessError> {
        Ok(())
    }
}

#[test]
fn rendered_notice_is_accepted_with_warnings() {
    // §4.1 as the Markdown rendering shows it: no <close/>, <proxy/> outside <query/>.
    let xml = "<iq xmlns='jabber:component:accept' type='set' id='pass3' from='pass.localhost' \
               to='owner-1@localhost/conformance'><query xmlns='jabber:iq:pass'><expire/></query>\
               <proxy xmlns='jabber:iq:pass' port='43253'>127.0.0.1</proxy></iq>";
    let mut ctx = scripted(vec![xml]);
    let lease = Lease {
        owner: ctx.user("owner"),
        addr: "127.0.0.1:43253".parse().unwrap(),
        host: "127.0.0.1".into(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let got = rt.block_on(ctx.expect_notice("expire", &lease, Duration::from_millis(10)));
    assert!(got.is_ok(), "{got:?}");
    let (_, warnings) = ctx.into_parts();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("outside <query/>"), "{warnings:?}");
    assert!(warnings[1].contains("no <close/>"), "{warnings:?}");
}

fn scripted(stanzas: Vec<&str>) -> Ctx {
    let info = TargetInfo {
        service: "pass.localhost".into(),
        user_domain: "localhost".into(),
        answer_wait: Duration::from_millis(10),
        io_wait: Duration::from_millis(10),
        impl_answer_timeout: Duration::from_millis(10),
    };
    let stanzas = stanzas
        .iter()
        .map(|x| parse_element(x.as_bytes(), &Default::default()).unwrap())
        .collect();
    Ctx::new(Box::new(Scripted { info, stanzas }), 1)
}

fn error_iq(inner: &str) -> Element {
    let xml = format!(
        "<iq xmlns='jabber:component:accept' type='error' id='x' from='pass.localhost' to='u@localhost/r'>{inner}</iq>"
    );
    parse_element(xml.as_bytes(), &Default::default()).unwrap()
}

#[test]
fn errors_with_one_form_warn_and_wrong_ones_fail() {
    let mut ctx = scripted(vec![]);
    let code_only = error_iq("<error code='401' type='auth'/>");
    assert!(ctx
        .check_error("close", &code_only, 401, "not-authorized")
        .is_ok());
    let cond_only = error_iq(
        "<error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>",
    );
    assert!(ctx
        .check_error("close", &cond_only, 405, "not-allowed")
        .is_ok());
    let both = error_iq("<error code='404' type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>");
    assert!(ctx
        .check_error("close", &both, 404, "item-not-found")
        .is_ok());
    let wrong = error_iq("<error code='404' type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>");
    match ctx.check_error("close", &wrong, 401, "not-authorized") {
        Err(Stop::Fail(f)) => assert!(f.got.unwrap().contains("code='404'")),
        other => panic!("a wrong code must fail: {other:?}"),
    }
    let (_, warnings) = ctx.into_parts();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("legacy form only"), "{warnings:?}");
    assert!(warnings[1].contains("legacy code missing"), "{warnings:?}");
}
