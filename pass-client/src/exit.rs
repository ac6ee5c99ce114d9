//! The documented exit codes (docs/CLIENT.md, "Exit codes") and the error that
//! carries one to `main` (docs/DESIGN.md decision 93). A wrong command line exits 2
//! (clap's own code).

use std::fmt;

/// Everything went as asked (including a lease that expired or was used up).
pub const OK: u8 = 0;
/// A setting cannot be used: password file, `--tls none` to a remote server, the
/// local address, the runtime.
pub const SETUP: u8 = 3;
/// The XMPP server refused the login (wrong JID or password).
pub const AUTH: u8 = 4;
/// TLS could not be set up (or is not in this build).
pub const TLS: u8 = 5;
/// No PASS service was found on the account's server.
pub const NO_SERVICE: u8 = 6;
/// The service has no free port (error 502).
pub const NO_PORTS: u8 = 7;
/// The service refused the registration for another reason (400, 401, 404, 405, ...).
pub const REFUSED: u8 = 8;
/// The service stopped answering or is unreachable (service gone).
pub const SERVICE_GONE: u8 = 9;

/// A reason to stop, with its exit code.
#[derive(Debug)]
pub struct Fatal {
    /// One of the constants of this module.
    pub code: u8,
    /// What to tell the user.
    pub message: String,
}

impl Fatal {
    /// A fatal error with `code`.
    pub fn new(code: u8, message: impl Into<String>) -> Fatal {
        Fatal {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Fatal {}
