//! Response time statistics (Tempesta FW's "APM"): min, average, max and percentiles of the
//! upstream response times over a recent time window, per server and for the whole proxy.
//!
//! A [`Hist`] is a log-linear histogram of milliseconds: values below 16 have a bucket each,
//! above that every power of two is split in 8 buckets, so a reported percentile is within
//! 1/16 (6.25%) of the true value at any scale, recording is O(1) with no allocation, and the
//! memory is fixed (160 counters). Tempesta keeps a ring of samples instead; a histogram gives
//! the same figures at a bounded cost whatever the request rate.
//!
//! A [`Window`] keeps [`SLICES`] histograms of [`SLICE_MS`] each: the summary covers the last
//! 45 to 60 seconds, so the figures follow a change of the upstreams' behaviour within a
//! minute without jumping between empty and full slices. (Tempesta's `apm_stats window=`
//! default is shorter; a minute makes more sense for figures people read from /proc.)

/// Percentiles reported, as Tempesta's perfstat lists them.
pub const PERCENTILES: [u32; 5] = [50, 75, 90, 95, 99];

/// Values below this have a bucket each.
const LINEAR: usize = 16;
/// Buckets per power of two above [`LINEAR`].
const SUB: usize = 8;
/// `SUB - 1`.
const SUB_MASK: u64 = 7;
/// Powers of two covered above [`LINEAR`]: up to 2^22 ms (70 minutes); larger values count
/// in the last bucket (and still in min/max/avg exactly).
const OCTAVES: usize = 18;
/// Number of buckets.
pub const BUCKETS: usize = LINEAR + SUB * OCTAVES;

/// Slices of a [`Window`].
pub const SLICES: usize = 4;
/// Length of a slice, ms.
pub const SLICE_MS: u64 = 15_000;

fn bucket(v: u64) -> usize {
    if v < LINEAR as u64 {
        return v as usize;
    }
    let k = 63u32.saturating_sub(v.leading_zeros()); // 4.. for v >= 16
    let sub = (v >> k.saturating_sub(3)) & SUB_MASK;
    let octave = (k as usize).saturating_sub(4).min(OCTAVES - 1);
    let i = LINEAR
        .saturating_add(octave.saturating_mul(SUB))
        .saturating_add(sub as usize);
    if k as usize >= 4 + OCTAVES {
        BUCKETS - 1
    } else {
        i
    }
}

/// The middle of bucket `i` (what a percentile in it is reported as).
fn value_of(i: usize) -> u64 {
    if i < LINEAR {
        return i as u64;
    }
    let j = i.saturating_sub(LINEAR);
    let k = (j / SUB).saturating_add(4) as u32;
    let sub = (j % SUB) as u64;
    let width = 1u64 << k.saturating_sub(3);
    let low = (1u64 << k).saturating_add(sub.saturating_mul(width));
    low.saturating_add(width / 2)
}

/// A histogram of response times in milliseconds.
#[derive(Clone)]
pub struct Hist {
    counts: [u32; BUCKETS],
    n: u64,
    sum: u64,
    min: u64,
    max: u64,
}

/// What a histogram says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Number of samples.
    pub n: u64,
    /// Smallest, ms.
    pub min: u64,
    /// Mean, ms (rounded down).
    pub avg: u64,
    /// Largest, ms.
    pub max: u64,
    /// The [`PERCENTILES`], ms.
    pub pct: [u64; PERCENTILES.len()],
}

impl Default for Hist {
    fn default() -> Self {
        Self::new()
    }
}

impl Hist {
    /// No samples.
    pub const fn new() -> Self {
        Hist {
            counts: [0; BUCKETS],
            n: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// Adds one sample.
    pub fn record(&mut self, ms: u64) {
        if let Some(c) = self.counts.get_mut(bucket(ms)) {
            *c = c.saturating_add(1);
        }
        self.n = self.n.saturating_add(1);
        self.sum = self.sum.saturating_add(ms);
        self.min = self.min.min(ms);
        self.max = self.max.max(ms);
    }

    /// Adds the samples of `other`.
    pub fn merge(&mut self, other: &Hist) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a = a.saturating_add(*b);
        }
        self.n = self.n.saturating_add(other.n);
        self.sum = self.sum.saturating_add(other.sum);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Forgets every sample (in place: no histogram-sized temporary).
    pub fn clear(&mut self) {
        self.counts.fill(0);
        self.n = 0;
        self.sum = 0;
        self.min = u64::MAX;
        self.max = 0;
    }

    /// Min, average, max and percentiles; all zero without samples. A percentile p is the
    /// smallest recorded value v such that at least p% of the samples are <= v, reported as
    /// the middle of its bucket and kept within [min, max].
    pub fn summary(&self) -> Summary {
        if self.n == 0 {
            return Summary::default();
        }
        let mut s = Summary {
            n: self.n,
            min: self.min,
            avg: self.sum.checked_div(self.n).unwrap_or(0),
            max: self.max,
            pct: [0; PERCENTILES.len()],
        };
        for (out, &p) in s.pct.iter_mut().zip(PERCENTILES.iter()) {
            // ceil(n * p / 100), at least 1.
            let rank = self
                .n
                .saturating_mul(u64::from(p))
                .saturating_add(99)
                .checked_div(100)
                .unwrap_or(0)
                .max(1);
            let mut seen = 0u64;
            for (i, &c) in self.counts.iter().enumerate() {
                seen = seen.saturating_add(u64::from(c));
                if seen >= rank {
                    *out = value_of(i).clamp(self.min, self.max);
                    break;
                }
            }
        }
        s
    }
}

/// Response times over the last minute: [`SLICES`] histograms of [`SLICE_MS`] each.
#[derive(Clone, Default)]
pub struct Window {
    slices: [Hist; SLICES],
    /// The slice number (time / SLICE_MS) each histogram holds.
    epoch: [u64; SLICES],
}

impl Window {
    /// Empty.
    pub fn new() -> Self {
        Window::default()
    }

    /// Forgets every sample, in place (a `Window` in memory that holds any integers, zeros
    /// for one, becomes an empty one without a `Window`-sized temporary on the stack).
    pub fn clear(&mut self) {
        for h in self.slices.iter_mut() {
            h.clear();
        }
        self.epoch.fill(0);
    }

    fn slot(&mut self, now_ms: u64) -> Option<&mut Hist> {
        let e = now_ms / SLICE_MS;
        let i = e.checked_rem(SLICES as u64).unwrap_or(0) as usize;
        let (h, ep) = (self.slices.get_mut(i)?, self.epoch.get_mut(i)?);
        if *ep != e {
            h.clear();
            *ep = e;
        }
        Some(h)
    }

    /// Adds a response time `ms` observed at `now_ms` (a monotonic clock).
    pub fn record(&mut self, now_ms: u64, ms: u64) {
        if let Some(h) = self.slot(now_ms) {
            h.record(ms);
        }
    }

    /// The samples of the slices that are still inside the window at `now_ms`.
    pub fn summary(&self, now_ms: u64) -> Summary {
        let e = now_ms / SLICE_MS;
        let mut all = Hist::new();
        for (h, &ep) in self.slices.iter().zip(self.epoch.iter()) {
            if ep <= e && e.saturating_sub(ep) < SLICES as u64 && h.n > 0 {
                all.merge(h);
            }
        }
        all.summary()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut last = 0;
        for v in 0..(1u64 << 23) {
            let b = bucket(v);
            assert!(b >= last && b < BUCKETS, "v={v} b={b}");
            last = b;
            if v < (1 << 22) {
                let mid = value_of(b);
                let err = mid.abs_diff(v) as f64 / (v.max(1)) as f64;
                assert!(err <= 1.0 / 16.0 + 1e-9, "v={v} mid={mid}");
            }
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn cleared_window_is_empty_even_from_zeroed_memory() {
        let mut w = Window::new();
        for t in 0..100u64 {
            w.record(t * 100, t % 7 + 1);
        }
        assert_ne!(w.summary(9_000), Summary::default());
        w.clear();
        assert_eq!(w.summary(9_000), Summary::default());
        // What the module does: all-zero memory, then clear, then use.
        // SAFETY: Window is integers only; all-zero bytes are a valid value.
        let mut z: Window = unsafe { core::mem::zeroed() };
        z.clear();
        let mut fresh = Window::new();
        for (t, v) in [(10u64, 3u64), (20, 9), (1_500, 1)] {
            z.record(t, v);
            fresh.record(t, v);
        }
        assert_eq!(z.summary(2_000), fresh.summary(2_000));
    }

    #[test]
    fn exact_for_small_values() {
        let mut h = Hist::new();
        for v in 1..=10 {
            h.record(v);
        }
        let s = h.summary();
        assert_eq!((s.n, s.min, s.avg, s.max), (10, 1, 5, 10));
        assert_eq!(s.pct, [5, 8, 9, 10, 10]);
        assert_eq!(Hist::new().summary(), Summary::default());
    }

    #[test]
    fn percentiles_within_resolution() {
        let mut h = Hist::new();
        // 90 fast responses around 20 ms and 10 slow ones at 1000 ms.
        for i in 0..90 {
            h.record(18 + i % 5);
        }
        for _ in 0..10 {
            h.record(1000);
        }
        let s = h.summary();
        assert!((18..=23).contains(&s.pct[0]), "{s:?}");
        assert!((18..=23).contains(&s.pct[2]), "{s:?}");
        assert!((940..=1000).contains(&s.pct[3]), "{s:?}");
        assert_eq!(s.max, 1000);
        assert_eq!(s.min, 18);
        assert!((940..=1000).contains(&s.pct[4]), "{s:?}");
        let mut one = Hist::new();
        one.record(1000);
        assert_eq!(one.summary().pct, [1000; 5]); // clamped to [min, max]
    }

    #[test]
    fn window_forgets_old_slices() {
        let mut w = Window::new();
        w.record(1_000, 100);
        w.record(16_000, 200);
        assert_eq!(w.summary(16_000).n, 2);
        assert_eq!(w.summary(59_999).n, 2);
        // At 60 s the slice of t=1 s (epoch 0) has left the window.
        let s = w.summary(60_000);
        assert_eq!((s.n, s.min), (1, 200));
        // Recording in a reused slot clears it first.
        w.record(61_000, 5);
        let s = w.summary(61_000);
        assert_eq!((s.n, s.min, s.max), (2, 5, 200));
        assert_eq!(w.summary(1_000_000).n, 0);
        // A clock going backwards does not panic and ignores "future" slices.
        assert_eq!(w.summary(0).n, 0);
    }

    #[test]
    fn merge_and_saturation() {
        let mut a = Hist::new();
        let mut b = Hist::new();
        a.record(u64::MAX);
        b.record(u64::MAX);
        a.merge(&b);
        let s = a.summary();
        assert_eq!(s.max, u64::MAX);
        assert_eq!(s.n, 2);
    }
}
