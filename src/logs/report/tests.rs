//! The parser on reports written here: each tool's shape, entities, CDATA,
//! text across buffer boundaries, and hostile input (entity expansion, deep
//! nesting, huge attributes, cut short), each bounded; the pages escape.

// unwrap/expect here act on inputs the tests build themselves, never on
// bytes from the network or an archive in service: a failure is the test's.

use std::time::{Duration, Instant};

use super::model::{Outcome, Problem, Report, Stop};
use super::parse::{parse, unescape, Budget};
use super::{html, json, named_like_report, root_element, PAGE_LIMITS};

fn budget() -> Budget {
    Budget {
        deadline: Instant::now() + Duration::from_secs(600),
        bytes: u64::MAX,
    }
}

fn read(xml: &[u8]) -> Report {
    parse(xml, &PAGE_LIMITS, budget(), "r.xml")
}

const SUREFIRE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment -->
<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" name="com.example.CalcTest" time="0.052" tests="4" errors="1" skipped="1" failures="1">
  <properties><property name="java.version" value="17"/></properties>
  <testcase name="adds" classname="com.example.CalcTest" time="0.001"/>
  <testcase name="divides" classname="com.example.CalcTest" time="0.04">
    <failure message="expected: &lt;2&gt; but was: &lt;3&gt;" type="org.opentest4j.AssertionFailedError"><![CDATA[org.opentest4j.AssertionFailedError: expected: <2> but was: <3>
	at com.example.CalcTest.divides(CalcTest.java:20)
]]></failure>
    <system-out><![CDATA[dividing 6 by 3
]]></system-out>
  </testcase>
  <testcase name="io" classname="com.example.CalcTest" time="0.011">
    <error message="boom" type="java.io.IOException">java.io.IOException: boom &amp; more</error>
  </testcase>
  <testcase name="later" classname="com.example.CalcTest" time="0">
    <skipped message="not yet"/>
  </testcase>
  <system-out>suite output</system-out>
</testsuite>
"#;

#[test]
fn surefire() {
    let r = read(SUREFIRE.as_bytes());
    assert_eq!(r.problem, None);
    let c = r.counts;
    assert_eq!(
        (c.tests, c.failures, c.errors, c.skipped, c.passed()),
        (4, 1, 1, 1, 1)
    );
    assert!((c.time - 0.052).abs() < 1e-9);
    assert_eq!(r.declared.tests, Some(4));
    assert_eq!(r.declared.time, Some(0.052));
    assert!(!r.declared.differs(&c));
    assert_eq!(r.failures.len(), 2);
    let f = &r.failures[0];
    assert_eq!(f.outcome, Outcome::Failed);
    assert_eq!(f.message, "expected: <2> but was: <3>");
    assert_eq!(f.kind, "org.opentest4j.AssertionFailedError");
    assert!(String::from_utf8_lossy(&f.body.bytes).contains("CalcTest.java:20"));
    assert_eq!(f.output.bytes, b"dividing 6 by 3\n");
    assert_eq!(f.suite, "com.example.CalcTest");
    let e = &r.failures[1];
    assert_eq!(e.outcome, Outcome::Error);
    assert_eq!(e.body.bytes, b"java.io.IOException: boom & more");
    assert_eq!(r.suites.len(), 1);
    assert_eq!(r.suites[0].rows.len(), 4);
    assert_eq!(r.suites[0].rows[1].failure, Some(0));
    let slow = r.slowest.sorted();
    assert_eq!(slow[0].name, "divides");
    assert_eq!(slow[1].name, "io");
}

#[test]
fn pytest_nested_and_declared_from_the_root() {
    let xml = br#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="1" skipped="0" tests="2" time="0.030" timestamp="2024-01-01T00:00:00" hostname="h"><testcase classname="test_a" name="test_ok" time="0.001" /><testcase classname="test_a" name="test_bad" time="0.002"><failure message="assert 1 == 2">def test_bad():
&gt;       assert 1 == 2
E       assert 1 == 2

test_a.py:4: AssertionError</failure></testcase></testsuite></testsuites>"#;
    let r = read(xml);
    assert_eq!(r.problem, None);
    assert_eq!(r.root, "testsuites");
    assert_eq!((r.counts.tests, r.counts.failures), (2, 1));
    assert_eq!(r.declared.tests, Some(2));
    assert!(String::from_utf8_lossy(&r.failures[0].body.bytes).contains(">       assert 1 == 2"));
    // Nested suites: each counts its own cases; the root's attributes win.
    let nested = br#"<testsuites tests="3" failures="0"><testsuite name="outer" tests="99"><testsuite name="inner"><testcase name="a"/><testcase name="b"/></testsuite><testcase name="c"/></testsuite></testsuites>"#;
    let r = read(nested);
    assert_eq!(r.counts.tests, 3);
    assert_eq!(r.declared.tests, Some(3));
    assert_eq!(r.declared.failures, Some(0));
    assert_eq!(r.declared.errors, None);
    assert_eq!(r.suites.len(), 2);
    assert_eq!(
        (r.suites[0].name.as_str(), r.suites[0].counts.tests),
        ("outer", 1)
    );
    assert_eq!(
        (
            r.suites[1].name.as_str(),
            r.suites[1].depth,
            r.suites[1].counts.tests
        ),
        ("inner", 1, 2)
    );
    // Without root attributes, the top-level suites' are summed, field by field.
    let summed = br#"<testsuites><testsuite tests="2" time="1.5"><testcase name="a"/><testcase name="b"/></testsuite><testsuite tests="1" skipped="1" time="1,000.5"><testcase name="c"><skipped/></testcase></testsuite></testsuites>"#;
    let r = read(summed);
    assert_eq!(r.declared.tests, Some(3));
    assert_eq!(r.declared.skipped, Some(1));
    assert_eq!(r.declared.time, Some(1002.0));
    assert_eq!(r.counts.skipped, 1);
}

#[test]
fn flaky_and_outcome_precedence() {
    let xml = br#"<testsuite><testcase name="flaky"><flakyFailure message="first try"><stackTrace>x</stackTrace></flakyFailure></testcase><testcase name="both"><error message="e"/><failure message="f">body</failure><failure message="again"/></testcase><testcase name="skipped-error"><skipped/><error/></testcase></testsuite>"#;
    let r = read(xml);
    let c = r.counts;
    assert_eq!(
        (c.tests, c.failures, c.errors, c.skipped, c.flaky),
        (3, 1, 1, 0, 1)
    );
    assert_eq!(r.failures[0].message, "f");
    assert_eq!(r.failures[0].body.bytes, b"body");
}

#[test]
fn text_across_buffers_is_cut_at_its_cap_and_entities_decode() {
    let mut body = String::new();
    while body.len() < 200_000 {
        body.push_str("line &lt;x&gt; &amp; more\n");
    }
    let xml = format!(
        "<testsuite><testcase name=\"t\"><failure>{body}</failure><system-out><![CDATA[{}]]></system-out></testcase></testsuite>",
        "o".repeat(300_000)
    );
    let r = read(xml.as_bytes());
    assert_eq!(r.problem, None);
    let f = &r.failures[0];
    assert!(f.body.cut && f.body.bytes.len() == PAGE_LIMITS.body);
    assert!(String::from_utf8_lossy(&f.body.bytes).starts_with("line <x> & more\nline <x>"));
    assert!(f.output.cut && f.output.bytes.len() == PAGE_LIMITS.output);
}

#[test]
fn entities_are_not_expanded() {
    let mut dtd =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE testsuite [\n<!ENTITY lol \"lol\">\n");
    dtd.push_str("<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n");
    for i in 2..10 {
        let prev = format!("&lol{};", i - 1).repeat(10);
        dtd.push_str(&format!("<!ENTITY lol{i} \"{prev}\">\n"));
    }
    dtd.push_str("]>\n<testsuite name=\"&lol9;\"><testcase name=\"&lol9;\"><failure message=\"&lol9;\">&lol9;</failure></testcase></testsuite>\n");
    let r = read(dtd.as_bytes());
    assert_eq!(r.problem, None);
    assert_eq!((r.counts.tests, r.counts.failures), (1, 1));
    assert_eq!(r.failures[0].name, "&lol9;");
    assert_eq!(r.failures[0].message, "&lol9;");
    assert_eq!(r.failures[0].body.bytes, b"&lol9;");
}

#[test]
fn deep_nesting_stops_at_the_bound() {
    let depth = 100_000;
    let xml = format!(
        "<testsuites>{}{}</testsuites>",
        "<a>".repeat(depth),
        "</a>".repeat(depth)
    );
    let r = read(xml.as_bytes());
    match &r.problem {
        Some(Problem::Bound { what, .. }) => assert!(what.contains("nested deeper"), "{what}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_huge_attribute_stops_at_the_bound() {
    let xml = format!(
        "<testsuite><testcase name=\"ok\"/><testcase name=\"{}\"/></testsuite>",
        "x".repeat(10 << 20)
    );
    let r = read(xml.as_bytes());
    assert_eq!(r.counts.tests, 1, "what came before is counted");
    match &r.problem {
        Some(Problem::Bound { what, at }) => {
            assert!(what.contains("longer than 1 MiB"), "{what}");
            assert!(*at > 0);
        }
        other => panic!("{other:?}"),
    }
    // A long name attribute under the bound is kept, cut for the page.
    let xml = format!(
        "<testsuite><testcase name=\"{}\"><failure message=\"{}\"/></testcase></testsuite>",
        "n".repeat(100_000),
        "m".repeat(100_000)
    );
    let r = read(xml.as_bytes());
    assert_eq!(r.problem, None);
    assert_eq!(r.failures[0].name.len(), super::model::MAX_ATTR);
}

#[test]
fn malformed_and_cut_short() {
    let r = read(
        b"<testsuite><testcase name=\"a\"/><testcase name=\"b\"><failure>x</testcase></testsuite>",
    );
    assert!(
        matches!(r.problem, Some(Problem::Malformed { .. })),
        "{:?}",
        r.problem
    );
    let r = read(b"<testsuite><testcase name=\"a\"/><testcase name=\"b\"/><testca");
    assert!(
        matches!(r.problem, Some(Problem::Malformed { .. })),
        "{:?}",
        r.problem
    );
    assert_eq!(r.counts.tests, 2);
    let r = read(b"<testsuite><testcase name=\"a\"/>");
    assert!(
        matches!(r.problem, Some(Problem::Malformed { .. })),
        "{:?}",
        r.problem
    );
    // The case being read when the report broke is counted with what it had.
    let r = read(
        b"<testsuite><testcase name=\"a\"/><testcase name=\"b\"><failure message=\"crash\">at x",
    );
    assert!(
        matches!(r.problem, Some(Problem::Malformed { .. })),
        "{:?}",
        r.problem
    );
    assert_eq!((r.counts.tests, r.counts.failures), (2, 1));
    assert_eq!(r.failures[0].body.bytes, b"at x");
    let r = read(b"<testsuite><testcase name=\"a\"><![CDATA[never ends");
    assert!(
        matches!(r.problem, Some(Problem::Malformed { .. })),
        "{:?}",
        r.problem
    );
    let r = read(b"<coverage line-rate=\"1\"/>");
    assert_eq!(
        r.problem,
        Some(Problem::NotAReport {
            root: "coverage".into()
        })
    );
    let r = read(b"\xff\xfe<\0t\0e\0s\0t\0");
    assert!(
        matches!(r.problem, Some(Problem::Unreadable { .. })),
        "{:?}",
        r.problem
    );
    let r = read(b"<a\x01b/>");
    assert_eq!(r.problem, Some(Problem::NotAReport { root: "a?b".into() }));
    let r = read(b"   ");
    assert_eq!(
        r.problem,
        Some(Problem::NotAReport {
            root: String::new()
        })
    );
    let r = read(b"\xef\xbb\xbf<testsuite><testcase name=\"bom\"/></testsuite>trailing junk <");
    assert_eq!(r.problem, None);
    assert_eq!(r.counts.tests, 1);
}

#[test]
fn the_time_budget_stops_a_parse() {
    let xml = "<testsuite>".to_string() + &"<testcase name=\"t\"/>".repeat(10_000) + "</testsuite>";
    let r = parse(
        xml.as_bytes(),
        &PAGE_LIMITS,
        Budget {
            deadline: Instant::now(),
            bytes: u64::MAX,
        },
        "r.xml",
    );
    assert_eq!(r.stopped, Some(Stop::Time));
    assert!(r.counts.tests < 10_000);
    let r = parse(
        xml.as_bytes(),
        &PAGE_LIMITS,
        Budget {
            deadline: Instant::now() + Duration::from_secs(600),
            bytes: 1000,
        },
        "r.xml",
    );
    assert_eq!(r.stopped, Some(Stop::Bytes));
}

/// One text run without end (as a few MB of deflate can make): the
/// budgets are looked at as its bytes arrive, not only between events.
#[test]
fn an_endless_text_run_stops_at_the_budgets() {
    use std::io::Read as _;
    let endless =
        || b"<testsuite><testcase name=\"t\"><failure message=\"m\">".chain(std::io::repeat(b' '));
    let bytes = 8 << 20;
    let r = parse(
        endless(),
        &PAGE_LIMITS,
        Budget {
            deadline: Instant::now() + Duration::from_secs(600),
            bytes,
        },
        "r.xml",
    );
    assert_eq!(r.stopped, Some(Stop::Bytes));
    assert_eq!(r.problem, None);
    assert!(r.read <= bytes + (64 << 10), "{}", r.read);
    let r = parse(
        endless(),
        &PAGE_LIMITS,
        Budget {
            deadline: Instant::now(),
            bytes: u64::MAX,
        },
        "r.xml",
    );
    assert_eq!(r.stopped, Some(Stop::Time));
}

#[test]
fn the_slowest_are_kept_in_a_bounded_heap() {
    let mut xml = String::from("<testsuite>");
    for i in 0..1000 {
        xml.push_str(&format!(
            "<testcase name=\"t{i}\" time=\"{}\"/>",
            (i * 7919) % 1000
        ));
    }
    xml.push_str("</testsuite>");
    let r = read(xml.as_bytes());
    let slow = r.slowest.sorted();
    assert_eq!(slow.len(), PAGE_LIMITS.slowest);
    let times: Vec<f64> = slow.iter().map(|s| s.time).collect();
    let want: Vec<f64> = (0..PAGE_LIMITS.slowest).map(|k| 999.0 - k as f64).collect();
    assert_eq!(times, want);
}

#[test]
fn detection() {
    for name in [
        "target/surefire-reports/TEST-com.x.YTest.xml",
        "junit.xml",
        "out/report.junit.xml",
        "jest-JUNIT.XML",
    ] {
        assert!(named_like_report(name), "{name}");
    }
    for name in [
        "coverage-report.xml",
        "pom.xml",
        "TEST-x.txt",
        "junit.xml.gz",
    ] {
        assert!(!named_like_report(name), "{name}");
    }
    let head = b"\xef\xbb\xbf<?xml version=\"1.0\"?>\n<!-- c -->\n<!DOCTYPE x>\n<?pi x?>\n<testsuites name=\"x\">";
    assert_eq!(root_element(head).as_deref(), Some("testsuites"));
    assert_eq!(root_element(b"<testsuite/>").as_deref(), Some("testsuite"));
    assert_eq!(root_element(b"<?xml version=\"1.0\"?><!-- cut"), None);
    assert_eq!(root_element(b"not xml"), None);
}

#[test]
fn unescaping() {
    let mut out = Vec::new();
    unescape(
        b"a &lt;b&gt; &amp;amp; &#65;&#x42; &unknown; & lone &#xD800; &#27;[31m",
        &mut out,
    );
    assert_eq!(
        String::from_utf8_lossy(&out),
        "a <b> &amp; AB &unknown; & lone &#xD800; \u{1b}[31m"
    );
}

#[test]
fn pages_escape_and_render_colours() {
    let xml = br#"<testsuite name="&lt;script&gt;alert(1)&lt;/script&gt;"><testcase name="&lt;b&gt;bold" classname="c&quot;q"><failure message="&lt;img src=x onerror=alert(1)&gt;"><![CDATA[ESC[31mred</b>ESC[0m
#x1B[1mbold#x1B[0m]]></failure></testcase></testsuite>"#;
    // A raw escape byte, as jest and cargo write colours into their bodies.
    let xml = String::from_utf8_lossy(xml).replace("ESC", "\u{1b}");
    let xml = xml.as_bytes();
    let r = read(xml);
    let page = html::report("ci/TEST-x.xml", xml.len() as u64, &r);
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(!page.contains("<img"), "{page}");
    assert!(!page.contains("<b>bold"), "{page}");
    assert!(
        page.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{page}"
    );
    assert!(page.contains("red&lt;/b&gt;"), "{page}");
    assert!(!page.contains('\u{1b}'), "no escape byte left");
    assert!(!page.contains("#x1B["), "pytest's written escapes are read");
    assert!(
        page.contains("<span class=\"f1\">red&lt;/b&gt;</span>"),
        "{page}"
    );
    assert!(
        page.contains("<details class=\"f\" id=\"f1\" open>"),
        "{page}"
    );
    let doc = json::report("ci/TEST-x.xml", xml.len() as u64, &r);
    let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(v["totals"]["failures"], 1);
    assert_eq!(v["failures"][0]["message"], "<img src=x onerror=alert(1)>");
    assert_eq!(v["suites"][0]["name"], "<script>alert(1)</script>");
}

/// Every corpus report cut and mutated at pseudo-random places: the parser
/// never panics, and both pages come out (the JSON one valid JSON).
#[test]
fn mutated_corpus_reports_never_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ci/reports");
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n.max(1) as u64) as usize
    };
    const PIECES: [&[u8]; 10] = [
        b"<",
        b">",
        b"&",
        b"&#x",
        b"]]>",
        b"<![CDATA[",
        b"<!--",
        b"</testcase>",
        b"<testcase>",
        b"\"",
    ];
    let mut files = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_none_or(|x| x != "xml") {
            continue;
        }
        let original = std::fs::read(&path).unwrap();
        if original.len() > 100_000 {
            continue;
        }
        files += 1;
        for round in 0..60 {
            let mut data = original.clone();
            for _ in 0..1 + round % 4 {
                let at = next(data.len() + 1);
                match next(3) {
                    0 => data.truncate(at),
                    1 => {
                        if let Some(b) = data.get_mut(at) {
                            *b = next(256) as u8;
                        }
                    }
                    _ => {
                        let piece = PIECES[next(PIECES.len())];
                        data.splice(at..at, piece.iter().copied());
                    }
                }
            }
            let r = read(&data);
            let _ = html::report("m.xml", data.len() as u64, &r);
            let doc = json::report("m.xml", data.len() as u64, &r);
            serde_json::from_str::<serde_json::Value>(&doc).unwrap();
        }
    }
    assert!(files >= 20, "{files} corpus files");
}
