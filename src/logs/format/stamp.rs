//! Times in CI logs: the prefixes runners write before each line (read and
//! taken out of the text), and how a view shows a time or a duration.
//!
//! ```text
//! 2024-07-08T05:34:54.5550749Z ␠                GitHub Actions, Azure Pipelines
//! 2024-05-30T14:30:00.000000Z␠00O␠ (00E, 00O+)   GitLab runner: stream 00, stdout/stderr, + continues
//! [2024-01-01T00:00:00.000Z]␠  [12:34:56]␠       Jenkins Timestamper
//! ESC _ bk;t=1700000000000 BEL                   Buildkite (read by the terminal renderer)
//! ```

use crate::util::time;

/// A time a log gives a line: Unix milliseconds (UTC), or for a time of day
/// without a date (`[12:34:56]`) milliseconds since midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub ms: i64,
    pub dated: bool,
}

impl Stamp {
    pub fn at(ms: i64) -> Stamp {
        Stamp { ms, dated: true }
    }

    /// Milliseconds from `first` to this one (a time of day that went past
    /// midnight counts on into the next day).
    pub fn since(self, first: Stamp) -> i64 {
        let d = self.ms.saturating_sub(first.ms);
        if d < 0 && !self.dated && !first.dated {
            d + 86_400_000
        } else {
            d
        }
    }

    /// `HH:MM:SS` (UTC), what the gutter shows.
    pub fn clock(self) -> String {
        let secs = self.ms.div_euclid(1000).rem_euclid(86_400);
        format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
    }

    /// For a `<time datetime>`: RFC 3339 with milliseconds, or `HH:MM:SS.mmm`.
    pub fn machine(self) -> String {
        let ms = self.ms.rem_euclid(1000);
        if self.dated {
            let iso = time::iso8601(self.ms.div_euclid(1000));
            format!("{}.{ms:03}Z", iso.trim_end_matches('Z'))
        } else {
            format!("{}.{ms:03}", self.clock())
        }
    }
}

/// A duration as a person reads it: `0.4s`, `12s`, `3m 05s`, `1h 02m`.
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    let secs = ms / 1000;
    if ms < 10_000 {
        format!("{}.{}s", secs, ms % 1000 / 100)
    } else if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h {:02}m", secs / 3600, secs / 60 % 60)
    }
}

/// A time relative to the log's first: `+0:00`, `+2:05`, `+1:02:03`.
pub fn relative(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    if secs < 3600 {
        format!("+{}:{:02}", secs / 60, secs % 60)
    } else {
        format!("+{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
    }
}

fn digits(b: &[u8], n: usize) -> Option<i64> {
    let d = b.get(..n)?;
    if !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(d.iter().fold(0i64, |v, &c| v * 10 + i64::from(c - b'0')))
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` at the start of `b`: the time and the
/// bytes it took. Any number of fraction digits (GitHub writes 7, GitLab 6,
/// Jenkins 3); only `Z` (UTC) as the zone, as these runners write.
pub fn iso(b: &[u8]) -> Option<(Stamp, usize)> {
    let year = digits(b, 4)?;
    let month = digits(b.get(5..)?, 2)?;
    let day = digits(b.get(8..)?, 2)?;
    let hour = digits(b.get(11..)?, 2)?;
    let minute = digits(b.get(14..)?, 2)?;
    let second = digits(b.get(17..)?, 2)?;
    let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if seps.iter().any(|&(at, c)| b.get(at) != Some(&c))
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut at = 19;
    let mut ms = 0;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) && at - start < 12 {
            at += 1;
        }
        if at == start {
            return None;
        }
        // Milliseconds from the first three digits, padded.
        let frac = b.get(start..at)?;
        ms = (0..3).fold(0, |v, i| {
            v * 10 + frac.get(i).map_or(0, |&c| i64::from(c - b'0'))
        });
    }
    if b.get(at) != Some(&b'Z') {
        return None;
    }
    let secs =
        time::days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Some((Stamp::at(secs * 1000 + ms), at + 1))
}

/// GitHub Actions' and Azure Pipelines' prefix: an ISO time and one space.
pub fn github(line: &[u8]) -> Option<(Stamp, usize)> {
    let (stamp, n) = iso(line)?;
    (line.get(n) == Some(&b' ')).then_some((stamp, n + 1))
}

/// A GitLab runner's prefix: an ISO time, a space, the stream (two hex
/// digits), `O` or `E`, `+` when the line continues the one before, a space.
pub fn gitlab(line: &[u8]) -> Option<(Stamp, GitLabStream, usize)> {
    let (stamp, n) = iso(line)?;
    let rest = line.get(n..)?;
    let hex = |i: usize| rest.get(i).is_some_and(u8::is_ascii_hexdigit);
    if rest.first() != Some(&b' ') || !hex(1) || !hex(2) {
        return None;
    }
    let err = match rest.get(3) {
        Some(b'O') => false,
        Some(b'E') => true,
        _ => return None,
    };
    let (continues, at) = match rest.get(4) {
        Some(b'+') => (true, 5),
        _ => (false, 4),
    };
    match rest.get(at) {
        Some(b' ') => Some((stamp, GitLabStream { err, continues }, n + at + 1)),
        // An empty line ends right after the flags.
        None => Some((stamp, GitLabStream { err, continues }, n + at)),
        _ => None,
    }
}

/// What a GitLab runner's prefix says of a line's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GitLabStream {
    /// From stderr (`E`), not stdout (`O`).
    pub err: bool,
    /// The line continues the one before (`+`): the runner split a long line.
    pub continues: bool,
}

/// Jenkins Timestamper's prefixes: `[ISO] ` or `[HH:MM:SS] ` (a time of day).
pub fn jenkins(line: &[u8]) -> Option<(Stamp, usize)> {
    if line.first() != Some(&b'[') {
        return None;
    }
    let body = line.get(1..)?;
    if let Some((stamp, n)) = iso(body) {
        return (body.get(n..n + 2) == Some(b"] ")).then_some((stamp, n + 3));
    }
    let hour = digits(body, 2)?;
    let minute = digits(body.get(3..)?, 2)?;
    let second = digits(body.get(6..)?, 2)?;
    if body.get(2) != Some(&b':')
        || body.get(5) != Some(&b':')
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    (body.get(8..10) == Some(b"] ")).then_some((
        Stamp {
            ms: (hour * 3600 + minute * 60 + second) * 1000,
            dated: false,
        },
        11,
    ))
}
