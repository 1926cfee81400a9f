//! A site's `_redirects` as an archive might carry it, then the rules applied
//! to request paths: the first line of the input is a path, the rest is the
//! file. Parsing is bounded and skips bad lines; a rule's result stays inside
//! the site when the path is one the router could have produced.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wwz::http::Status;
use wwz::site::redirects::{Redirects, RuleAction, MAX_BYTES, MAX_RULES};

fuzz_target!(|data: &[u8]| {
    let (first, text) = match data.iter().position(|&b| b == b'\n') {
        Some(nl) => (&data[..nl], &data[nl + 1..]),
        None => (data, &b""[..]),
    };
    let lines = String::from_utf8_lossy(text).lines().count();
    let (rules, bad) = match Redirects::parse(text) {
        Ok(parsed) => parsed,
        Err(_) => {
            // Ignoring the whole file is for files over the limits only.
            assert!(text.len() > MAX_BYTES || lines > MAX_RULES);
            return;
        }
    };
    assert!(text.len() <= MAX_BYTES);
    let mut prev = 0;
    for b in &bad {
        assert!(b.line > prev && b.line <= lines, "{bad:?} of {lines} lines");
        prev = b.line;
    }

    let first = String::from_utf8_lossy(first);
    check(&rules, first.trim_start_matches('/'));
    // Paths each rule's own source would match, so that matching and
    // substitution are reached without the fuzzer guessing a path: `:name`
    // becomes one segment, `*` two.
    for line in String::from_utf8_lossy(text).lines().take(16) {
        let Some(from) = line.split_whitespace().next() else {
            continue;
        };
        let path: Vec<&str> = from
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| match s {
                "*" => "s/t.html",
                s if s.starts_with(':') => "v",
                s => s,
            })
            .collect();
        check(&rules, &path.join("/"));
    }
});

fn check(rules: &Redirects, path: &str) {
    for forced in [false, true] {
        let action = rules.apply(path, forced);
        // The same question gets the same answer.
        assert_eq!(action, rules.apply(path, forced));
        if !routable(path) {
            // A path the router would have refused: only no panic.
            continue;
        }
        match action {
            None => {}
            Some(RuleAction::Rewrite(to)) => {
                // A rewrite is a member path: relative, and never out of the site.
                assert!(!to.starts_with('/'), "{to:?}");
                let path_part = to.split(['?', '#']).next().unwrap_or_default();
                for seg in path_part.split('/') {
                    assert!(seg != ".." && seg != "." && !seg.contains('\\'), "{to:?}");
                }
                assert!(!to.bytes().any(|b| b.is_ascii_control()), "{to:?}");
            }
            Some(RuleAction::Redirect { status, to }) => {
                assert!(
                    [
                        Status::MovedPermanently,
                        Status::Found,
                        Status::SeeOther,
                        Status::TemporaryRedirect,
                        Status::PermanentRedirect,
                    ]
                    .contains(&status),
                    "{status:?}"
                );
                // A target written as a path stays a path whatever was
                // substituted into it (it is made relative for `Location`).
                assert!(
                    to.starts_with('/') || to.starts_with("https://") || to.starts_with("http://"),
                    "{to:?}"
                );
            }
        }
    }
}

/// Whether `path` could be a member path as `http::route` hands it on: no
/// empty-name tricks (`.`, `..`), no backslash, NUL or control character.
fn routable(path: &str) -> bool {
    path.split('/').all(|s| s != "." && s != "..")
        && !path.contains('\\')
        && !path.chars().any(char::is_control)
}
