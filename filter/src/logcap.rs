//! A global cap on the firewall's log lines.
//!
//! Each client is logged at most once per period (`ClientTable::should_log`), but that alone
//! lets a flood from many addresses write one line per address per period: a botnet of 10,000
//! addresses would fill the kernel log as fast as it can send. [`LogBudget`] is a token bucket
//! over all clients: `burst` lines at once, then `per_sec` lines a second, the rest counted as
//! suppressed so the operator still sees how much was not written.

/// A token bucket of log lines; the caller passes the time in (milliseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogBudget {
    burst: u32,
    per_sec: u32,
    /// Whole lines available now.
    tokens: u32,
    /// When the bucket was last refilled (ms); tokens accrue from here.
    refilled_ms: u64,
    suppressed: u64,
}

impl LogBudget {
    /// The firewall's default: 10 lines at once, 10 a second after that.
    pub const DEFAULT: Self = Self::new(10, 10);

    /// A full bucket of `burst` lines refilled at `per_sec` lines a second (`per_sec` 0: the
    /// burst only, never refilled).
    pub const fn new(burst: u32, per_sec: u32) -> Self {
        Self {
            burst,
            per_sec,
            tokens: burst,
            refilled_ms: 0,
            suppressed: 0,
        }
    }

    /// Whether a line may be written at `now_ms`; takes a token when it may, counts a
    /// suppressed line when not. A clock that goes back refills nothing.
    pub fn allow(&mut self, now_ms: u64) -> bool {
        self.refill(now_ms);
        match self.tokens.checked_sub(1) {
            Some(left) => {
                self.tokens = left;
                true
            }
            None => {
                self.suppressed = self.suppressed.saturating_add(1);
                false
            }
        }
    }

    /// Lines refused so far.
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }

    fn refill(&mut self, now_ms: u64) {
        if self.per_sec == 0 || now_ms <= self.refilled_ms {
            return;
        }
        let elapsed = now_ms.saturating_sub(self.refilled_ms);
        // Milliseconds per token, at least 1: tokens are only added whole, and the time they
        // took is the only time consumed, so a steady trickle of calls loses nothing.
        let ms_per = 1000u64
            .checked_div(u64::from(self.per_sec))
            .unwrap_or(1)
            .max(1);
        let new = elapsed.checked_div(ms_per).unwrap_or(0);
        if new == 0 {
            return;
        }
        let room = u64::from(self.burst.saturating_sub(self.tokens));
        if new >= room {
            self.tokens = self.burst;
            self.refilled_ms = now_ms;
        } else {
            // new < room <= u32::MAX.
            self.tokens = self.tokens.saturating_add(new as u32);
            self.refilled_ms = self.refilled_ms.saturating_add(new.saturating_mul(ms_per));
        }
    }
}

impl Default for LogBudget {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let mut b = LogBudget::new(3, 10);
        let t0 = 5_000;
        assert!(b.allow(t0) && b.allow(t0) && b.allow(t0));
        assert!(!b.allow(t0));
        assert!(!b.allow(t0 + 99)); // a token takes 100 ms
        assert!(b.allow(t0 + 100));
        assert!(!b.allow(t0 + 150));
        assert_eq!(b.suppressed(), 3);
    }

    #[test]
    fn refill_stops_at_burst() {
        let mut b = LogBudget::new(2, 10);
        assert!(b.allow(1_000) && b.allow(1_000));
        // A long quiet spell gives the burst back, not more.
        let t = 1_000_000;
        assert!(b.allow(t) && b.allow(t));
        assert!(!b.allow(t));
    }

    #[test]
    fn flood_of_many_clients_is_capped() {
        // 10,000 refusals spread over 2 s: at most burst + 2 s worth of lines.
        let mut b = LogBudget::DEFAULT;
        let written = (0..10_000u64).filter(|i| b.allow(10_000 + i / 5)).count();
        assert!(written <= 10 + 20, "{written}");
        assert!(written >= 20, "{written}");
        assert_eq!(b.suppressed(), 10_000 - written as u64);
    }

    #[test]
    fn clock_going_back_refills_nothing() {
        let mut b = LogBudget::new(1, 1);
        assert!(b.allow(10_000));
        assert!(!b.allow(5_000));
        assert!(!b.allow(10_999));
        assert!(b.allow(11_000));
    }

    #[test]
    fn zero_rate_is_burst_only() {
        let mut b = LogBudget::new(1, 0);
        assert!(b.allow(0));
        assert!(!b.allow(u64::MAX));
    }
}
