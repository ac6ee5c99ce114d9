//! Scripts of host events for the lease model, made from bytes: the same decoder
//! serves quickcheck (random byte vectors, on stable) and cargo-fuzz (libFuzzer's
//! inputs, on nightly), and [`Script::encode`] writes hand-made scenarios back as
//! bytes for the fuzz corpus.

use alloc::vec;
use alloc::vec::Vec;

/// How long a registration asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expire {
    /// No `<expire/>`: forever.
    Forever,
    /// A short expiry, in seconds (0 included: refused).
    Secs(u8),
    /// Any expiry, in seconds (clamped to the maximum).
    Long(u64),
}

/// Which IP a close names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseIp {
    /// The advertised IPv4 address.
    V4,
    /// The advertised IPv6 address.
    V6,
    /// An address the service does not advertise (405).
    Other,
    /// No `<proxy/>` at all (400).
    Missing,
}

/// Where a connection arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A leased port (picked among the live leases).
    Lease(u8),
    /// A proxy port announced in an incoming-connection notice (picked, old ones
    /// too; if it no longer listens, the host accepts it anyway, as a host racing
    /// the unlisten would).
    Proxy(u8),
    /// Any port of the pool, listening or not (a stray accept).
    Pool(u8),
    /// Any port at all (a stray accept).
    Port(u16),
}

/// One thing that happens to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A user registers.
    Register {
        /// Index into the users.
        user: u8,
        /// The expiry asked for.
        expire: Expire,
        /// `<oneshot/>`.
        oneshot: bool,
    },
    /// A user closes a lease (picked among the live ones, else any pool port).
    Close {
        /// Index into the users.
        user: u8,
        /// Index into the live leases (past them: a pool port).
        lease: u8,
        /// The IP named.
        ip: CloseIp,
    },
    /// The host reports a pending listen's result.
    ListenResult {
        /// Index into the pending listens.
        pick: u8,
        /// 0: address in use, 1: other failure, else success.
        outcome: u8,
    },
    /// The host reports a listen result for a port nobody asked for.
    SpuriousListenResult {
        /// Offset of the port from the pool's start.
        offset: u8,
        /// Success or failure.
        ok: bool,
    },
    /// A connection arrives.
    Connect {
        /// Where.
        target: Target,
        /// From an IPv6 peer.
        v6: bool,
    },
    /// A peer (picked among all connections ever accepted) closes its connection;
    /// one the host is already done with is reported closed again.
    Closed {
        /// Index into the connections.
        pick: u8,
    },
    /// A peer (picked) shuts down its write side.
    HalfClosed {
        /// Index into the connections.
        pick: u8,
    },
    /// Someone answers a notice the service sent (picked).
    Answer {
        /// Index into the unanswered notices.
        pick: u8,
        /// Result (accept) or error (deny).
        accept: bool,
        /// Answer from another user than the notice's recipient.
        impostor: Option<u8>,
    },
    /// Someone answers an id the service may or may not have used (`pass-<n>`).
    ForgedAnswer {
        /// The id's number.
        n: u8,
        /// Index into the users.
        user: u8,
        /// Result or error.
        accept: bool,
    },
    /// Time passes, in milliseconds (up to a minute; [`Event::AdvanceHours`] jumps).
    Advance(u16),
    /// The host passes an instant this many milliseconds before its clock (a late
    /// timer): the service must take it as the latest instant it saw.
    StaleTimeout(u16),
    /// Time passes by this many hours.
    AdvanceHours(u8),
    /// Time jumps to the next deadline.
    NextDeadline,
    /// The host shuts the service down.
    Shutdown,
    /// The next engine call is stamped this many milliseconds before the clock.
    Backwards(u16),
}

/// A run: the pool's seed and the events.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Script {
    /// Seed of the port draws.
    pub seed: u64,
    /// What happens, in order.
    pub events: Vec<Event>,
}

/// How often each kind of event comes from random bytes, out of 128: the common
/// steps of a session often, so that random scripts get somewhere (to a bridge),
/// a shutdown (which ends what a script built) seldom.
const WEIGHTS: [(u8, usize); 15] = [
    (REGISTER, 16),
    (CLOSE, 6),
    (LISTEN, 20),
    (SPURIOUS, 2),
    (CONNECT, 22),
    (CLOSED, 6),
    (HALF_CLOSED, 3),
    (ANSWER, 22),
    (FORGED, 3),
    (ADVANCE, 12),
    (STALE, 2),
    (HOURS, 2),
    (NEXT, 6),
    (SHUTDOWN, 1),
    (BACKWARDS, 5),
];

/// Event kinds by the tag byte (modulo 128), laid out from [`WEIGHTS`].
const KINDS: [u8; 128] = {
    let mut out = [0u8; 128];
    let (mut i, mut k) = (0, 0);
    while k < WEIGHTS.len() {
        let (kind, weight) = WEIGHTS[k];
        let mut j = 0;
        while j < weight {
            out[i] = kind;
            i += 1;
            j += 1;
        }
        k += 1;
    }
    assert!(i == 128, "the weights must add up to 128");
    out
};
const REGISTER: u8 = 0;
const CLOSE: u8 = 1;
const LISTEN: u8 = 2;
const SPURIOUS: u8 = 3;
const CONNECT: u8 = 4;
const CLOSED: u8 = 5;
const HALF_CLOSED: u8 = 6;
const ANSWER: u8 = 7;
const FORGED: u8 = 8;
const ADVANCE: u8 = 9;
const STALE: u8 = 10;
const HOURS: u8 = 11;
const NEXT: u8 = 12;
const SHUTDOWN: u8 = 13;
const BACKWARDS: u8 = 14;

/// Reads bytes in order; past the end every byte reads as 0.
struct Bytes<'a> {
    data: &'a [u8],
}

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.u8();
        }
        u64::from_le_bytes(b)
    }
}

impl Script {
    /// The script `data` describes: eight bytes of seed (little-endian), then
    /// events, each a tag byte and its fields, until the bytes run out (a cut
    /// field reads as zeros). Any bytes make a script.
    pub fn decode(data: &[u8]) -> Script {
        let mut b = Bytes { data };
        let seed = b.u64();
        let mut events = Vec::new();
        while !b.data.is_empty() {
            let kind = KINDS[usize::from(b.u8()) % KINDS.len()];
            events.push(decode_event(kind, &mut b));
        }
        Script { seed, events }
    }

    /// The bytes [`Script::decode`] reads back as this script.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.seed.to_le_bytes().to_vec();
        for event in &self.events {
            encode_event(event, &mut out);
        }
        out
    }
}

fn decode_event(kind: u8, b: &mut Bytes<'_>) -> Event {
    match kind {
        REGISTER => Event::Register {
            user: b.u8(),
            expire: match b.u8() % 3 {
                0 => Expire::Forever,
                1 => Expire::Secs(b.u8()),
                _ => Expire::Long(b.u64()),
            },
            oneshot: b.bool(),
        },
        CLOSE => Event::Close {
            user: b.u8(),
            lease: b.u8(),
            ip: match b.u8() % 4 {
                0 => CloseIp::V4,
                1 => CloseIp::V6,
                2 => CloseIp::Other,
                _ => CloseIp::Missing,
            },
        },
        LISTEN => Event::ListenResult {
            pick: b.u8(),
            outcome: b.u8(),
        },
        SPURIOUS => Event::SpuriousListenResult {
            offset: b.u8(),
            ok: b.bool(),
        },
        CONNECT => Event::Connect {
            target: match b.u8() % 4 {
                0 => Target::Lease(b.u8()),
                1 => Target::Proxy(b.u8()),
                2 => Target::Pool(b.u8()),
                _ => Target::Port(b.u16()),
            },
            v6: b.bool(),
        },
        CLOSED => Event::Closed { pick: b.u8() },
        HALF_CLOSED => Event::HalfClosed { pick: b.u8() },
        ANSWER => Event::Answer {
            pick: b.u8(),
            accept: b.bool(),
            // One answer in eight comes from an impostor.
            impostor: match b.u8() % 8 {
                0 => Some(b.u8()),
                _ => None,
            },
        },
        FORGED => Event::ForgedAnswer {
            n: b.u8(),
            user: b.u8(),
            accept: b.bool(),
        },
        ADVANCE => Event::Advance(b.u16()),
        STALE => Event::StaleTimeout(b.u16()),
        HOURS => Event::AdvanceHours(b.u8()),
        NEXT => Event::NextDeadline,
        SHUTDOWN => Event::Shutdown,
        _ => Event::Backwards(b.u16()),
    }
}

fn tag(kind: u8) -> u8 {
    // Every kind is in the table; the first slot is its tag.
    KINDS
        .iter()
        .position(|k| *k == kind)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(0)
}

fn encode_event(event: &Event, out: &mut Vec<u8>) {
    match *event {
        Event::Register {
            user,
            expire,
            oneshot,
        } => {
            out.extend([tag(REGISTER), user]);
            match expire {
                Expire::Forever => out.push(0),
                Expire::Secs(s) => out.extend([1, s]),
                Expire::Long(s) => {
                    out.push(2);
                    out.extend(s.to_le_bytes());
                }
            }
            out.push(u8::from(oneshot));
        }
        Event::Close { user, lease, ip } => {
            let ip = match ip {
                CloseIp::V4 => 0,
                CloseIp::V6 => 1,
                CloseIp::Other => 2,
                CloseIp::Missing => 3,
            };
            out.extend([tag(CLOSE), user, lease, ip]);
        }
        Event::ListenResult { pick, outcome } => out.extend([tag(LISTEN), pick, outcome]),
        Event::SpuriousListenResult { offset, ok } => {
            out.extend([tag(SPURIOUS), offset, u8::from(ok)])
        }
        Event::Connect { target, v6 } => {
            out.push(tag(CONNECT));
            match target {
                Target::Lease(i) => out.extend([0, i]),
                Target::Proxy(i) => out.extend([1, i]),
                Target::Pool(i) => out.extend([2, i]),
                Target::Port(p) => {
                    out.push(3);
                    out.extend(p.to_le_bytes());
                }
            }
            out.push(u8::from(v6));
        }
        Event::Closed { pick } => out.extend([tag(CLOSED), pick]),
        Event::HalfClosed { pick } => out.extend([tag(HALF_CLOSED), pick]),
        Event::Answer {
            pick,
            accept,
            impostor,
        } => {
            out.extend([tag(ANSWER), pick, u8::from(accept)]);
            match impostor {
                Some(u) => out.extend([0, u]),
                None => out.push(1),
            }
        }
        Event::ForgedAnswer { n, user, accept } => {
            out.extend([tag(FORGED), n, user, u8::from(accept)])
        }
        Event::Advance(ms) => {
            out.push(tag(ADVANCE));
            out.extend(ms.to_le_bytes());
        }
        Event::StaleTimeout(ms) => {
            out.push(tag(STALE));
            out.extend(ms.to_le_bytes());
        }
        Event::AdvanceHours(h) => out.extend([tag(HOURS), h]),
        Event::NextDeadline => out.push(tag(NEXT)),
        Event::Shutdown => out.push(tag(SHUTDOWN)),
        Event::Backwards(ms) => {
            out.push(tag(BACKWARDS));
            out.extend(ms.to_le_bytes());
        }
    }
}

/// Hand-made scenarios (the fuzz corpus's seeds, the properties' scripted runs):
/// each reaches a path that takes several events in the right order.
pub fn seeds() -> Vec<(&'static str, Script)> {
    const GRANT: Event = Event::ListenResult {
        pick: 0,
        outcome: 2,
    };
    const FAIL: Event = Event::ListenResult {
        pick: 0,
        outcome: 0,
    };
    let reg = |user, expire, oneshot| Event::Register {
        user,
        expire,
        oneshot,
    };
    let connect = |target| Event::Connect { target, v6: false };
    let answer = |pick, accept| Event::Answer {
        pick,
        accept,
        impostor: None,
    };
    let close = |user, ip| Event::Close { user, lease: 0, ip };
    let script = |seed, events| Script { seed, events };
    vec![
        (
            "oneshot-relay-and-expiry",
            script(
                7,
                vec![
                    reg(0, Expire::Secs(100), true),
                    GRANT,
                    connect(Target::Lease(0)),
                    GRANT,
                    answer(0, true),
                    connect(Target::Proxy(0)),
                    Event::Closed { pick: 0 },
                    reg(2, Expire::Secs(5), false),
                    GRANT,
                    Event::Advance(6000),
                    reg(3, Expire::Forever, false),
                    GRANT,
                ],
            ),
        ),
        (
            "close-by-account",
            script(
                1,
                vec![
                    reg(0, Expire::Forever, false),
                    GRANT,
                    close(2, CloseIp::V4),
                    close(0, CloseIp::Other),
                    close(0, CloseIp::Missing),
                    // Another resource of the same account (docs/DESIGN.md decision 6).
                    close(1, CloseIp::V6),
                    close(1, CloseIp::V6),
                ],
            ),
        ),
        (
            "deny-timeout-window",
            script(
                2,
                vec![
                    reg(0, Expire::Forever, false),
                    GRANT,
                    connect(Target::Lease(0)),
                    GRANT,
                    answer(0, false),
                    connect(Target::Lease(0)),
                    GRANT,
                    // Past the answer timeout (20 s).
                    Event::Advance(25_000),
                    connect(Target::Lease(0)),
                    GRANT,
                    answer(1, true),
                    // Past the proxy window (10 s): the owner comes too late.
                    Event::Advance(11_000),
                    connect(Target::Proxy(2)),
                ],
            ),
        ),
        (
            "listen-failures",
            script(
                3,
                vec![
                    reg(2, Expire::Secs(30), false),
                    FAIL,
                    FAIL,
                    FAIL,
                    FAIL,
                    FAIL,
                    FAIL,
                    FAIL,
                    FAIL,
                    Event::SpuriousListenResult {
                        offset: 0,
                        ok: true,
                    },
                    // Past the quarantine (30 s).
                    Event::Advance(31_000),
                    reg(2, Expire::Secs(30), false),
                    GRANT,
                    Event::NextDeadline,
                ],
            ),
        ),
        (
            "limits",
            script(
                4,
                vec![
                    reg(0, Expire::Forever, false),
                    GRANT,
                    reg(1, Expire::Forever, false),
                    GRANT,
                    reg(0, Expire::Forever, false),
                    GRANT,
                    // Past the per-account limit (3).
                    reg(1, Expire::Forever, false),
                    GRANT,
                    reg(2, Expire::Forever, false),
                    GRANT,
                    reg(2, Expire::Forever, false),
                    GRANT,
                    reg(3, Expire::Forever, false),
                    GRANT,
                    // Past max_leases (6).
                    reg(4, Expire::Forever, false),
                    GRANT,
                    reg(4, Expire::Secs(0), false),
                ],
            ),
        ),
        (
            "relay-cut-by-expiry",
            script(
                5,
                vec![
                    reg(0, Expire::Secs(10), false),
                    GRANT,
                    connect(Target::Lease(0)),
                    GRANT,
                    answer(0, true),
                    connect(Target::Proxy(0)),
                    Event::Advance(11_000),
                    Event::Closed { pick: 0 },
                    Event::Closed { pick: 1 },
                ],
            ),
        ),
        (
            "owner-first-relay-again-shutdown",
            script(
                6,
                vec![
                    reg(0, Expire::Forever, false),
                    GRANT,
                    connect(Target::Lease(0)),
                    GRANT,
                    connect(Target::Proxy(0)),
                    answer(0, true),
                    Event::Closed { pick: 1 },
                    connect(Target::Lease(0)),
                    GRANT,
                    Event::Shutdown,
                    reg(2, Expire::Forever, false),
                ],
            ),
        ),
        (
            "max-relays",
            script(
                8,
                vec![
                    reg(0, Expire::Forever, false),
                    GRANT,
                    reg(2, Expire::Forever, false),
                    GRANT,
                    reg(3, Expire::Forever, false),
                    GRANT,
                    connect(Target::Lease(0)),
                    GRANT,
                    connect(Target::Lease(1)),
                    GRANT,
                    connect(Target::Lease(2)),
                    GRANT,
                ],
            ),
        ),
        (
            "half-close-ends-the-session",
            script(
                9,
                vec![
                    reg(0, Expire::Forever, true),
                    GRANT,
                    connect(Target::Lease(0)),
                    GRANT,
                    answer(0, true),
                    connect(Target::Proxy(0)),
                    // The third party's FIN ends the session (decision 17): the
                    // oneshot lease ends now; the owner's side idles out later.
                    Event::HalfClosed { pick: 0 },
                    Event::Advance(6_000),
                ],
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seed_encodes_and_decodes_back() {
        for (name, script) in seeds() {
            assert_eq!(Script::decode(&script.encode()), script, "{name}");
        }
    }

    #[test]
    fn every_kind_round_trips_with_extreme_fields() {
        let events = vec![
            Event::Register {
                user: 255,
                expire: Expire::Long(u64::MAX),
                oneshot: true,
            },
            Event::Close {
                user: 1,
                lease: 2,
                ip: CloseIp::Missing,
            },
            Event::SpuriousListenResult {
                offset: 9,
                ok: false,
            },
            Event::Connect {
                target: Target::Port(65535),
                v6: true,
            },
            Event::HalfClosed { pick: 3 },
            Event::Answer {
                pick: 1,
                accept: false,
                impostor: Some(4),
            },
            Event::ForgedAnswer {
                n: 7,
                user: 2,
                accept: true,
            },
            Event::Advance(u16::MAX),
            Event::StaleTimeout(65535),
            Event::AdvanceHours(200),
            Event::NextDeadline,
            Event::Shutdown,
            Event::Backwards(1),
        ];
        let script = Script { seed: 42, events };
        assert_eq!(Script::decode(&script.encode()), script);
    }

    #[test]
    fn any_bytes_make_a_script_and_short_ones_read_as_zeros() {
        assert_eq!(Script::decode(&[]), Script::default());
        let s = Script::decode(&[1, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(s.seed, 1);
        assert_eq!(
            s.events,
            [Event::Register {
                user: 0,
                expire: Expire::Forever,
                oneshot: false
            }]
        );
    }
}
