//! The markers CI systems write into a log, found and taken out.
//!
//! Two kinds. GitLab's sections and Travis' folds and timers sit in the raw
//! bytes, each followed by `\r ESC[0K` so that a terminal erases them:
//! rendering first would lose them, so they are cut out of the bytes
//! ([`raw`]). The others start the line's visible text and are read after
//! rendering ([`text`]), so that colour codes around them do not matter.
//!
//! ```text
//! ESC[0Ksection_start:1716995400:build[collapsed=true]\r ESC[0K   GitLab
//! ESC[0Ksection_end:1716995460:build\r ESC[0K
//! travis_fold:start:install\r ESC[0K  travis_fold:end:install\r ESC[0K   Travis
//! travis_time:start:0a1b\r ESC[0K
//! travis_time:end:0a1b:start=…,finish=…,duration=NANOSECONDS\r ESC[0K
//! ##[group]Title ##[endgroup] ##[error]… ##[warning]… ##[notice]…   GitHub, Azure
//! ##[debug]… ##[command]… [command]… ##[section]…
//! ::error file=a.rs,line=3::message  ::warning …  ::notice …  ::group::Title  ::endgroup::
//! --- Title  +++ Title  ~~~ Title  ^^^ +++                          Buildkite
//! ```

use std::borrow::Cow;

use super::level::Level;
use super::{Event, Role};

/// Markers read per line; more are left as text.
const MAX_MARKERS: usize = 16;
/// The longest section or fold name read (GitLab allows 100 bytes).
const MAX_NAME: usize = 200;

/// Which raw markers a system writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawKind {
    GitLab,
    Travis,
}

/// The raw markers of `line` as events, in order, and the line without them.
pub fn raw(line: &[u8], kind: RawKind) -> (Cow<'_, [u8]>, Vec<Event>) {
    let needle: &[u8] = match kind {
        RawKind::GitLab => b"section_",
        RawKind::Travis => b"travis_",
    };
    let mut events = Vec::new();
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0; // bytes of `line` already in `out`
    let mut from = 0;
    while events.len() < MAX_MARKERS {
        let Some(rel) = memchr::memmem::find(line.get(from..).unwrap_or_default(), needle) else {
            break;
        };
        let start = from + rel;
        let rest = line.get(start..).unwrap_or_default();
        let parsed = match kind {
            RawKind::GitLab => gitlab(rest),
            RawKind::Travis => travis(rest),
        };
        let Some((event, len)) = parsed else {
            from = start + needle.len();
            continue;
        };
        // The erase before it and the `\r ESC[0K` after it go with it.
        let mut cut_start = start;
        if line.get(..start).is_some_and(|b| b.ends_with(b"\x1b[0K")) {
            cut_start -= 4;
        }
        let mut cut_end = start + len;
        let after = line.get(cut_end..).unwrap_or_default();
        if after.starts_with(b"\r\x1b[0K") {
            cut_end += 5;
        } else if after.starts_with(b"\r") {
            cut_end += 1;
        }
        let buf = out.get_or_insert_with(|| Vec::with_capacity(line.len()));
        buf.extend_from_slice(line.get(copied..cut_start).unwrap_or_default());
        copied = cut_end;
        from = cut_end;
        events.push(event);
    }
    match out {
        Some(mut buf) => {
            buf.extend_from_slice(line.get(copied..).unwrap_or_default());
            (Cow::Owned(buf), events)
        }
        None => (Cow::Borrowed(line), events),
    }
}

/// A name of a section or fold: letters, digits, `_`, `.`, `-`.
fn name_len(b: &[u8]) -> usize {
    b.iter()
        .take(MAX_NAME)
        .take_while(|&&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
        .count()
}

fn number(b: &[u8]) -> Option<(i64, usize)> {
    let n = b.iter().take(19).take_while(|c| c.is_ascii_digit()).count();
    let v = std::str::from_utf8(b.get(..n)?).ok()?.parse().ok()?;
    Some((v, n))
}

/// `section_start:TS:NAME[OPTIONS]` or `section_end:TS:NAME` at the start of `b`.
fn gitlab(b: &[u8]) -> Option<(Event, usize)> {
    let (start, rest) = if let Some(r) = b.strip_prefix(b"section_start:") {
        (true, r)
    } else {
        (false, b.strip_prefix(b"section_end:")?)
    };
    let head = b.len() - rest.len();
    let (ts, n) = number(rest)?;
    let rest = rest.get(n..)?.strip_prefix(b":")?;
    let name_n = name_len(rest);
    if name_n == 0 {
        return None;
    }
    let name = String::from_utf8_lossy(rest.get(..name_n)?).into_owned();
    let mut len = head + n + 1 + name_n;
    let at = ts.checked_mul(1000);
    if !start {
        return Some((
            Event::Close {
                name: Some(name),
                at,
            },
            len,
        ));
    }
    let mut collapsed = false;
    if let Some(opts) = rest.get(name_n..).and_then(|r| r.strip_prefix(b"[")) {
        if let Some(end) = opts.iter().take(MAX_NAME).position(|&c| c == b']') {
            let opts = opts.get(..end).unwrap_or_default();
            collapsed = opts.split(|&c| c == b',').any(|o| o == b"collapsed=true");
            len += end + 2;
        }
    }
    Some((
        Event::Open {
            name: Some(name),
            collapsed,
            quiet: false,
            flat: false,
            at,
        },
        len,
    ))
}

/// `travis_fold:start:NAME`, `travis_fold:end:NAME`, `travis_time:start:ID`
/// or `travis_time:end:ID:start=…,finish=…,duration=…[,event=…]` at the start of `b`.
fn travis(b: &[u8]) -> Option<(Event, usize)> {
    let (which, rest) = [
        (0, &b"travis_fold:start:"[..]),
        (1, b"travis_fold:end:"),
        (2, b"travis_time:start:"),
        (3, b"travis_time:end:"),
    ]
    .into_iter()
    .find_map(|(w, p)| b.strip_prefix(p).map(|r| (w, r)))?;
    let head = b.len() - rest.len();
    let name_n = name_len(rest);
    if name_n == 0 {
        return None;
    }
    let name = String::from_utf8_lossy(rest.get(..name_n)?).into_owned();
    let len = head + name_n;
    let event = match which {
        0 => Event::Open {
            name: Some(name),
            collapsed: true,
            quiet: false,
            flat: false,
            at: None,
        },
        1 => Event::Close {
            name: Some(name),
            at: None,
        },
        2 => Event::TimerStart,
        _ => {
            // `:start=…,finish=…,duration=…`: the duration in nanoseconds.
            let fields = rest.get(name_n..)?.strip_prefix(b":")?;
            let n = fields
                .iter()
                .take(256)
                .take_while(|&&c| c.is_ascii_alphanumeric() || matches!(c, b'=' | b',' | b'_'))
                .count();
            let fields = fields.get(..n)?;
            let duration = fields
                .split(|&c| c == b',')
                .find_map(|f| f.strip_prefix(b"duration="))
                .and_then(|d| number(d).map(|(v, _)| v / 1_000_000));
            return Some((Event::TimerEnd { ms: duration }, len + 1 + n));
        }
    };
    Some((event, len))
}

/// What a text marker says of its line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TextMarker {
    /// Bytes of the visible text the marker takes (not shown).
    pub skip: usize,
    pub event: Option<Event>,
    pub level: Option<Level>,
    pub role: Role,
    /// Where a workflow command points (`a.rs:3:5`).
    pub label: Option<String>,
}

/// Which text markers a system writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// `##[…]` and `::…::` (GitHub Actions, Azure Pipelines, and any log, as before).
    Workflow,
    /// `--- `, `+++ `, `~~~ `, `^^^ +++` (Buildkite).
    Buildkite,
}

/// The marker the visible `text` of a line starts with, if any.
pub fn text(text: &str, kind: TextKind) -> Option<TextMarker> {
    match kind {
        TextKind::Workflow => workflow(text),
        TextKind::Buildkite => buildkite(text),
    }
}

fn workflow(text: &str) -> Option<TextMarker> {
    if let Some(rest) = text.strip_prefix("##[") {
        let end = rest.find(']')?;
        let word = rest.get(..end)?;
        let skip = 3 + end + 1;
        let mut m = TextMarker {
            skip,
            ..TextMarker::default()
        };
        match word {
            "group" => m.event = Some(Event::open_group()),
            "endgroup" => {
                m.event = Some(Event::Close {
                    name: None,
                    at: None,
                })
            }
            "error" => m.level = Some(Level::Error),
            "warning" => m.level = Some(Level::Warning),
            "notice" => m.level = Some(Level::Notice),
            "debug" => m.role = Role::Debug,
            "command" => m.role = Role::Command,
            "section" => m.role = Role::Section,
            _ => return None,
        }
        return Some(m);
    }
    if let Some(rest) = text.strip_prefix("[command]") {
        let _ = rest;
        return Some(TextMarker {
            skip: "[command]".len(),
            role: Role::Command,
            ..TextMarker::default()
        });
    }
    let rest = text.strip_prefix("::")?;
    // `::NAME[ PROPERTIES]::MESSAGE`
    let end = rest.find("::")?;
    let head = rest.get(..end)?;
    let (name, props) = match head.split_once(' ') {
        Some((n, p)) => (n, p),
        None => (head, ""),
    };
    let mut m = TextMarker {
        skip: 2 + end + 2,
        ..TextMarker::default()
    };
    match name {
        "group" => m.event = Some(Event::open_group()),
        "endgroup" => {
            m.event = Some(Event::Close {
                name: None,
                at: None,
            })
        }
        "error" => m.level = Some(Level::Error),
        "warning" => m.level = Some(Level::Warning),
        "notice" => m.level = Some(Level::Notice),
        "debug" => m.role = Role::Debug,
        _ => return None,
    }
    m.label = location(props);
    Some(m)
}

/// `file=a.rs,line=3,col=5,title=T` as `a.rs:3:5 T`.
fn location(props: &str) -> Option<String> {
    let mut file = None;
    let mut line = None;
    let mut col = None;
    let mut title = None;
    for p in props.split(',') {
        match p.trim().split_once('=') {
            Some(("file", v)) => file = Some(v),
            Some(("line", v)) => line = Some(v),
            Some(("col", v)) => col = Some(v),
            Some(("title", v)) => title = Some(v),
            _ => {}
        }
    }
    let mut out = String::new();
    if let Some(f) = file {
        out.push_str(f);
        for n in [line, col].into_iter().flatten() {
            out.push(':');
            out.push_str(n);
        }
    }
    if let Some(t) = title {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(t);
    }
    (!out.is_empty()).then(|| out.chars().take(MAX_NAME).collect())
}

/// Whether a Buildkite line's bytes, past its `ESC _ … BEL` timestamps,
/// start with a header or `^^^ +++`.
pub fn buildkite_raw(line: &[u8]) -> bool {
    let mut rest = line;
    while let Some(apc) = rest.strip_prefix(b"\x1b_") {
        match apc.iter().position(|&b| b == 0x07 || b == 0x1b) {
            Some(at) => {
                let after = apc.get(at..).unwrap_or_default();
                rest = after
                    .strip_prefix(b"\x07")
                    .or_else(|| after.strip_prefix(b"\x1b\\"))
                    .unwrap_or(after);
            }
            None => return false,
        }
    }
    [&b"--- "[..], b"+++ ", b"~~~ ", b"^^^ +++"]
        .iter()
        .any(|p| rest.starts_with(p))
}

fn buildkite(text: &str) -> Option<TextMarker> {
    if text.trim_end() == "^^^ +++" {
        return Some(TextMarker {
            skip: text.len(),
            event: Some(Event::Expand),
            ..TextMarker::default()
        });
    }
    let (collapsed, quiet) = if text.starts_with("--- ") {
        (true, false)
    } else if text.starts_with("+++ ") {
        (false, false)
    } else if text.starts_with("~~~ ") {
        (true, true)
    } else {
        return None;
    };
    Some(TextMarker {
        skip: 4,
        event: Some(Event::Open {
            name: None,
            collapsed,
            quiet,
            flat: true,
            at: None,
        }),
        role: if quiet { Role::Quiet } else { Role::Plain },
        ..TextMarker::default()
    })
}
