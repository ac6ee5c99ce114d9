//! pass-client's c2s pieces as a library, for the `pass-client` binary and for
//! pass-conformance's `c2s` target (docs/DESIGN.md decision 120): one login path
//! (TCP or STARTTLS with rustls, SASL by tokio-xmpp) for both, never a copy.
//!
//! - [`xmpp`]: the reconnecting c2s link the binary runs on, and [`xmpp::authenticate`],
//!   one login up to the stream features, for callers that read the stream themselves.
//! - [`tls`]: STARTTLS with rustls and the `--tls-ca` / `--tls-insecure` settings.
//! - [`srv`]: where the server is (`--server`, or DNS SRV records).
//! - [`exit`]: the documented exit codes and the error that carries one.

pub mod exit;
pub mod srv;
pub mod tls;
pub mod xmpp;
