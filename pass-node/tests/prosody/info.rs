//! What a test needs to know about the XMPP server under test (shared by the
//! Prosody and ejabberd harnesses and by pass-client's end-to-end tests).

use std::net::SocketAddr;

/// The two accounts every server under test must have: (name, password).
pub const USERS: [(&str, &str); 2] = [("owner", "owner-pw"), ("other", "other-pw")];

/// Where the XMPP server under test listens, and the component it expects.
pub struct ServerInfo {
    /// Client-to-server port.
    pub c2s: SocketAddr,
    /// Component (XEP-0114) port.
    pub component: SocketAddr,
    /// The virtual host holding [`USERS`].
    pub host: String,
    /// The component domain the node connects as.
    pub service: String,
    /// Its secret.
    pub secret: String,
}
