//! Groups (GitHub's `##[group]`, GitLab's sections, Travis' folds,
//! Buildkite's `---` headers) as a log's lines open and close them, and the
//! outline of a run of lines: what a view must know about a group before
//! writing its header (open or closed, its duration, whether it holds an
//! error) and the counts its page header shows.
//!
//! Both passes over the lines a view shows (the outline first, then the
//! page) step one [`Groups`] each from the same line, so the n-th group one
//! opens is the n-th the other opens: the outline is indexed by that number.
//! Nesting is bounded ([`MAX_DEPTH`]); so is what the outline keeps
//! ([`MAX_GROUPS`], [`MAX_LISTED`]).

use super::level::Level;
use super::stamp::Stamp;
use super::{Event, Line};

/// Groups nested at most; a deeper one shows as a plain line.
pub const MAX_DEPTH: usize = 8;
/// Groups an outline describes; later ones are shown open, without a duration.
pub const MAX_GROUPS: usize = 20_000;
/// Error lines an outline lists (for "next error" links).
pub const MAX_LISTED: usize = 10_000;
/// Travis timers open at once.
const MAX_TIMERS: usize = 64;

/// A group on the stack.
#[derive(Debug, Clone)]
struct Open {
    id: usize,
    name: Option<String>,
    flat: bool,
    /// Its header line's time, and GitLab's section time.
    start: Option<Stamp>,
    at: Option<i64>,
}

/// A group a line opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The how-manieth group opened (from 0), the key into an [`Outline`].
    pub id: usize,
    /// Groups around it.
    pub depth: usize,
    pub name: Option<String>,
    /// The format shows it closed.
    pub collapsed: bool,
    /// Buildkite's `~~~`: de-emphasised.
    pub quiet: bool,
    pub flat: bool,
}

/// A group a line closes, and how long it lasted when the log says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed {
    pub id: usize,
    pub ms: Option<i64>,
}

/// What a line does to the groups around it, in the order a page writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    /// Closed before the line (innermost first).
    pub close_before: Vec<Closed>,
    /// Opened by the line (outermost first); the last has the line as its header.
    pub opens: Vec<Opened>,
    /// Closed after the line (a marker line alone ends the group it closes).
    pub close_after: Vec<Closed>,
    /// Buildkite's `^^^ +++`: the group the line is in is to be shown open.
    pub expand: Option<usize>,
}

/// The groups open at a point of a log.
#[derive(Debug, Clone, Default)]
pub struct Groups {
    stack: Vec<Open>,
    opened: usize,
}

impl Groups {
    pub fn new() -> Groups {
        Groups::default()
    }

    /// Groups open now.
    pub fn depth(&self) -> usize {
        self.stack.len()
    }

    /// The ids of the groups open now, outermost first.
    pub fn ids(&self) -> impl Iterator<Item = usize> + '_ {
        self.stack.iter().map(|g| g.id)
    }

    /// Applies `line`'s events.
    pub fn step(&mut self, line: &Line) -> Step {
        let mut closed = Vec::new();
        let mut opens: Vec<Opened> = Vec::new();
        let mut step = Step::default();
        for event in &line.events {
            match event {
                Event::Open {
                    name,
                    collapsed,
                    quiet,
                    flat,
                    at,
                } => {
                    if *flat {
                        // A Buildkite header ends the group before it.
                        while self.stack.last().is_some_and(|g| g.flat) {
                            self.pop(line, None, &mut closed, &mut opens);
                        }
                    }
                    if self.stack.len() >= MAX_DEPTH {
                        continue;
                    }
                    let id = self.opened;
                    self.opened += 1;
                    opens.push(Opened {
                        id,
                        depth: self.stack.len(),
                        name: name.clone(),
                        collapsed: *collapsed,
                        quiet: *quiet,
                        flat: *flat,
                    });
                    self.stack.push(Open {
                        id,
                        name: name.clone(),
                        flat: *flat,
                        start: line.time,
                        at: *at,
                    });
                }
                Event::Close { name, at } => {
                    let target = match name {
                        None => self.stack.len().checked_sub(1),
                        Some(n) => self
                            .stack
                            .iter()
                            .rposition(|g| g.name.as_deref() == Some(n.as_str())),
                    };
                    if let Some(target) = target {
                        while self.stack.len() > target {
                            self.pop(line, *at, &mut closed, &mut opens);
                        }
                    }
                }
                Event::Expand => step.expand = self.stack.last().map(|g| g.id),
                Event::TimerStart | Event::TimerEnd { .. } => {}
            }
        }
        if line.hidden && opens.is_empty() {
            step.close_after = closed;
        } else {
            step.close_before = closed;
        }
        step.opens = opens;
        step
    }

    /// Closes the innermost group; one opened by this same line vanishes
    /// (an empty section), the rest are `closed`.
    fn pop(
        &mut self,
        line: &Line,
        at: Option<i64>,
        closed: &mut Vec<Closed>,
        opens: &mut Vec<Opened>,
    ) {
        let Some(g) = self.stack.pop() else {
            return;
        };
        if let Some(i) = opens.iter().position(|o| o.id == g.id) {
            opens.remove(i);
            return;
        }
        let ms = match (g.at, at) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => match (g.start, line.time) {
                (Some(a), Some(b)) => Some(b.since(a)),
                _ => None,
            },
        };
        closed.push(Closed { id: g.id, ms });
    }
}

/// What the outline says of one group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupInfo {
    pub collapsed: bool,
    /// Buildkite `+++` (explicitly open), or `^^^ +++` inside it.
    pub expanded: bool,
    pub flat: bool,
    pub quiet: bool,
    pub errors: u32,
    pub warnings: u32,
    /// How long it lasted (section times, line times, or Travis timers).
    pub ms: Option<i64>,
    timers_ms: Option<i64>,
}

impl GroupInfo {
    /// Whether a page shows it open: as the format says, unless it holds
    /// an error or was expanded.
    pub fn open(&self) -> bool {
        !self.collapsed || self.expanded || self.errors > 0
    }

    /// Its duration, if the log gives one.
    pub fn duration(&self) -> Option<i64> {
        self.ms.or(self.timers_ms)
    }
}

/// What a view knows of the lines it shows before writing them.
#[derive(Debug, Clone, Default)]
pub struct Outline {
    /// By group id; groups past [`MAX_GROUPS`] are not described.
    pub groups: Vec<GroupInfo>,
    pub errors: u64,
    pub warnings: u64,
    /// Line numbers of the first [`MAX_LISTED`] errors.
    pub error_lines: Vec<u64>,
    pub first_warning: Option<u64>,
    /// Travis timers: the line each started on, and how long it ran.
    pub timers: Vec<(u64, i64)>,
    /// Lines read, and whether every line of the range was.
    pub lines: u64,
    pub complete: bool,
    /// The first time a line gives.
    pub first_time: Option<Stamp>,
    state: Groups,
    timer_starts: Vec<u64>,
    last_time: Option<Stamp>,
}

impl Outline {
    pub fn new() -> Outline {
        Outline::default()
    }

    /// Line `n` of the range, formatted.
    pub fn feed(&mut self, n: u64, line: &Line) {
        self.lines += 1;
        for event in &line.events {
            match event {
                Event::TimerStart if self.timer_starts.len() < MAX_TIMERS => {
                    self.timer_starts.push(n);
                }
                Event::TimerEnd { ms } => {
                    if let (Some(start), Some(ms)) = (self.timer_starts.pop(), *ms) {
                        if self.timers.len() < MAX_LISTED {
                            self.timers.push((start, ms));
                        }
                        for id in self.state.ids().collect::<Vec<_>>() {
                            if let Some(g) = self.groups.get_mut(id) {
                                g.timers_ms = Some(g.timers_ms.unwrap_or(0).saturating_add(ms));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        let step = self.state.step(line);
        for c in step.close_before.iter().chain(&step.close_after) {
            if let Some(g) = self.groups.get_mut(c.id) {
                g.ms = c.ms;
            }
        }
        for o in &step.opens {
            if o.id < MAX_GROUPS && o.id == self.groups.len() {
                self.groups.push(GroupInfo {
                    collapsed: o.collapsed,
                    expanded: o.flat && !o.collapsed && !o.quiet,
                    flat: o.flat,
                    quiet: o.quiet,
                    ..GroupInfo::default()
                });
            }
        }
        if let Some(g) = step.expand.and_then(|id| self.groups.get_mut(id)) {
            g.expanded = true;
        }
        match line.level {
            Level::Error => {
                self.errors += 1;
                if self.error_lines.len() < MAX_LISTED {
                    self.error_lines.push(n);
                }
            }
            Level::Warning => {
                self.warnings += 1;
                self.first_warning.get_or_insert(n);
            }
            _ => {}
        }
        if matches!(line.level, Level::Error | Level::Warning) {
            for id in self.state.ids().collect::<Vec<_>>() {
                if let Some(g) = self.groups.get_mut(id) {
                    if line.level == Level::Error {
                        g.errors = g.errors.saturating_add(1);
                    } else {
                        g.warnings = g.warnings.saturating_add(1);
                    }
                }
            }
        }
        if line.time.is_some() {
            self.last_time = line.time;
            self.first_time = self.first_time.or(line.time);
        }
    }

    /// Every line of the range was fed: groups still open last until the
    /// last time seen; Buildkite opens its last `---` group when none was
    /// `+++`.
    pub fn finish(&mut self) {
        self.stop();
        self.complete = true;
        let last = self.last_time;
        for g in std::mem::take(&mut self.state.stack) {
            if let (Some(info), Some(a), Some(b)) = (self.groups.get_mut(g.id), g.start, last) {
                info.ms.get_or_insert(b.since(a));
            }
        }
        let flat: Vec<usize> = (0..self.groups.len())
            .filter(|&i| self.groups.get(i).is_some_and(|g| g.flat))
            .collect();
        if !flat.is_empty()
            && !flat
                .iter()
                .any(|&i| self.groups.get(i).is_some_and(|g| g.expanded))
        {
            if let Some(g) = flat
                .iter()
                .rev()
                .find_map(|&i| self.groups.get(i).filter(|g| !g.quiet).map(|_| i))
                .and_then(|i| self.groups.get_mut(i))
            {
                g.expanded = true;
            }
        }
    }

    /// The lines stop here (a budget ran out): what was read is kept.
    pub fn stop(&mut self) {
        self.timers.sort_unstable();
    }

    /// The group `id`, if described.
    pub fn group(&self, id: usize) -> Option<&GroupInfo> {
        self.groups.get(id)
    }

    /// The first error after line `n`.
    pub fn next_error(&self, n: u64) -> Option<u64> {
        let i = self.error_lines.partition_point(|&l| l <= n);
        self.error_lines.get(i).copied()
    }

    /// How long the Travis timer started on line `n` ran.
    pub fn timer(&self, n: u64) -> Option<i64> {
        let i = self.timers.partition_point(|&(l, _)| l < n);
        self.timers.get(i).filter(|t| t.0 == n).map(|t| t.1)
    }
}
