// unwrap/expect here act on inputs the tests build themselves, never on
// bytes from the network or an archive in service: a failure is the test's.
use super::*;

/// Parses a file that must have no bad line and hit no limit.
fn rules(text: &str) -> Headers {
    let (h, bad, limit) = Headers::parse(text.as_bytes());
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(limit, None);
    h
}

fn get(h: &Headers, host: Option<&str>, path: &str) -> Vec<(String, String)> {
    h.for_request(host, path)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

fn bad_lines(text: &[u8]) -> Vec<usize> {
    Headers::parse(text).1.iter().map(|b| b.line).collect()
}

/// Cloudflare's own example, with the answers its documentation gives.
#[test]
fn rules_merge_as_cloudflare_documents() {
    let h = rules(
        "# This is a comment\n/secure/page\n  X-Frame-Options: DENY\n  \
         X-Content-Type-Options: nosniff\n  Referrer-Policy: no-referrer\n\n\
         /static/*\n  Access-Control-Allow-Origin: *\n  X-Robots-Tag: nosnippet\n\n\
         https://myproject.pages.dev/*\n  X-Robots-Tag: noindex\n",
    );
    let secure = [
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
    ];
    assert_eq!(
        get(&h, Some("custom.domain"), "/secure/page"),
        pairs(&secure)
    );
    assert_eq!(
        get(&h, Some("custom.domain"), "/static/image.jpg"),
        pairs(&[
            ("Access-Control-Allow-Origin", "*"),
            ("X-Robots-Tag", "nosnippet")
        ])
    );
    assert_eq!(
        get(&h, Some("myproject.pages.dev"), "/home"),
        pairs(&[("X-Robots-Tag", "noindex")])
    );
    let mut both = secure.to_vec();
    both.push(("X-Robots-Tag", "noindex"));
    assert_eq!(
        get(&h, Some("myproject.pages.dev"), "/secure/page"),
        pairs(&both)
    );
    assert_eq!(
        get(&h, Some("myproject.pages.dev"), "/static/styles.css"),
        pairs(&[
            ("Access-Control-Allow-Origin", "*"),
            ("X-Robots-Tag", "nosnippet, noindex")
        ])
    );
    assert_eq!(get(&h, None, "/elsewhere"), []);
    assert_eq!(h.len(), 3);
}

#[test]
fn a_splat_matches_any_run_of_characters_anywhere() {
    let h = rules(
        "/assets/*\n  A: 1\n/*.js\n  B: 2\n/docs/*/index.html\n  C: 3\n/exact.html\n  D: 4\n",
    );
    let names =
        |path: &str| -> Vec<String> { get(&h, None, path).into_iter().map(|(n, _)| n).collect() };
    assert_eq!(names("/assets/"), ["A"]);
    assert_eq!(names("/assets/a/b.css"), ["A"]);
    assert_eq!(names("/assets/app.js"), ["A", "B"]);
    // As Cloudflare reads it: `/assets/*` is not `/assets`.
    assert_eq!(names("/assets"), Vec::<String>::new());
    assert_eq!(names("/x/y.js"), ["B"]);
    assert_eq!(names("/.js"), ["B"]);
    assert_eq!(names("/x.jsx"), Vec::<String>::new());
    assert_eq!(names("/docs/a/b/index.html"), ["C"]);
    assert_eq!(names("/docs//index.html"), ["C"]);
    assert_eq!(names("/docs/index.html"), Vec::<String>::new());
    assert_eq!(names("/exact.html"), ["D"]);
    assert_eq!(names("/exact.html/"), Vec::<String>::new());
    assert_eq!(names("/Exact.html"), Vec::<String>::new());
    // The head and the tail of a pattern may not overlap.
    let h = rules("/a*a\n  E: 5\n");
    assert!(get(&h, None, "/a").is_empty());
    assert_eq!(get(&h, None, "/aa").len(), 1);
}

#[test]
fn placeholders_and_the_splat_stand_in_values() {
    let h = rules(
        "/:lang/docs/*\n  Content-Language: :lang\n  \
         Link: </:lang/docs/:splat.md>; rel=\"alternate\"; type=\"text/markdown\"\n  \
         X-Kept: :language :other a:b https://example.org/:lang\n\
         /movies/:title\n  X-Movie-Name: You are watching \":title\"\n",
    );
    assert_eq!(
        get(&h, None, "/en/docs/guide/intro"),
        pairs(&[
            ("Content-Language", "en"),
            (
                "Link",
                "</en/docs/guide/intro.md>; rel=\"alternate\"; type=\"text/markdown\""
            ),
            ("X-Kept", ":language :other a:b https://example.org/en"),
        ])
    );
    // A placeholder is one whole segment of one character or more.
    assert!(get(&h, None, "/docs/x").is_empty());
    assert!(get(&h, None, "/en/fr/docs/x").is_empty());
    assert_eq!(
        get(&h, None, "/movies/Brazil"),
        pairs(&[("X-Movie-Name", "You are watching \"Brazil\"")])
    );
    assert!(get(&h, None, "/movies/").is_empty());
    assert!(get(&h, None, "/movies/a/b").is_empty());
}

#[test]
fn what_a_request_puts_in_a_value_has_no_control_character() {
    let h = rules("/p/*\n  X-Path: <:splat>\n/h/:x\n  X-One: :x\n");
    for path in ["/p/a\r\nSet-Cookie: x=1", "/p/\0\u{7f}\u{85}\t", "/h/a\rb"] {
        for (name, value) in get(&h, None, path) {
            assert!(!value.chars().any(char::is_control), "{name}: {value:?}");
            assert!(!name.chars().any(char::is_control));
        }
    }
    assert_eq!(
        get(&h, None, "/p/a\r\nSet-Cookie: x=1"),
        pairs(&[("X-Path", "<a  Set-Cookie: x=1>")])
    );
}

#[test]
fn what_a_request_puts_in_values_is_bounded() {
    let value = ":splat".repeat(300);
    let h = rules(&format!(
        "/*\n  X-Big: {value}\n  X-Small: s\n/*\n  X-Also: :splat\n"
    ));
    let long = format!("/{}", "a".repeat(4000));
    // 300 copies of 4 KiB would be 1.2 MB: the header is left out.
    let got = get(&h, None, &long);
    assert_eq!(got[0], ("X-Small".to_owned(), "s".to_owned()));
    assert_eq!(got[1].0, "X-Also");
    assert_eq!(got.len(), 2);
    // Within the budget, it is there.
    let got = get(&h, None, "/ab");
    assert_eq!(got[0].1, "ab".repeat(300));
}

#[test]
fn repeated_headers_are_joined_and_keep_their_first_spelling() {
    let h = rules(
        "/*\n  Cache-Control: public\n  Link: </a.css>; rel=preload\n  \
         link: </b.css>; rel=preload\n  Set-Cookie: a=1\n\
         /x\n  CACHE-CONTROL: max-age=60\n  set-cookie: b=2\n",
    );
    assert_eq!(
        get(&h, None, "/x"),
        pairs(&[
            ("Cache-Control", "public, max-age=60"),
            ("Link", "</a.css>; rel=preload, </b.css>; rel=preload"),
            ("Set-Cookie", "a=1"),
            ("set-cookie", "b=2"),
        ])
    );
}

#[test]
fn detach_removes_what_earlier_rules_set() {
    let h = rules(
        "/*\n  X-Robots-Tag: noindex\n  X-Frame-Options: DENY\n\
         /public/*\n  X-Robots-Tag: nosnippet\n\
         /public/sitemap.xml\n  ! x-robots-tag\n  X-Other: 1\n\
         /own\n  ! X-Own\n  X-Own: kept\n",
    );
    assert_eq!(
        get(&h, None, "/public/sitemap.xml"),
        pairs(&[("X-Frame-Options", "DENY"), ("X-Other", "1")])
    );
    assert_eq!(
        get(&h, None, "/public/a"),
        pairs(&[
            ("X-Robots-Tag", "noindex, nosnippet"),
            ("X-Frame-Options", "DENY")
        ])
    );
    // A rule's own headers come after its `!` lines.
    assert_eq!(get(&h, None, "/own")[2], ("X-Own".into(), "kept".into()));
    // A set after a detach starts afresh, in the new spelling.
    let h = rules("/*\n  A: 1\n/x\n  ! A\n/x\n  a: 2\n");
    assert_eq!(get(&h, None, "/x"), pairs(&[("a", "2")]));
    // Every `Set-Cookie` set before goes.
    let h = rules(
        "/*\n  Set-Cookie: a=1\n  X: 1\n  Set-Cookie: b=2\n/x\n  ! Set-Cookie\n  Set-Cookie: c=3\n",
    );
    assert_eq!(
        get(&h, None, "/x"),
        pairs(&[("X", "1"), ("Set-Cookie", "c=3")])
    );
    assert_eq!(get(&h, None, "/y").len(), 3);
}

#[test]
fn absolute_patterns_match_the_host_without_port_scheme_or_case() {
    let h = rules(
        "https://Example.org/*\n  A: 1\nhttp://example.org/only\n  B: 2\n\
         https://:sub.example.org/*\n  C: :sub\nhttps://*.preview.example.net\n  D: :splat\n\
         https://example.com.\n  E: 5\n",
    );
    let names = |host: Option<&str>, path: &str| -> Vec<String> {
        get(&h, host, path).into_iter().map(|(n, _)| n).collect()
    };
    assert_eq!(names(Some("example.org"), "/x"), ["A"]);
    assert_eq!(names(Some("EXAMPLE.ORG:8443"), "/only"), ["A", "B"]);
    assert_eq!(names(Some("example.org."), "/"), ["A"]);
    assert_eq!(names(None, "/x"), Vec::<String>::new());
    assert_eq!(names(Some("example.com"), "/x"), Vec::<String>::new());
    // A placeholder in a host is one whole label.
    assert_eq!(
        get(&h, Some("Docs.example.org:80"), "/a"),
        pairs(&[("C", "Docs")])
    );
    assert_eq!(names(Some("a.b.example.org"), "/a"), Vec::<String>::new());
    assert_eq!(names(Some(".example.org"), "/a"), Vec::<String>::new());
    // With no path, a URL pattern stands for `/`.
    assert_eq!(
        get(&h, Some("pr-1.ci.preview.example.net"), "/"),
        pairs(&[("D", "pr-1.ci")])
    );
    assert_eq!(
        names(Some("pr-1.preview.example.net"), "/x"),
        Vec::<String>::new()
    );
    assert_eq!(names(Some("example.com"), "/"), ["E"]);
    assert_eq!(names(Some("[::1]:8080"), "/"), Vec::<String>::new());
    assert_eq!(host_name("[::1]:8080"), "[::1]");
    assert_eq!(host_name("h:1"), "h");
}

#[test]
fn comments_blank_lines_crlf_and_a_byte_order_mark_are_fine() {
    let h = rules(
        "\u{feff}# top\r\n\r\n/a\r\n  # a comment under a rule\r\n\tX-Tab: 1\r\n   \r\n  X-B: 2\r\n",
    );
    assert_eq!(get(&h, None, "/a"), pairs(&[("X-Tab", "1"), ("X-B", "2")]));
    // An indented pattern is still a pattern; a percent escape stands for its byte.
    let h = rules("  /caf%C3%A9/:x\n  X: 1\n/wiki/File%3AA.png\n  Y: 2\n/%2A\n  Z: 3\n");
    assert_eq!(get(&h, None, "/café/m").len(), 1);
    assert_eq!(get(&h, None, "/wiki/File:A.png").len(), 1);
    assert_eq!(get(&h, None, "/*").len(), 1);
    assert!(get(&h, None, "/x").is_empty());
}

#[test]
fn bad_lines_are_skipped_with_a_reason() {
    let text = "  X-Before: any pattern\n\
                /ok\n  X-Good: 1\n  no colon here\n  Bad Name: x\n  X-Cr: a\rb\n  X-Nul: a\0b\n\
                \x20 X-Empty:\n  : no name\n  ! X-Detach: value\n  X-Del: a\x7fb\n\
                X-Unindented: value\n  X-Under-Skipped: 1\n\
                assets/*\n/two/*/splats/*\n/a:b\n/a?q=1\nftp://example.org/\n\
                https://example.org:8443/\nhttps://u@example.org/\nhttps:///x\n/sp ace\n\
                /:x/:x\n/*/:splat\n/bad%zz\n/bad%FF\n/bad%0A\n\
                /empty\n/last\n  X-Last: 1\n";
    let (h, bad, limit) = Headers::parse(text.as_bytes());
    assert_eq!(limit, None);
    let lines: Vec<usize> = bad.iter().map(|b| b.line).collect();
    // Line 13 goes with the skipped pattern of line 12, unreported.
    let want: Vec<usize> = (1..=28).filter(|n| ![2, 3, 13].contains(n)).collect();
    assert_eq!(lines, want, "{bad:#?}");
    assert_eq!(
        get(&h, None, "/ok"),
        pairs(&[("X-Good", "1")]),
        "only the good line of /ok"
    );
    assert_eq!(get(&h, None, "/last"), pairs(&[("X-Last", "1")]));
    assert_eq!(h.len(), 2);
    let why = |line: usize| bad.iter().find(|b| b.line == line).unwrap().why;
    assert_eq!(why(1), "a header line before any pattern");
    assert!(why(12).contains("indented"), "{}", why(12));
    assert!(why(17).contains("query"), "{}", why(17));
    assert!(why(19).contains("port"), "{}", why(19));
    assert!(why(28).contains("no header lines"), "{}", why(28));
    // Not UTF-8: the line is skipped, the rest read.
    let (h, bad, _) = Headers::parse(b"/a\n  X: \xff\n  Y: 1\n");
    assert_eq!(
        bad,
        [BadLine {
            line: 2,
            why: "not UTF-8"
        }]
    );
    assert_eq!(get(&h, None, "/a"), pairs(&[("Y", "1")]));
}

#[test]
fn headers_wwz_or_the_web_server_own_are_refused() {
    for name in [
        "Content-Length",
        "content-encoding",
        "Content-Range",
        "ETag",
        "Transfer-Encoding",
        "Last-Modified",
        "Accept-Ranges",
        "Connection",
        "Keep-Alive",
        "Proxy-Connection",
        "TE",
        "Trailer",
        "Upgrade",
        "Status",
        "Location",
        "X-Accel-Redirect",
        "x-accel-buffering",
        "X-Sendfile",
        "X-LIGHTTPD-send-file",
    ] {
        for line in [format!("  {name}: x"), format!("  ! {name}")] {
            let text = format!("/*\n  X-Fine: 1\n{line}\n");
            assert_eq!(bad_lines(text.as_bytes()), [3], "{line}");
        }
    }
    let h = rules(
        "/*\n  Vary: Origin\n  Cache-Control: no-store\n  Content-Type: text/plain\n  \
         Content-Security-Policy: default-src 'self'\n  Cross-Origin-Opener-Policy: same-origin\n",
    );
    assert_eq!(get(&h, None, "/").len(), 5);
}

#[test]
fn at_most_100_rules_are_read() {
    let text: String = (0..150).map(|i| format!("/r{i}\n  X-R: {i}\n")).collect();
    let (h, bad, limit) = Headers::parse(text.as_bytes());
    assert_eq!(h.len(), MAX_RULES);
    assert!(bad.is_empty());
    assert_eq!(limit, Some(TOO_MANY_RULES));
    assert_eq!(get(&h, None, "/r99"), pairs(&[("X-R", "99")]));
    assert!(get(&h, None, "/r100").is_empty());
    // Skipped patterns and empty rules do not count.
    let text: String = std::iter::once("/nothing\n# none\nnot-a-pattern\n  X: 1\n".to_owned())
        .chain((0..100).map(|i| format!("/r{i}\n  X-R: {i}\n")))
        .collect();
    let (h, bad, limit) = Headers::parse(text.as_bytes());
    assert_eq!((h.len(), bad.len(), limit), (100, 2, None));
}

#[test]
fn a_line_over_2000_bytes_is_skipped_and_the_rest_read() {
    let long = format!("  X-Long: {}", "v".repeat(3000));
    let at_limit = format!("  X-Max: {}", "v".repeat(MAX_LINE - 9));
    assert_eq!(at_limit.len(), MAX_LINE);
    let text = format!(
        "/a\n{long}\n{at_limit}\n/{}\n  X-Lost: 1\n/b\n  X-B: 1\n",
        "p".repeat(3000)
    );
    let (h, bad, limit) = Headers::parse(text.as_bytes());
    assert_eq!(limit, None);
    assert_eq!(
        bad,
        [
            BadLine {
                line: 2,
                why: "longer than 2,000 bytes"
            },
            BadLine {
                line: 4,
                why: "longer than 2,000 bytes"
            }
        ]
    );
    assert_eq!(get(&h, None, "/a")[0].0, "X-Max");
    // The header under the long pattern went with it, not to `/a`.
    assert_eq!(get(&h, None, "/a").len(), 1);
    assert_eq!(get(&h, None, "/b"), pairs(&[("X-B", "1")]));
}

#[test]
fn beyond_64_kib_the_rest_is_ignored_and_the_rules_before_kept() {
    let mut text = String::from("/first\n  X-First: 1\n/*\n");
    while text.len() < MAX_BYTES - 20 {
        text.push_str("  X-Pad: 0123456789\n");
    }
    // The line the limit cuts goes with the rest.
    text.push_str("  X-Cut: 0123456789012345678901234567890\n/after\n  X-After: 1\n");
    assert!(text.len() > MAX_BYTES);
    let (h, bad, limit) = Headers::parse(text.as_bytes());
    assert_eq!(limit, Some(TOO_LARGE));
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(h.len(), 2);
    let all = get(&h, None, "/first");
    assert_eq!(all[0], ("X-First".into(), "1".into()));
    assert!(all[1].1.starts_with("0123456789, 0123456789"));
    assert!(!all.iter().any(|(n, _)| n == "X-Cut"));
    assert!(get(&h, None, "/after").iter().all(|(n, _)| n != "X-After"));
    // A limit that falls on a line's end keeps that line.
    let mut text = String::from("/a\n");
    while text.len() < MAX_BYTES - 100 {
        text.push_str("  # c\n");
    }
    text.push_str(&"#".repeat(MAX_BYTES - 6 - text.len() - 1));
    text.push('\n');
    text.push_str("  X: 1\n");
    assert_eq!(text.len(), MAX_BYTES + 1);
    let (h, _, limit) = Headers::parse(text.as_bytes());
    assert_eq!(limit, Some(TOO_LARGE));
    assert_eq!(get(&h, None, "/a"), pairs(&[("X", "1")]));
    // Any size is survivable.
    let (h, _, _) = Headers::parse(&vec![b'/'; 1 << 20]);
    assert!(h.is_empty());
}

#[test]
fn no_rule_means_no_allocation() {
    assert!(Headers::EMPTY.for_request(Some("h"), "/").capacity() == 0);
    let h = rules("/only\n  X: 1\n");
    assert_eq!(h.for_request(None, "/other").capacity(), 0);
    assert!(Headers::parse(b"").0.is_empty());
}

#[test]
fn unmatched_rules_are_those_no_url_of_the_archive_matches() {
    let h = rules(
        "/*\n  A: 1\n/assets/*\n  A: 1\n/guide/\n  A: 1\n/about\n  A: 1\n\
         /about.html\n  A: 1\n/missing/*\n  A: 1\nhttps://:sub.example.org/assets/*.js\n  A: 1\n\
         https://example.org/nowhere\n  A: 1\n/_headers\n  A: 1\n/empty/\n  A: 1\n/:x/deep/\n  A: 1\n",
    );
    let names = [
        "index.html",
        "about.html",
        "assets/app.js",
        "guide/index.html",
        "_headers",
        "empty/",
        "a/deep/er/x.txt",
    ];
    assert_eq!(h.unmatched(names.into_iter()), [11, 15, 17]);
    assert_eq!(
        h.unmatched(std::iter::empty()),
        [3, 5, 7, 9, 11, 13, 15, 17, 19, 21]
    );
}
