//! The server's side of the XEP-0114 opening over a test connection: the I/O
//! around pass-core's [`ServerHandshake`], shared by the tests' `FakeServer` and,
//! through `#[path]`, the benches' `Link`.

use pass_core::component::{ServerHandshake, ServerStep};
use pass_core::xml::StreamEvent;

/// What became of a handshake.
#[derive(Debug, PartialEq, Eq)]
pub enum HandshakeOutcome {
    /// Good digest: `<handshake/>` sent.
    Accepted,
    /// Bad digest: `<stream:error><not-authorized/>` sent and the stream closed.
    Refused,
}

/// The server's end of a component connection, as a test or bench holds it: both
/// panic on what they do not expect.
#[allow(async_fn_in_trait)] // test code: the futures are awaited in place
pub trait ServerEnd {
    /// The next event from the node.
    async fn next_event(&mut self) -> StreamEvent;
    /// Writes text to the node.
    async fn send(&mut self, xml: &str);
}

/// Runs `opening` over `end` until the handshake is accepted or refused; panics on
/// anything the opening does not allow.
pub async fn serve_opening(
    end: &mut impl ServerEnd,
    mut opening: ServerHandshake,
) -> HandshakeOutcome {
    loop {
        let ev = end.next_event().await;
        let (xml, outcome) = match opening.handle(ev).unwrap_or_else(|e| panic!("{e}")) {
            ServerStep::Send(xml) => (xml, None),
            ServerStep::Accepted(xml) => (xml, Some(HandshakeOutcome::Accepted)),
            ServerStep::Refused(xml) => (xml, Some(HandshakeOutcome::Refused)),
        };
        end.send(&xml).await;
        if let Some(outcome) = outcome {
            return outcome;
        }
    }
}
