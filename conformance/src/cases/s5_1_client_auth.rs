//! §5.1 Client Authentication: listing 11 sent to the service, and the `<client/>` IP
//! peers compare with listing 12 (which travels between users, not to the service).

use super::case;
use crate::catalogue::Case;
use crate::ctx::{query, CaseFut, Ctx};

/// The §5.1 cases.
pub fn cases() -> Vec<Case> {
    vec![
        case!("pass/5.1/client-ip-query-answered", "5.1", Some(11), Should,
            &[],
            "A client-IP query (listing 11) sent to the service gets an answer, never silence (spec silent; DESIGN decision 8)", client_ip_query_answered),
        // Listing 12 itself travels between two users (the client target's); here only the
        // IP a peer would compare with it is checked, so the case claims no listing.
        case!("pass/5.1/client-ip-authenticates", "5.1", None, Must,
            &["Obviously the port is not going to be known, but the IP address will let you authenticate the JID via the PASS service since the PASS service tells you the <client/> information upon a connection."],
            "The IP in the incoming request's <client/> is the one the peer connects from (what a peer compares with listing 12)", client_ip_authenticates),
    ]
}

fn client_ip_query_answered(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let you = c.user("you");
        let iq = c.iq("get", &you, Some(query()));
        let id = c.send_iq(iq).await?;
        // A result or an error both do: the query is meant for peers, but an IQ get
        // must be answered (RFC 6120 §8.2.3).
        c.answer("send listing 11 to the service", &you, &id)
            .await?;
        Ok(())
    })
}

fn client_ip_authenticates(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let owner = c.user("owner");
        let (_, _, local, inc) = c.incoming(&owner, None, false).await?;
        if inc.client.ip() != local.ip() {
            return Err(c.fail_el(
                "compare <client/> with the peer's IP",
                format!("<client>{}</client>", local.ip()),
                &inc.stanza,
            ));
        }
        Ok(())
    })
}
