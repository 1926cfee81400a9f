//! A report and a run as JSON, for scripts: the same totals, failures,
//! slowest cases and suites as the pages, strings decoded and escaped once.

use std::fmt::Write;

use super::model::{Capture, Counts, Declared, Failure, Problem, Report, Slow};
use super::run::Run;
use crate::util::json::json_str;

/// `{"name": …, "size": …, "totals": …, …}` of report `name`.
pub(crate) fn report(name: &str, size: u64, r: &Report) -> String {
    let mut out = String::with_capacity(4096);
    out.push_str("{\"name\":");
    json_str(&mut out, name);
    let _ = write!(out, ",\"size\":{size},\"read\":{},\"root\":", r.read);
    json_str(&mut out, &r.root);
    out.push_str(",\"totals\":");
    counts(&mut out, &r.counts, r.time());
    out.push_str(",\"declared\":");
    declared(&mut out, &r.declared);
    out.push_str(",\"problem\":");
    problem(&mut out, r.problem.as_ref());
    out.push_str(",\"stopped\":");
    match r.stopped {
        Some(s) => json_str(&mut out, s.word()),
        None => out.push_str("null"),
    }
    out.push_str(",\"failures\":[");
    for (i, f) in r.failures.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        failure(&mut out, f, None);
    }
    let _ = write!(out, "],\"failures_unlisted\":{}", r.failures_unlisted);
    out.push_str(",\"slowest\":");
    slowest(&mut out, &r.slowest.sorted(), false);
    out.push_str(",\"suites\":[");
    for (i, s) in r.suites.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        json_str(&mut out, &s.name);
        let _ = write!(out, ",\"depth\":{},\"totals\":", s.depth);
        counts(
            &mut out,
            &s.counts,
            s.declared.time.unwrap_or(s.counts.time),
        );
        out.push_str(",\"declared\":");
        declared(&mut out, &s.declared);
        out.push_str(",\"cases\":[");
        for (k, row) in s.rows.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            out.push_str("{\"name\":");
            json_str(&mut out, &row.name);
            out.push_str(",\"classname\":");
            json_str(&mut out, &row.class);
            out.push_str(",\"outcome\":");
            json_str(&mut out, row.outcome.word());
            out.push_str(",\"time\":");
            num(&mut out, row.time);
            out.push('}');
        }
        let _ = write!(out, "],\"unlisted\":{}}}", s.unlisted);
    }
    let _ = writeln!(out, "],\"suites_unlisted\":{}}}", r.suites_unlisted);
    out
}

/// `{"path": …, "totals": …, "reports": […], "failures": […], …}` of a run.
pub(crate) fn run(title: &str, run: &Run) -> String {
    let mut out = String::with_capacity(4096);
    out.push_str("{\"path\":");
    json_str(&mut out, title);
    out.push_str(",\"totals\":");
    counts(&mut out, &run.counts, run.time);
    out.push_str(",\"reports\":[");
    for (i, (rel, r)) in run.reports.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        json_str(&mut out, rel);
        out.push_str(",\"url\":");
        json_str(&mut out, &format!("{}?view", url(rel)));
        let _ = write!(out, ",\"read\":{},\"totals\":", r.read);
        counts(&mut out, &r.counts, r.time());
        out.push_str(",\"declared\":");
        declared(&mut out, &r.declared);
        out.push_str(",\"problem\":");
        problem(&mut out, r.problem.as_ref());
        out.push_str(",\"stopped\":");
        match r.stopped {
            Some(s) => json_str(&mut out, s.word()),
            None => out.push_str("null"),
        }
        out.push('}');
    }
    out.push_str("],\"failures\":[");
    for (k, (rel, i, f)) in run.failures().enumerate() {
        if k > 0 {
            out.push(',');
        }
        failure(&mut out, f, Some((rel, i)));
    }
    let _ = write!(
        out,
        "],\"failures_unlisted\":{},\"slowest\":",
        run.failures_unlisted
    );
    slowest(&mut out, &run.slowest.sorted(), true);
    out.push_str(",\"stopped\":");
    match run.stopped {
        Some(s) => json_str(&mut out, s.word()),
        None => out.push_str("null"),
    }
    let _ = writeln!(
        out,
        ",\"unread\":{},\"not_reports\":{},\"read\":{}}}",
        run.unread, run.not_reports, run.read
    );
    out
}

/// A number JSON can hold (a sum past `f64::MAX` is not one).
fn num(out: &mut String, v: f64) {
    if v.is_finite() {
        let _ = write!(out, "{v}");
    } else {
        out.push_str("null");
    }
}

fn counts(out: &mut String, c: &Counts, time: f64) {
    let _ = write!(
        out,
        "{{\"tests\":{},\"passed\":{},\"failures\":{},\"errors\":{},\"skipped\":{},\"flaky\":{},\"time\":",
        c.tests,
        c.passed(),
        c.failures,
        c.errors,
        c.skipped,
        c.flaky
    );
    num(out, time);
    out.push_str(",\"cases_time\":");
    num(out, c.time);
    out.push('}');
}

fn declared(out: &mut String, d: &Declared) {
    let opt = |v: Option<u64>| v.map_or("null".to_string(), |v| v.to_string());
    let _ = write!(
        out,
        "{{\"tests\":{},\"failures\":{},\"errors\":{},\"skipped\":{},\"time\":",
        opt(d.tests),
        opt(d.failures),
        opt(d.errors),
        opt(d.skipped)
    );
    match d.time {
        Some(t) => num(out, t),
        None => out.push_str("null"),
    }
    out.push('}');
}

fn problem(out: &mut String, p: Option<&Problem>) {
    let Some(p) = p else {
        out.push_str("null");
        return;
    };
    let (kind, at) = match p {
        Problem::NotAReport { .. } => ("not_a_report", None),
        Problem::Malformed { at, .. } => ("malformed", Some(*at)),
        Problem::Bound { at, .. } => ("bound", Some(*at)),
        Problem::Unreadable { .. } => ("unreadable", None),
    };
    out.push_str("{\"kind\":");
    json_str(out, kind);
    out.push_str(",\"message\":");
    json_str(out, &p.message());
    match at {
        Some(at) => {
            let _ = write!(out, ",\"at\":{at}}}");
        }
        None => out.push_str(",\"at\":null}"),
    }
}

fn capture(out: &mut String, key: &str, c: &Capture) {
    let _ = write!(out, ",\"{key}\":");
    json_str(out, &String::from_utf8_lossy(&c.bytes));
    let _ = write!(out, ",\"{key}_cut\":{}", c.cut);
}

/// One failure; on a run's page, with its report and its link there.
fn failure(out: &mut String, f: &Failure, at: Option<(&str, usize)>) {
    out.push_str("{\"outcome\":");
    json_str(out, f.outcome.word());
    if let Some((rel, i)) = at {
        out.push_str(",\"report\":");
        json_str(out, rel);
        out.push_str(",\"url\":");
        json_str(out, &format!("{}?view#f{}", url(rel), i + 1));
    }
    for (key, value) in [
        ("suite", &f.suite),
        ("classname", &f.class),
        ("name", &f.name),
        ("file", &f.file),
        ("type", &f.kind),
        ("message", &f.message),
    ] {
        let _ = write!(out, ",\"{key}\":");
        json_str(out, value);
    }
    out.push_str(",\"time\":");
    num(out, f.time);
    capture(out, "body", &f.body);
    capture(out, "output", &f.output);
    out.push('}');
}

fn slowest(out: &mut String, slow: &[Slow], with_report: bool) {
    out.push('[');
    for (i, s) in slow.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        if with_report {
            out.push_str("\"report\":");
            json_str(out, &s.report);
            out.push(',');
        }
        out.push_str("\"suite\":");
        json_str(out, &s.suite);
        out.push_str(",\"classname\":");
        json_str(out, &s.class);
        out.push_str(",\"name\":");
        json_str(out, &s.name);
        out.push_str(",\"time\":");
        num(out, s.time);
        out.push('}');
    }
    out.push(']');
}

/// A URL relative to the directory for member path `rel`, each segment percent-encoded.
fn url(rel: &str) -> String {
    let mut out = String::from(".");
    for seg in rel.split('/') {
        out.push('/');
        crate::util::percent::encode_into(
            &mut out,
            seg.as_bytes(),
            crate::util::percent::Keep::HeaderSegment,
        );
    }
    out
}
