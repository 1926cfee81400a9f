//! Formats of CI systems: which system wrote a log, and what each line's
//! markers say (its time, the groups it opens or closes, its level), taken
//! out of the text the terminal renderer then shows.
//!
//! A log's system is told once, from its first lines ([`detect`], a bounded
//! sniff), not line by line: a timestamp-looking prefix is a runner's only
//! in a log that runner wrote. Then a [`Formatter`] takes one line at a
//! time, as the renderer does:
//!
//! ```text
//! raw line ─▶ prefix (stamp: GitHub/Azure ISO, GitLab ISO + stream, Jenkins [..])
//!          ─▶ raw markers (markers::raw: GitLab sections, Travis folds and timers)
//!          ─▶ terminal::Renderer::parse (escapes; Buildkite's bk;t= time)
//!          ─▶ text markers (markers::text: ##[…], ::…::, Buildkite ---/+++/~~~)
//!          ─▶ level (markers, else level::of_text) ─▶ Line + the text to show
//! ```
//!
//! What the lines do together (groups open and closed, durations, counts)
//! is [`groups`].

use std::borrow::Cow;

use crate::logs::terminal::Renderer;

pub mod groups;
pub mod level;
pub mod markers;
pub mod stamp;
#[cfg(test)]
mod tests;

pub use groups::{Groups, Outline, Step};
pub use level::Level;
pub use stamp::Stamp;

/// Bytes of a log's start [`detect`] looks at.
pub const SNIFF_BYTES: usize = 64 * 1024;
/// Lines of it, at most.
const SNIFF_LINES: usize = 200;

/// The CI system that wrote a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum System {
    /// Terminal output (GitHub's `##[…]` markers are still read, as before).
    #[default]
    Plain,
    GitHub,
    Azure,
    GitLab,
    Buildkite,
    Travis,
    Jenkins,
}

impl System {
    /// Its name for people.
    pub fn name(self) -> &'static str {
        match self {
            System::Plain => "terminal output",
            System::GitHub => "GitHub Actions",
            System::Azure => "Azure Pipelines",
            System::GitLab => "GitLab CI",
            System::Buildkite => "Buildkite",
            System::Travis => "Travis CI",
            System::Jenkins => "Jenkins",
        }
    }

    /// Its name in JSON.
    pub fn key(self) -> &'static str {
        match self {
            System::Plain => "plain",
            System::GitHub => "github",
            System::Azure => "azure",
            System::GitLab => "gitlab",
            System::Buildkite => "buildkite",
            System::Travis => "travis",
            System::Jenkins => "jenkins",
        }
    }
}

/// The system that wrote the log starting with `head` (its first
/// [`SNIFF_BYTES`] or fewer): a marker only one system writes, or a
/// timestamp prefix on most of its first lines.
pub fn detect(head: &[u8]) -> System {
    let head = head.get(..SNIFF_BYTES).unwrap_or(head);
    let has = |needle: &[u8]| memchr::memmem::find(head, needle).is_some();
    if has(b"\x1b_bk;t=") || has(b"\x1b_bk;dt=") {
        return System::Buildkite;
    }
    let (mut lines, mut github, mut gitlab, mut jenkins, mut pipeline) = (0, 0, 0, 0, false);
    for line in head.split(|&b| b == b'\n').take(SNIFF_LINES) {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        lines += 1;
        if stamp::gitlab(line).is_some() {
            gitlab += 1;
        } else if stamp::github(line).is_some() {
            github += 1;
        } else if let Some((_, n)) = stamp::jenkins(line) {
            jenkins += 1;
            pipeline |= line.get(n..).is_some_and(|r| r.starts_with(b"[Pipeline] "));
        }
        pipeline |= line.starts_with(b"[Pipeline] ");
    }
    let most = |n: usize| n > 0 && n * 2 > lines;
    let section = memchr::memmem::find_iter(head, b"section_start:")
        .any(|at| head.get(at + 14).is_some_and(u8::is_ascii_digit));
    if most(gitlab) || section || has(b"Running with gitlab-runner ") {
        System::GitLab
    } else if has(b"travis_fold:start:") || has(b"travis_time:start:") {
        System::Travis
    } else if has(b"##[section]") {
        System::Azure
    } else if most(github) || has(b"##[group]") || has(b"##[error]") {
        System::GitHub
    } else if most(jenkins) || pipeline || has(b"\x1b[8mha:") {
        System::Jenkins
    } else {
        System::Plain
    }
}

/// Something a line does to the structure of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A group starts; the line (if it shows anything) is its header.
    Open {
        /// GitLab's section and Travis' fold names (what the end names).
        name: Option<String>,
        /// The format shows it closed until opened.
        collapsed: bool,
        /// De-emphasised (Buildkite `~~~`).
        quiet: bool,
        /// Ended by the next header, not by a marker (Buildkite).
        flat: bool,
        /// GitLab's section time, Unix milliseconds.
        at: Option<i64>,
    },
    /// The innermost group ends, or the one of that name.
    Close {
        name: Option<String>,
        at: Option<i64>,
    },
    /// Buildkite's `^^^ +++`: the group this line is in is shown open.
    Expand,
    /// Travis' `travis_time:start`.
    TimerStart,
    /// Travis' `travis_time:end`, with the duration it gives.
    TimerEnd { ms: Option<i64> },
}

impl Event {
    fn open_group() -> Event {
        Event::Open {
            name: None,
            collapsed: true,
            quiet: false,
            flat: false,
            at: None,
        }
    }
}

/// How a line is shown, beyond its level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    #[default]
    Plain,
    /// `##[command]`, `[command]`: what the runner ran.
    Command,
    /// `##[debug]`, `::debug::`.
    Debug,
    /// Azure's `##[section]`.
    Section,
    /// Buildkite's `~~~` header, Jenkins' `[Pipeline]` steps.
    Quiet,
}

impl Role {
    /// The CSS class a view gives the line, if any.
    pub fn class(self) -> Option<&'static str> {
        match self {
            Role::Plain => None,
            Role::Command => Some("cm"),
            Role::Debug => Some("db"),
            Role::Section => Some("sc"),
            Role::Quiet => Some("qu"),
        }
    }
}

/// What one line of a log says, beyond its text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line {
    /// Its time: a runner's prefix, or Buildkite's.
    pub time: Option<Stamp>,
    pub level: Level,
    pub role: Role,
    pub events: Vec<Event>,
    /// Where a workflow command points (`a.rs:3:5`), shown before the text.
    pub label: Option<String>,
    /// Only markers: nothing to show.
    pub hidden: bool,
    /// GitLab's `00O+`: the runner split a long line, this continues it.
    pub continues: bool,
    /// GitLab's `00E`: from stderr.
    pub stderr: bool,
}

/// Formats a log's lines one at a time, as its system wrote them.
#[derive(Debug, Clone, Default)]
pub struct Formatter {
    system: System,
    renderer: Renderer,
    /// Bytes of the renderer's text the last line's marker took.
    skip: usize,
}

impl Formatter {
    pub fn new(system: System) -> Formatter {
        Formatter {
            system,
            ..Formatter::default()
        }
    }

    pub fn system(&self) -> System {
        self.system
    }

    /// Forgets the style carried from earlier lines (a view that starts mid-log).
    pub fn at_line_start(&mut self) {
        self.renderer.at_line_start();
    }

    /// Reads line `raw` (no newline); its text is then [`Formatter::text`]
    /// and [`Formatter::html`] writes it.
    pub fn line(&mut self, raw: &[u8]) -> Line {
        let mut line = Line::default();
        let mut rest = raw;
        match self.system {
            System::GitHub | System::Azure => {
                if let Some((stamp, n)) = stamp::github(raw) {
                    line.time = Some(stamp);
                    rest = raw.get(n..).unwrap_or_default();
                }
            }
            System::GitLab => {
                if let Some((stamp, stream, n)) = stamp::gitlab(raw) {
                    line.time = Some(stamp);
                    line.continues = stream.continues;
                    line.stderr = stream.err;
                    rest = raw.get(n..).unwrap_or_default();
                }
            }
            System::Jenkins => {
                if let Some((stamp, n)) = stamp::jenkins(raw) {
                    line.time = Some(stamp);
                    rest = raw.get(n..).unwrap_or_default();
                }
            }
            System::Plain | System::Buildkite | System::Travis => {}
        }
        let rest: Cow<'_, [u8]> = match self.system {
            System::GitLab => {
                let (rest, events) = markers::raw(rest, markers::RawKind::GitLab);
                line.events = events;
                rest
            }
            System::Travis => {
                let (rest, events) = markers::raw(rest, markers::RawKind::Travis);
                line.events = events;
                rest
            }
            _ => Cow::Borrowed(rest),
        };
        self.renderer.parse(&rest);
        if line.time.is_none() {
            line.time = self.renderer.time().map(Stamp::at);
        }
        let text = self.renderer.text();
        let kind = match self.system {
            // Buildkite reads its headers from the bytes, after its
            // timestamps: a coloured `--- a/file` of a diff is no header.
            System::Buildkite if markers::buildkite_raw(&rest) => {
                Some(markers::TextKind::Buildkite)
            }
            System::Buildkite => None,
            System::GitHub | System::Azure | System::Plain => Some(markers::TextKind::Workflow),
            System::GitLab | System::Travis | System::Jenkins => None,
        };
        let marker = kind.and_then(|k| markers::text(text, k));
        let had_marker = marker.is_some() || !line.events.is_empty();
        self.skip = 0;
        let mut level = None;
        if let Some(m) = marker {
            self.skip = m.skip.min(text.len());
            line.events.extend(m.event);
            level = m.level;
            line.role = m.role;
            line.label = m.label;
        }
        if self.system == System::Jenkins && text.starts_with("[Pipeline] ") {
            line.role = Role::Quiet;
        }
        let shown = text.get(self.skip..).unwrap_or_default();
        line.level = level.unwrap_or_else(|| level::of_text(shown));
        line.hidden = had_marker && shown.trim().is_empty() && line.label.is_none();
        line
    }

    /// The visible text of the line last read, without its marker.
    pub fn text(&self) -> &str {
        self.renderer.text().get(self.skip..).unwrap_or_default()
    }

    /// Writes the line last read as HTML; `marks` are byte ranges of
    /// [`Formatter::text`] to highlight.
    pub fn html(&mut self, out: &mut String, marks: &[(usize, usize)]) {
        let skip = self.skip;
        if skip == 0 {
            self.renderer.html(out, 0, marks);
        } else {
            let shifted: Vec<(usize, usize)> =
                marks.iter().map(|&(s, e)| (s + skip, e + skip)).collect();
            self.renderer.html(out, skip, &shifted);
        }
    }
}
