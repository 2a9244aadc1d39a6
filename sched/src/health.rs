//! Health monitoring of upstream servers: Tempesta FW's `server_failover_http`, `health_check`
//! and `health` directives.
//!
//! A monitored server that gives too many "bad" responses (`server_failover_http <status>
//! <count> <seconds>`: more than `count` responses with `status` within `seconds`) is
//! *suspended*: the scheduler stops choosing it, so clients stop getting those responses from
//! it. Every `timeout` seconds of its monitor (`health_check`), a suspended or not, the server
//! gets the monitor's probe request unless clients asked for the monitor's URL meanwhile; a
//! suspended server comes back once a probe's response is "good" (its status is one of
//! `resp_code`, its body's CRC-32 is `resp_crc32`).
//!
//! Connection failures are not this module's business: a server whose connections are down is
//! already skipped by the scheduler. This is for servers that accept connections and answer
//! errors (an application that lost its database, a misdeployed backend).
//!
//! The module calls [`Health::status`] for each response head from the server,
//! [`Health::probe_done`] when a probe's response ends, and [`Health::due`] from its timer;
//! the state is the caller's, one [`Health`] per server, without allocation.

/// Most `server_failover_http` directives.
pub const MAX_RULES: usize = 16;

/// Buckets of a rule's time frame (Tempesta's `HM_FREQ`): counts older than the frame drop off
/// a tenth of it at a time.
const BUCKETS: usize = 10;

/// `server_failover_http <status> <count> <seconds>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// A status (100-599), or a class written `5*` (stored as 5).
    pub code: u16,
    /// Responses allowed within the frame; one more suspends the server.
    pub limit: u32,
    /// The frame, seconds (at least 1).
    pub secs: u32,
}

impl Rule {
    /// Whether `status` is one this rule counts.
    pub fn matches(&self, status: u16) -> bool {
        covers(self.code, status)
    }
}

/// Whether configured status `code` (100-599, or a class N for `N*`) covers `status`.
pub fn covers(code: u16, status: u16) -> bool {
    code == status || (code < 10 && status / 100 == code)
}

/// Most statuses `health_stat` counts.
pub const MAX_STAT_CODES: usize = 16;

/// Responses counted by status (`health_stat`: Tempesta's "Tempesta health statistics" of
/// `/proc/tempesta/perfstat`): every configured status that covers a response's counts it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatCounts {
    codes: [u16; MAX_STAT_CODES],
    totals: [u64; MAX_STAT_CODES],
    n: usize,
}

impl StatCounts {
    /// Counters for `codes` (those beyond [`MAX_STAT_CODES`] are ignored).
    pub fn new(codes: &[u16]) -> Self {
        let mut s = StatCounts::default();
        for (slot, &c) in s.codes.iter_mut().zip(codes) {
            *slot = c;
            s.n = s.n.saturating_add(1);
        }
        s
    }

    /// Counts a response with `status`.
    pub fn count(&mut self, status: u16) {
        for (c, t) in self.codes.iter().zip(self.totals.iter_mut()).take(self.n) {
            if covers(*c, status) {
                *t = t.saturating_add(1);
            }
        }
    }

    /// `(code, responses)` in the configured order; a class is its digit (Tempesta prints
    /// `HTTP '5' code` for `5*`).
    pub fn iter(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.codes
            .iter()
            .copied()
            .zip(self.totals.iter().copied())
            .take(self.n)
    }

    /// Whether no status is configured.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
}

/// What a probe's response must be for the server to count as alive again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crc {
    /// No body check (`resp_crc32` absent).
    Any,
    /// `resp_crc32 auto`: the first good response's body sets the value the later ones must
    /// have.
    Auto,
    /// `resp_crc32 <hex>`.
    Is(u32),
}

/// A `health_check` monitor's verdict rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Monitor {
    /// `resp_code`: bit `s` set for each good status `s` (0-639); all clear: any status.
    pub codes: [u64; 10],
    /// `resp_crc32`.
    pub crc: Crc,
    /// `timeout`: seconds between probes.
    pub secs: u32,
}

impl Monitor {
    /// Tempesta's built-in `auto` monitor: `GET / HTTP/1.0`, 200 with the body it had the
    /// first time, every 10 s.
    pub const AUTO: Monitor = Monitor {
        // Bit 200: word 3, bit 8.
        codes: [0, 0, 0, 1 << 8, 0, 0, 0, 0, 0, 0],
        crc: Crc::Auto,
        secs: 10,
    };

    /// Adds `status` to the good ones (ignored outside 0-639).
    pub fn allow(&mut self, status: u16) {
        let i = usize::from(status / 64);
        if let Some(w) = self.codes.get_mut(i) {
            *w |= 1 << (status % 64);
        }
    }

    /// Whether `status` is good.
    pub fn good_status(&self, status: u16) -> bool {
        if self.codes.iter().all(|&w| w == 0) {
            return true;
        }
        self.codes
            .get(usize::from(status / 64))
            .is_some_and(|w| w & (1 << (status % 64)) != 0)
    }
}

/// Responses of one rule's status over its frame, in [`BUCKETS`] slices of it. A server has
/// one per rule, which the caller keeps (as many as there are rules, so that the per-server
/// state stays small).
#[derive(Clone, Copy, Debug, Default)]
pub struct Window {
    /// Slice number (time / slice length) each bucket counts.
    at: [u64; BUCKETS],
    n: [u32; BUCKETS],
}

impl Window {
    /// Counts one response at `now_ms`; the count within the frame, this one included.
    fn add(&mut self, now_ms: u64, secs: u32) -> u32 {
        const B: u64 = BUCKETS as u64;
        let slice = (u64::from(secs).saturating_mul(1000) / B).max(1);
        let t = now_ms.checked_div(slice).unwrap_or(0);
        let i = t.checked_rem(B).unwrap_or(0) as usize;
        if let (Some(at), Some(n)) = (self.at.get_mut(i), self.n.get_mut(i)) {
            if *at != t {
                *at = t;
                *n = 0;
            }
            *n = n.saturating_add(1);
        }
        self.at
            .iter()
            .zip(self.n.iter())
            .filter(|(&at, _)| at <= t && t.wrapping_sub(at) < B)
            .fold(0u32, |s, (_, &n)| s.saturating_add(n))
    }
}

/// What a response changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Nothing.
    None,
    /// The server is suspended now (a rule's limit was passed).
    Suspended,
    /// The server is back.
    Alive,
}

/// One monitored server's state (besides its [`Window`]s).
#[derive(Clone, Copy, Debug)]
pub struct Health {
    suspended: bool,
    /// The body checksum `resp_crc32 auto` learned.
    learned: Option<u32>,
    /// Client requests for the monitor's URL since the last check.
    requests: u64,
    /// The next check, ms.
    next_ms: u64,
}

impl Health {
    /// A server monitored from `now_ms`, first checked one period later.
    pub fn new(now_ms: u64, mon: &Monitor) -> Self {
        Health {
            suspended: false,
            learned: None,
            requests: 0,
            next_ms: now_ms.saturating_add(period_ms(mon)),
        }
    }

    /// Takes over what a reload must not forget from the same server's previous state: whether
    /// it is suspended, and the checksum `auto` learned (the counts start over).
    pub fn carry_from(&mut self, old: &Health) {
        self.suspended = old.suspended;
        self.learned = old.learned;
    }

    /// Whether the scheduler must skip the server.
    pub fn suspended(&self) -> bool {
        self.suspended
    }

    /// A response with `status` came from the server (a client's or a probe's); `windows` are
    /// the server's, one per rule.
    pub fn status(
        &mut self,
        windows: &mut [Window],
        rules: &[Rule],
        now_ms: u64,
        status: u16,
    ) -> Change {
        let Some((w, r)) = windows
            .iter_mut()
            .zip(rules.iter())
            .find(|(_, r)| r.matches(status))
        else {
            return Change::None;
        };
        if w.add(now_ms, r.secs) > r.limit && !self.suspended {
            self.suspended = true;
            return Change::Suspended;
        }
        Change::None
    }

    /// A client request for the monitor's URL went to the server: the next probe is not
    /// needed.
    pub fn requested(&mut self) {
        self.requests = self.requests.saturating_add(1);
    }

    /// Called from the timer: whether to send a probe now (a period passed and no client asked
    /// for the monitor's URL in it).
    pub fn due(&mut self, now_ms: u64, mon: &Monitor) -> bool {
        if now_ms < self.next_ms {
            return false;
        }
        self.next_ms = now_ms.saturating_add(period_ms(mon));
        let quiet = self.requests == 0;
        self.requests = 0;
        quiet
    }

    /// A probe's response ended with `status` and a body whose CRC-32 is `crc` (`None`: no
    /// body). As in Tempesta FW, an empty body is good unless a checksum is required (given,
    /// or learned), and `auto` learns from the first good non-empty one.
    pub fn probe_done(&mut self, mon: &Monitor, status: u16, crc: Option<u32>) -> Change {
        if !mon.good_status(status) {
            return Change::None;
        }
        let good = match (mon.crc, crc) {
            (Crc::Any, _) => true,
            (Crc::Is(v), c) => c == Some(v),
            (Crc::Auto, None) => self.learned.is_none(),
            (Crc::Auto, Some(c)) => *self.learned.get_or_insert(c) == c,
        };
        if good && self.suspended {
            self.suspended = false;
            return Change::Alive;
        }
        Change::None
    }
}

fn period_ms(mon: &Monitor) -> u64 {
    u64::from(mon.secs.max(1)).saturating_mul(1000)
}

/// CRC-32 (IEEE 802.3, zlib's and the `crc32` utility's) of a body read in pieces: start with
/// `0`, pass each piece with the value so far.
pub fn crc32(crc: u32, bytes: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in bytes {
        let i = usize::from((c as u8) ^ b);
        c = CRC_TABLE.get(i).copied().unwrap_or(0) ^ (c >> 8);
    }
    !c
}

// Evaluated at compile time: an out-of-range index would fail the build, not the kernel.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    const R500: Rule = Rule {
        code: 500,
        limit: 3,
        secs: 10,
    };
    const R4XX: Rule = Rule {
        code: 4,
        limit: 1,
        secs: 1,
    };

    fn mon(crc: Crc) -> Monitor {
        let mut m = Monitor {
            codes: [0; 10],
            crc,
            secs: 2,
        };
        m.allow(200);
        m
    }

    #[test]
    fn stat_counts() {
        let mut s = StatCounts::new(&[3, 4, 404, 5]);
        for st in [200, 301, 404, 404, 403, 502, 503, 101] {
            s.count(st);
        }
        let v: std::vec::Vec<_> = s.iter().collect();
        assert_eq!(v, [(3, 1), (4, 3), (404, 2), (5, 2)]);
        assert!(StatCounts::default().is_empty() && !s.is_empty());
    }

    #[test]
    fn crc32_matches_zlib() {
        assert_eq!(crc32(0, b""), 0);
        assert_eq!(crc32(0, b"123456789"), 0xCBF4_3926);
        let whole = crc32(0, b"hello, world");
        assert_eq!(crc32(crc32(0, b"hello"), b", world"), whole);
    }

    #[test]
    fn suspends_past_the_limit_within_the_frame() {
        let m = mon(Crc::Any);
        let mut h = Health::new(0, &m);
        let mut w = [Window::default(); MAX_RULES];
        let rules = [R500];
        for t in 0..3 {
            assert_eq!(h.status(&mut w, &rules, 1000 + t, 500), Change::None);
        }
        assert_eq!(h.status(&mut w, &rules, 1003, 200), Change::None);
        assert!(!h.suspended());
        assert_eq!(h.status(&mut w, &rules, 1004, 500), Change::Suspended);
        assert!(h.suspended());
        // Once only.
        assert_eq!(h.status(&mut w, &rules, 1005, 500), Change::None);
    }

    #[test]
    fn old_responses_drop_out_of_the_frame() {
        let m = mon(Crc::Any);
        let mut h = Health::new(0, &m);
        let mut w = [Window::default(); MAX_RULES];
        let rules = [R500];
        for i in 0..3u64 {
            assert_eq!(h.status(&mut w, &rules, i * 4000, 500), Change::None);
        }
        // 12 s after the first: it is out of the 10 s frame, so 3 within it.
        assert_eq!(h.status(&mut w, &rules, 12_000, 500), Change::None);
        assert_eq!(h.status(&mut w, &rules, 12_001, 500), Change::Suspended);
    }

    #[test]
    fn class_rules_and_order() {
        assert!(R4XX.matches(404) && R4XX.matches(499) && !R4XX.matches(500));
        let m = mon(Crc::Any);
        let mut h = Health::new(0, &m);
        let mut w = [Window::default(); MAX_RULES];
        let rules = [R500, R4XX];
        assert_eq!(h.status(&mut w, &rules, 0, 403), Change::None);
        assert_eq!(h.status(&mut w, &rules, 10, 404), Change::Suspended);
        // Statuses no rule names change nothing.
        let mut h = Health::new(0, &m);
        let mut w = [Window::default(); MAX_RULES];
        for t in 0..100 {
            assert_eq!(h.status(&mut w, &rules, t, 502), Change::None);
        }
    }

    #[test]
    fn probes_every_period_unless_clients_asked() {
        let m = mon(Crc::Any);
        let mut h = Health::new(0, &m);
        assert!(!h.due(1999, &m));
        assert!(h.due(2000, &m));
        assert!(!h.due(2500, &m));
        h.requested();
        assert!(!h.due(4000, &m));
        assert!(h.due(6000, &m));
    }

    #[test]
    fn a_good_probe_revives() {
        let m = mon(Crc::Is(crc32(0, b"ok")));
        let mut h = Health::new(0, &m);
        let mut w = [Window::default(); MAX_RULES];
        let rules = [R4XX];
        h.status(&mut w, &rules, 0, 404);
        assert_eq!(h.status(&mut w, &rules, 1, 404), Change::Suspended);
        assert_eq!(h.probe_done(&m, 500, Some(crc32(0, b"ok"))), Change::None);
        assert_eq!(h.probe_done(&m, 200, Some(crc32(0, b"no"))), Change::None);
        assert!(h.suspended());
        assert_eq!(h.probe_done(&m, 200, Some(crc32(0, b"ok"))), Change::Alive);
        assert!(!h.suspended());
        assert_eq!(h.probe_done(&m, 200, Some(crc32(0, b"ok"))), Change::None);
    }

    #[test]
    fn auto_crc_learns_the_first_good_body() {
        let m = mon(Crc::Auto);
        let mut h = Health::new(0, &m);
        let mut w = [Window::default(); MAX_RULES];
        assert_eq!(h.probe_done(&m, 200, Some(7)), Change::None);
        let rules = [R4XX];
        h.status(&mut w, &rules, 0, 404);
        h.status(&mut w, &rules, 0, 404);
        assert!(h.suspended());
        assert_eq!(h.probe_done(&m, 200, Some(8)), Change::None);
        assert_eq!(h.probe_done(&m, 200, Some(7)), Change::Alive);
    }

    #[test]
    fn a_reload_keeps_the_suspension() {
        let m = mon(Crc::Auto);
        let mut old = Health::new(0, &m);
        let mut w = [Window::default(); MAX_RULES];
        let rules = [R4XX];
        old.status(&mut w, &rules, 0, 404);
        old.status(&mut w, &rules, 0, 404);
        let mut new = Health::new(5000, &m);
        new.carry_from(&old);
        assert!(new.suspended());
        assert_eq!(new.probe_done(&m, 200, Some(3)), Change::Alive);
    }

    #[test]
    fn empty_bodies() {
        // Good while no checksum is required; `auto` does not learn from one.
        let m = mon(Crc::Auto);
        let mut h = Health::new(0, &m);
        let mut w = [Window::default(); MAX_RULES];
        let rules = [R4XX];
        h.status(&mut w, &rules, 0, 404);
        h.status(&mut w, &rules, 0, 404);
        assert_eq!(h.probe_done(&m, 200, None), Change::Alive);
        h.status(&mut w, &rules, 0, 404);
        assert!(h.suspended());
        assert_eq!(h.probe_done(&m, 200, Some(5)), Change::Alive);
        h.status(&mut w, &rules, 0, 404);
        assert_eq!(h.probe_done(&m, 200, None), Change::None);
        let m = mon(Crc::Is(0));
        assert_eq!(h.probe_done(&m, 200, None), Change::None);
    }

    #[test]
    fn auto_monitor_and_any_status() {
        assert!(Monitor::AUTO.good_status(200) && !Monitor::AUTO.good_status(204));
        let any = Monitor {
            codes: [0; 10],
            crc: Crc::Is(1),
            secs: 1,
        };
        assert!(any.good_status(503));
    }
}
