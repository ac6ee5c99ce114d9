//! What the prose and DESIGN decision 8 require beyond the listings: answers to
//! malformed and foreign requests, disco#info, no answers to answers.

use super::{case, QUIET};
use crate::catalogue::Case;
use crate::ctx::{iq_type, pass_el, query, CaseFut, Ctx};
use pass_core::ns;
use pass_core::xml::Element;

/// The robustness cases.
pub fn cases() -> Vec<Case> {
    vec![
        case!("pass/robustness/malformed-bad-request", "robustness", None, Should,
            &[],
            "A malformed jabber:iq:pass payload (<expire>soon</expire>) gets error 400 bad-request (spec silent; DESIGN decision 8)", malformed_bad_request),
        case!("pass/robustness/survives-malformed", "robustness", None, Should,
            &[],
            "After a malformed request the service still registers ports (spec silent; DESIGN decision 8)", survives_malformed),
        case!("pass/robustness/unknown-namespace-503", "robustness", None, Should,
            &[],
            "An IQ get in another namespace gets error service-unavailable (spec silent; DESIGN decision 8)", unknown_namespace),
        case!("pass/robustness/disco-info", "robustness", None, Should,
            &[],
            "disco#info lists the jabber:iq:pass feature (spec silent; DESIGN decision 8)", disco_info),
        case!("pass/robustness/no-reply-to-result", "robustness", None, Should,
            &[],
            "An unsolicited IQ result gets no answer (RFC 6120 §8.2.3; spec silent)", no_reply_to_result),
    ]
}

fn malformed(c: &mut Ctx, from: &str) -> Element {
    c.iq(
        "set",
        from,
        Some(query().with_child(pass_el("expire").with_text("soon"))),
    )
}

fn malformed_bad_request(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let user = c.user("user");
        let iq = malformed(c, &user);
        let id = c.send_iq(iq).await?;
        c.expect_error("send a malformed <expire/>", &user, &id, 400)
            .await?;
        Ok(())
    })
}

fn survives_malformed(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let user = c.user("user");
        let iq = malformed(c, &user);
        c.send(&iq).await?;
        c.register(&user, None, false).await?;
        Ok(())
    })
}

fn unknown_namespace(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let user = c.user("user");
        let iq = c.iq(
            "get",
            &user,
            Some(Element::new("query", "urn:example:not-a-protocol")),
        );
        let id = c.send_iq(iq).await?;
        c.expect_error("query an unsupported namespace", &user, &id, 503)
            .await?;
        Ok(())
    })
}

fn disco_info(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let user = c.user("user");
        let iq = c.iq("get", &user, Some(Element::new("query", ns::DISCO_INFO)));
        let id = c.send_iq(iq).await?;
        let a = c.expect_result("ask disco#info", &user, &id).await?;
        let has = a.get_child("query", ns::DISCO_INFO).is_some_and(|q| {
            q.elements()
                .any(|f| f.is("feature", ns::DISCO_INFO) && f.attr("var") == Some(ns::PASS))
        });
        if !has {
            return Err(c.fail_el(
                "ask disco#info",
                "<feature var='jabber:iq:pass'/> in the disco#info result",
                &a,
            ));
        }
        Ok(())
    })
}

fn no_reply_to_result(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let user = c.user("user");
        let iq = c.iq("result", &user, Some(query()));
        c.send(&iq).await?;
        c.expect_none(
            "send an unsolicited result",
            &user,
            QUIET,
            "no answer at all",
            &|e| !iq_type(e).is_empty() || e.name == "iq",
        )
        .await
    })
}
