//! `sched ratio dynamic` and `sched ratio predict`: weights from the servers' response times.
//!
//! Every second the module takes one statistic of each server's response times over the last
//! minute ([`crate::apm::Window`]): the minimum, maximum, average or a percentile
//! ([`RttStat`]). `dynamic` sets each server's weight inversely proportional to it: the
//! fastest server gets [`WEIGHT_MAX`], one twice as slow half that, and so on (never below
//! [`WEIGHT_MIN`]). A server without responses in the window gets the largest weight too, so it
//! gets requests and its time gets measured (Tempesta FW reads a missing time as 1 ms).
//!
//! `predict` keeps each server's last `past` seconds of that statistic ([`History`]) and uses
//! the value a least-squares line through them predicts `ahead` seconds on, so a server whose
//! times are climbing loses its share before it is slow, and one recovering gets it back
//! sooner.
//!
//! Integer arithmetic only (the kernel build has no floating point).

use super::{WEIGHT_MAX, WEIGHT_MIN};

/// Which response time statistic the weights follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RttStat {
    /// `minimum`.
    Min,
    /// `maximum`.
    Max,
    /// `average` (the default).
    Avg,
    /// `percentile N`: the index of N in [`crate::apm::PERCENTILES`].
    Pct(usize),
}

impl RttStat {
    /// The statistic in `s`, ms; 0 without samples.
    pub fn of(self, s: &super::apm::Summary) -> u64 {
        if s.n == 0 {
            return 0;
        }
        match self {
            RttStat::Min => s.min,
            RttStat::Max => s.max,
            RttStat::Avg => s.avg,
            RttStat::Pct(i) => s.pct.get(i).copied().unwrap_or(s.avg),
        }
    }
}

/// Weights inversely proportional to the times `rtt` (ms), into `out` (as many as `rtt`): the
/// smallest time gets [`WEIGHT_MAX`], and so does a server without one (0: not measured yet).
pub fn inverse_weights(rtt: &[u64], out: &mut [u32]) {
    let fastest = rtt.iter().copied().filter(|&r| r > 0).min().unwrap_or(1);
    for (w, &r) in out.iter_mut().zip(rtt.iter()) {
        *w = match r {
            0 => WEIGHT_MAX,
            r => {
                let v = u64::from(WEIGHT_MAX)
                    .saturating_mul(fastest)
                    .checked_div(r)
                    .unwrap_or(0);
                v.clamp(u64::from(WEIGHT_MIN), u64::from(WEIGHT_MAX)) as u32
            }
        };
    }
}

/// Most seconds of history `predict` keeps (`past=` is at most 120 in Tempesta FW).
pub const MAX_PAST: usize = 120;

/// Fewer values than this are no trend: [`History::predict`] gives their mean.
const MIN_TREND: i64 = 3;

/// One server's last values of the statistic, one a second (seconds without responses add
/// none).
#[derive(Clone, Copy, Debug)]
pub struct History {
    v: [u32; MAX_PAST],
    len: usize,
    /// Where the next value goes.
    next: usize,
}

impl Default for History {
    fn default() -> Self {
        Self::new()
    }
}

impl History {
    /// Empty.
    pub const fn new() -> Self {
        History {
            v: [0; MAX_PAST],
            len: 0,
            next: 0,
        }
    }

    /// Adds this second's value; at most `past` are kept.
    pub fn push(&mut self, value: u64, past: usize) {
        let past = past.clamp(1, MAX_PAST);
        if self.next >= past {
            self.next = 0;
        }
        if let Some(slot) = self.v.get_mut(self.next) {
            *slot = value.min(u64::from(u32::MAX)) as u32;
        }
        self.next = self.next.saturating_add(1);
        self.len = self.len.saturating_add(1).min(past);
    }

    /// The value the least-squares line through the history predicts `ahead` seconds after
    /// the last one; 0 without history. With fewer than [`MIN_TREND`] values it is the mean (two
    /// seconds are no trend), and it never falls below the smallest value seen: a falling line
    /// extrapolated far enough reaches 0 ms, which would make every other server look
    /// infinitely slower.
    pub fn predict(&self, ahead: u32) -> u64 {
        let n = self.len;
        if n == 0 {
            return 0;
        }
        // Oldest first: the ring's values from `next` on (once full), then those before it.
        let (newer, older) = self.v.split_at(self.next.min(self.v.len()));
        let older = older.get(..n.saturating_sub(newer.len())).unwrap_or(&[]);
        let newer = newer.get(newer.len().saturating_sub(n)..).unwrap_or(&[]);
        let values = older.iter().chain(newer.iter());
        // x centred and doubled so that it is an integer: X_i = 2i - (n - 1); sum(X_i) = 0.
        let n = n as i64;
        let (mut sum_y, mut sxx, mut sxy, mut min) = (0i64, 0i64, 0i64, i64::MAX);
        for (i, &y) in values.enumerate() {
            let x = (i as i64)
                .saturating_mul(2)
                .saturating_sub(n.saturating_sub(1));
            let y = i64::from(y);
            min = min.min(y);
            sum_y = sum_y.saturating_add(y);
            sxx = sxx.saturating_add(x.saturating_mul(x));
            sxy = sxy.saturating_add(x.saturating_mul(y));
        }
        let mean = sum_y.checked_div(n).unwrap_or(0);
        if sxx == 0 || n < MIN_TREND {
            return mean.max(1) as u64;
        }
        // The target's X: 2(n - 1 + ahead) - (n - 1).
        let xt = n
            .saturating_sub(1)
            .saturating_add(i64::from(ahead).saturating_mul(2));
        let p = mean.saturating_add(sxy.saturating_mul(xt).checked_div(sxx).unwrap_or(0));
        p.max(min).max(1) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apm::Summary;

    #[test]
    fn faster_servers_weigh_more() {
        let mut w = [0u32; 4];
        inverse_weights(&[10, 20, 1000, 0], &mut w);
        assert_eq!(w, [100, 50, 1, 100]);
        inverse_weights(&[7, 7, 7, 7], &mut w);
        assert_eq!(w, [100; 4]);
    }

    #[test]
    fn statistics() {
        let s = Summary {
            n: 3,
            min: 1,
            avg: 5,
            max: 9,
            pct: [4, 5, 6, 7, 8],
        };
        assert_eq!(RttStat::Min.of(&s), 1);
        assert_eq!(RttStat::Max.of(&s), 9);
        assert_eq!(RttStat::Avg.of(&s), 5);
        assert_eq!(RttStat::Pct(2).of(&s), 6);
        assert_eq!(RttStat::Avg.of(&Summary::default()), 0);
    }

    #[test]
    fn predicts_a_trend() {
        let mut h = History::new();
        assert_eq!(h.predict(5), 0);
        h.push(40, 30);
        assert_eq!(h.predict(5), 40);
        // Climbing 10 ms a second: 5 s after the last (100) comes 150.
        let mut h = History::new();
        for v in (10..=100).step_by(10) {
            h.push(v, 30);
        }
        assert_eq!(h.predict(5), 150);
        // Flat stays flat; falling never goes below 1.
        let mut h = History::new();
        for _ in 0..50 {
            h.push(20, 30);
        }
        assert_eq!(h.predict(15), 20);
        let mut h = History::new();
        for v in [50, 40, 30, 20, 10] {
            h.push(v, 30);
        }
        assert_eq!(h.predict(15), 10);
        // Two values are no trend: 100 then 50 is 75, not an extrapolation to 0.
        let mut h = History::new();
        h.push(100, 30);
        h.push(50, 30);
        assert_eq!(h.predict(15), 75);
    }

    #[test]
    fn history_keeps_the_last_past_values() {
        let mut h = History::new();
        // An old spike, then 5 flat seconds: with past=5 only the flat ones count.
        h.push(1000, 5);
        h.push(1000, 5);
        for _ in 0..5 {
            h.push(30, 5);
        }
        assert_eq!(h.predict(2), 30);
        // The order survives the wrap: rising 1..=7 in a ring of 5 keeps 3..=7.
        let mut h = History::new();
        for v in 1..=7 {
            h.push(v * 10, 5);
        }
        assert_eq!(h.predict(1), 80);
    }
}
