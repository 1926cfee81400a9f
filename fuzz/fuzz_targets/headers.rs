//! A site's `_headers` as an archive might carry it, then the headers for
//! requests: the first line of the input is a request's host (none when
//! empty), the second its path, the rest the file. Parsing is bounded and
//! skips bad lines; whatever the request, what comes out can go in a
//! response head as it is.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wwz::site::headers::{Headers, MAX_BYTES, MAX_RULES};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == b'\n');
    let host = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let path = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let text = parts.next().unwrap_or_default();

    let (rules, bad, limit) = Headers::parse(text);
    assert!(rules.len() <= MAX_RULES);
    assert_eq!(rules.is_empty(), rules.len() == 0);
    // A limit is the byte limit, or the rule limit once 100 rules are kept.
    if limit.is_some() && text.len() <= MAX_BYTES {
        assert_eq!(rules.len(), MAX_RULES, "{limit:?}");
    }
    let lines = text.split(|&b| b == b'\n').count();
    let mut prev = 0;
    for b in &bad {
        assert!(b.line > prev && b.line <= lines, "{bad:?} of {lines} lines");
        prev = b.line;
    }

    let host = (!host.is_empty()).then_some(host.as_str());
    check(&rules, host, &path);
    check(&rules, None, &path);
    // Requests each pattern would match, so that matching and substitution
    // are reached without the fuzzer guessing them: `:name` becomes `v`, `*`
    // two segments (two labels in a host).
    let text = String::from_utf8_lossy(text.get(..MAX_BYTES).unwrap_or(text));
    let mut names = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with([' ', '\t']))
        .take(16)
    {
        let (host, path) = match line.split_once("://") {
            Some((_, rest)) => match rest.find('/') {
                Some(at) => (Some(fill(&rest[..at], "a.b")), fill(&rest[at..], "s/t")),
                None => (Some(fill(rest, "a.b")), "/".to_owned()),
            },
            None => (None, fill(line, "s/t")),
        };
        check(&rules, host.as_deref(), &path);
        names.push(path.trim_start_matches('/').to_owned());
    }
    names.push(path.trim_start_matches('/').to_owned());

    let unmatched = rules.unmatched(names.iter().map(String::as_str));
    assert!(unmatched.len() <= rules.len());
    let mut prev = 0;
    for &line in &unmatched {
        assert!(
            line > prev && line <= lines,
            "{unmatched:?} of {lines} lines"
        );
        prev = line;
    }
});

/// A pattern's text with each `:name` made `v` and `*` made `splat`.
fn fill(pattern: &str, splat: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(at) = rest.find([':', '*']) {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if rest[at..].starts_with('*') {
            out.push_str(splat);
            rest = after;
        } else {
            let len = after
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            out.push_str(if len > 0 { "v" } else { ":" });
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    out
}

fn check(rules: &Headers, host: Option<&str>, path: &str) {
    let headers = rules.for_request(host, path);
    // The same question gets the same answer.
    assert_eq!(headers, rules.for_request(host, path));
    for (i, (name, value)) in headers.iter().enumerate() {
        // A name is an RFC 9110 token the site may set, written once.
        assert!(!name.is_empty(), "{headers:?}");
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)),
            "{name:?}"
        );
        let lower = name.to_ascii_lowercase();
        assert!(
            ![
                "content-length",
                "content-encoding",
                "content-range",
                "transfer-encoding",
                "etag",
                "connection",
                "status",
                "location",
            ]
            .contains(&lower.as_str())
                && !lower.starts_with("x-accel-"),
            "{name}"
        );
        if lower != "set-cookie" {
            assert!(
                !headers
                    .iter()
                    .skip(i + 1)
                    .any(|(n, _)| n.eq_ignore_ascii_case(name)),
                "{name} twice in {headers:?}"
            );
        }
        // A value stays one header line whatever the request put in it.
        assert!(
            !value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0),
            "{name}: {value:?}"
        );
        assert!(
            !value.bytes().any(|b| b.is_ascii_control() && b != b'\t'),
            "{name}: {value:?}"
        );
    }
}
