//! What a test report says, as kept in bounded memory: counts for every
//! test case, details for the first failures, rows for the first cases of
//! each suite, and the slowest cases (a bounded heap).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// How much of a report is kept beyond its counts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Failures and errors kept with their details.
    pub(crate) failures: usize,
    /// Bytes of a failure's body (its element's text), and of its captured output.
    pub(crate) body: usize,
    pub(crate) output: usize,
    /// Suites listed, and case rows listed in them (all suites together).
    pub(crate) suites: usize,
    pub(crate) rows: usize,
    /// The slowest cases kept.
    pub(crate) slowest: usize,
}

/// Characters of a name, a class or a message attribute kept.
pub(crate) const MAX_ATTR: usize = 4096;

/// What happened to one test case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Passed,
    Failed,
    Error,
    Skipped,
}

impl Outcome {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Error => "error",
            Outcome::Skipped => "skipped",
        }
    }
}

/// Counts of test cases, and their time summed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Counts {
    pub(crate) tests: u64,
    pub(crate) failures: u64,
    pub(crate) errors: u64,
    pub(crate) skipped: u64,
    /// Passed after a failed try (Surefire's `flakyFailure`, `flakyError`).
    pub(crate) flaky: u64,
    pub(crate) time: f64,
}

impl Counts {
    pub(crate) fn add_case(&mut self, outcome: Outcome, flaky: bool, time: f64) {
        self.tests += 1;
        match outcome {
            Outcome::Failed => self.failures += 1,
            Outcome::Error => self.errors += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Passed => {}
        }
        if flaky && outcome == Outcome::Passed {
            self.flaky += 1;
        }
        self.time += time;
    }

    pub(crate) fn add(&mut self, other: &Counts) {
        self.tests += other.tests;
        self.failures += other.failures;
        self.errors += other.errors;
        self.skipped += other.skipped;
        self.flaky += other.flaky;
        self.time += other.time;
    }

    pub(crate) fn passed(&self) -> u64 {
        self.tests
            .saturating_sub(self.failures + self.errors + self.skipped)
    }

    pub(crate) fn ok(&self) -> bool {
        self.failures == 0 && self.errors == 0
    }
}

/// The totals a report declares in its attributes (`tests="…"` and the
/// like): the root `<testsuites>`'s where it has them, else the sum of its
/// top-level suites'. Each is absent where no element declares it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Declared {
    pub(crate) tests: Option<u64>,
    pub(crate) failures: Option<u64>,
    pub(crate) errors: Option<u64>,
    pub(crate) skipped: Option<u64>,
    pub(crate) time: Option<f64>,
}

impl Declared {
    /// Adds a top-level suite's attributes.
    pub(crate) fn add(&mut self, other: &Declared) {
        fn sum<T: std::ops::Add<Output = T> + Copy>(a: Option<T>, b: Option<T>) -> Option<T> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            }
        }
        self.tests = sum(self.tests, other.tests);
        self.failures = sum(self.failures, other.failures);
        self.errors = sum(self.errors, other.errors);
        self.skipped = sum(self.skipped, other.skipped);
        self.time = sum(self.time, other.time);
    }

    /// Each field of `self`, else of `fallback`.
    pub(crate) fn or(&self, fallback: &Declared) -> Declared {
        Declared {
            tests: self.tests.or(fallback.tests),
            failures: self.failures.or(fallback.failures),
            errors: self.errors.or(fallback.errors),
            skipped: self.skipped.or(fallback.skipped),
            time: self.time.or(fallback.time),
        }
    }

    /// Whether the declared counts disagree with the counted ones.
    pub(crate) fn differs(&self, c: &Counts) -> bool {
        let off = |d: Option<u64>, n: u64| d.is_some_and(|d| d != n);
        off(self.tests, c.tests)
            || off(self.failures, c.failures)
            || off(self.errors, c.errors)
            || off(self.skipped, c.skipped)
    }
}

/// A bounded piece of text: its first `cap` bytes, and whether there was more.
#[derive(Debug, Clone, Default)]
pub(crate) struct Capture {
    pub(crate) bytes: Vec<u8>,
    pub(crate) cut: bool,
}

impl Capture {
    pub(crate) fn push(&mut self, piece: &[u8], cap: usize) {
        let room = cap.saturating_sub(self.bytes.len());
        if piece.len() > room {
            self.cut = true;
        }
        self.bytes
            .extend_from_slice(piece.get(..room.min(piece.len())).unwrap_or_default());
    }
}

/// A failed or erroring case, with what it said.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) outcome: Outcome,
    pub(crate) suite: String,
    pub(crate) class: String,
    pub(crate) name: String,
    pub(crate) file: String,
    pub(crate) time: f64,
    /// The `type` attribute (an exception class, say).
    pub(crate) kind: String,
    pub(crate) message: String,
    /// The element's text: a stack trace, a diff, a log.
    pub(crate) body: Capture,
    /// The case's `system-out` and `system-err`.
    pub(crate) output: Capture,
}

/// One case as a suite lists it.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) class: String,
    pub(crate) time: f64,
    pub(crate) outcome: Outcome,
    /// Its position among the kept failures (for a link), if kept.
    pub(crate) failure: Option<usize>,
}

/// A `<testsuite>` (nested ones too, in document order).
#[derive(Debug, Clone, Default)]
pub(crate) struct Suite {
    pub(crate) name: String,
    pub(crate) depth: usize,
    /// Its own cases (not those of suites inside it).
    pub(crate) counts: Counts,
    pub(crate) declared: Declared,
    pub(crate) rows: Vec<Row>,
    /// Cases counted but not listed (past [`Limits::rows`]).
    pub(crate) unlisted: u64,
}

/// A case among the slowest.
#[derive(Debug, Clone)]
pub(crate) struct Slow {
    pub(crate) time: f64,
    /// Order of appearance: among equal times the first stays.
    pub(crate) seq: u64,
    /// The report it is in (for a run's page), its suite, class and name.
    pub(crate) report: String,
    pub(crate) suite: String,
    pub(crate) class: String,
    pub(crate) name: String,
}

impl Slow {
    fn key(&self) -> (f64, std::cmp::Reverse<u64>) {
        (self.time, std::cmp::Reverse(self.seq))
    }
}

impl PartialEq for Slow {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Slow {}
impl PartialOrd for Slow {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Slow {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.key(), other.key());
        a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
    }
}

/// The `n` slowest cases: a min-heap of the slowest seen, so a report of
/// any length costs `n` entries.
#[derive(Debug, Clone, Default)]
pub(crate) struct Slowest {
    n: usize,
    heap: BinaryHeap<std::cmp::Reverse<Slow>>,
}

impl Slowest {
    pub(crate) fn new(n: usize) -> Slowest {
        Slowest {
            n,
            heap: BinaryHeap::new(),
        }
    }

    /// Whether a case of `time` would be kept (so its names need not be copied otherwise).
    pub(crate) fn wants(&self, time: f64) -> bool {
        self.n > 0
            && (self.heap.len() < self.n
                || self
                    .heap
                    .peek()
                    .is_some_and(|std::cmp::Reverse(min)| time > min.time))
    }

    pub(crate) fn offer(&mut self, slow: Slow) {
        if self.n == 0 {
            return;
        }
        self.heap.push(std::cmp::Reverse(slow));
        if self.heap.len() > self.n {
            self.heap.pop();
        }
    }

    /// Slowest first.
    pub(crate) fn sorted(&self) -> Vec<Slow> {
        let mut v: Vec<Slow> = self.heap.iter().map(|r| r.0.clone()).collect();
        v.sort_by(|a, b| b.cmp(a));
        v
    }
}

/// Why a report could not be read to its end.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Problem {
    /// Its root element is not `<testsuites>` or `<testsuite>`.
    NotAReport { root: String },
    /// Not well-formed XML (or cut short) at byte `at`.
    Malformed { at: u64, what: String },
    /// Past one of wwz's bounds (nesting, a tag's length) at byte `at`.
    Bound { at: u64, what: String },
    /// The member could not be read (a compression method wwz does not read, an I/O error).
    Unreadable { what: String },
}

impl Problem {
    /// A sentence saying what is wrong, for a page and for JSON.
    pub(crate) fn message(&self) -> String {
        match self {
            Problem::NotAReport { root } if root.is_empty() => {
                "No root element: not a test report".into()
            }
            Problem::NotAReport { root } => format!(
                "The root element is <{root}>, not <testsuites> or <testsuite>: not a JUnit report"
            ),
            Problem::Malformed { at, what } => {
                format!("Not well-formed XML at byte {at}: {what}")
            }
            Problem::Bound { at, what } => format!("Not read past byte {at}: {what}"),
            Problem::Unreadable { what } => format!("Cannot be read: {what}"),
        }
    }
}

/// Where a parse stopped before the end, spending a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    Time,
    Bytes,
    Reports,
}

impl Stop {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Stop::Time => "time",
            Stop::Bytes => "bytes",
            Stop::Reports => "reports",
        }
    }
}

/// One report as read.
#[derive(Debug, Clone, Default)]
pub(crate) struct Report {
    /// Counted from the test cases (what the page's totals say).
    pub(crate) counts: Counts,
    pub(crate) declared: Declared,
    pub(crate) suites: Vec<Suite>,
    pub(crate) suites_unlisted: u64,
    pub(crate) failures: Vec<Failure>,
    /// Failures and errors counted but not kept.
    pub(crate) failures_unlisted: u64,
    pub(crate) slowest: Slowest,
    pub(crate) problem: Option<Problem>,
    pub(crate) stopped: Option<Stop>,
    /// Bytes of the report read.
    pub(crate) read: u64,
    /// Its root element's name.
    pub(crate) root: String,
}

impl Report {
    /// The time a page shows: the declared one, else the cases' sum.
    pub(crate) fn time(&self) -> f64 {
        self.declared.time.unwrap_or(self.counts.time)
    }
}
