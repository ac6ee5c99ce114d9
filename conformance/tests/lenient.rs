//! Lenient where the spec is (DESIGN decisions 3 and 5): the Markdown rendering's
//! notices (<proxy/> outside <query/>, no <close/>) and errors with one form only are
//! accepted and reported WARN with the deviation, never FAIL.

use pass_conformance::ctx::{Ctx, Lease, Stop};
use pass_conformance::harness::{
    ConnectError, Harness, HarnessError, ReadEvent, SockId, TargetInfo,
};
use pass_conformance::xmlfmt::to_xml;
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
fn error_code_is_the_must_condition_and_type_are_advice() {
    let mut ctx = scripted(vec![]);
    // Code only: the condition XEP-0086 maps 401 to is missing, a warning.
    let code_only = error_iq("<error code='401' type='auth'/>");
    assert!(ctx.check_error("close", &code_only, 401).is_ok());
    let both = error_iq("<error code='404' type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>");
    assert!(ctx.check_error("close", &both, 404).is_ok());
    // Another defined condition and type than XEP-0086's: a warning naming both.
    let constraint = error_iq("<error code='502' type='wait'><resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>");
    assert!(ctx.check_error("register", &constraint, 502).is_ok());
    let wrong_type = error_iq("<error code='405' type='modify'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>");
    assert!(ctx.check_error("close", &wrong_type, 405).is_ok());
    let no_type = error_iq(
        "<error code='400'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>",
    );
    assert!(ctx.check_error("close", &no_type, 400).is_ok());

    let fails = |ctx: &mut Ctx, el: &Element, code: u16, needle: &str| match ctx
        .check_error("close", el, code)
    {
        Err(Stop::Fail(f)) => assert!(
            f.expected.contains(needle) || f.got.as_deref().unwrap_or("").contains(needle),
            "{f:?} does not mention {needle:?}"
        ),
        other => panic!("{} must fail for code {code}: {other:?}", to_xml(el)),
    };
    // The code is the requirement: wrong or missing, FAIL.
    let wrong = error_iq("<error code='404' type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>");
    fails(&mut ctx, &wrong, 401, "code='404'");
    let cond_only = error_iq(
        "<error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>",
    );
    fails(&mut ctx, &cond_only, 405, "legacy code");
    // An undefined condition or type: FAIL.
    let undefined = error_iq("<error code='405' type='cancel'><not-welcome xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>");
    fails(&mut ctx, &undefined, 405, "not an RFC 6120 condition");
    let bad_type = error_iq("<error code='405' type='later'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>");
    fails(&mut ctx, &bad_type, 405, "not an RFC 6120 error type");
    // From anyone but the service: FAIL.
    let elsewhere = parse_element(
        b"<iq xmlns='jabber:component:accept' type='error' id='x' from='evil.localhost' to='u@localhost/r'><error code='404' type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
        &Default::default(),
    )
    .unwrap();
    fails(&mut ctx, &elsewhere, 404, "sent by the service");

    let (_, warnings) = ctx.into_parts();
    assert_eq!(warnings.len(), 4, "{warnings:?}");
    assert!(
        warnings[0].contains("no RFC 6120 condition") && warnings[0].contains("<not-authorized/>"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].contains("<resource-constraint/>")
            && warnings[1].contains("<service-unavailable/>"),
        "{warnings:?}"
    );
    assert!(
        warnings[2].contains("type 'modify'") && warnings[2].contains("type 'cancel'"),
        "{warnings:?}"
    );
    assert!(
        warnings[3].contains("no type") && warnings[3].contains("'modify'"),
        "{warnings:?}"
    );
}
