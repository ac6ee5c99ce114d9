//! The operations `explore` performs, their one-line form (the body of a replay
//! file) and how they are drawn from the model's state, with documented weights.
//!
//! An operation names what it acts on by position, never by port or id: `lease=1`
//! is the second live lease in the order they were granted, `session=0` the oldest
//! session in the state the operation needs. Ports and ids differ between runs (and
//! between implementations); positions survive shrinking, and an operation whose
//! target does not exist (any more) is skipped, not failed.

pub use pass_core::sim::reference::Closer;
use rand::Rng;
use std::fmt;
use std::str::FromStr;

/// Which side of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The third party.
    Caller,
    /// The owner's connection to the proxy port.
    Owner,
}

/// How the owner answers an incoming-connection request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// §3 listing 4.
    Accept,
    /// §5.2 listing 14.
    Deny,
    /// Another error.
    Error,
    /// No answer at all (the service's answer timeout drops the caller).
    Silent,
}

/// One operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Lease a port as `user<account>@DOMAIN/r<resource>`.
    Register {
        /// Account number (modulo `--accounts`).
        account: u8,
        /// Resource number (0 or 1).
        resource: u8,
        /// Seconds until it expires (1–5), or none.
        expire: Option<u8>,
        /// Oneshot.
        oneshot: bool,
    },
    /// A third party connects to an idle live lease.
    Call {
        /// Which idle lease.
        lease: u8,
    },
    /// The owner answers an incoming-connection request.
    Answer {
        /// Which asked session.
        session: u8,
        /// How.
        how: How,
    },
    /// The owner connects to the proxy port of an accepted session.
    OwnerConnect {
        /// Which accepted session.
        session: u8,
    },
    /// Bytes one way over a relaying session, checked on the other side.
    Bytes {
        /// Which relaying session.
        session: u8,
        /// Who writes.
        from: Side,
        /// How many (1–65535).
        len: u16,
    },
    /// One side closes its connection.
    HangUp {
        /// Which session (any with a caller).
        session: u8,
        /// Who.
        side: Side,
    },
    /// One side half-closes a relaying session.
    HalfClose {
        /// Which relaying session.
        session: u8,
        /// Who.
        side: Side,
    },
    /// A close (§4.3).
    Close {
        /// Which live lease.
        lease: u8,
        /// Who, and how.
        by: Closer,
    },
    /// A malformed request (0: a non-numeric expire, 1: an unknown child, 2: a
    /// register with two `<expire/>`s).
    Malformed {
        /// Which.
        kind: u8,
    },
    /// An IQ get in a namespace the service does not serve.
    UnknownNamespace,
    /// Time passes.
    Wait {
        /// Milliseconds.
        ms: u32,
    },
    /// Connect to a port whose lease or proxy ended: it must refuse.
    ConnectEnded {
        /// Which ended port.
        pick: u8,
    },
    /// (component target) The XMPP stream to the service is cut; the service must
    /// reconnect and keep its leases.
    Nemesis,
}

impl Op {
    /// The operation's name (its first word in a replay file).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Register { .. } => "register",
            Op::Call { .. } => "call",
            Op::Answer { .. } => "answer",
            Op::OwnerConnect { .. } => "owner-connect",
            Op::Bytes { .. } => "bytes",
            Op::HangUp { .. } => "hang-up",
            Op::HalfClose { .. } => "half-close",
            Op::Close { .. } => "close",
            Op::Malformed { .. } => "malformed",
            Op::UnknownNamespace => "unknown-namespace",
            Op::Wait { .. } => "wait",
            Op::ConnectEnded { .. } => "connect-ended",
            Op::Nemesis => "nemesis",
        }
    }

    /// Every operation name, in the order summaries list them.
    pub const NAMES: [&'static str; 13] = [
        "register",
        "call",
        "answer",
        "owner-connect",
        "bytes",
        "hang-up",
        "half-close",
        "close",
        "malformed",
        "unknown-namespace",
        "wait",
        "connect-ended",
        "nemesis",
    ];
}

fn side_str(s: Side) -> &'static str {
    match s {
        Side::Caller => "caller",
        Side::Owner => "owner",
    }
}

fn how_str(h: How) -> &'static str {
    match h {
        How::Accept => "accept",
        How::Deny => "deny",
        How::Error => "error",
        How::Silent => "silent",
    }
}

fn by_str(b: Closer) -> &'static str {
    match b {
        Closer::Owner => "owner",
        Closer::OtherResource => "other-resource",
        Closer::OtherAccount => "other-account",
        Closer::WrongIp => "wrong-ip",
        Closer::UnknownPort => "unknown-port",
        Closer::MissingProxy => "missing-proxy",
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name();
        match *self {
            Op::Register {
                account,
                resource,
                expire,
                oneshot,
            } => {
                write!(f, "{name} account={account} resource={resource} expire=")?;
                match expire {
                    Some(s) => write!(f, "{s}")?,
                    None => f.write_str("none")?,
                }
                write!(f, " oneshot={}", if oneshot { "yes" } else { "no" })
            }
            Op::Call { lease } => write!(f, "{name} lease={lease}"),
            Op::Answer { session, how } => {
                write!(f, "{name} session={session} how={}", how_str(how))
            }
            Op::OwnerConnect { session } => write!(f, "{name} session={session}"),
            Op::Bytes { session, from, len } => write!(
                f,
                "{name} session={session} from={} len={len}",
                side_str(from)
            ),
            Op::HangUp { session, side } | Op::HalfClose { session, side } => {
                write!(f, "{name} session={session} side={}", side_str(side))
            }
            Op::Close { lease, by } => write!(f, "{name} lease={lease} by={}", by_str(by)),
            Op::Malformed { kind } => write!(f, "{name} kind={kind}"),
            Op::UnknownNamespace | Op::Nemesis => f.write_str(name),
            Op::Wait { ms } => write!(f, "{name} ms={ms}"),
            Op::ConnectEnded { pick } => write!(f, "{name} pick={pick}"),
        }
    }
}

/// A line that is no operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseOpError(pub String);

impl fmt::Display for ParseOpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseOpError {}

/// The `key=value` words of a line.
struct Fields<'a> {
    line: &'a str,
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Result<&'a str, ParseOpError> {
        self.pairs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .ok_or_else(|| ParseOpError(format!("{:?}: no {key}=", self.line)))
    }

    fn num<T: FromStr>(&self, key: &str) -> Result<T, ParseOpError> {
        let v = self.get(key)?;
        v.parse()
            .map_err(|_| ParseOpError(format!("{:?}: {key}={v} is not a number", self.line)))
    }

    fn pick<T: Copy>(&self, key: &str, names: &[(&str, T)]) -> Result<T, ParseOpError> {
        let v = self.get(key)?;
        names
            .iter()
            .find(|(n, _)| *n == v)
            .map(|(_, t)| *t)
            .ok_or_else(|| ParseOpError(format!("{:?}: {key}={v} is not known", self.line)))
    }
}

const SIDES: [(&str, Side); 2] = [("caller", Side::Caller), ("owner", Side::Owner)];

impl FromStr for Op {
    type Err = ParseOpError;

    fn from_str(line: &str) -> Result<Op, ParseOpError> {
        let mut words = line.split_whitespace();
        let name = words
            .next()
            .ok_or_else(|| ParseOpError("an empty line".into()))?;
        let mut pairs = Vec::new();
        for w in words {
            let (k, v) = w
                .split_once('=')
                .ok_or_else(|| ParseOpError(format!("{line:?}: {w:?} is not key=value")))?;
            pairs.push((k, v));
        }
        let f = Fields { line, pairs };
        Ok(match name {
            "register" => Op::Register {
                account: f.num("account")?,
                resource: f.num("resource")?,
                expire: match f.get("expire")? {
                    "none" => None,
                    _ => Some(f.num("expire")?),
                },
                oneshot: f.pick("oneshot", &[("yes", true), ("no", false)])?,
            },
            "call" => Op::Call {
                lease: f.num("lease")?,
            },
            "answer" => Op::Answer {
                session: f.num("session")?,
                how: f.pick(
                    "how",
                    &[
                        ("accept", How::Accept),
                        ("deny", How::Deny),
                        ("error", How::Error),
                        ("silent", How::Silent),
                    ],
                )?,
            },
            "owner-connect" => Op::OwnerConnect {
                session: f.num("session")?,
            },
            "bytes" => Op::Bytes {
                session: f.num("session")?,
                from: f.pick("from", &SIDES)?,
                len: f.num("len")?,
            },
            "hang-up" => Op::HangUp {
                session: f.num("session")?,
                side: f.pick("side", &SIDES)?,
            },
            "half-close" => Op::HalfClose {
                session: f.num("session")?,
                side: f.pick("side", &SIDES)?,
            },
            "close" => Op::Close {
                lease: f.num("lease")?,
                by: f.pick(
                    "by",
                    &[
                        ("owner", Closer::Owner),
                        ("other-resource", Closer::OtherResource),
                        ("other-account", Closer::OtherAccount),
                        ("wrong-ip", Closer::WrongIp),
                        ("unknown-port", Closer::UnknownPort),
                        ("missing-proxy", Closer::MissingProxy),
                    ],
                )?,
            },
            "malformed" => Op::Malformed {
                kind: f.num("kind")?,
            },
            "unknown-namespace" => Op::UnknownNamespace,
            "wait" => Op::Wait { ms: f.num("ms")? },
            "connect-ended" => Op::ConnectEnded {
                pick: f.num("pick")?,
            },
            "nemesis" => Op::Nemesis,
            other => return Err(ParseOpError(format!("unknown operation {other:?}"))),
        })
    }
}

/// What the generator may act on now (from the model's state and the explorer's).
#[derive(Clone, Copy, Debug, Default)]
pub struct Choices {
    /// Live leases.
    pub leases: usize,
    /// Live leases with no session.
    pub idle_leases: usize,
    /// Sessions whose owner was asked.
    pub asked: usize,
    /// Sessions the owner accepted.
    pub accepted: usize,
    /// Relaying sessions.
    pub relaying: usize,
    /// Sessions with a caller connection.
    pub sessions: usize,
    /// Ports that ended.
    pub ended: usize,
    /// Whether the target has a stream the nemesis can cut.
    pub nemesis: bool,
    /// Whether there is another account to close as (c2s with one account has
    /// none: it sends only as its accounts' resources).
    pub other_account: bool,
}

/// Most live leases the generator asks for (below the reference's limits, 8 in all
/// and 4 per account, so that a refusal is never the explorer's own doing).
pub const MAX_LEASES: usize = 6;

/// The weights, in the order of [`Op::NAMES`]: an operation with nothing to act on
/// weighs 0. Documented in docs/CONFORMANCE.md ("Operations and weights").
pub fn weights(c: &Choices) -> [u32; 13] {
    let has = |n: usize, w: u32| if n > 0 { w } else { 0 };
    [
        if c.leases < MAX_LEASES { 10 } else { 0 }, // register
        has(c.idle_leases, 12),                     // call
        has(c.asked, 15),                           // answer
        has(c.accepted, 15),                        // owner-connect
        has(c.relaying, 10),                        // bytes
        has(c.sessions, 5),                         // hang-up
        has(c.relaying, 3),                         // half-close
        has(c.leases, 6),                           // close
        2,                                          // malformed
        1,                                          // unknown-namespace
        6,                                          // wait
        has(c.ended, 3),                            // connect-ended
        if c.nemesis { 1 } else { 0 },              // nemesis
    ]
}

/// Draws one operation.
pub fn generate<R: Rng>(rng: &mut R, c: &Choices) -> Op {
    let w = weights(c);
    let total: u32 = w.iter().sum();
    let mut x = rng.random_range(0..total.max(1));
    let mut which = 10; // wait, if the weights are all zero
    for (i, wi) in w.iter().enumerate() {
        if x < *wi {
            which = i;
            break;
        }
        x -= wi;
    }
    let idx =
        |rng: &mut R, n: usize| -> u8 { u8::try_from(rng.random_range(0..n.max(1))).unwrap_or(0) };
    let side = |rng: &mut R| {
        if rng.random_bool(0.5) {
            Side::Caller
        } else {
            Side::Owner
        }
    };
    match which {
        0 => Op::Register {
            account: rng.random_range(0..8),
            resource: rng.random_range(0..2),
            // 40 % expire in 1–5 s; 20 % oneshot.
            expire: rng.random_bool(0.4).then(|| rng.random_range(1..=5)),
            oneshot: rng.random_bool(0.2),
        },
        1 => Op::Call {
            lease: idx(rng, c.idle_leases),
        },
        2 => Op::Answer {
            session: idx(rng, c.asked),
            // accept 60 %, deny 15 %, error 10 %, silent 15 %.
            how: match rng.random_range(0..100) {
                0..60 => How::Accept,
                60..75 => How::Deny,
                75..85 => How::Error,
                _ => How::Silent,
            },
        },
        3 => Op::OwnerConnect {
            session: idx(rng, c.accepted),
        },
        4 => Op::Bytes {
            session: idx(rng, c.relaying),
            from: side(rng),
            len: rng.random_range(1..=4096),
        },
        5 => Op::HangUp {
            session: idx(rng, c.sessions),
            side: side(rng),
        },
        6 => Op::HalfClose {
            session: idx(rng, c.relaying),
            side: side(rng),
        },
        7 => Op::Close {
            lease: idx(rng, c.leases),
            // owner 50 %, another resource 10 %, another account 15 %, a wrong IP
            // 10 %, an unknown port 10 %, no proxy 5 %.
            // Without another account, its 15 % go to the others in proportion.
            by: match if c.other_account {
                rng.random_range(0..100)
            } else {
                let x = rng.random_range(0..85);
                if x < 60 {
                    x
                } else {
                    x + 15
                }
            } {
                0..50 => Closer::Owner,
                50..60 => Closer::OtherResource,
                60..75 => Closer::OtherAccount,
                75..85 => Closer::WrongIp,
                85..95 => Closer::UnknownPort,
                _ => Closer::MissingProxy,
            },
        },
        8 => Op::Malformed {
            kind: rng.random_range(0..3),
        },
        9 => Op::UnknownNamespace,
        11 => Op::ConnectEnded {
            pick: idx(rng, c.ended),
        },
        12 => Op::Nemesis,
        // Waits of 0.1–5 s, in tenths.
        _ => Op::Wait {
            ms: rng.random_range(1..=50) * 100,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_generated_op_round_trips_through_its_line() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let c = Choices {
            leases: 3,
            idle_leases: 2,
            asked: 1,
            accepted: 1,
            relaying: 2,
            sessions: 3,
            ended: 2,
            nemesis: true,
            other_account: true,
        };
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let op = generate(&mut rng, &c);
            seen.insert(op.name());
            let line = op.to_string();
            assert_eq!(line.parse::<Op>(), Ok(op), "{line}");
        }
        assert_eq!(seen.len(), Op::NAMES.len(), "{seen:?}");
    }

    #[test]
    fn without_another_account_no_close_needs_one() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let c = Choices {
            leases: 2,
            ..Choices::default()
        };
        let mut closers = std::collections::BTreeSet::new();
        for _ in 0..3000 {
            if let Op::Close { by, .. } = generate(&mut rng, &c) {
                closers.insert(by_str(by));
            }
        }
        assert!(!closers.contains("other-account"), "{closers:?}");
        assert_eq!(closers.len(), 5, "{closers:?}");
    }

    #[test]
    fn nothing_to_act_on_weighs_nothing() {
        let w = weights(&Choices::default());
        assert_eq!(w[1..8], [0; 7]);
        assert!(w[0] > 0 && w[10] > 0);
    }
}
