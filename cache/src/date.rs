//! HTTP-date (RFC 9110 section 5.6.7): parsing the three formats a recipient must accept and
//! formatting the one a sender must generate.
//!
//! Times are whole seconds since the Unix epoch (`u64`), the unit of every time in this crate:
//! cache arithmetic needs no finer resolution (HTTP-dates have none) and the kernel has no FPU.
//! Dates before 1970 parse to 0: for the cache they only mean "long ago" (an Expires in 1960 is
//! expired, a Last-Modified in 1960 is older than anything). Years are limited to 4 digits, the
//! grammar's, so every conversion stays far inside `u64`.

use super::fields::trim;

/// Length of an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const DATE_LEN: usize = 29;

/// 9999-12-31T23:59:59Z, the last time an IMF-fixdate can represent.
pub const MAX_TIME: u64 = 253_402_300_799;

const SHORT_DAYS: [&[u8]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
const LONG_DAYS: [&[u8]; 7] = [
    b"Sunday",
    b"Monday",
    b"Tuesday",
    b"Wednesday",
    b"Thursday",
    b"Friday",
    b"Saturday",
];
const MONTHS: [&[u8]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Parses an HTTP-date in any of the three formats of RFC 9110 section 5.6.7:
///
/// * IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`
/// * obsolete RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT`
/// * obsolete asctime: `Sun Nov  6 08:49:37 1994`
///
/// `None` when the value is not a valid date; what that means is the caller's field's rule
/// (an invalid Expires is "already expired", RFC 9111 section 5.3; an invalid
/// If-Modified-Since is ignored, RFC 9110 section 13.1.3). Surrounding whitespace is ignored;
/// day and month names are matched case-insensitively (RFC 9110 encourages robustness in
/// parsing timestamps); the weekday must be a valid name but is not checked against the date,
/// as no cache decision depends on it. Calendar validity is checked (no 31 April, 29 February
/// only in leap years); a leap second `:60` is accepted as the grammar allows.
///
/// Two-digit RFC 850 years: 70-99 are 19xx and 00-69 are 20xx. RFC 9110 asks for "the most
/// recent year in the past that had the same last two digits" when the year looks more than
/// 50 years in the future, which needs the current time; the fixed pivot gives the same answer
/// for every date this obsolete format is still seen with.
pub fn parse_http_date(v: &[u8]) -> Option<u64> {
    let v = trim(v);
    let name_len = v.iter().position(|b| !b.is_ascii_alphabetic())?;
    let (name, rest) = v.split_at_checked(name_len)?;
    let mut c = Cursor(rest);
    let (day, month, year, secs) = if rest.first() == Some(&b' ') {
        // asctime-date = day-name SP date3 SP time-of-day SP year
        day_index(name, &SHORT_DAYS)?;
        c.lit(b" ")?;
        let month = c.month()?;
        c.lit(b" ")?;
        let day = if c.0.first() == Some(&b' ') {
            c.lit(b" ")?;
            c.digits(1)?
        } else {
            c.digits(2)?
        };
        c.lit(b" ")?;
        let secs = c.time()?;
        c.lit(b" ")?;
        (day, month, c.digits(4)?, secs)
    } else if name_len == 3 {
        // IMF-fixdate = day-name "," SP date1 SP time-of-day SP GMT
        day_index(name, &SHORT_DAYS)?;
        c.lit(b", ")?;
        let day = c.digits(2)?;
        c.lit(b" ")?;
        let month = c.month()?;
        c.lit(b" ")?;
        let year = c.digits(4)?;
        c.lit(b" ")?;
        let secs = c.time()?;
        c.gmt()?;
        (day, month, year, secs)
    } else {
        // rfc850-date = day-name-l "," SP date2 SP time-of-day SP GMT
        day_index(name, &LONG_DAYS)?;
        c.lit(b", ")?;
        let day = c.digits(2)?;
        c.lit(b"-")?;
        let month = c.month()?;
        c.lit(b"-")?;
        let yy = c.digits(2)?;
        let year = if yy < 70 {
            yy.checked_add(2000)?
        } else {
            yy.checked_add(1900)?
        };
        c.lit(b" ")?;
        let secs = c.time()?;
        c.gmt()?;
        (day, month, year, secs)
    };
    if !c.0.is_empty() || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if year < 1970 {
        return Some(0);
    }
    days_from_civil(year, month, day)?
        .checked_mul(86_400)?
        .checked_add(secs)
}

/// Writes `t` (seconds since the epoch) as an IMF-fixdate, the only format a sender may
/// generate (RFC 9110 section 5.6.7). Times past [`MAX_TIME`] are written as `MAX_TIME`.
pub fn format_http_date(t: u64, out: &mut [u8; DATE_LEN]) {
    let t = t.min(MAX_TIME);
    let days = t / 86_400;
    let secs = t % 86_400;
    let (y, m, d) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let wd = SHORT_DAYS
        .get((days.saturating_add(4) % 7) as usize)
        .copied();
    let [w0, w1, w2] = name3(wd);
    let [m0, m1, m2] = name3(MONTHS.get((m as usize).saturating_sub(1)).copied());
    let (h, mi, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    *out = [
        w0,
        w1,
        w2,
        b',',
        b' ',
        digit(d / 10),
        digit(d),
        b' ',
        m0,
        m1,
        m2,
        b' ',
        digit(y / 1000),
        digit(y / 100),
        digit(y / 10),
        digit(y),
        b' ',
        digit(h / 10),
        digit(h),
        b':',
        digit(mi / 10),
        digit(mi),
        b':',
        digit(s / 10),
        digit(s),
        b' ',
        b'G',
        b'M',
        b'T',
    ];
}

/// The last decimal digit of `n` as ASCII (`0x30 | n` is `0x30 + n` for `n < 10`).
fn digit(n: u64) -> u8 {
    b'0' | (n % 10) as u8
}

fn name3(name: Option<&[u8]>) -> [u8; 3] {
    match name {
        Some(&[a, b, c]) => [a, b, c],
        _ => *b"???",
    }
}

fn day_index(name: &[u8], names: &[&[u8]; 7]) -> Option<usize> {
    names.iter().position(|n| n.eq_ignore_ascii_case(name))
}

const fn is_leap(y: u64) -> bool {
    let (r4, r100, r400) = (y % 4, y % 100, y % 400);
    r4 == 0 && (r100 != 0 || r400 == 0)
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days from 1970-01-01 to `y-m-d` (`y >= 1970`, valid month), by H. Hinnant's
/// `days_from_civil`: years start in March so the leap day is last and month lengths follow
/// a linear formula; no table, no loop.
fn days_from_civil(y: u64, m: u64, d: u64) -> Option<u64> {
    let y = if m <= 2 { y.checked_sub(1)? } else { y };
    let (era, yoe) = (y / 400, y % 400);
    let mp = if m > 2 {
        m.checked_sub(3)?
    } else {
        m.checked_add(9)?
    };
    let doy = (mp.checked_mul(153)?.checked_add(2)? / 5).checked_add(d.checked_sub(1)?)?;
    let doe = yoe
        .checked_mul(365)?
        .checked_add(yoe / 4)?
        .checked_sub(yoe / 100)?;
    era.checked_mul(146_097)?
        .checked_add(doe.checked_add(doy)?)?
        .checked_sub(719_468)
}

/// The inverse of [`days_from_civil`] (`days` bounded by [`MAX_TIME`]). Every intermediate
/// is non-negative and small, so the saturating operations never saturate; they only keep
/// the function panic-free by construction.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days.saturating_add(719_468);
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = doe
        .saturating_sub(doe / 1460)
        .saturating_add(doe / 36_524)
        .saturating_sub(doe / 146_096)
        / 365;
    let doy = doe.saturating_sub(
        yoe.saturating_mul(365)
            .saturating_add(yoe / 4)
            .saturating_sub(yoe / 100),
    );
    let mp = doy.saturating_mul(5).saturating_add(2) / 153;
    let d = doy
        .saturating_sub(mp.saturating_mul(153).saturating_add(2) / 5)
        .saturating_add(1);
    let m = if mp < 10 {
        mp.saturating_add(3)
    } else {
        mp.saturating_sub(9)
    };
    let y = yoe
        .saturating_add(era.saturating_mul(400))
        .saturating_add(u64::from(m <= 2));
    (y, m, d)
}

/// A position in the date being parsed.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn lit(&mut self, l: &[u8]) -> Option<()> {
        self.0 = self.0.strip_prefix(l)?;
        Some(())
    }

    /// Exactly `n` decimal digits.
    fn digits(&mut self, n: usize) -> Option<u64> {
        let (d, rest) = self.0.split_at_checked(n)?;
        let mut v: u64 = 0;
        for &b in d {
            if !b.is_ascii_digit() {
                return None;
            }
            v = v.checked_mul(10)?.checked_add(u64::from(b & 0x0f))?;
        }
        self.0 = rest;
        Some(v)
    }

    /// A month name, as 1..=12.
    fn month(&mut self) -> Option<u64> {
        let (name, rest) = self.0.split_at_checked(3)?;
        let i = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(name))?;
        self.0 = rest;
        u64::try_from(i).ok()?.checked_add(1)
    }

    /// `hour ":" minute ":" second` as seconds into the day.
    fn time(&mut self) -> Option<u64> {
        let h = self.digits(2)?;
        self.lit(b":")?;
        let m = self.digits(2)?;
        self.lit(b":")?;
        let s = self.digits(2)?;
        if h > 23 || m > 59 || s > 60 {
            return None;
        }
        h.checked_mul(3600)?
            .checked_add(m.checked_mul(60)?)?
            .checked_add(s)
    }

    fn gmt(&mut self) -> Option<()> {
        let (sp, rest) = self.0.split_at_checked(4)?;
        if !sp.eq_ignore_ascii_case(b" GMT") {
            return None;
        }
        self.0 = rest;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(t: u64) -> String {
        let mut b = [0; DATE_LEN];
        format_http_date(t, &mut b);
        String::from_utf8(b.to_vec()).unwrap()
    }

    fn p(s: &str) -> Option<u64> {
        parse_http_date(s.as_bytes())
    }

    #[test]
    fn rfc9110_three_formats() {
        // RFC 9110 section 5.6.7: the same instant in the three formats.
        assert_eq!(p("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(p("Sunday, 06-Nov-94 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(p("Sun Nov  6 08:49:37 1994"), Some(784_111_777));
        assert_eq!(
            p("Sun Nov 16 08:49:37 1994"),
            Some(784_111_777 + 10 * 86_400)
        );
    }

    #[test]
    fn epoch_and_limits() {
        assert_eq!(p("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(p("Fri, 31 Dec 9999 23:59:59 GMT"), Some(MAX_TIME));
        assert_eq!(p("Wed, 31 Dec 1969 23:59:59 GMT"), Some(0));
        assert_eq!(p("Mon, 01 Jan 0001 00:00:00 GMT"), Some(0));
        assert_eq!(p("Sun, 07 Feb 2106 06:28:16 GMT"), Some(1 << 32));
    }

    #[test]
    fn leap_years_and_calendar() {
        assert!(p("Tue, 29 Feb 2000 00:00:00 GMT").is_some());
        assert_eq!(p("Thu, 29 Feb 1900 00:00:00 GMT"), None);
        assert_eq!(p("Mon, 29 Feb 2100 00:00:00 GMT"), None);
        assert_eq!(p("Thu, 29 Feb 2024 00:00:00 GMT"), Some(1_709_164_800));
        assert_eq!(p("Sat, 31 Apr 2021 00:00:00 GMT"), None);
        assert_eq!(p("Sat, 00 Jan 2021 00:00:00 GMT"), None);
        assert_eq!(p("Sat, 32 Jan 2021 00:00:00 GMT"), None);
    }

    #[test]
    fn rfc850_year_pivot() {
        assert_eq!(p("Thursday, 01-Jan-70 00:00:00 GMT"), Some(0));
        assert_eq!(
            p("Saturday, 01-Jan-00 00:00:00 GMT"),
            p("Sat, 01 Jan 2000 00:00:00 GMT")
        );
        assert_eq!(
            p("Sunday, 31-Dec-69 00:00:00 GMT"),
            p("Sun, 31 Dec 2069 00:00:00 GMT")
        );
        // A short day name is not the RFC 850 form.
        assert_eq!(p("Sun, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(p("Sunday, 06 Nov 1994 08:49:37 GMT"), None);
    }

    #[test]
    fn lenient_where_harmless() {
        assert_eq!(p("  sun, 06 nov 1994 08:49:37 gmt\t"), Some(784_111_777));
        // The weekday is not cross-checked.
        assert_eq!(p("Mon, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        // Leap second.
        assert_eq!(p("Sun, 06 Nov 1994 08:49:60 GMT"), Some(784_111_800));
    }

    #[test]
    fn garbage_is_none() {
        for s in [
            "",
            "0",
            "-1",
            "GMT",
            "Sun",
            "Sun,",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 08:49:37",
            "Sun, 06 Nov 1994 08:49:37 GMT x",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:60:00 GMT",
            "Sun, 06 Nov 1994 08:49:61 GMT",
            "Sun, 06 Nov 1994 8:49:37 GMT",
            "Sun, 06 Nov +994 08:49:37 GMT",
            "Sun Nov 6 08:49:37 1994",
            "Sun Nov  6 08:49:37 94",
            "Sunday Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 GMT\u{e9}",
        ] {
            assert_eq!(p(s), None, "{s:?}");
        }
    }

    #[test]
    fn format_imf_fixdate() {
        assert_eq!(fmt(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(fmt(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(fmt(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(fmt(MAX_TIME), "Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(fmt(u64::MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn format_parse_round_trip() {
        // Every day boundary of four centuries around the epoch-relevant range, plus odd
        // times: format then parse gives the input back.
        let mut t = 0u64;
        while t < 4_200_000_000 {
            let s = fmt(t);
            assert_eq!(p(&s), Some(t), "{s}");
            t += 86_400 * 7 + 3_599;
        }
        for t in [1, 59, 86_399, 86_400, 1 << 31, (1 << 31) - 1, MAX_TIME - 1] {
            assert_eq!(p(&fmt(t)), Some(t));
        }
    }
}
