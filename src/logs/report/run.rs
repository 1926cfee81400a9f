//! `DIR/?tests`: the reports under a directory read one after the other
//! and summed, within the run's budgets: [`super::MAX_RUN_REPORTS`]
//! reports, [`super::RUN_BYTES`] bytes, one deadline. Each report keeps
//! its counts and its first failures (linked to its own page); the
//! slowest cases are merged into one bounded heap.

use std::sync::Arc;
use std::time::Instant;

use super::model::{Counts, Failure, Problem, Report, Slowest, Stop};
use super::parse::Budget;
use super::{is_xml, named_like_report, read, MAX_RUN_REPORTS, RUN_BYTES, RUN_LIMITS};
use crate::archive::Archive;

/// Failures a run's page lists, all reports together.
pub(crate) const MAX_FAILURES: usize = 200;

/// A run: its reports, in name order.
#[derive(Debug, Default)]
pub(crate) struct Run {
    /// (path below the directory, what was read of it).
    pub(crate) reports: Vec<(String, Report)>,
    pub(crate) counts: Counts,
    /// The reports' times summed (each its declared time, else its cases').
    pub(crate) time: f64,
    pub(crate) slowest: Slowest,
    /// Failures and errors counted but not listed.
    pub(crate) failures_unlisted: u64,
    /// `.xml` members read that were not reports (not listed).
    pub(crate) not_reports: usize,
    /// Where a budget stopped the run, and the `.xml` members left unread.
    pub(crate) stopped: Option<Stop>,
    pub(crate) unread: usize,
    pub(crate) read: u64,
}

impl Run {
    /// Reads the `.xml` members under `dir` until `deadline`.
    pub(crate) fn read(archive: &Arc<Archive>, dir: &str, deadline: Instant) -> Run {
        let index = archive.index();
        let mut members: Vec<(String, usize)> = index
            .entries()
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let name = String::from_utf8_lossy(index.name_of(e));
                let wanted = name.starts_with(dir) && !name.ends_with('/') && is_xml(&name);
                wanted.then(|| (name.into_owned(), i))
            })
            .collect();
        members.sort_unstable();
        members.dedup_by(|a, b| a.0 == b.0);
        let mut run = Run {
            slowest: Slowest::new(RUN_LIMITS.slowest),
            ..Run::default()
        };
        let mut listed = 0usize;
        for (k, (name, i)) in members.iter().enumerate() {
            let stop = if run.reports.len() >= MAX_RUN_REPORTS {
                Some(Stop::Reports)
            } else if run.read >= RUN_BYTES {
                Some(Stop::Bytes)
            } else if Instant::now() >= deadline {
                Some(Stop::Time)
            } else {
                None
            };
            if let Some(stop) = stop {
                run.stopped = Some(stop);
                run.unread = members.len() - k;
                break;
            }
            let Some(entry) = index.entries().get(*i) else {
                continue;
            };
            let rel = name.get(dir.len()..).unwrap_or(name).to_string();
            let mut limits = RUN_LIMITS;
            limits.failures = limits.failures.min(MAX_FAILURES.saturating_sub(listed));
            let budget = Budget {
                deadline,
                bytes: RUN_BYTES.saturating_sub(run.read),
            };
            let report = read(archive, entry, &limits, budget, &rel);
            run.read += report.read;
            if matches!(report.problem, Some(Problem::NotAReport { .. }))
                && !named_like_report(name)
            {
                // An `.xml` member of another kind (a pom.xml, a coverage report).
                run.not_reports += 1;
                continue;
            }
            listed += report.failures.len();
            run.counts.add(&report.counts);
            run.time += report.time();
            run.failures_unlisted += report.failures_unlisted;
            for slow in report.slowest.sorted() {
                if run.slowest.wants(slow.time) {
                    run.slowest.offer(slow);
                }
            }
            if let Some(stop) = report.stopped {
                run.stopped = Some(stop);
                run.reports.push((rel, report));
                run.unread = members.len() - k - 1;
                break;
            }
            run.reports.push((rel, report));
        }
        run
    }

    /// The failures listed, each with its report and its place there.
    pub(crate) fn failures(&self) -> impl Iterator<Item = (&str, usize, &Failure)> {
        self.reports.iter().flat_map(|(rel, r)| {
            r.failures
                .iter()
                .enumerate()
                .map(move |(i, f)| (rel.as_str(), i, f))
        })
    }

    /// Reports with a problem (not well-formed, cut short, past a bound).
    pub(crate) fn problems(&self) -> usize {
        self.reports
            .iter()
            .filter(|(_, r)| r.problem.is_some())
            .count()
    }
}
