//! Writes a [`Script`] as the bytes `arbitrary` decodes it from, so that the
//! `lease_machine` corpus can hold hand-made scenarios (seeds) besides what the
//! fuzzer found: a relay that reaches its bridge takes half a dozen events in the
//! right order, which a short run seldom finds by itself.
//!
//! The layout is that of `arbitrary` 1.x (checked by the round-trip test):
//! integers little-endian, `bool` a byte (low bit), `Option` a `bool` then the
//! value, an enum a `u32` scaled onto its variants, and a trailing `Vec` one
//! `true` byte before each element.

use crate::lease_machine::{CloseIp, Event, Expire, Script, Target};

/// Number of variants of [`Event`].
const EVENT_VARIANTS: u64 = 13;

/// The bytes `Script::arbitrary_take_rest` reads back as `script`.
pub fn encode(script: &Script) -> Vec<u8> {
    let mut out = script.seed.to_le_bytes().to_vec();
    for event in &script.events {
        out.push(1);
        event_bytes(&mut out, event);
    }
    out
}

/// The `u32` that `arbitrary`'s derived enums map to variant `index` of `count`.
fn variant(out: &mut Vec<u8>, index: u64, count: u64) {
    let v = u32::try_from((index << 32).div_ceil(count)).unwrap_or(u32::MAX);
    out.extend_from_slice(&v.to_le_bytes());
}

fn event_bytes(out: &mut Vec<u8>, event: &Event) {
    match *event {
        Event::Register {
            user,
            expire,
            oneshot,
        } => {
            variant(out, 0, EVENT_VARIANTS);
            out.push(user);
            match expire {
                Expire::Forever => variant(out, 0, 3),
                Expire::Secs(s) => {
                    variant(out, 1, 3);
                    out.push(s);
                }
                Expire::Long(s) => {
                    variant(out, 2, 3);
                    out.extend_from_slice(&s.to_le_bytes());
                }
            }
            out.push(u8::from(oneshot));
        }
        Event::Close { user, lease, ip } => {
            variant(out, 1, EVENT_VARIANTS);
            out.extend_from_slice(&[user, lease]);
            let i = match ip {
                CloseIp::V4 => 0,
                CloseIp::V6 => 1,
                CloseIp::Other => 2,
                CloseIp::Missing => 3,
            };
            variant(out, i, 4);
        }
        Event::ListenResult { pick, outcome } => {
            variant(out, 2, EVENT_VARIANTS);
            out.extend_from_slice(&[pick, outcome]);
        }
        Event::SpuriousListenResult { offset, ok } => {
            variant(out, 3, EVENT_VARIANTS);
            out.extend_from_slice(&[offset, u8::from(ok)]);
        }
        Event::Connect { target, v6 } => {
            variant(out, 4, EVENT_VARIANTS);
            match target {
                Target::Lease(i) => {
                    variant(out, 0, 4);
                    out.push(i);
                }
                Target::Proxy(i) => {
                    variant(out, 1, 4);
                    out.push(i);
                }
                Target::Pool(i) => {
                    variant(out, 2, 4);
                    out.push(i);
                }
                Target::Port(p) => {
                    variant(out, 3, 4);
                    out.extend_from_slice(&p.to_le_bytes());
                }
            }
            out.push(u8::from(v6));
        }
        Event::Closed { pick } => {
            variant(out, 5, EVENT_VARIANTS);
            out.push(pick);
        }
        Event::Answer {
            pick,
            accept,
            impostor,
        } => {
            variant(out, 6, EVENT_VARIANTS);
            out.extend_from_slice(&[pick, u8::from(accept)]);
            match impostor {
                Some(u) => out.extend_from_slice(&[1, u]),
                None => out.push(0),
            }
        }
        Event::ForgedAnswer { n, user, accept } => {
            variant(out, 7, EVENT_VARIANTS);
            out.extend_from_slice(&[n, user, u8::from(accept)]);
        }
        Event::Advance(ms) => {
            variant(out, 8, EVENT_VARIANTS);
            out.extend_from_slice(&ms.to_le_bytes());
        }
        Event::StaleTimeout(ms) => {
            variant(out, 9, EVENT_VARIANTS);
            out.extend_from_slice(&ms.to_le_bytes());
        }
        Event::AdvanceHours(h) => {
            variant(out, 10, EVENT_VARIANTS);
            out.push(h);
        }
        Event::NextDeadline => variant(out, 11, EVENT_VARIANTS),
        Event::Shutdown => variant(out, 12, EVENT_VARIANTS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lease_machine::seeds;
    use arbitrary::{Arbitrary, Unstructured};

    fn decode(bytes: &[u8]) -> Script {
        Script::arbitrary_take_rest(Unstructured::new(bytes)).unwrap()
    }

    #[test]
    fn every_event_kind_reads_back() {
        let events = vec![
            Event::Register {
                user: 3,
                expire: Expire::Long(u64::MAX - 5),
                oneshot: true,
            },
            Event::Register {
                user: 0,
                expire: Expire::Forever,
                oneshot: false,
            },
            Event::Close {
                user: 1,
                lease: 2,
                ip: CloseIp::Missing,
            },
            Event::ListenResult {
                pick: 9,
                outcome: 1,
            },
            Event::SpuriousListenResult {
                offset: 4,
                ok: true,
            },
            Event::Connect {
                target: Target::Port(65535),
                v6: true,
            },
            Event::Connect {
                target: Target::Pool(3),
                v6: false,
            },
            Event::Closed { pick: 7 },
            Event::Answer {
                pick: 1,
                accept: false,
                impostor: Some(2),
            },
            Event::ForgedAnswer {
                n: 3,
                user: 4,
                accept: true,
            },
            Event::Advance(123_456),
            Event::StaleTimeout(999),
            Event::AdvanceHours(25),
            Event::NextDeadline,
            Event::Shutdown,
        ];
        let script = Script {
            seed: 0x0123_4567_89ab_cdef,
            events,
        };
        assert_eq!(decode(&encode(&script)), script);
    }

    #[test]
    fn the_seed_scenarios_read_back() {
        for (name, script) in seeds() {
            assert_eq!(decode(&encode(&script)), script, "{name}");
        }
    }
}
