//! Frang's event accounting: a sliding window of [`SLOTS`] slots over a time frame.
//!
//! Frang cuts its time frame (one second for the rates) into 8 slots. A *burst* limit caps the
//! events of the current slot (1/8 of the frame), a *rate* limit the sum of the 8 slots, so a
//! client cannot spend a whole second's budget in one 125 ms spike, nor keep a sustained rate
//! by spreading it.
//!
//! Unlike Tempesta, which keeps a timestamp per slot and sums the slots still inside the
//! frame, a [`Window`] keeps one tick (the time of its newest slot) and shifts the slots as
//! time advances: the same numbers, 40 bytes instead of 96, and no slot to test against the
//! frame. The caller passes the time in: the crate never reads a clock.

/// Slots per frame, as in Tempesta (`FRANG_FREQ`).
pub const SLOTS: usize = 8;

/// The length of a time frame, at least [`SLOTS`] milliseconds (one per slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Frame(u32);

impl Frame {
    /// Frang's frame for the request, connection and TLS rates.
    pub const SECOND: Self = Self(1000);

    /// A frame of `ms` milliseconds, raised to [`SLOTS`] if shorter (a zero-length slot would
    /// make every event a new slot).
    pub const fn from_ms(ms: u32) -> Self {
        if ms < SLOTS as u32 {
            Self(SLOTS as u32)
        } else {
            Self(ms)
        }
    }

    /// A frame of `secs` seconds (`http_resp_code_block`'s period), saturating.
    pub const fn from_secs(secs: u32) -> Self {
        Self::from_ms(secs.saturating_mul(1000))
    }

    /// The length in milliseconds.
    pub const fn ms(self) -> u32 {
        self.0
    }

    /// The slot number of `now_ms`: how many slot lengths have passed since time 0.
    fn tick(self, now_ms: u64) -> u64 {
        // `now * 8 / frame` rather than `now / (frame / 8)`: exact for frames that are not a
        // multiple of 8. Saturates after 73 million years of uptime.
        now_ms
            .saturating_mul(SLOTS as u64)
            .checked_div(u64::from(self.0))
            .unwrap_or(0)
    }
}

impl Default for Frame {
    fn default() -> Self {
        Self::SECOND
    }
}

/// What a window holds after an event: the two numbers frang compares with its limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rate {
    /// Events in the whole frame (the current slot and the 7 before it).
    pub rate: u32,
    /// Events in the current slot.
    pub burst: u32,
}

impl Rate {
    /// Whether `rate` or `burst` is over its limit; a limit of 0 is "unlimited", as in frang.
    /// "Over" is strict, as in Tempesta: a limit of 5 lets 5 events through and refuses the 6th.
    pub const fn exceeds(self, rate_limit: u32, burst_limit: u32) -> Option<RateKind> {
        if burst_limit != 0 && self.burst > burst_limit {
            Some(RateKind::Burst)
        } else if rate_limit != 0 && self.rate > rate_limit {
            Some(RateKind::Rate)
        } else {
            None
        }
    }
}

/// Which of a window's limits was exceeded. Burst is reported first: it is the narrower one,
/// and Tempesta checks it first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateKind {
    /// The current slot's count.
    Burst,
    /// The frame's count.
    Rate,
}

/// Event counts of the last [`SLOTS`] slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Slot number (see [`Frame`]) of `slots[0]`; `slots[i]` is slot `tick - i`.
    tick: u64,
    /// Saturating counts, newest first.
    slots: [u32; SLOTS],
}

impl Window {
    /// A window with no events.
    pub const NEW: Self = Self {
        tick: 0,
        slots: [0; SLOTS],
    };

    /// Moves the window to slot `tick`, forgetting the slots that fell out of the frame.
    /// Constant time: at most [`SLOTS`] slots are shifted, whatever the idle gap. A `tick`
    /// older than the window's (the clock went back, or the frame was reconfigured shorter)
    /// counts in the current slot: never a panic, and never a way to escape the counts.
    fn advance(&mut self, tick: u64) {
        let Some(gap) = tick.checked_sub(self.tick) else {
            return;
        };
        if gap == 0 {
            return;
        }
        match usize::try_from(gap) {
            Ok(g) if g < SLOTS => {
                self.slots.rotate_right(g);
                for s in self.slots.iter_mut().take(g) {
                    *s = 0;
                }
            }
            _ => self.slots = [0; SLOTS],
        }
        self.tick = tick;
    }

    /// Counts one event at `now_ms` and returns the counts including it.
    pub fn hit(&mut self, frame: Frame, now_ms: u64) -> Rate {
        self.add(frame, now_ms, 1)
    }

    /// Counts `n` events at `now_ms` (0 just moves the window) and returns the counts.
    pub fn add(&mut self, frame: Frame, now_ms: u64, n: u32) -> Rate {
        self.advance(frame.tick(now_ms));
        if let Some(cur) = self.slots.first_mut() {
            *cur = cur.saturating_add(n);
        }
        self.counts()
    }

    /// The counts at `now_ms` without recording anything.
    pub fn peek(&self, frame: Frame, now_ms: u64) -> Rate {
        let mut w = *self;
        w.advance(frame.tick(now_ms));
        w.counts()
    }

    fn counts(&self) -> Rate {
        Rate {
            rate: self
                .slots
                .iter()
                .fold(0u32, |acc, &c| acc.saturating_add(c)),
            burst: self.slots.first().copied().unwrap_or(0),
        }
    }
}

impl Default for Window {
    fn default() -> Self {
        Self::NEW
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: Frame = Frame::SECOND; // 125 ms slots

    #[test]
    fn burst_is_per_slot_rate_is_per_frame() {
        let mut w = Window::NEW;
        assert_eq!(w.hit(F, 0), Rate { rate: 1, burst: 1 });
        assert_eq!(w.hit(F, 124), Rate { rate: 2, burst: 2 });
        // Next slot: burst restarts, rate keeps the previous slot.
        assert_eq!(w.hit(F, 125), Rate { rate: 3, burst: 1 });
        assert_eq!(w.hit(F, 999), Rate { rate: 4, burst: 1 });
    }

    #[test]
    fn old_slots_leave_the_frame() {
        let mut w = Window::NEW;
        for t in 0..8u64 {
            w.hit(F, t * 125);
        }
        assert_eq!(w.peek(F, 875), Rate { rate: 8, burst: 1 });
        // At 1000 ms slot 0 (0..125 ms) is out of the frame.
        assert_eq!(w.peek(F, 1000), Rate { rate: 7, burst: 0 });
        assert_eq!(w.peek(F, 1000 + 3 * 125), Rate { rate: 4, burst: 0 });
        assert_eq!(w.hit(F, 1000 + 6 * 125), Rate { rate: 2, burst: 1 });
    }

    #[test]
    fn long_idle_gap_clears_everything() {
        let mut w = Window::NEW;
        for _ in 0..100 {
            w.hit(F, 5_000);
        }
        assert_eq!(w.peek(F, 5_999).rate, 100);
        assert_eq!(w.peek(F, 6_000).rate, 0);
        assert_eq!(w.hit(F, 3_600_000), Rate { rate: 1, burst: 1 });
        assert_eq!(w.hit(F, u64::MAX), Rate { rate: 1, burst: 1 });
        assert_eq!(w.hit(F, u64::MAX), Rate { rate: 2, burst: 2 });
    }

    #[test]
    fn clock_going_back_counts_in_current_slot() {
        let mut w = Window::NEW;
        w.hit(F, 10_000);
        assert_eq!(w.hit(F, 9_000), Rate { rate: 2, burst: 2 });
        assert_eq!(w.hit(F, 0), Rate { rate: 3, burst: 3 });
        // Time moves on from the newest slot seen, not from the stale one.
        assert_eq!(w.hit(F, 10_125), Rate { rate: 4, burst: 1 });
    }

    #[test]
    fn peek_does_not_record() {
        let mut w = Window::NEW;
        w.hit(F, 0);
        let before = w;
        assert_eq!(w.peek(F, 500), Rate { rate: 1, burst: 0 });
        assert_eq!(w, before);
        assert_eq!(w.add(F, 0, 0), Rate { rate: 1, burst: 1 });
    }

    #[test]
    fn counts_saturate() {
        let mut w = Window::NEW;
        w.add(F, 0, u32::MAX);
        assert_eq!(w.hit(F, 0).burst, u32::MAX);
        assert_eq!(w.hit(F, 125).rate, u32::MAX);
    }

    #[test]
    fn frame_length() {
        assert_eq!(Frame::from_ms(0).ms(), 8);
        assert_eq!(Frame::from_secs(2).ms(), 2000);
        assert_eq!(Frame::from_secs(u32::MAX).ms(), u32::MAX);
        // A 10 s frame: 1250 ms slots.
        let f = Frame::from_secs(10);
        let mut w = Window::NEW;
        w.hit(f, 0);
        assert_eq!(w.hit(f, 1249), Rate { rate: 2, burst: 2 });
        assert_eq!(w.hit(f, 1250), Rate { rate: 3, burst: 1 });
        assert_eq!(w.peek(f, 9_999).rate, 3);
        assert_eq!(w.peek(f, 10_000).rate, 1);
        // An odd frame (not a multiple of 8) still has 8 slots over the frame.
        let f = Frame::from_ms(100);
        let mut w = Window::NEW;
        for t in 0..100u64 {
            w.hit(f, t);
        }
        assert_eq!(w.peek(f, 99).rate, 100);
        assert_eq!(w.peek(f, 199).rate, 0);
    }

    #[test]
    fn limits_are_strict_and_zero_is_unlimited() {
        let r = Rate { rate: 10, burst: 3 };
        assert_eq!(r.exceeds(10, 3), None);
        assert_eq!(r.exceeds(9, 3), Some(RateKind::Rate));
        assert_eq!(r.exceeds(10, 2), Some(RateKind::Burst));
        assert_eq!(r.exceeds(1, 1), Some(RateKind::Burst));
        assert_eq!(r.exceeds(0, 0), None);
    }
}
