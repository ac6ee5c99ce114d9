//! §4.1 expire: listings 5 and 6, the port closed after expiry.

use super::{case, QUIET};
use crate::catalogue::Case;
use crate::ctx::{iq_type, pass_query, CaseFut, Ctx, Lease, Stop};
use pass_core::ns;
use pass_core::xml::Element;
use std::time::Duration;

/// The §4.1 cases.
pub fn cases() -> Vec<Case> {
    vec![
        case!("pass/4.1/expire-notice", "4.1", Some(5), Must,
            &["This tells the server to shut down the port after a specified number of seconds.", "After the timeout period, the PASS service MUST send an <iq/> to the JID to tell it that the port has been closed down."],
            "When <expire/> seconds have passed (within the timing tolerance) the service MUST send the owner <expire/><close/><proxy/>", expire_notice),
        case!("pass/4.1/expire-ack", "4.1", Some(6), Must,
            &["Acknowledgement of expiration"],
            "The owner's acknowledgement (listing 6) is taken without an error in return", expire_ack),
        case!("pass/4.1/port-closed-after-expire", "4.1", None, Must,
            &["This tells the server to shut down the port after a specified number of seconds."],
            "After expiry the port is shut down: a connection is refused", port_closed_after_expire),
        case!("pass/4.1/not-before-expiry", "4.1", None, Must,
            &["This tells the server to shut down the port after a specified number of seconds."],
            "Before <expire/> seconds have passed (less the timing tolerance) there is no notice and the port still accepts", not_before_expiry),
    ]
}

/// The `<expire/>` the timed cases ask for: long enough that "before expire −
/// tolerance" is a real window (at least 1 s), 3 s with the default tolerance.
pub(crate) fn lease_secs(tolerance: Duration) -> u64 {
    let tol = tolerance.as_secs() + u64::from(tolerance.subsec_nanos() > 0);
    (2 * tol + 1).max(3)
}

/// Whether a stanza is an expire notice.
fn is_expire_notice(e: &Element) -> bool {
    iq_type(e) == "set" && pass_query(e).is_some_and(|q| q.get_child("expire", ns::PASS).is_some())
}

/// Registers a short lease and watches it up to expire − tolerance: no stanza that
/// `pred` accepts may come to the owner before then (DESIGN decision 41). Gives the
/// lease and its `<expire/>` seconds.
async fn watch_short_lease(
    c: &mut Ctx,
    expected: &str,
    pred: &dyn Fn(&Element) -> bool,
) -> Result<(Lease, u64), Stop> {
    let owner = c.user("owner");
    let tol = c.tolerance();
    let secs = lease_secs(tol);
    let lease = c.register(&owner, Some(secs), false).await?;
    let early = Duration::from_secs(secs).saturating_sub(tol);
    let step = format!("wait {} s of a {secs} s lease", early.as_secs_f32());
    let expected = format!(
        "{expected} before {secs} s − {} s tolerance",
        tol.as_secs_f32()
    );
    c.expect_none(&step, &owner, early, &expected, pred).await?;
    Ok((lease, secs))
}

/// Registers with a short expiry and waits for the notice, which must come neither
/// before expire − tolerance nor after expire + tolerance (DESIGN decision 41).
async fn expired(c: &mut Ctx) -> Result<(Lease, Element), Stop> {
    let (lease, secs) = watch_short_lease(c, "no expire notice", &is_expire_notice).await?;
    let tol = c.tolerance();
    match c.expect_notice("expire", &lease, tol * 2).await {
        Err(Stop::Fail(mut f)) if f.got.as_deref().is_some_and(|g| g.starts_with("nothing")) => {
            f.expected = format!(
                "{} by {secs} s + {} s tolerance",
                f.expected,
                tol.as_secs_f32()
            );
            Err(Stop::Fail(f))
        }
        other => Ok((lease, other?)),
    }
}

fn expire_notice(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        expired(c).await?;
        Ok(())
    })
}

fn expire_ack(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let (lease, notice) = expired(c).await?;
        c.ack(&lease.owner, &notice).await?;
        c.expect_none(
            "acknowledge the notice (listing 6)",
            &lease.owner,
            QUIET,
            "no answer to an IQ result (RFC 6120 §8.2.3)",
            &|e| iq_type(e) == "error",
        )
        .await
    })
}

fn port_closed_after_expire(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        let (lease, notice) = expired(c).await?;
        c.ack(&lease.owner, &notice).await?;
        c.expect_refused("connect to the expired port", lease.addr)
            .await
    })
}

fn not_before_expiry(c: &mut Ctx) -> CaseFut<'_> {
    Box::pin(async move {
        // The whole lease, up to the tolerance the notice is allowed to be early by.
        let (lease, _) = watch_short_lease(c, "no IQ set (a notice) to the owner", &|e| {
            iq_type(e) == "set"
        })
        .await?;
        c.connect("the third party", lease.addr).await?;
        c.expect_incoming(&lease.owner).await?;
        Ok(())
    })
}
