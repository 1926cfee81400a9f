//! The formats' tests: each system's markers, prefixes and detection.

// unwrap/expect here act on inputs the tests build themselves, never on
// bytes from the network or an archive in service: a failure is the test's.
use super::*;

/// Formats `log` as `system`: per line, the visible text and what the line says.
fn lines(system: System, log: &[u8]) -> Vec<(String, Line)> {
    let mut f = Formatter::new(system);
    log.split(|&b| b == b'\n')
        .map(|raw| {
            let line = f.line(raw);
            (f.text().to_string(), line)
        })
        .collect()
}

fn html_of(system: System, raw: &[u8]) -> String {
    let mut f = Formatter::new(system);
    f.line(raw);
    let mut out = String::new();
    f.html(&mut out, &[]);
    out
}

fn stamp(iso: &str) -> Stamp {
    stamp::iso(iso.as_bytes()).unwrap().0
}

#[test]
fn iso_times_and_their_forms() {
    let t = stamp("2024-07-08T05:34:54.5550749Z");
    assert_eq!(t.ms, 1_720_416_894_555);
    assert_eq!(t.clock(), "05:34:54");
    assert_eq!(t.machine(), "2024-07-08T05:34:54.555Z");
    assert_eq!(stamp("2024-07-08T05:34:54Z").ms % 1000, 0);
    for bad in [
        "2024-13-08T05:34:54Z",
        "2024-07-08 05:34:54Z",
        "2024-07-08T05:34:54+02:00",
        "2024-07-08T05:34",
    ] {
        assert!(stamp::iso(bad.as_bytes()).is_none(), "{bad}");
    }
    assert_eq!(stamp::duration(400), "0.4s");
    assert_eq!(stamp::duration(12_000), "12s");
    assert_eq!(stamp::duration(185_000), "3m 05s");
    assert_eq!(stamp::duration(3_720_000), "1h 02m");
    assert_eq!(stamp::relative(125_000), "+2:05");
    assert_eq!(stamp::relative(3_723_000), "+1:02:03");
    // A time of day that passes midnight counts on.
    let (a, _) = stamp::jenkins(b"[23:59:59] x").unwrap();
    let (b, _) = stamp::jenkins(b"[00:00:01] y").unwrap();
    assert_eq!(b.since(a), 2000);
}

#[test]
fn detection_from_the_first_lines() {
    let table: &[(&[u8], System)] = &[
        (b"2024-07-08T05:34:54.5550749Z Current runner version: '2.317.0'\n2024-07-08T05:34:54.5551Z ##[group]Operating System\n", System::GitHub),
        (b"2024-07-08T05:34:54.5550749Z ##[section]Starting: Initialize job\n", System::Azure),
        (b"2024-05-30T14:30:00.000000Z 00O Running with gitlab-runner 17.0.0\n2024-05-30T14:30:00.100000Z 00O+ more\n", System::GitLab),
        (b"Running with gitlab-runner 15.0.0 (febb2a09)\n\x1b[0Ksection_start:1716995400:prepare\r\x1b[0K\n", System::GitLab),
        (b"\x1b_bk;t=1700000000000\x07~~~ Running global environment hook\n", System::Buildkite),
        (b"travis_fold:start:worker_info\r\x1b[0KWorker information\n", System::Travis),
        (b"[2024-01-01T00:00:00.000Z] Started by user admin\n[2024-01-01T00:00:01.000Z] Building\n", System::Jenkins),
        (b"[12:34:56] Started by timer\n[12:34:57] [Pipeline] Start of Pipeline\n", System::Jenkins),
        (b"Started by user admin\n\x1b[8mha:////4Ab=\x1b[0m[Pipeline] node\n", System::Jenkins),
        (b"   Compiling wwz v0.1.0\nerror[E0308]: mismatched types\n", System::Plain),
        // One timestamp-looking line among plain ones is not GitHub's prefix.
        (b"a\nb\nc\n2024-07-08T05:34:54Z d\n", System::Plain),
    ];
    for (log, want) in table {
        assert_eq!(detect(log), *want, "{}", String::from_utf8_lossy(log));
    }
}

#[test]
fn github_actions_markers() {
    let log = b"2024-07-08T05:34:54.5550749Z ##[group]Run cargo test\n\
2024-07-08T05:34:54.6000000Z [command]/usr/bin/cargo test\n\
2024-07-08T05:34:55.0000000Z ##[command]git version\n\
2024-07-08T05:34:56.0000000Z ##[endgroup]\n\
2024-07-08T05:34:57.0000000Z ##[error]Process completed with exit code 101.\n\
2024-07-08T05:34:57.1000000Z ##[warning]Node.js 16 actions are deprecated.\n\
2024-07-08T05:34:57.2000000Z ##[notice]A notice\n\
2024-07-08T05:34:57.3000000Z ##[debug]Evaluating: success()\n\
2024-07-08T05:34:57.4000000Z ::error file=src/main.rs,line=3,col=5,title=E0308::mismatched types\n\
2024-07-08T05:34:57.5000000Z ::warning::unused variable\n\
2024-07-08T05:34:57.6000000Z ::group::Nested\n\
2024-07-08T05:34:57.7000000Z ::endgroup::\n\
2024-07-08T05:34:57.8000000Z ::add-mask::not a marker we show otherwise";
    let got = lines(System::GitHub, log);
    let texts: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Run cargo test",
            "/usr/bin/cargo test",
            "git version",
            "",
            "Process completed with exit code 101.",
            "Node.js 16 actions are deprecated.",
            "A notice",
            "Evaluating: success()",
            "mismatched types",
            "unused variable",
            "Nested",
            "",
            "::add-mask::not a marker we show otherwise",
        ]
    );
    let l = |i: usize| &got[i].1;
    assert_eq!(l(0).time, Some(stamp("2024-07-08T05:34:54.5550749Z")));
    assert!(matches!(
        l(0).events[..],
        [Event::Open {
            collapsed: true,
            ..
        }]
    ));
    assert_eq!(l(1).role, Role::Command);
    assert_eq!(l(2).role, Role::Command);
    assert!(matches!(l(3).events[..], [Event::Close { .. }]) && l(3).hidden);
    assert_eq!(l(4).level, Level::Error);
    assert_eq!(l(5).level, Level::Warning);
    assert_eq!(l(6).level, Level::Notice);
    assert_eq!(l(7).role, Role::Debug);
    assert_eq!(
        (l(8).level, l(8).label.as_deref()),
        (Level::Error, Some("src/main.rs:3:5 E0308"))
    );
    assert_eq!(l(9).level, Level::Warning);
    assert!(matches!(l(10).events[..], [Event::Open { .. }]));
    assert!(matches!(l(11).events[..], [Event::Close { .. }]));
    assert!(got.iter().all(|(_, l)| l.time.is_some()));
    // The marker is not in the HTML either, and colour around it is kept.
    assert_eq!(
        html_of(
            System::GitHub,
            b"2024-07-08T05:34:54Z ##[error]\x1b[31mboom <b>\x1b[0m"
        ),
        "<span class=\"f1\">boom &lt;b&gt;</span>"
    );
}

#[test]
fn azure_pipelines_markers() {
    let got = lines(
        System::Azure,
        b"2024-01-01T00:00:00.0000000Z ##[section]Starting: Build\n2024-01-01T00:00:01.0000000Z ##[error]Bash exited with code '1'.",
    );
    assert_eq!(got[0].0, "Starting: Build");
    assert_eq!(got[0].1.role, Role::Section);
    assert_eq!(got[1].1.level, Level::Error);
}

#[test]
fn gitlab_sections_timestamps_and_streams() {
    let log = b"2024-05-30T14:30:00.000000Z 00O \x1b[0Ksection_start:1717079400:prepare_executor[collapsed=true]\r\x1b[0K\x1b[0K\x1b[36;1mPreparing the executor\x1b[0;m\n\
2024-05-30T14:30:01.000000Z 00O Using Docker executor\n\
2024-05-30T14:30:02.000000Z 00E warning: something on stderr\n\
2024-05-30T14:30:02.500000Z 00O+ and its continuation\n\
2024-05-30T14:30:03.000000Z 00O \x1b[0Ksection_start:1717079403:inner\r\x1b[0KInner\n\
2024-05-30T14:30:04.000000Z 00O \x1b[0Ksection_end:1717079404:inner\r\x1b[0K\n\
2024-05-30T14:30:05.000000Z 00O \x1b[0Ksection_end:1717079405:prepare_executor\r\x1b[0K\n\
2024-05-30T14:30:06.000000Z 00O \x1b[32;1mJob succeeded\x1b[0;m";
    let got = lines(System::GitLab, log);
    let texts: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Preparing the executor",
            "Using Docker executor",
            "warning: something on stderr",
            "and its continuation",
            "Inner",
            "",
            "",
            "Job succeeded"
        ]
    );
    assert_eq!(
        got[0].1.events,
        [Event::Open {
            name: Some("prepare_executor".into()),
            collapsed: true,
            quiet: false,
            flat: false,
            at: Some(1_717_079_400_000)
        }]
    );
    assert!(got[2].1.stderr && got[2].1.level == Level::Warning);
    assert!(got[3].1.continues);
    assert!(got[5].1.hidden && got[6].1.hidden);
    // Old runners: end and start on one line, no timestamps; an empty section vanishes.
    let old = b"section_end:1506004957:prepare_script\r\x1b[0Ksection_start:1506004957:get_sources\r\x1b[0KCloning repository...\n\
section_end:1506004958:get_sources\r\x1b[0Ksection_start:1506004958:restore_cache\r\x1b[0Ksection_end:1506004958:restore_cache\r\x1b[0Ksection_start:1506004958:build_script\r\x1b[0K$ whoami";
    let got = lines(System::GitLab, old);
    assert_eq!(got[0].0, "Cloning repository...");
    assert_eq!(got[1].0, "$ whoami");
    let mut g = Groups::new();
    let s0 = g.step(&got[0].1);
    assert_eq!((s0.close_before.len(), s0.opens.len()), (0, 1));
    let s1 = g.step(&got[1].1);
    assert_eq!(s1.close_before.len(), 1, "get_sources closes");
    assert_eq!(
        s1.opens.len(),
        1,
        "only build_script opens: restore_cache was empty"
    );
    assert_eq!(s1.opens[0].name.as_deref(), Some("build_script"));
}

#[test]
fn buildkite_timestamps_and_groups() {
    // The text after a BEL-terminated APC is kept (it vanished before).
    let got = lines(System::Buildkite, b"\x1b_bk;t=1700000000000\x07hello world");
    assert_eq!(got[0].0, "hello world");
    assert_eq!(got[0].1.time, Some(Stamp::at(1_700_000_000_000)));
    let log = b"\x1b_bk;t=1700000000000\x07~~~ Preparing\n\
\x1b_bk;t=1700000001000\x07$ make\n\
\x1b_bk;dt=500\x07--- :hammer: Build\n\
\x1b_bk;t=1700000002000\x07\x1b[31merror: boom\x1b[0m\n\
\x1b_bk;t=1700000003000\x07^^^ +++\n\
\x1b_bk;t=1700000004000\x07+++ Tests\n\
\x1b_bk;t=1700000005000\x1b\\ST-terminated";
    let got = lines(System::Buildkite, log);
    let texts: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        texts,
        [
            ":: Preparing".replace(":: ", ""),
            "$ make".into(),
            ":hammer: Build".into(),
            "error: boom".into(),
            "".into(),
            "Tests".into(),
            "ST-terminated".into()
        ]
    );
    assert_eq!(
        got[2].1.time,
        Some(Stamp::at(1_700_000_001_500)),
        "dt counts from the last t"
    );
    assert!(matches!(
        got[0].1.events[..],
        [Event::Open {
            collapsed: true,
            quiet: true,
            flat: true,
            ..
        }]
    ));
    assert_eq!(got[0].1.role, Role::Quiet);
    assert!(matches!(
        got[2].1.events[..],
        [Event::Open {
            collapsed: true,
            quiet: false,
            ..
        }]
    ));
    assert_eq!(got[3].1.level, Level::Error);
    assert!(matches!(got[4].1.events[..], [Event::Expand]) && got[4].1.hidden);
    assert!(matches!(
        got[5].1.events[..],
        [Event::Open {
            collapsed: false,
            ..
        }]
    ));
    // The outline: `^^^ +++` opens Build; each header closes the group before.
    let mut o = Outline::new();
    for (i, (_, l)) in got.iter().enumerate() {
        o.feed(i as u64 + 1, l);
    }
    o.finish();
    assert_eq!(o.groups.len(), 3);
    assert!(!o.groups[0].open() && o.groups[1].open() && o.groups[2].open());
    assert_eq!(
        o.groups[0].duration(),
        Some(1500),
        "Preparing lasts until Build starts"
    );
    assert_eq!(o.errors, 1);
    assert_eq!(o.error_lines, [4]);
}

#[test]
fn buildkite_headers_are_read_from_the_bytes() {
    // A coloured diff header is text; a bare one is a header, as Buildkite reads them.
    let got = lines(
        System::Buildkite,
        b"\x1b_bk;t=1\x07\x1b[1m--- a/a.txt\x1b[m\n\x1b_bk;t=2\x07--- a/a.txt",
    );
    assert!(got[0].1.events.is_empty() && got[0].0 == "--- a/a.txt");
    assert!(matches!(got[1].1.events[..], [Event::Open { .. }]));
}

#[test]
fn buildkite_opens_its_last_group_when_none_is_expanded() {
    let log = b"\x1b_bk;t=1\x07--- One\n\x1b_bk;t=2\x07x\n\x1b_bk;t=3\x07--- Two\n\x1b_bk;t=4\x07y";
    let mut o = Outline::new();
    for (i, (_, l)) in lines(System::Buildkite, log).iter().enumerate() {
        o.feed(i as u64 + 1, l);
    }
    o.finish();
    assert!(!o.groups[0].open() && o.groups[1].open());
}

#[test]
fn travis_folds_and_timers() {
    let log = b"travis_fold:start:git.checkout\r\x1b[0Ktravis_time:start:0a1b2c\r\x1b[0K$ git clone --depth=50 https://github.com/o/r.git\n\
Cloning into 'o/r'...\n\
travis_time:end:0a1b2c:start=1526382312183398000,finish=1526382315030829000,duration=2847431000,event=checkout\r\x1b[0Ktravis_fold:end:git.checkout\r\x1b[0K\n\
travis_time:start:1f2e\r\x1b[0K$ make test\n\
FAIL: test_x\n\
travis_time:end:1f2e:start=1,finish=2,duration=12000000000\r\x1b[0K\n\
\x1b[31;1mThe command \"make test\" exited with 2.\x1b[0m";
    let got = lines(System::Travis, log);
    let texts: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        texts,
        [
            "$ git clone --depth=50 https://github.com/o/r.git",
            "Cloning into 'o/r'...",
            "",
            "$ make test",
            "FAIL: test_x",
            "",
            "The command \"make test\" exited with 2."
        ]
    );
    let mut o = Outline::new();
    for (i, (_, l)) in got.iter().enumerate() {
        o.feed(i as u64 + 1, l);
    }
    o.finish();
    assert_eq!(o.groups.len(), 1);
    assert_eq!(o.groups[0].duration(), Some(2847));
    assert!(!o.groups[0].open());
    assert_eq!(o.timer(1), Some(2847));
    assert_eq!(o.timer(4), Some(12_000));
    assert_eq!(o.errors, 1);
}

#[test]
fn jenkins_prefixes_and_hidden_notes() {
    let log = b"[2024-01-01T00:00:00.000Z] Started by user \x1b[8mha:////4AbCdEf=\x1b[0madmin\n\
[2024-01-01T00:00:01.500Z] \x1b[8mha:////4Xyz=\x1b[0m[Pipeline] node\n\
[2024-01-01T00:00:02.000Z] ERROR: script returned exit code 1\n\
[12:34:56] Finished: FAILURE";
    let got = lines(System::Jenkins, log);
    let texts: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Started by user admin",
            "[Pipeline] node",
            "ERROR: script returned exit code 1",
            "Finished: FAILURE"
        ]
    );
    assert_eq!(got[1].1.time, Some(stamp("2024-01-01T00:00:01.500Z")));
    assert_eq!(got[1].1.role, Role::Quiet);
    assert_eq!(got[2].1.level, Level::Error);
    assert_eq!(
        got[3].1.time,
        Some(Stamp {
            ms: 45_296_000,
            dated: false
        })
    );
}

#[test]
fn plain_logs_keep_their_text() {
    // A timestamp in a plain log is text; ##[group] is read as before.
    let got = lines(
        System::Plain,
        b"2024-07-08T05:34:54Z started\n##[group]Title",
    );
    assert_eq!(got[0].0, "2024-07-08T05:34:54Z started");
    assert_eq!(got[0].1.time, None);
    assert_eq!(got[1].0, "Title");
}

#[test]
fn error_and_warning_rules() {
    let table: &[(&str, Level)] = &[
        ("error[E0308]: mismatched types", Level::Error),
        ("error: could not compile `wwz`", Level::Error),
        ("main.c:3:5: error: 'x' undeclared", Level::Error),
        (
            "main.c:1:10: fatal error: nope.h: No such file",
            Level::Error,
        ),
        ("src/a.ts(3,7): error TS2322: Type 'x'", Level::Error),
        ("test tests::it_works ... FAILED", Level::Error),
        (
            "FAILED tests/test_a.py::test_b - assert 1 == 2",
            Level::Error,
        ),
        ("FAIL: test_thing (tests.T)", Level::Error),
        ("--- FAIL: TestX (0.00s)", Level::Error),
        ("FAIL\tgithub.com/o/r\t0.01s", Level::Error),
        ("FAIL src/a.test.js", Level::Error),
        ("Traceback (most recent call last):", Level::Error),
        ("npm ERR! code ELIFECYCLE", Level::Error),
        ("thread 'main' panicked at src/main.rs:2:5:", Level::Error),
        ("Error: Process completed with exit code 1.", Level::Error),
        ("ERROR: Could not find a version", Level::Error),
        ("fatal: repository 'x' not found", Level::Error),
        ("warning: unused variable: `x`", Level::Warning),
        ("a.c:1:1: warning: implicit declaration", Level::Warning),
        ("WARNING: Running pip as the 'root' user", Level::Warning),
        ("npm warn deprecated inflight@1.0.6", Level::Warning),
        // Not errors: words inside others, counts, prose.
        ("test result: ok. 3 passed; 0 failed", Level::Plain),
        ("NOTFAILED", Level::Plain),
        ("no errors: all good", Level::Plain),
        ("   Compiling error-chain v0.12.4", Level::Plain),
        ("ErrorBoundary rendered", Level::Plain),
    ];
    for (text, want) in table {
        assert_eq!(level::of_text(text), *want, "{text}");
    }
}

#[test]
fn groups_nest_boundedly() {
    let mut g = Groups::new();
    let open = Line {
        events: vec![Event::open_group()],
        ..Line::default()
    };
    for i in 0..groups::MAX_DEPTH + 3 {
        let s = g.step(&open);
        assert_eq!(s.opens.len(), usize::from(i < groups::MAX_DEPTH));
    }
    assert_eq!(g.depth(), groups::MAX_DEPTH);
    // An end with no group open changes nothing.
    let mut g = Groups::new();
    let close = Line {
        events: vec![Event::Close {
            name: None,
            at: None,
        }],
        hidden: true,
        ..Line::default()
    };
    assert_eq!(g.step(&close), Step::default());
}
