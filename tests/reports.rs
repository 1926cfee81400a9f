//! Test reports (`?view` on JUnit XML, `DIR/?tests`) through nginx and the
//! FastCGI daemon: every report of the corpus collected from public
//! repositories (fixtures/ci/reports, SOURCES says where each came from)
//! and reports written here by real pytest runs, their totals checked
//! against Python's xml.etree (fixtures/ci/reports/expect.py); a 100 MB
//! report in bounded memory; malformed and hostile XML answered with a
//! clear page while the process keeps serving; listings badge reports; a
//! report page as Chromium shows it (a screenshot under the target dir).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::common::nginx::{Diagnostics, Nginx};
use crate::common::{self, *};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ci/reports")
}

fn expect_script() -> PathBuf {
    corpus_dir().join("expect.py")
}

/// wwz's FastCGI daemon behind nginx with the documented snippet.
fn behind_nginx(site: &Site) -> (Wwz, Nginx, Diagnostics) {
    let wwz = Wwz::start(site, Transport::Unix, &[]);
    let Addr::Unix(sock) = &wwz.addr else {
        unreachable!()
    };
    let snippet = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/servers/nginx.conf");
    let nginx = common::nginx::start(site, sock, true, &format!("include {};", snippet.display()));
    let diag = Diagnostics(vec![
        ("nginx error log", nginx.error_log.clone()),
        ("wwz stderr", wwz.proc.stderr_path.clone()),
    ]);
    (wwz, nginx, diag)
}

/// What expect.py says of each file (by file name).
fn expected(files: &[PathBuf]) -> Vec<Value> {
    let out = Command::new(require_tool("python3", "python3"))
        .arg(expect_script())
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A page a report may take up to its time budget to make.
fn get(port: u16, path: &str) -> HttpResponse {
    curl_get_within(port, path, &[], patience(Duration::from_secs(30)))
}

fn get_json(port: u16, path: &str) -> Value {
    let r = get(port, path);
    assert_eq!(r.status, 200, "{path}: {r:?}");
    assert!(
        r.header("Content-Type").starts_with("application/json"),
        "{path}: {:?}",
        r.headers
    );
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Asserts wwz's JSON totals of one report equal what expect.py computed.
fn assert_totals(what: &str, got: &Value, want: &Value) {
    let (t, c) = (&got["totals"], &want["counted"]);
    for k in ["tests", "failures", "errors", "skipped", "flaky"] {
        assert_eq!(t[k], c[k], "{what}: {k}: wwz {t} / expect.py {c}");
    }
    let (a, b) = (
        t["cases_time"].as_f64().unwrap(),
        c["time"].as_f64().unwrap(),
    );
    assert!(
        (a - b).abs() <= 1e-6 * b.max(1.0),
        "{what}: time {a} vs {b}"
    );
    let (d, e) = (&got["declared"], &want["declared"]);
    for k in ["tests", "failures", "errors", "skipped"] {
        assert_eq!(d[k], e[k], "{what}: declared {k}: wwz {d} / expect.py {e}");
    }
    match (d["time"].as_f64(), e["time"].as_f64()) {
        (Some(a), Some(b)) => assert!(
            (a - b).abs() <= 1e-6 * b.max(1.0),
            "{what}: declared time {a} vs {b}"
        ),
        (a, b) => assert_eq!(a, b, "{what}: declared time"),
    }
}

/// The corpus as `run.wwz` (stored) and `run-deflated.wwz` (deflated),
/// under `reports/`, with a `pom.xml` beside them (not a report).
fn corpus_archives(site: &Site) -> Vec<PathBuf> {
    let src = site.path("corpus");
    let dir = src.join("reports");
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for e in std::fs::read_dir(corpus_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "xml") {
            std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
            files.push(p);
        }
    }
    files.sort();
    std::fs::write(
        src.join("pom.xml"),
        "<project><modelVersion>4.0.0</modelVersion></project>\n",
    )
    .unwrap();
    zip_stored(&src, &site.docroot.join("run.wwz"));
    zip_deflated(&src, &site.docroot.join("run-deflated.wwz"));
    files
}

#[test]
fn corpus_totals_equal_what_the_xml_says_stored_and_deflated() {
    let site = Site::new();
    let files = corpus_archives(&site);
    assert!(files.len() >= 25, "{files:?}");
    let want = expected(&files);
    let (mut wwz, nginx, _diag) = behind_nginx(&site);
    for archive in ["run.wwz", "run-deflated.wwz"] {
        let mut sum = [0u64; 5];
        let mut reports = 0;
        for (file, want) in files.iter().zip(&want) {
            let name = file.file_name().unwrap().to_str().unwrap();
            let path = format!(
                "/{archive}/reports/{}?view&format=json",
                url_encode_path(name)
            );
            let what = format!("{archive}/{name}");
            let is_report = want["ok"] == true && want["report"] == true;
            let named = name.starts_with("TEST-") || name.to_ascii_lowercase().contains("junit");
            if want["ok"] == true && want["report"] == false && !named {
                // Not a report (another root, another name): the log view.
                let r = get(nginx.port, &path);
                assert_eq!(r.status, 200, "{what}");
                assert!(r.header("Content-Type").starts_with("text/html"), "{what}");
                let body = String::from_utf8_lossy(&r.body);
                assert!(
                    body.contains("<main id=\"log\">"),
                    "{what}: not the log view: {body}"
                );
                continue;
            }
            let got = get_json(nginx.port, &path);
            reports += 1;
            if is_report {
                assert_eq!(got["problem"], Value::Null, "{what}");
                assert_totals(&what, &got, want);
            } else if want["ok"] == false {
                assert_eq!(
                    got["problem"]["kind"], "malformed",
                    "{what}: {}",
                    got["problem"]
                );
                assert!(got["problem"]["at"].as_u64().unwrap() > 0, "{what}");
            } else {
                assert_eq!(got["problem"]["kind"], "not_a_report", "{what}");
            }
            let t = &got["totals"];
            for (k, key) in ["tests", "failures", "errors", "skipped", "flaky"]
                .iter()
                .enumerate()
            {
                sum[k] += t[key].as_u64().unwrap();
            }
            // The page for people: 200, the same totals, failures listed.
            let page = get(
                nginx.port,
                &format!("/{archive}/reports/{}?view", url_encode_path(name)),
            );
            assert_eq!(page.status, 200, "{what}");
            let html = String::from_utf8(page.body).unwrap();
            assert!(
                html.contains(&format!("<dt>tests</dt><dd>{}</dd>", t["tests"])),
                "{what}"
            );
            let bad = t["failures"].as_u64().unwrap() + t["errors"].as_u64().unwrap();
            assert_eq!(html.contains("Failures and errors"), bad > 0, "{what}");
            if want["ok"] == false {
                assert!(html.contains("Not well-formed XML at byte"), "{what}");
                assert!(
                    html.contains(&format!(
                        "href=\"./{}\">The raw member</a>",
                        url_encode_path(name)
                    )),
                    "{what}"
                );
            }
        }
        // The run: every report summed, the pom.xml not among them.
        let run = get_json(nginx.port, &format!("/{archive}/?tests&format=json"));
        let t = &run["totals"];
        for (k, key) in ["tests", "failures", "errors", "skipped", "flaky"]
            .iter()
            .enumerate()
        {
            assert_eq!(t[key].as_u64().unwrap(), sum[k], "{archive}: run {key}");
        }
        assert_eq!(
            run["reports"].as_array().unwrap().len(),
            reports,
            "{archive}"
        );
        assert_eq!(
            run["not_reports"], 2,
            "{archive}: pom.xml and the NUnit report"
        );
        assert_eq!(run["stopped"], Value::Null);
        let failures = run["failures"].as_array().unwrap();
        assert!(!failures.is_empty());
        for f in failures {
            let url = f["url"].as_str().unwrap();
            assert!(
                url.starts_with("./reports/") && url.contains("?view#f"),
                "{url}"
            );
        }
        // The run for people: failures first, each linking its report's page.
        let page = get(nginx.port, &format!("/{archive}/reports/?tests"));
        assert_eq!(page.status, 200);
        let html = String::from_utf8(page.body).unwrap();
        let (f, r) = (
            html.find("Failures and errors").unwrap(),
            html.find("id=\"reports\"").unwrap(),
        );
        assert!(f < r, "failures come first");
        assert!(
            html.contains("href=\"./jest-junit.xml?view#f1\""),
            "a failure links its report"
        );
    }
    wwz.assert_healthy(&site);
}

/// A module of pytest tests that pass, fail, error, skip and xfail, one
/// printing colours; run with the JUnit XML output of both families.
#[test]
fn pytest_reports_written_here() {
    let pytest = require_tool("pytest-3", "python3-pytest");
    let site = Site::new();
    let work = site.path("pytest");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(
        work.join("test_sample.py"),
        r#"import pytest

def test_passes():
    assert 1 + 1 == 2

def test_fails():
    print("\x1b[31mred output\x1b[0m and <markup> & more")
    assert {"a": 1, "b": 2} == {"a": 1, "b": 3}

@pytest.fixture
def broken():
    raise RuntimeError("fixture <broke>")

def test_errors(broken):
    pass

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass

@pytest.mark.xfail(reason="known bug")
def test_xfails():
    assert False

@pytest.mark.parametrize("n", range(5))
def test_many(n):
    assert n < 4
"#,
    )
    .unwrap();
    let out_dir = site.path("pytest-out/ci/tests");
    std::fs::create_dir_all(&out_dir).unwrap();
    for (family, file) in [
        ("xunit2", "junit.xml"),
        ("xunit1", "TEST-pytest-xunit1.xml"),
    ] {
        let out = Command::new(&pytest)
            .args(["-q", "-p", "no:cacheprovider", "--color=yes", "-o"])
            .arg(format!("junit_family={family}"))
            .args(["-o", "junit_logging=all"])
            .arg(format!("--junitxml={}", out_dir.join(file).display()))
            .arg("test_sample.py")
            .current_dir(&work)
            .output()
            .unwrap();
        // Exit 1: tests failed, as they should.
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let files = [
        out_dir.join("junit.xml"),
        out_dir.join("TEST-pytest-xunit1.xml"),
    ];
    let want = expected(&files);
    zip_deflated(&site.path("pytest-out"), &site.docroot.join("py-run.wwz"));
    let (_wwz, nginx, _diag) = behind_nginx(&site);
    let mut tests = 0;
    for (file, want) in files.iter().zip(&want) {
        assert_eq!(want["ok"], true);
        let c = &want["counted"];
        // pass, fail, error, skip, xfail (a skip to JUnit), five parametrized (one fails).
        assert_eq!(
            (
                c["tests"].as_u64(),
                c["failures"].as_u64(),
                c["errors"].as_u64(),
                c["skipped"].as_u64()
            ),
            (Some(10), Some(2), Some(1), Some(2)),
            "{c}"
        );
        let name = file.file_name().unwrap().to_str().unwrap();
        let got = get_json(
            nginx.port,
            &format!("/py-run.wwz/ci/tests/{name}?view&format=json"),
        );
        assert_totals(name, &got, want);
        tests += got["totals"]["tests"].as_u64().unwrap();
        let fails = got["failures"].as_array().unwrap();
        let f = fails.iter().find(|f| f["name"] == "test_fails").unwrap();
        assert!(f["body"].as_str().unwrap().contains("assert"), "{f}");
        let e = fails.iter().find(|f| f["name"] == "test_errors").unwrap();
        assert_eq!(e["outcome"], "error");
        assert!(
            e["body"].as_str().unwrap().contains("fixture <broke>"),
            "{e}"
        );
        let page = get(nginx.port, &format!("/py-run.wwz/ci/tests/{name}?view"));
        let html = String::from_utf8(page.body).unwrap();
        assert!(html.contains("fixture &lt;broke&gt;"), "escaped");
        assert!(
            !html.contains("#x1B["),
            "pytest's escaped colours are rendered"
        );
        assert!(
            html.contains("&lt;markup&gt; &amp; more"),
            "captured output, escaped"
        );
    }
    let run = get_json(nginx.port, "/py-run.wwz/ci/?tests&format=json");
    assert_eq!(run["totals"]["tests"].as_u64(), Some(tests));
    assert_eq!(run["reports"].as_array().unwrap().len(), 2);
}

/// Writes a report of about `mb` MB with Python and returns what it wrote:
/// (tests, failures, errors, skipped).
fn write_big_report(path: &Path, mb: u64) -> (u64, u64, u64, u64) {
    let script = r#"
import sys
path, mb = sys.argv[1], int(sys.argv[2])
target = mb * 1000 * 1000
tests = failures = errors = skipped = 0
with open(path, "w") as f:
    f.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="big">\n')
    size, suite = 0, 0
    body = "".join(f"\tat com.example.Deep.frame{k}(Deep.java:{k})\n" for k in range(40))
    out = "x" * 1000 + "\n"
    while size < target:
        parts = [f'<testsuite name="com.example.Suite{suite}">\n']
        for i in range(200):
            tests += 1
            name = f'case_{suite}_{i}'
            if i % 50 == 1:
                failures += 1
                parts.append(f'<testcase name="{name}" classname="com.example.Suite{suite}" time="{(i % 97) / 10}"><failure message="expected &lt;{i}&gt;" type="AssertionError"><![CDATA[{body}]]></failure><system-out>{out * 20}</system-out></testcase>\n')
            elif i % 50 == 2:
                errors += 1
                parts.append(f'<testcase name="{name}" classname="com.example.Suite{suite}" time="0.5"><error message="boom">{body}</error></testcase>\n')
            elif i % 50 == 3:
                skipped += 1
                parts.append(f'<testcase name="{name}" classname="com.example.Suite{suite}" time="0"><skipped/></testcase>\n')
            else:
                parts.append(f'<testcase name="{name}" classname="com.example.Suite{suite}" time="0.001"><system-out>{out * 2}</system-out></testcase>\n')
        parts.append('</testsuite>\n')
        chunk = "".join(parts)
        f.write(chunk)
        size += len(chunk)
        suite += 1
        if suite == 5:
            # One case with 20 MB of output in one CDATA section, one with 10 MB of text.
            tests += 2
            f.write('<testsuite name="huge"><testcase name="cdata"><system-out><![CDATA[' + "y" * 20_000_000 + ']]></system-out></testcase>')
            f.write('<testcase name="text"><system-err>' + "z &amp; " * 1_250_000 + '</system-err></testcase></testsuite>\n')
            size += 30_000_000
    f.write('</testsuites>\n')
print(tests, failures, errors, skipped)
"#;
    let out = Command::new(require_tool("python3", "python3"))
        .args(["-c", script])
        .arg(path)
        .arg(mb.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let n: Vec<u64> = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    (n[0], n[1], n[2], n[3])
}

/// The most the daemon's peak resident memory may reach while it makes the
/// page of a 100 MB report: generous, and far below the report's size.
const RSS_BOUND_KIB: u64 = 64 * 1024;

#[test]
fn a_100_mb_report_renders_in_bounded_memory() {
    let site = Site::new();
    let src = site.path("big");
    std::fs::create_dir_all(src.join("ci")).unwrap();
    let report = src.join("ci/TEST-big.xml");
    let (tests, failures, errors, skipped) = write_big_report(&report, 100);
    assert!(std::fs::metadata(&report).unwrap().len() >= 100_000_000);
    zip_deflated(&src, &site.docroot.join("big.wwz"));
    zip_stored(&src, &site.docroot.join("big-stored.wwz"));
    let (mut wwz, nginx, _diag) = behind_nginx(&site);
    let pid = wwz.proc.child.id();
    for archive in ["big.wwz", "big-stored.wwz"] {
        let got = get_json(
            nginx.port,
            &format!("/{archive}/ci/TEST-big.xml?view&format=json"),
        );
        assert_eq!(
            got["stopped"],
            Value::Null,
            "{archive}: read to its end within the budget"
        );
        assert_eq!(got["problem"], Value::Null, "{archive}");
        let t = &got["totals"];
        assert_eq!(
            (
                t["tests"].as_u64(),
                t["failures"].as_u64(),
                t["errors"].as_u64(),
                t["skipped"].as_u64()
            ),
            (Some(tests), Some(failures), Some(errors), Some(skipped)),
            "{archive}"
        );
        assert_eq!(
            got["failures"].as_array().unwrap().len(),
            200,
            "{archive}: details kept up to the bound"
        );
        assert_eq!(
            got["failures_unlisted"].as_u64(),
            Some(failures + errors - 200)
        );
        let page = get(nginx.port, &format!("/{archive}/ci/TEST-big.xml?view"));
        assert_eq!(page.status, 200);
        assert!(
            page.body.len() < 16 << 20,
            "{archive}: a page of {} bytes",
            page.body.len()
        );
    }
    let (hwm, rss) = memory_kib(pid);
    eprintln!("100 MB report: wwz VmHWM {hwm} KiB, VmRSS {rss} KiB");
    assert!(hwm > 0 && hwm < RSS_BOUND_KIB, "peak RSS {hwm} KiB");
    wwz.assert_healthy(&site);
}

#[test]
fn malformed_and_hostile_reports_answer_a_clear_page() {
    let site = Site::new();
    let src = site.path("hostile");
    let dir = src.join("ci");
    std::fs::create_dir_all(&dir).unwrap();
    let mut laughs =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE testsuite [\n<!ENTITY lol \"lol\">\n");
    laughs.push_str("<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n");
    for i in 2..10 {
        laughs.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!("&lol{};", i - 1).repeat(10)
        ));
    }
    laughs.push_str("]>\n<testsuite name=\"laughs\"><testcase name=\"&lol9;\"><failure message=\"&lol9;\">&lol9;</failure></testcase></testsuite>\n");
    std::fs::write(dir.join("TEST-laughs.xml"), &laughs).unwrap();
    let depth = 100_000;
    std::fs::write(
        dir.join("TEST-deep.xml"),
        format!("<testsuites><testsuite name=\"deep\"><testcase name=\"first\"/>{}{}</testsuite></testsuites>", "<x>".repeat(depth), "</x>".repeat(depth)),
    )
    .unwrap();
    std::fs::write(
        dir.join("TEST-attribute.xml"),
        format!("<testsuite name=\"attr\"><testcase name=\"first\"/><testcase name=\"second\" classname=\"{}\"/></testsuite>", "a".repeat(10 << 20)),
    )
    .unwrap();
    std::fs::write(
        dir.join("TEST-cut.xml"),
        "<?xml version=\"1.0\"?>\n<testsuite name=\"cut\" tests=\"3\"><testcase name=\"a\"/><testcase name=\"b\"><failure message=\"m\">trace",
    )
    .unwrap();
    std::fs::write(
        dir.join("TEST-mismatched.xml"),
        "<testsuite><testcase name=\"a\"></testsuite>",
    )
    .unwrap();
    std::fs::write(dir.join("junit-empty.xml"), "").unwrap();
    zip_deflated(&src, &site.docroot.join("hostile.wwz"));
    let (mut wwz, nginx, _diag) = behind_nginx(&site);
    let cases: &[(&str, &str, &str, u64)] = &[
        ("TEST-laughs.xml", "", "", 1),
        (
            "TEST-deep.xml",
            "bound",
            "elements nested deeper than 256",
            1,
        ),
        (
            "TEST-attribute.xml",
            "bound",
            "a tag or declaration longer than 1 MiB",
            1,
        ),
        // The case being read when the report broke is counted.
        (
            "TEST-cut.xml",
            "malformed",
            "the report ends before its elements do",
            2,
        ),
        (
            "TEST-mismatched.xml",
            "malformed",
            "expected `</testcase>`",
            1,
        ),
        ("junit-empty.xml", "not_a_report", "No root element", 0),
    ];
    for (name, kind, says, tests) in cases {
        let got = get_json(
            nginx.port,
            &format!("/hostile.wwz/ci/{name}?view&format=json"),
        );
        if kind.is_empty() {
            assert_eq!(got["problem"], Value::Null, "{name}");
            assert_eq!(
                got["failures"][0]["name"], "&lol9;",
                "{name}: the entity is not expanded"
            );
        } else {
            assert_eq!(got["problem"]["kind"], *kind, "{name}: {}", got["problem"]);
            let message = got["problem"]["message"].as_str().unwrap();
            assert!(message.contains(says), "{name}: {message}");
        }
        assert_eq!(
            got["totals"]["tests"].as_u64(),
            Some(*tests),
            "{name}: counted before the problem"
        );
        let page = get(nginx.port, &format!("/hostile.wwz/ci/{name}?view"));
        assert_eq!(page.status, 200, "{name}");
        let html = String::from_utf8(page.body).unwrap();
        if !kind.is_empty() {
            assert!(html.contains("class=\"problem\""), "{name}");
            assert!(
                html.contains(&format!("<a href=\"./{name}\">The raw member</a>")),
                "{name}"
            );
        }
        wwz.proc.assert_running();
    }
    // The run lists each with its problem; the daemon still serves.
    let cut = get_json(nginx.port, "/hostile.wwz/ci/TEST-cut.xml?view&format=json");
    assert_eq!(
        cut["failures"][0]["body"], "trace",
        "the failure it ended in"
    );
    let run = get_json(nginx.port, "/hostile.wwz/ci/?tests&format=json");
    assert_eq!(run["reports"].as_array().unwrap().len(), cases.len());
    let (hwm, _) = memory_kib(wwz.proc.child.id());
    assert!(hwm < RSS_BOUND_KIB, "peak RSS {hwm} KiB");
    wwz.assert_healthy(&site);
}

#[test]
fn listings_badge_reports() {
    let site = Site::new();
    let src = site.path("listing");
    let dir = src.join("target/surefire-reports");
    std::fs::create_dir_all(&dir).unwrap();
    for f in [
        "TEST-action.surefire.report.calc.CalcUtilsTest.xml",
        "pytest-xunit.xml",
        "dotnet-nunit.xml",
    ] {
        std::fs::copy(corpus_dir().join(f), dir.join(f)).unwrap();
    }
    std::fs::write(
        dir.join("coverage-report.xml"),
        "<coverage line-rate=\"1\"/>\n",
    )
    .unwrap();
    zip_deflated(&src, &site.docroot.join("l.wwz"));
    let (_wwz, nginx, _diag) = behind_nginx(&site);
    let page = get(nginx.port, "/l.wwz/target/surefire-reports/");
    let html = String::from_utf8(page.body).unwrap();
    // By name, and by its root element (a name that says nothing).
    for f in [
        "TEST-action.surefire.report.calc.CalcUtilsTest.xml",
        "pytest-xunit.xml",
    ] {
        assert!(
            html.contains(&format!(
                "<a class=\"v rep\" href=\"./{f}?view\">report</a>"
            )),
            "{f}: {html}"
        );
    }
    assert!(html.contains("<a href=\"?tests\">The test reports here, summed</a>"));
    for f in ["dotnet-nunit.xml", "coverage-report.xml"] {
        assert!(
            html.contains(&format!("<a class=\"v\" href=\"./{f}?view\">view</a>")),
            "{f}: {html}"
        );
    }
}

#[test]
fn a_report_page_in_chromium() {
    let site = Site::new();
    let src = site.path("shot");
    std::fs::create_dir_all(src.join("ci")).unwrap();
    for f in ["jest-junit.xml", "junit4-complete.xml"] {
        std::fs::copy(corpus_dir().join(f), src.join("ci").join(f)).unwrap();
    }
    zip_stored(&src, &site.docroot.join("shot.wwz"));
    let (_preview, port) = start_preview(&site, &[]);
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let user_dir = site.path("chromium-profile");
    for (page, shot) in [
        ("ci/junit4-complete.xml?view", "report.png"),
        ("ci/?tests", "report-run.png"),
    ] {
        let url = format!("http://127.0.0.1:{port}/shot.wwz/{page}");
        let shot = artifacts.join(shot);
        let _ = std::fs::remove_file(&shot);
        let out = chromium(
            &[
                &format!("--screenshot={}", shot.display()),
                "--window-size=1000,1400",
                &url,
            ],
            &user_dir,
        );
        assert!(
            shot.is_file() && std::fs::metadata(&shot).unwrap().len() > 1000,
            "no screenshot: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("report screenshot: {}", shot.display());
        let out = chromium(&["--dump-dom", &url], &user_dir);
        let dom = String::from_utf8(out.stdout).unwrap();
        assert!(dom.contains("Failures and errors"), "{dom}");
        assert!(dom.contains("<details class=\"f\""), "{dom}");
    }
}
