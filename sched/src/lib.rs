//! Upstream schedulers: `sched ratio static` is weighted round robin, `sched hash` rendezvous
//! hashing ([`pick_hash`]), `sched ratio dynamic|predict` weighted round robin with weights from
//! response times ([`dynamic`]); [`apm`] keeps the response time statistics, [`health`] the
//! servers' health (bad responses suspend a server, probes bring it back).
//!
//! `no_std` and allocation-free: the caller owns one [`Slot`] per server (the module keeps them
//! in its server table) and asks [`pick`] for the next one each time a request needs a server.
//!
//! # Ratio static
//!
//! Smooth weighted round robin (the algorithm of nginx's `upstream` module): each pick adds
//! every eligible server's weight to its running score, takes the server with the highest score
//! and subtracts the sum of the weights from it. Over any window of `sum(weights)` picks each
//! server gets exactly its weight's share, and picks of a heavy server are spread out instead of
//! coming in bursts (weights 5,1,1 give `a a b a c a a`, not `a a a a a b c`), which keeps a
//! server's connection pool from being drained in one go.
//!
//! A server that cannot take a request now (no live connection) is skipped: the others share
//! its load in proportion to their weights, and it rejoins with the score it had, so it is not
//! flooded to "catch up" when it comes back.
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

pub mod apm;
pub mod dynamic;
pub mod health;

/// Smallest and largest weight (`server ... weight=N`), as in Tempesta FW.
pub const WEIGHT_MIN: u32 = 1;
/// See [`WEIGHT_MIN`].
pub const WEIGHT_MAX: u32 = 100;

/// The scheduler's state for one server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Slot {
    /// The configured weight, clamped to `WEIGHT_MIN..=WEIGHT_MAX` by [`Slot::new`].
    weight: u32,
    /// Running score of the smooth round robin. Bounded: it stays within
    /// `-(sum of weights)..=(sum of weights)`, far inside `i64` for the at most a few thousand
    /// servers a group holds.
    current: i64,
}

impl Slot {
    /// A server with `weight` (clamped to the valid range).
    pub const fn new(weight: u32) -> Self {
        let weight = if weight < WEIGHT_MIN {
            WEIGHT_MIN
        } else if weight > WEIGHT_MAX {
            WEIGHT_MAX
        } else {
            weight
        };
        Self { weight, current: 0 }
    }

    /// The weight in force.
    pub const fn weight(&self) -> u32 {
        self.weight
    }

    /// Sets a new weight (clamped); the running score stays, so the change takes effect
    /// smoothly.
    pub fn set_weight(&mut self, weight: u32) {
        self.weight = weight.clamp(WEIGHT_MIN, WEIGHT_MAX);
    }
}

/// Picks the next server among `slots` for which `eligible(index)` is true; `None` when no
/// server is eligible. O(n) in the number of servers, which is small (a group has at most a
/// few dozen).
pub fn pick(slots: &mut [Slot], mut eligible: impl FnMut(usize) -> bool) -> Option<usize> {
    let mut total: i64 = 0;
    let mut best: Option<(usize, i64)> = None;
    for (i, s) in slots.iter_mut().enumerate() {
        if !eligible(i) {
            continue;
        }
        let w = i64::from(s.weight);
        s.current = s.current.saturating_add(w);
        total = total.saturating_add(w);
        match best {
            Some((_, c)) if c >= s.current => {}
            _ => best = Some((i, s.current)),
        }
    }
    let (i, _) = best?;
    if let Some(s) = slots.get_mut(i) {
        s.current = s.current.saturating_sub(total);
    }
    Some(i)
}

/// SplitMix64's finalizer: a bijective mix whose output bits each depend on every input bit.
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The `sched hash` key of a request: its Host (ASCII case-insensitive) and request-target
/// (exact), FNV-1a mixed. Requests for one URI of one host get one key.
pub fn request_key(host: &[u8], target: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in host {
        h = (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x0100_0000_01b3);
    }
    // A separator no host holds, so `("ab", "/c")` and `("a", "b/c")` differ.
    h = (h ^ 0xff).wrapping_mul(0x0100_0000_01b3);
    for &b in target {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

/// A stable [`pick_hash`] id for the server at address `ip` (4 or 16 bytes) and `port`.
pub fn server_id(ip: &[u8], port: u16) -> u64 {
    request_key(ip, &port.to_be_bytes())
}

/// `sched hash`: rendezvous (highest random weight) hashing. Among the servers for which
/// `eligible(index)` holds, the one whose `id(index)` scores highest with `key`; `None` when
/// none is eligible.
///
/// Each key goes to one server while that server can take it, so a URI's requests reach the
/// same upstream (its cache stays warm). When a server drops out, only its keys move, spread
/// over the others; when it comes back, they return. `id` must be stable per server (the module
/// derives it from the server's address). Weights are not used, as in Tempesta FW.
pub fn pick_hash(
    key: u64,
    n: usize,
    id: impl Fn(usize) -> u64,
    mut eligible: impl FnMut(usize) -> bool,
) -> Option<usize> {
    let mut best: Option<(usize, u64)> = None;
    for i in 0..n {
        if !eligible(i) {
            continue;
        }
        let score = mix(key ^ mix(id(i)));
        match best {
            Some((_, b)) if b >= score => {}
            _ => best = Some((i, score)),
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_sticks_spreads_and_moves_only_what_it_must() {
        let ids = [11u64, 22, 33, 44];
        let keys: Vec<u64> = (0..4000)
            .map(|i| request_key(b"example.com", format!("/obj/{i}").as_bytes()))
            .collect();
        let all = |k: u64| pick_hash(k, 4, |i| ids[i], |_| true).unwrap();
        let before: Vec<usize> = keys.iter().map(|&k| all(k)).collect();
        // Spread: each of 4 servers within 20% of an even share.
        let c = counts(&before, 4);
        assert!(c.iter().all(|&n| (800..=1200).contains(&n)), "{c:?}");
        // Stable: the same key, the same server.
        assert!(keys.iter().zip(&before).all(|(&k, &s)| all(k) == s));
        // Server 2 drops out: only its keys move.
        let after: Vec<usize> = keys
            .iter()
            .map(|&k| pick_hash(k, 4, |i| ids[i], |i| i != 2).unwrap())
            .collect();
        for (b, a) in before.iter().zip(&after) {
            assert_eq!(*a != *b, *b == 2);
        }
        assert_eq!(pick_hash(1, 4, |i| ids[i], |_| false), None);
        // Host case does not matter; the target does.
        assert_eq!(
            request_key(b"EXAMPLE.com", b"/a"),
            request_key(b"example.com", b"/a")
        );
        assert_ne!(request_key(b"ab", b"/c"), request_key(b"a", b"b/c"));
        assert_ne!(request_key(b"a", b"/A"), request_key(b"a", b"/a"));
    }

    fn run(weights: &[u32], n: usize, eligible: impl Fn(usize) -> bool) -> Vec<usize> {
        let mut slots: Vec<Slot> = weights.iter().map(|&w| Slot::new(w)).collect();
        (0..n)
            .map(|_| pick(&mut slots, &eligible).expect("an eligible server"))
            .collect()
    }

    fn counts(picks: &[usize], n: usize) -> Vec<usize> {
        let mut c = vec![0; n];
        for &p in picks {
            c[p] += 1;
        }
        c
    }

    #[test]
    fn smooth_order() {
        // nginx's documented example.
        assert_eq!(run(&[5, 1, 1], 7, |_| true), [0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn exact_shares_per_cycle() {
        let w = [50, 30, 20];
        let picks = run(&w, 100 * 30, |_| true);
        assert_eq!(counts(&picks, 3), [1500, 900, 600]);
        // Every window of one cycle (100 picks) is exact too.
        for win in picks.chunks(100) {
            assert_eq!(counts(win, 3), [50, 30, 20]);
        }
    }

    #[test]
    fn equal_weights_alternate() {
        assert_eq!(run(&[7, 7, 7], 6, |_| true), [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn skips_ineligible() {
        let picks = run(&[1, 1, 2], 40, |i| i != 2);
        assert_eq!(counts(&picks, 3), [20, 20, 0]);
        let mut slots = [Slot::new(1)];
        assert_eq!(pick(&mut slots, |_| false), None);
        assert_eq!(pick(&mut [], |_| true), None);
    }

    #[test]
    fn weights_clamped() {
        assert_eq!(Slot::new(0).weight(), WEIGHT_MIN);
        assert_eq!(Slot::new(1000).weight(), WEIGHT_MAX);
    }

    #[test]
    fn rejoin_does_not_flood() {
        let mut slots = [Slot::new(1), Slot::new(1)];
        // Server 1 is down for 10 picks.
        for _ in 0..10 {
            assert_eq!(pick(&mut slots, |i| i == 0), Some(0));
        }
        // Back up: strict alternation, not a burst of server 1.
        let p: Vec<usize> = (0..6)
            .map(|_| pick(&mut slots, |_| true).unwrap())
            .collect();
        assert_eq!(counts(&p, 2), [3, 3]);
    }

    #[test]
    fn scores_stay_bounded() {
        let mut slots = [Slot::new(100), Slot::new(1), Slot::new(37)];
        for k in 0..100_000 {
            pick(&mut slots, |i| (k + i) % 5 != 0);
            for s in &slots {
                assert!(s.current.abs() <= 138 * 2);
            }
        }
    }
}
