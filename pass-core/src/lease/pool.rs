//! The port pool: which ports of `first_port..=last_port` are free, which are
//! quarantined after a failed listen, and drawing free ports at random.
//!
//! Lease ports and proxy ports both come from here. Ports are drawn at random with a
//! seeded PRNG (DESIGN decision 10: a third party cannot guess the next proxy port),
//! so a test with a fixed seed sees a fixed sequence.

use crate::time::Instant;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The ports of the pool that nobody holds, and those resting after a failed listen.
#[derive(Debug)]
pub(crate) struct PortPool {
    /// Free ports, in no particular order (drawn by random index, `swap_remove`).
    free: Vec<u16>,
    /// Ports whose listen failed, with the instant they may be handed out again.
    quarantined: BTreeMap<u16, Instant>,
    /// Size of the pool when every port is back.
    size: usize,
    rng: Xoshiro256PlusPlus,
}

impl PortPool {
    /// All of `first..=last` free (empty if `first > last`).
    pub(crate) fn new(first: u16, last: u16, seed: u64) -> Self {
        let free: Vec<u16> = if first <= last {
            (first..=last).collect()
        } else {
            Vec::new()
        };
        PortPool {
            size: free.len(),
            free,
            quarantined: BTreeMap::new(),
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
        }
    }

    /// Takes a free port at random, `None` when every port is held or resting.
    pub(crate) fn take(&mut self) -> Option<u16> {
        if self.free.is_empty() {
            return None;
        }
        let len = self.free.len() as u64;
        // Lemire's multiply-shift: an index in 0..len without a modulo.
        let index = ((u128::from(self.rng.next_u64()) * u128::from(len)) >> 64) as usize;
        Some(self.free.swap_remove(index))
    }

    /// Takes those of `ports` that are free (restored leases' ports), in one pass
    /// over the free list; returns the ports taken. A port held, resting or not in
    /// the pool is not taken.
    pub(crate) fn take_ports(&mut self, ports: &BTreeSet<u16>) -> BTreeSet<u16> {
        let mut taken = BTreeSet::new();
        self.free.retain(|p| {
            let wanted = ports.contains(p);
            if wanted {
                taken.insert(*p);
            }
            !wanted
        });
        taken
    }

    /// Gives a held port back.
    pub(crate) fn release(&mut self, port: u16) {
        self.free.push(port);
    }

    /// Puts a held port to rest until `until` (its listen failed: something else
    /// probably holds it, so handing it out again at once would fail again).
    pub(crate) fn quarantine(&mut self, port: u16, until: Instant) {
        self.quarantined.insert(port, until);
    }

    /// Frees every quarantined port whose rest ended by `now` (a scan: the map is
    /// keyed by port and stays small).
    pub(crate) fn end_quarantines(&mut self, now: Instant) {
        let due: Vec<u16> = self
            .quarantined
            .iter()
            .filter(|(_, &until)| until <= now)
            .map(|(&p, _)| p)
            .collect();
        for port in due {
            self.quarantined.remove(&port);
            self.free.push(port);
        }
    }

    /// The earliest instant a quarantine ends.
    pub(crate) fn next_quarantine_end(&self) -> Option<Instant> {
        self.quarantined.values().min().copied()
    }

    /// Ports free now.
    pub(crate) fn free_count(&self) -> usize {
        self.free.len()
    }

    /// Ports resting after a failed listen.
    pub(crate) fn quarantined_count(&self) -> usize {
        self.quarantined.len()
    }

    /// Ports in the pool (free, resting or held).
    pub(crate) fn size(&self) -> usize {
        self.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_every_port_once_then_none() {
        let mut pool = PortPool::new(100, 109, 7);
        let mut seen = BTreeSet::new();
        while let Some(p) = pool.take() {
            assert!((100..=109).contains(&p));
            assert!(seen.insert(p), "port {p} drawn twice");
        }
        assert_eq!(seen.len(), 10);
        assert_eq!(pool.free_count(), 0);
    }

    #[test]
    fn draws_are_not_sequential_and_depend_on_seed() {
        let draw = |seed| {
            let mut pool = PortPool::new(40000, 40999, seed);
            (0..8).filter_map(|_| pool.take()).collect::<Vec<_>>()
        };
        let a = draw(1);
        assert_eq!(a, draw(1), "same seed, same draws");
        assert_ne!(a, draw(2), "another seed, other draws");
        assert!(a.windows(2).any(|w| w[1] != w[0].wrapping_add(1)));
    }

    #[test]
    fn quarantined_port_comes_back_after_its_rest() {
        let mut pool = PortPool::new(5, 5, 0);
        let p = pool.take().unwrap();
        pool.quarantine(p, Instant::from_millis(1000));
        assert_eq!(pool.take(), None);
        assert_eq!(pool.next_quarantine_end(), Some(Instant::from_millis(1000)));
        pool.end_quarantines(Instant::from_millis(999));
        assert_eq!(pool.take(), None);
        pool.end_quarantines(Instant::from_millis(1000));
        assert_eq!(pool.take(), Some(5));
        assert_eq!(pool.quarantined_count(), 0);
    }

    #[test]
    fn a_named_port_is_taken_once() {
        let mut pool = PortPool::new(100, 102, 0);
        let want = |ports: &[u16]| ports.iter().copied().collect::<BTreeSet<u16>>();
        assert_eq!(
            pool.take_ports(&want(&[99, 101])),
            want(&[101]),
            "99 is outside"
        );
        assert_eq!(pool.take_ports(&want(&[101])), want(&[]), "taken twice");
        assert_eq!(pool.free_count(), 2);
        pool.release(101);
        assert_eq!(pool.take_ports(&want(&[101, 102])), want(&[101, 102]));
    }

    #[test]
    fn inverted_range_is_an_empty_pool() {
        let mut pool = PortPool::new(10, 9, 0);
        assert_eq!(pool.size(), 0);
        assert_eq!(pool.take(), None);
    }
}
