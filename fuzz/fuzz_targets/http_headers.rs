//! Range and conditional request headers: `Range` resolved against a length
//! gives ranges inside it, sorted and apart; preconditions, If-Range and HTTP
//! dates never panic and agree with each other.
#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use wwz::http::conditional::{self, Conditions, Outcome, Validators};
use wwz::http::range::{self, Ranges};

fuzz_target!(|data: &[u8]| {
    let Some((len_bytes, rest)) = data.split_first_chunk::<8>() else {
        return;
    };
    // Lengths near 0, near u64::MAX and in between all matter.
    let raw = u64::from_le_bytes(*len_bytes);
    let len = match raw % 4 {
        0 => raw >> 2 & 0xffff,
        1 => u64::MAX - (raw >> 2 & 0xffff),
        _ => raw,
    };
    let mut fields = rest.split(|&b| b == b'\n');
    let range_header = fields.next().unwrap_or_default();
    match range::resolve(range_header, len) {
        Ranges::Whole | Ranges::Unsatisfiable => {}
        Ranges::Some(list) => {
            assert!(!list.is_empty());
            let mut prev_end: Option<u64> = None;
            for r in &list {
                assert!(r.start < r.end, "empty range {r:?}");
                assert!(r.end <= len, "{r:?} past {len}");
                if let Some(p) = prev_end {
                    assert!(r.start > p, "overlapping or adjacent {list:?}");
                }
                prev_end = Some(r.end);
            }
        }
    }

    let etag = "\"1a2b3c4d-100-65000000\"";
    let secs = u64::from(u32::from_le_bytes([
        len_bytes[0],
        len_bytes[1],
        len_bytes[2],
        0,
    ]));
    let v = Validators {
        etag,
        last_modified: SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000 + secs),
    };
    let mut next = || fields.next();
    let c = Conditions {
        if_match: next(),
        if_none_match: next(),
        if_modified_since: next(),
        if_unmodified_since: next(),
    };
    let outcome = conditional::evaluate(&c, &v);
    // Our own validators always satisfy the conditions that name them.
    let ours = Conditions {
        if_match: Some(etag.as_bytes()),
        if_none_match: None,
        ..c
    };
    assert_ne!(conditional::evaluate(&ours, &v), Outcome::Failed);
    let _ = outcome;
    for value in [range_header, rest] {
        let _ = conditional::if_range_holds(value, &v);
        if let Some(t) = conditional::parse_date(value) {
            // A parsed date formats and parses back to itself.
            let text = httpdate_fmt(t);
            assert_eq!(conditional::parse_date(text.as_bytes()), Some(t));
        }
    }
    assert!(conditional::if_range_holds(etag.as_bytes(), &v));
});

fn httpdate_fmt(t: SystemTime) -> String {
    // httpdate is a dependency of wwz, not of this crate: format by hand via
    // the If-Modified-Since round trip instead.
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        WD[(days % 7) as usize],
        d,
        MON[(m - 1) as usize],
        y,
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}
