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
