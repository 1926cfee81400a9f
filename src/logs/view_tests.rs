//! The log view's page for logs of each CI system: groups as `<details>`
//! (open or closed as the format and the errors say, with durations),
//! times in the gutter, the header's counts, `?view&level=`.

// unwrap/expect here act on inputs the tests build themselves, never on
// bytes from the network or an archive in service: a failure is the test's.

use crate::http::{self, body};
use crate::logs::search::tests::{archive, Collect};

/// The page `?QUERY` makes of member `log.txt` holding `log`.
fn view(log: &[u8], query: &str) -> String {
    let (_dir, a) = archive(&[("log.txt", log)]);
    let entry = a.index().get(b"log.txt").unwrap();
    let q = http::Query::parse(query.as_bytes());
    let r = super::page(&a, "log.txt", entry, &q, "no-cache", false);
    let mut sink = Collect(Vec::new());
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(body::send(&r.body, &mut sink))
        .unwrap();
    let page = String::from_utf8(sink.0).unwrap();
    let main = page.split_once("<main id=\"log\">\n").unwrap().1;
    main.split_once("</main>").unwrap().0.to_string()
}

const GITHUB: &[u8] = b"2024-07-08T05:34:54.0000000Z Current runner version: '2.317.0'\n\
2024-07-08T05:34:55.0000000Z ##[group]Run actions/checkout@v4\n\
2024-07-08T05:34:55.5000000Z with:\n\
2024-07-08T05:34:57.0000000Z ##[endgroup]\n\
2024-07-08T05:34:58.0000000Z ##[group]Run cargo test\n\
2024-07-08T05:34:59.0000000Z error[E0308]: mismatched types\n\
2024-07-08T05:35:10.0000000Z ##[endgroup]\n\
2024-07-08T05:35:11.0000000Z ##[error]Process completed with exit code 101.\n";

#[test]
fn github_groups_times_and_errors() {
    let page = view(GITHUB, "view");
    // The checkout group is closed; the one holding an error is open; each shows how long it lasted.
    assert!(
        page.contains("<details class=\"g\"><summary class=\"l gr\" id=\"L2\">"),
        "{page}"
    );
    assert!(
        page.contains("<details class=\"g\" open><summary class=\"l gr\" id=\"L5\">"),
        "{page}"
    );
    assert!(page.contains("<span class=\"du\">2.0s</span>"), "{page}");
    assert!(page.contains("<span class=\"du\">12s</span>"), "{page}");
    // Times in the gutter, absolute and relative to the first line; not in the text.
    assert!(page.contains("<time datetime=\"2024-07-08T05:34:59.000Z\"><span class=\"ta\">05:34:59</span><span class=\"tr\">+0:05</span></time>"), "{page}");
    assert!(!page.contains("2024-07-08T05:34:59.0000000Z"));
    assert!(!page.contains("##["));
    // The error links the next; the last links every error of the log.
    assert!(page.contains("<a class=\"nx\" href=\"#L8\""), "{page}");
    assert!(
        page.contains("href=\"./log.txt?view&amp;level=error\" title=\"next error\""),
        "{page}"
    );
    assert_eq!(
        page.matches("<details").count(),
        page.matches("</details>").count()
    );
}

#[test]
fn gitlab_sections_nest_with_their_durations() {
    let log = b"2024-05-30T14:30:00.000000Z 00O \x1b[0Ksection_start:1717079400:outer\r\x1b[0KOuter\n\
2024-05-30T14:30:01.000000Z 00O \x1b[0Ksection_start:1717079401:inner[collapsed=true]\r\x1b[0KInner\n\
2024-05-30T14:30:02.000000Z 00O inside\n\
2024-05-30T14:30:03.000000Z 00O \x1b[0Ksection_end:1717079461:inner\r\x1b[0K\n\
2024-05-30T14:30:04.000000Z 00O \x1b[0Ksection_end:1717079500:outer\r\x1b[0K\n\
2024-05-30T14:30:05.000000Z 00O done\n";
    let page = view(log, "view&time=relative");
    assert!(
        page.contains("<details class=\"g\" open><summary class=\"l gr\" id=\"L1\">"),
        "{page}"
    );
    assert!(
        page.contains("<details class=\"g\"><summary class=\"l gr\" id=\"L2\">"),
        "{page}"
    );
    // Section times, not line times: 60 s and 100 s.
    assert!(
        page.contains("Inner</span><span class=\"du\">1m 00s</span>"),
        "{page}"
    );
    assert!(
        page.contains("Outer</span><span class=\"du\">1m 40s</span>"),
        "{page}"
    );
    assert!(
        page.contains("<i class=\"in i2\"></i><span class=\"x\">inside"),
        "{page}"
    );
    assert!(!page.contains("section_"));
    assert_eq!(page.matches("<details").count(), 2);
    assert_eq!(page.matches("</details>").count(), 2);
}

#[test]
fn buildkite_groups_and_an_error_inside_a_closed_one() {
    let log = b"\x1b_bk;t=1700000000000\x07--- Setup\n\
\x1b_bk;t=1700000001000\x07ok\n\
\x1b_bk;t=1700000002000\x07--- Build\n\
\x1b_bk;t=1700000003000\x07npm ERR! code 1\n\
\x1b_bk;t=1700000004000\x07+++ Tests\n\
\x1b_bk;t=1700000005000\x07hello world\n";
    let page = view(log, "view");
    assert!(
        page.contains("<details class=\"g\"><summary class=\"l gr\" id=\"L1\">"),
        "{page}"
    );
    assert!(
        page.contains("<details class=\"g\" open><summary class=\"l gr\" id=\"L3\">"),
        "{page}"
    );
    assert!(
        page.contains("<details class=\"g\" open><summary class=\"l gr\" id=\"L5\">"),
        "{page}"
    );
    assert!(page.contains("hello world</span>"), "{page}");
    assert!(!page.contains("bk;t="));
    // Flat groups: each header closes the one before.
    assert_eq!(page.matches("</details>\n<details").count(), 2, "{page}");
}

#[test]
fn level_lists_errors_under_their_groups() {
    let page = view(GITHUB, "view&level=error");
    assert!(page.contains("<div class=\"l gr fh\"><a></a><span class=\"tg\"></span><span class=\"x\">Run cargo test</span></div>"), "{page}");
    assert!(
        page.contains("href=\"./log.txt?view&amp;from=1#L6\""),
        "{page}"
    );
    assert!(
        page.contains("Process completed with exit code 101."),
        "{page}"
    );
    assert!(!page.contains("with:"), "{page}");
    assert!(!page.contains("Run actions/checkout"), "{page}");
}

#[test]
fn a_tail_view_counts_its_lines() {
    let mut log = Vec::new();
    for i in 1..=3000 {
        let line = if i % 1000 == 0 {
            format!("error: number {i}\n")
        } else {
            format!("line {i}\n")
        };
        log.extend_from_slice(line.as_bytes());
    }
    let (_dir, a) = archive(&[("log.txt", &log)]);
    let entry = a.index().get(b"log.txt").unwrap();
    let r = super::page(
        &a,
        "log.txt",
        entry,
        &http::Query::parse(b"view"),
        "no-cache",
        false,
    );
    let mut sink = Collect(Vec::new());
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(body::send(&r.body, &mut sink))
        .unwrap();
    let page = String::from_utf8(sink.0).unwrap();
    assert!(
        page.contains(
            "<a class=\"ec\" href=\"#L2000\">2 errors</a> · 0 warnings in lines 1001–3000"
        ),
        "{}",
        &page[..2000]
    );
    assert!(
        page.contains("id=\"L1001\"")
            && page.contains("id=\"L3000\"")
            && !page.contains("id=\"L1000\"")
    );
}

#[test]
fn a_from_view_links_to_later_lines() {
    let log: Vec<u8> = (1..=2500)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    let (_dir, a) = archive(&[("log.txt", &log)]);
    let entry = a.index().get(b"log.txt").unwrap();
    for (query, later) in [("view&from=2", true), ("view&from=600", false)] {
        let r = super::page(
            &a,
            "log.txt",
            entry,
            &http::Query::parse(query.as_bytes()),
            "no-cache",
            false,
        );
        let mut sink = Collect(Vec::new());
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(body::send(&r.body, &mut sink))
            .unwrap();
        let page = String::from_utf8(sink.0).unwrap();
        assert_eq!(page.contains("later lines"), later, "{query}");
        assert!(page.contains("earlier lines"), "{query}");
    }
}

/// A short log that does not end in a newline keeps its first line (the
/// tail starts at byte 0, which starts a line).
#[test]
fn a_short_log_without_a_final_newline_keeps_its_first_line() {
    let page = view(b"first line\nsecond line\nthird", "view");
    for text in ["first line", "second line", "third"] {
        assert!(page.contains(text), "{text}: {page}");
    }
}
