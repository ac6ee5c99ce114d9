//! Finding the PASS service on the account's server: disco#items on the domain,
//! then disco#info on each item until one has the `jabber:iq:pass` feature.

use crate::exit::{self, Fatal};
use crate::xmpp::{Link, LinkEvent};
use pass_core::stanza::disco::DiscoInfo;
use pass_core::{ns, Element, Iq, IqType, Jid};
use std::time::Duration;

/// XEP-0030 items.
const DISCO_ITEMS: &str = "http://jabber.org/protocol/disco#items";
/// How long each disco request may take.
const DISCO_TIMEOUT: Duration = Duration::from_secs(10);

/// The JID of a PASS service on `domain`, asked as `me`.
pub async fn find_service(link: &mut Link, me: &Jid, domain: &str) -> Result<Jid, Fatal> {
    let not_found = |why: String| {
        Fatal::new(
            exit::NO_SERVICE,
            format!("no PASS service found on {domain} ({why}); name one with --service"),
        )
    };
    let domain_jid = Jid::new(domain).map_err(|e| not_found(e.to_string()))?;
    let items = request(link, me, &domain_jid, "d-items", DISCO_ITEMS)
        .await?
        .ok_or_else(|| not_found("no answer to disco#items".into()))?;
    let candidates: Vec<Jid> = items
        .elements()
        .filter(|i| i.name == "item")
        .filter_map(|i| i.attr("jid").and_then(|j| Jid::new(j).ok()))
        .collect();
    for (n, item) in candidates.iter().enumerate() {
        let id = format!("d-info-{n}");
        let Some(info) = request(link, me, item, &id, ns::DISCO_INFO).await? else {
            continue;
        };
        if DiscoInfo::try_from(&info).is_ok_and(|d| d.has_feature(ns::PASS)) {
            tracing::info!("found the PASS service {item}");
            return Ok(item.clone());
        }
    }
    Err(not_found(format!(
        "none of the {} items has {}",
        candidates.len(),
        ns::PASS
    )))
}

/// Sends a `get` with an empty `<query xmlns=ns/>` and returns the result's query;
/// `None` for an error reply or no reply in time.
async fn request(
    link: &mut Link,
    me: &Jid,
    to: &Jid,
    id: &str,
    namespace: &str,
) -> Result<Option<Element>, Fatal> {
    let iq = Iq {
        id: id.to_owned(),
        kind: IqType::Get,
        from: Some(me.clone()),
        to: Some(to.clone()),
        payload: Some(Element::new("query", namespace)),
        error: None,
    };
    link.send(&iq).await;
    let deadline = tokio::time::Instant::now() + DISCO_TIMEOUT;
    loop {
        let ev = match tokio::time::timeout_at(deadline, link.next()).await {
            Err(_) => return Ok(None),
            Ok(None) => return Err(Fatal::new(exit::SERVICE_GONE, "the XMPP stream ended")),
            Ok(Some(ev)) => ev,
        };
        match ev {
            LinkEvent::Fatal(f) => return Err(f),
            LinkEvent::Stanza(el) => {
                let Ok(reply) = Iq::try_from(&el) else {
                    continue;
                };
                if reply.id != id {
                    continue;
                }
                return Ok(match reply.kind {
                    IqType::Result => reply.payload,
                    _ => None,
                });
            }
            LinkEvent::Online(_) | LinkEvent::Suspended => {}
        }
    }
}
