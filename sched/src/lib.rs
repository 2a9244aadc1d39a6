//! Upstream schedulers: `sched ratio static` is weighted round robin; [`apm`] keeps the response
//! time statistics.
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

#[cfg(test)]
mod tests {
    use super::*;

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
