//! A report's page and a run's page, for people: totals first, then the
//! failures and errors (open), the slowest cases, and the suites, each a
//! `<details>` that opens without a script. Every string from a report is
//! escaped; bodies go through the terminal renderer, so colours show as in
//! a log and no byte becomes markup.

use std::fmt::Write;

use super::model::{
    Capture, Counts, Declared, Failure, Outcome, Problem, Report, Slow, Stop, Suite,
};
use super::run::Run;
use super::{parse, TIME_BUDGET};
use crate::logs::terminal::{self, Renderer};
use crate::pages::html::{self, escape};
use crate::util::percent;

/// Failures shown open; the rest start closed.
const OPEN_FAILURES: usize = 20;

/// The page of report `name` (its path in the archive), `size` bytes.
pub(crate) fn report(name: &str, size: u64, r: &Report) -> String {
    let mut out = String::with_capacity(16 << 10);
    let base = name.rsplit('/').next().unwrap_or(name);
    let raw = percent::segment(base, percent::Context::HtmlAttribute);
    html::open_page(&mut out, &escape(name), &[STYLE, terminal::STYLE]);
    let _ = write!(
        out,
        "<header><h1>{}</h1><nav><a href=\"{raw}\">raw</a> · <a href=\"./?tests\">all reports here</a> · {size} bytes</nav></header>\n<main>\n",
        escape(name)
    );
    let whole = r.problem.is_none() && r.stopped.is_none();
    totals(&mut out, &r.counts, r.time(), Some(&r.declared), whole);
    if let Some(p) = &r.problem {
        problem(&mut out, p, &raw);
    }
    if let Some(stop) = r.stopped {
        let _ = writeln!(
            out,
            "<p class=\"problem\">Read {} of {size} bytes within the {} budget ({} s): the totals count what was read.</p>",
            r.read,
            stop.word(),
            TIME_BUDGET.as_secs()
        );
    }
    let bad = r.counts.failures + r.counts.errors;
    if bad > 0 {
        let _ = writeln!(out, "<h2 id=\"failures\">Failures and errors ({bad})</h2>");
        for (i, f) in r.failures.iter().enumerate() {
            failure(&mut out, i, f, None);
        }
        unlisted(&mut out, r.failures_unlisted, "failures and errors");
    }
    slowest(&mut out, &r.slowest.sorted(), false);
    if !r.suites.is_empty() {
        let n = r.suites.len() as u64 + r.suites_unlisted;
        let _ = writeln!(out, "<h2 id=\"suites\">Suites ({n})</h2>");
        for s in &r.suites {
            suite(&mut out, s);
        }
        unlisted(&mut out, r.suites_unlisted, "suites");
    }
    out.push_str("</main>\n");
    let _ = writeln!(out, "<footer><a href=\"{raw}\">raw</a></footer>");
    out.push_str(html::CLOSE_PAGE);
    out
}

/// The page of a run: `title` is the directory's URL path.
pub(crate) fn run(title: &str, run: &Run) -> String {
    let mut out = String::with_capacity(16 << 10);
    html::open_page(
        &mut out,
        &format!("Tests in {}", escape(title)),
        &[STYLE, terminal::STYLE],
    );
    let _ = write!(
        out,
        "<header><h1>Tests in <a href=\"./\">{}</a></h1><nav>{} reports",
        escape(title),
        run.reports.len()
    );
    let problems = run.problems();
    if problems > 0 {
        let _ = write!(
            out,
            " · <span class=\"bad\">{problems} not read whole</span>"
        );
    }
    out.push_str("</nav></header>\n<main>\n");
    if run.reports.is_empty() && run.stopped.is_none() {
        out.push_str("<p>No test reports under this directory.</p>\n");
    } else {
        let whole = run.stopped.is_none() && run.problems() == 0;
        totals(&mut out, &run.counts, run.time, None, whole);
    }
    if let Some(stop) = run.stopped {
        let why = match stop {
            Stop::Time => format!("the time budget ({} s)", TIME_BUDGET.as_secs()),
            Stop::Bytes => format!("the byte budget ({} MiB)", super::RUN_BYTES >> 20),
            Stop::Reports => format!("the report budget ({})", super::MAX_RUN_REPORTS),
        };
        let _ = writeln!(
            out,
            "<p class=\"problem\">Stopped by {why}: {} <code>.xml</code> members not read; the totals count what was read.</p>",
            run.unread
        );
    }
    let bad = run.counts.failures + run.counts.errors;
    if bad > 0 {
        let _ = writeln!(out, "<h2 id=\"failures\">Failures and errors ({bad})</h2>");
        for (k, (rel, i, f)) in run.failures().enumerate() {
            let link = format!("{}?view#f{}", rel_href(rel), i + 1);
            failure(&mut out, k, f, Some((rel, &link)));
        }
        unlisted(&mut out, run.failures_unlisted, "failures and errors");
    }
    if !run.reports.is_empty() {
        let _ = writeln!(
            out,
            "<h2 id=\"reports\">Reports ({})</h2>\n<table class=\"cases\"><thead><tr><th>report</th><th class=\"n\">tests</th><th class=\"n\">failed</th><th class=\"n\">errors</th><th class=\"n\">skipped</th><th class=\"n\">time</th></tr></thead><tbody>",
            run.reports.len()
        );
        // Reports with failures or problems first, then by name.
        let mut order: Vec<&(String, Report)> = run.reports.iter().collect();
        order.sort_by_key(|(rel, r)| (r.counts.ok() && r.problem.is_none(), rel.as_str()));
        for (rel, r) in order {
            let c = &r.counts;
            let class = if !c.ok() || r.problem.is_some() {
                "failed"
            } else {
                "passed"
            };
            let mut note = String::new();
            if let Some(p) = &r.problem {
                let _ = write!(note, "<div class=\"m\">{}</div>", escape(&p.message()));
            }
            let _ = writeln!(
                out,
                "<tr class=\"{class}\"><td><a href=\"{}?view\">{}</a>{note}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                rel_href(rel),
                escape(rel),
                c.tests,
                c.failures,
                c.errors,
                c.skipped,
                secs(r.time())
            );
        }
        out.push_str("</tbody></table>\n");
    }
    slowest(&mut out, &run.slowest.sorted(), true);
    out.push_str("</main>\n<footer>");
    let _ = write!(
        out,
        "{} reports read, {} bytes",
        run.reports.len(),
        run.read
    );
    if run.not_reports > 0 {
        let _ = write!(out, "; {} other <code>.xml</code> members", run.not_reports);
    }
    out.push_str("</footer>\n");
    out.push_str(html::CLOSE_PAGE);
    out
}

/// The totals; `whole` is false when what was counted is not the whole
/// report (a problem or a budget stopped the reading), which no tick may hide.
fn totals(out: &mut String, c: &Counts, time: f64, declared: Option<&Declared>, whole: bool) {
    let verdict = if c.ok() && whole { "ok" } else { "bad" };
    let _ = write!(
        out,
        "<section class=\"totals {verdict}\"><p class=\"verdict\">"
    );
    if !whole {
        let _ = write!(
            out,
            "⚠ Not read whole: {} failed so far",
            c.failures + c.errors
        );
    } else if c.ok() {
        let _ = write!(out, "✓ {} passed", c.passed());
    } else {
        let errors = if c.errors == 1 { "error" } else { "errors" };
        let _ = write!(out, "✗ {} failed, {} {errors}", c.failures, c.errors);
    }
    let _ = writeln!(out, " · {} tests · {}</p>", c.tests, secs(time));
    let _ = writeln!(
        out,
        "<dl><div><dt>tests</dt><dd>{}</dd></div><div><dt>passed</dt><dd>{}</dd></div>\
         <div class=\"failed\"><dt>failed</dt><dd>{}</dd></div><div class=\"error\"><dt>errors</dt><dd>{}</dd></div>\
         <div class=\"skipped\"><dt>skipped</dt><dd>{}</dd></div><div><dt>flaky</dt><dd>{}</dd></div><div><dt>time</dt><dd>{}</dd></div></dl>",
        c.tests,
        c.passed(),
        c.failures,
        c.errors,
        c.skipped,
        c.flaky,
        secs(time)
    );
    if let Some(d) = declared.filter(|d| d.differs(c)) {
        let show = |v: Option<u64>| v.map_or("—".to_string(), |v| v.to_string());
        let _ = writeln!(
            out,
            "<p class=\"note\">The report's attributes say {} tests, {} failures, {} errors, {} skipped; the counts above are of the test cases it holds.</p>",
            show(d.tests),
            show(d.failures),
            show(d.errors),
            show(d.skipped)
        );
    }
    out.push_str("</section>\n");
}

fn problem(out: &mut String, p: &Problem, raw: &str) {
    let counted = if matches!(p, Problem::NotAReport { .. }) {
        ""
    } else {
        " What was read before is counted above."
    };
    let _ = writeln!(
        out,
        "<p class=\"problem\">{}.{counted} <a href=\"{raw}\">The raw member</a>.</p>",
        escape(&p.message())
    );
}

fn unlisted(out: &mut String, n: u64, what: &str) {
    if n > 0 {
        let _ = writeln!(
            out,
            "<p class=\"note\">{n} more {what} counted, not listed.</p>"
        );
    }
}

/// Failure `i` of a page (open for the first ones); `at` links it to its
/// report on a run's page, else it is anchored `#f{i+1}`.
fn failure(out: &mut String, i: usize, f: &Failure, at: Option<(&str, &str)>) {
    let open = if i < OPEN_FAILURES { " open" } else { "" };
    let id = if at.is_some() {
        String::new()
    } else {
        format!(" id=\"f{}\"", i + 1)
    };
    let word = f.outcome.word();
    let _ = write!(
        out,
        "<details class=\"f\"{id}{open}><summary><span class=\"b {word}\">{word}</span> <b>{}</b>",
        escape(&f.name)
    );
    if !f.class.is_empty() {
        let _ = write!(out, " <span class=\"c\">{}</span>", escape(&f.class));
    }
    let _ = write!(out, " <span class=\"t\">{}</span>", secs(f.time));
    if let Some((rel, link)) = at {
        let _ = write!(out, " <a class=\"r\" href=\"{link}\">{}</a>", escape(rel));
    }
    // The summary holds the message's first line; the rest of a long one
    // (pytest puts the whole traceback there) below, unless the body says it.
    let mut lines = f.message.trim().splitn(2, '\n');
    let first = lines.next().unwrap_or_default();
    let rest = lines.next().unwrap_or_default();
    if !first.is_empty() || !f.kind.is_empty() {
        out.push_str("<div class=\"m\">");
        if !f.kind.is_empty() {
            let _ = write!(out, "<span class=\"k\">{}</span> ", escape(&f.kind));
        }
        html::escape_into(&parse::cut(first, 300), out);
        if first.len() > 300 || !rest.is_empty() {
            out.push_str(" …");
        }
        out.push_str("</div>");
    }
    out.push_str("</summary>\n");
    let squeeze = |s: &[u8]| -> Vec<u8> {
        s.iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect()
    };
    let said = squeeze(f.message.as_bytes());
    let in_body = memchr::memmem::find(&squeeze(&f.body.bytes), &said).is_some();
    if (first.len() > 300 || !rest.is_empty()) && !in_body {
        pre(out, f.message.as_bytes(), false);
    }
    if !f.suite.is_empty() || !f.file.is_empty() {
        out.push_str("<p class=\"where\">");
        if !f.suite.is_empty() {
            let _ = write!(out, "suite {}", escape(&f.suite));
        }
        if !f.file.is_empty() {
            let _ = write!(out, " · file {}", escape(&f.file));
        }
        out.push_str("</p>\n");
    }
    if !blank(&f.body) {
        pre(out, &f.body.bytes, f.body.cut);
    }
    if !blank(&f.output) {
        out.push_str("<details class=\"o\"><summary>output</summary>");
        pre(out, &f.output.bytes, f.output.cut);
        out.push_str("</details>\n");
    }
    out.push_str("</details>\n");
}

fn blank(c: &Capture) -> bool {
    !c.cut && c.bytes.iter().all(u8::is_ascii_whitespace)
}

/// Text as a log shows it: terminal colours rendered, everything escaped.
fn pre(out: &mut String, text: &[u8], cut: bool) {
    out.push_str("<pre class=\"body\">");
    let text = ansi_from_pytest(text);
    let mut renderer = Renderer::new();
    let mut line_html = String::new();
    let trimmed = text.strip_suffix(b"\n").unwrap_or(&text);
    for (k, line) in trimmed.split(|&b| b == b'\n').enumerate() {
        if k > 0 {
            out.push('\n');
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        line_html.clear();
        renderer.parse(line);
        renderer.html(&mut line_html, 0, &[]);
        out.push_str(&line_html);
    }
    if cut {
        out.push_str("\n<span class=\"cut\">… (cut)</span>");
    }
    out.push_str("</pre>\n");
}

/// pytest writes the escape byte, which XML 1.0 cannot hold, as the text
/// `#x1B`: a colour sequence written so is read as one.
fn ansi_from_pytest(text: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    const WRITTEN: &[u8] = b"#x1B[";
    if memchr::memmem::find(text, WRITTEN).is_none() {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = memchr::memmem::find(rest, WRITTEN) {
        out.extend_from_slice(rest.get(..i).unwrap_or_default());
        out.extend_from_slice(b"\x1b[");
        rest = rest.get(i + WRITTEN.len()..).unwrap_or_default();
    }
    out.extend_from_slice(rest);
    std::borrow::Cow::Owned(out)
}

fn slowest(out: &mut String, slow: &[Slow], with_report: bool) {
    // Cases that took no measurable time are not among the slow.
    let slow: Vec<&Slow> = slow.iter().filter(|s| s.time > 0.0).collect();
    if slow.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<h2 id=\"slowest\">Slowest tests</h2>\n<table class=\"cases\"><tbody>"
    );
    for s in slow {
        let mut where_ = String::new();
        if with_report {
            let _ = write!(
                where_,
                " <a class=\"r\" href=\"{}?view\">{}</a>",
                rel_href(&s.report),
                escape(&s.report)
            );
        }
        let class = if s.class.is_empty() {
            &s.suite
        } else {
            &s.class
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"n\">{}</td><td>{} <span class=\"c\">{}</span>{where_}</td></tr>",
            secs(s.time),
            escape(&s.name),
            escape(class)
        );
    }
    out.push_str("</tbody></table>\n");
}

fn suite(out: &mut String, s: &Suite) {
    let c = &s.counts;
    let (word, open) = if c.ok() {
        ("passed", "")
    } else {
        ("failed", " open")
    };
    let indent = s.depth.min(8);
    let _ = write!(
        out,
        "<details class=\"s\" style=\"margin-left:{indent}em\"{open}><summary><span class=\"b {word}\">{}</span> <b>{}</b> <span class=\"c\">{} tests",
        if c.ok() { "✓" } else { "✗" },
        escape(if s.name.is_empty() { "(unnamed suite)" } else { &s.name }),
        c.tests
    );
    for (n, w) in [
        (c.failures, "failed"),
        (c.errors, "errors"),
        (c.skipped, "skipped"),
    ] {
        if n > 0 {
            let _ = write!(out, ", {n} {w}");
        }
    }
    let _ = writeln!(
        out,
        " · {}</span></summary>",
        secs(s.declared.time.unwrap_or(c.time))
    );
    if !s.rows.is_empty() {
        out.push_str("<table class=\"cases\"><tbody>\n");
        for row in &s.rows {
            let word = row.outcome.word();
            let name = match row.failure {
                Some(i) => format!("<a href=\"#f{}\">{}</a>", i + 1, escape(&row.name)),
                None => escape(&row.name),
            };
            let mark = match row.outcome {
                Outcome::Passed => "✓",
                Outcome::Skipped => "–",
                Outcome::Failed | Outcome::Error => "✗",
            };
            let _ = writeln!(
                out,
                "<tr class=\"{word}\"><td class=\"o\" title=\"{word}\">{mark}</td><td>{name} <span class=\"c\">{}</span></td><td class=\"n\">{}</td></tr>",
                escape(&row.class),
                secs(row.time)
            );
        }
        out.push_str("</tbody></table>\n");
    }
    unlisted(out, s.unlisted, "cases");
    out.push_str("</details>\n");
}

/// A duration for people: `0.012 s`, `3.4 s`, `2 min 5 s`, `1 h 2 min`.
pub(crate) fn secs(t: f64) -> String {
    if !t.is_finite() || t < 0.0 {
        return "—".into();
    }
    if t < 1.0 {
        format!("{t:.3} s")
    } else if t < 60.0 {
        format!("{t:.1} s")
    } else if t < 3600.0 {
        format!("{} min {} s", (t / 60.0).floor(), (t % 60.0).floor())
    } else {
        format!(
            "{} h {} min",
            (t / 3600.0).floor(),
            ((t % 3600.0) / 60.0).floor()
        )
    }
}

/// A relative link from the directory to member path `rel` (`a/TEST b.xml` → `./a/TEST%20b.xml`).
fn rel_href(rel: &str) -> String {
    let mut out = String::from(".");
    for seg in rel.split('/') {
        out.push('/');
        let enc = percent::segment(seg, percent::Context::HtmlAttribute);
        out.push_str(enc.strip_prefix("./").unwrap_or(&enc));
    }
    out
}

const STYLE: &str = "\
:root{--dim:#666;--line:#8883;--ok:#1a7f37;--bad:#cf222e;--skip:#9a6700}\
@media (prefers-color-scheme:dark){:root{--dim:#999;--ok:#3fb950;--bad:#f85149;--skip:#d29922}}\
body{margin:0;font:15px/1.45 system-ui,sans-serif;background:Canvas;color:CanvasText}\
header,footer{padding:.5em 1em;background:#8881}h1{font-size:1.05em;margin:0;overflow-wrap:anywhere}nav{font-size:.9em}\
main{padding:.25em 1em 1em;max-width:80em}h2{font-size:1em;margin:1.2em 0 .4em}\
.totals{border-left:.4em solid var(--ok);padding:.3em .8em;margin:.6em 0;background:#8881}.totals.bad{border-color:var(--bad)}\
.verdict{font-size:1.2em;font-weight:600;margin:.2em 0}.ok .verdict{color:var(--ok)}.bad .verdict,.bad{color:var(--bad)}\
dl{display:flex;flex-wrap:wrap;gap:.3em 1.5em;margin:.3em 0}dl div{display:flex;gap:.4em}dt{color:var(--dim)}dd{margin:0;font-weight:600}\
.problem{border-left:.4em solid var(--skip);padding:.3em .8em;background:#8881}.note{color:var(--dim);font-size:.9em}\
details.f{border:1px solid var(--line);border-left:.3em solid var(--bad);margin:.4em 0;padding:.2em .6em}\
details.s{border-top:1px solid var(--line);padding:.2em 0}summary{cursor:pointer;overflow-wrap:anywhere}\
.b{font-size:.8em;font-weight:600;padding:0 .4em;border-radius:.3em;color:#fff;background:var(--ok)}\
.b.failed,.b.error{background:var(--bad)}.b.skipped{background:var(--skip)}\
.c,.t,.where,.k{color:var(--dim)}.c,.t{font-size:.9em}.m{font:13px/1.4 ui-monospace,monospace;white-space:pre-wrap;margin:.2em 0;overflow-wrap:anywhere}\
pre.body{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap;overflow-wrap:anywhere;background:#8881;padding:.4em .6em;margin:.3em 0;max-height:40em;overflow:auto}\
.cut{color:var(--dim)}.r{font-size:.85em;margin-left:.4em}\
table.cases{border-collapse:collapse;width:100%;margin:.2em 0}table.cases td,table.cases th{padding:.15em .5em;border-bottom:1px solid var(--line);text-align:left;vertical-align:top;overflow-wrap:anywhere}\
.n{text-align:right!important;white-space:nowrap}tr.failed .o,tr.error .o{color:var(--bad)}tr.passed .o{color:var(--ok)}tr.skipped .o{color:var(--skip)}td.o{width:1em}\
@media (max-width:600px){body{font-size:13px}main{padding:.25em .5em}}";
