//! Calendar arithmetic and the date formats wwz reads and writes: MS-DOS
//! times in zip headers, HTTP dates (Last-Modified, If-Modified-Since), and
//! the UTC timestamps of listings and `wwz ls`. One place, so every front
//! and tool agrees on what an archive's time means.
//!
//! All times are Unix seconds in UTC; archives can claim any time, so every
//! conversion clamps instead of panicking.

use std::time::SystemTime;

/// MS-DOS date and time (2-second resolution, no zone) as Unix seconds, read as UTC.
pub fn dos_to_unix(date: u16, time: u16) -> i64 {
    let year = 1980 + i64::from(date >> 9);
    let month = i64::from((date >> 5) & 0xf).clamp(1, 12);
    let day = i64::from(date & 0x1f).max(1);
    let hour = i64::from(time >> 11).min(23);
    let minute = i64::from((time >> 5) & 0x3f).min(59);
    let second = (i64::from(time & 0x1f) * 2).min(59);
    days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds as MS-DOS `(date, time)`, read as UTC, clamped to the DOS range
/// (1980-01-01 to 2107-12-31); odd seconds round down.
pub fn unix_to_dos(secs: i64) -> (u16, u16) {
    let min = days_from_civil(1980, 1, 1) * 86_400;
    let max = days_from_civil(2107, 12, 31) * 86_400 + 86_399;
    let secs = secs.clamp(min, max);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    // In range by the clamp above: year - 1980 < 128, month ≤ 12, day ≤ 31.
    let date = ((year - 1980) << 9) | (month << 5) | day;
    let time = ((rem / 3600) << 11) | (((rem / 60) % 60) << 5) | ((rem % 60) / 2);
    (date as u16, time as u16)
}

/// The proleptic Gregorian `(year, month, day)` of a day count since 1970-01-01
/// (the inverse of [`days_from_civil`]).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `t` as Unix seconds (negative before 1970), saturating.
pub fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// Appends an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7),
/// by hand: it runs for every response, allocates nothing, and costs a
/// fraction of `httpdate`'s `Display` (the test checks both agree). Times
/// outside 1970..=9999 are clamped: an archive can claim any time.
pub fn push_http_date(out: &mut Vec<u8>, t: SystemTime) {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    let secs = unix_seconds(t).clamp(0, MAX);
    let (year, month, day, hour, minute, second) = civil(secs);
    let digits = |n: i64| [b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8];
    let weekday = usize::try_from(secs / 86_400 % 7).unwrap_or(0);
    let month = usize::try_from(month - 1).unwrap_or(0);
    out.extend_from_slice(DAYS.get(weekday).map_or(b"Thu", |d| *d));
    out.extend_from_slice(b", ");
    out.extend_from_slice(&digits(day));
    out.push(b' ');
    out.extend_from_slice(MONTHS.get(month).map_or(b"Jan", |m| *m));
    out.push(b' ');
    out.extend_from_slice(&digits(year / 100));
    out.extend_from_slice(&digits(year));
    out.push(b' ');
    out.extend_from_slice(&digits(hour));
    out.push(b':');
    out.extend_from_slice(&digits(minute));
    out.push(b':');
    out.extend_from_slice(&digits(second));
    out.extend_from_slice(b" GMT");
}

/// An HTTP date (any of the three formats of RFC 9110 §5.6.7), surrounding
/// whitespace ignored; `None` when malformed.
pub fn parse_http_date(b: &[u8]) -> Option<SystemTime> {
    let s = std::str::from_utf8(b.trim_ascii()).ok()?;
    httpdate::parse_http_date(s).ok()
}

/// (year, month, day, hour, minute, second) in UTC.
fn civil(t: i64) -> (i64, i64, i64, i64, i64, i64) {
    let secs = t.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(t.div_euclid(86_400));
    (year, month, day, secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, UTC).
pub fn iso8601(t: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Unix seconds as `YYYY-MM-DD HH:MM` (UTC), for people reading a listing.
pub fn to_minute(t: i64) -> String {
    let (y, mo, d, h, mi, _) = civil(t);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}")
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;
    use std::time::Duration;

    #[test]
    fn dos_times() {
        // 1980-01-01 00:00:00
        assert_eq!(dos_to_unix(0x0021, 0), 315_532_800);
        // 2024-02-29 13:45:30: date = (44<<9)|(2<<5)|29, time = (13<<11)|(45<<5)|15
        let date = (44 << 9) | (2 << 5) | 29;
        let time = (13 << 11) | (45 << 5) | 15;
        assert_eq!(dos_to_unix(date, time), 1_709_214_330);
        // Nonsense fields are clamped, not trusted.
        assert!(dos_to_unix(0xffff, 0xffff) > 0);
        assert_eq!(dos_to_unix(0, 0), 315_532_800);
    }

    #[test]
    fn dos_times_round_trip() {
        for secs in [315_532_800, 1_709_214_330, 1_000_000_000, 4_354_819_198] {
            let (date, time) = unix_to_dos(secs);
            assert_eq!(dos_to_unix(date, time), secs);
        }
        // Odd seconds round down; out-of-range times clamp.
        let (d, t) = unix_to_dos(1_709_214_331);
        assert_eq!(dos_to_unix(d, t), 1_709_214_330);
        let (d, t) = unix_to_dos(0);
        assert_eq!(dos_to_unix(d, t), 315_532_800);
        let (d, t) = unix_to_dos(i64::MAX);
        assert_eq!(dos_to_unix(d, t), 4_354_819_198);
        for days in [-1_000_000, -1, 0, 59, 11_016, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn dates_match_httpdate() {
        for secs in [
            0u64,
            1,
            86_399,
            951_782_400,
            1_704_164_644,
            4_102_444_800,
            253_402_300_799,
        ] {
            let t = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
            let mut out = Vec::new();
            push_http_date(&mut out, t);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                httpdate::fmt_http_date(t),
                "{secs}"
            );
        }
        // Before 1970 and after 9999: clamped, never a panic.
        let mut out = Vec::new();
        push_http_date(&mut out, SystemTime::UNIX_EPOCH - Duration::from_secs(1000));
        assert_eq!(out, b"Thu, 01 Jan 1970 00:00:00 GMT");
        out.clear();
        push_http_date(
            &mut out,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 40),
        );
        assert_eq!(out, b"Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn parse_http_dates() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        for s in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            " Sunday, 06-Nov-94 08:49:37 GMT\t",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_http_date(s.as_bytes()), Some(t), "{s:?}");
        }
        assert_eq!(parse_http_date(b"yesterday"), None);
        assert_eq!(parse_http_date(b"\xff"), None);
    }

    #[test]
    fn utc_timestamps() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_709_214_330), "2024-02-29T13:45:30Z");
        assert_eq!(to_minute(951_782_400), "2000-02-29 00:00");
    }
}
