//! CI logs as their systems write them, through the real binary: the corpus
//! in `fixtures/ci/logs/` (one log per system, see its SOURCES) and logs
//! made here by real tools (cargo, git, pytest, apt) wrapped as GitHub,
//! GitLab and Buildkite write a step's output. For each: the groups, errors
//! and times the page shows are those the source holds, and no escape
//! byte, marker or timestamp is left in any line's text. Headless Chromium
//! renders a GitHub, a GitLab and a Buildkite log (screenshots kept under
//! the target directory, as `tests/browser.rs` does), and opening `#L123`
//! inside a closed group opens it.
//!
//! `WWZ_CI_CORPUS=DIR` adds every file of DIR (real logs kept out of the
//! repository, e.g. terminal-to-html's `fixtures/*.raw`) to the text checks.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ci/logs")
}

/// What a log's source says, counted from its bytes by the test itself.
struct Source {
    file: &'static str,
    system: &'static str,
    /// Group markers in the source.
    groups: usize,
    errors: u64,
    warnings: u64,
    /// Lines with a time in the gutter.
    timed: bool,
}

const CORPUS: &[Source] = &[
    Source {
        file: "github-actions.log",
        system: "GitHub Actions",
        groups: 8,
        errors: 5,
        warnings: 2,
        timed: true,
    },
    Source {
        file: "azure-pipelines.log",
        system: "Azure Pipelines",
        groups: 1,
        errors: 2,
        warnings: 0,
        timed: true,
    },
    Source {
        file: "gitlab-ci.log",
        system: "GitLab CI",
        groups: 5,
        errors: 3,
        warnings: 0,
        timed: true,
    },
    Source {
        file: "buildkite.log",
        system: "Buildkite",
        groups: 6,
        errors: 2,
        warnings: 0,
        timed: true,
    },
    Source {
        file: "travis-ci.log",
        system: "Travis CI",
        groups: 3,
        errors: 1,
        warnings: 1,
        timed: true,
    },
    Source {
        file: "jenkins.log",
        system: "Jenkins",
        groups: 0,
        errors: 2,
        warnings: 0,
        timed: true,
    },
];

/// Group markers in a log's bytes, counted as the source's system defines them.
fn count_groups(system: &str, log: &[u8]) -> usize {
    let text = String::from_utf8_lossy(log);
    match system {
        "GitHub Actions" | "Azure Pipelines" => {
            text.matches("##[group]").count() + text.matches(" ::group::").count()
        }
        "GitLab CI" => text.matches("section_start:").count(),
        "Travis CI" => text.matches("travis_fold:start:").count(),
        "Buildkite" => text
            .lines()
            .filter(|l| {
                let body = l.rsplit('\x07').next().unwrap_or(l);
                ["--- ", "+++ ", "~~~ "].iter().any(|p| body.starts_with(p))
            })
            .count(),
        _ => 0,
    }
}

/// One line of a page: its number, classes and visible text.
#[derive(Debug)]
struct PageLine {
    n: u64,
    class: String,
    text: String,
}

/// The lines of a log view page (`<div class="l…" id="Ln">` and group
/// `<summary>`s), their text unescaped, tags stripped.
fn page_lines(page: &str) -> Vec<PageLine> {
    let mut out = Vec::new();
    let mut rest = page;
    while let Some(at) = rest.find(" class=\"l") {
        rest = &rest[at + " class=\"".len()..];
        let class = rest[..rest.find('"').unwrap()].to_string();
        let Some(id_at) = rest[..rest.find('>').unwrap()].find("id=\"L") else {
            continue;
        };
        let n: u64 = rest[id_at + 5..]
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let x = rest.find("<span class=\"x\">").unwrap() + "<span class=\"x\">".len();
        // The text span's end: its spans balanced.
        let mut depth = 1;
        let mut i = x;
        while depth > 0 {
            let next = rest[i..].find('<').unwrap() + i;
            if rest[next..].starts_with("</span>") {
                depth -= 1;
            } else if rest[next..].starts_with("<span") {
                depth += 1;
            }
            i = next + 1;
        }
        let inner = &rest[x..i - 1];
        out.push(PageLine {
            n,
            class,
            text: unescape(&strip_tags(inner)),
        });
        rest = &rest[i..];
    }
    out
}

fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in html.chars() {
        match c {
            '<' => inside = true,
            '>' => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The number before `what` in the page header's counts (`3 errors`).
fn header_count(page: &str, what: &str) -> u64 {
    let sum = &page[page.find("<p class=\"sum\">").expect("no counts")..];
    let sum = strip_tags(&sum[..sum.find("</p>").unwrap()]);
    for w in [format!(" {what}s"), format!(" {what}")] {
        if let Some(at) = sum.find(&w) {
            let digits: String = sum[..at]
                .chars()
                .rev()
                .take_while(char::is_ascii_digit)
                .collect();
            return digits.chars().rev().collect::<String>().parse().unwrap();
        }
    }
    panic!("no {what} count in {sum}");
}

/// What no line's text may hold: escapes, markers, a runner's timestamp.
fn assert_clean(file: &str, lines: &[PageLine]) {
    let iso = |t: &str| {
        t.len() >= 20
            && t.as_bytes()[4] == b'-'
            && t.as_bytes()[10] == b'T'
            && t[..4].chars().all(|c| c.is_ascii_digit())
    };
    for l in lines {
        let t = &l.text;
        assert!(
            !t.chars().any(|c| c.is_control() && c != '\t'),
            "{file}:{}: control byte in {t:?}",
            l.n
        );
        // Markers that start a line's text, and markers the runner writes anywhere in it.
        for marker in ["##[", "::error", "::warning", "::group::", "::endgroup::"] {
            assert!(
                !t.trim_start().starts_with(marker),
                "{file}:{}: {marker} in {t:?}",
                l.n
            );
        }
        for marker in [
            "section_start:",
            "section_end:",
            "travis_fold:",
            "travis_time:",
            "bk;t=",
            "ha:////",
        ] {
            assert!(!t.contains(marker), "{file}:{}: {marker} in {t:?}", l.n);
        }
        let body = t.trim_start();
        assert!(!iso(body), "{file}:{}: a timestamp in {t:?}", l.n);
        assert!(
            !(body.starts_with('[') && body.get(1..).is_some_and(iso)),
            "{file}:{}: a Jenkins timestamp in {t:?}",
            l.n
        );
    }
}

/// Serves `logs` (name, bytes) in `ci.wwz`; the preview's port.
fn serve(site: &Site, logs: &[(&str, &[u8])]) -> (Proc, u16) {
    zip_files(&site.docroot.join("ci.wwz"), logs);
    start_preview(site, &[])
}

fn get(port: u16, path: &str) -> String {
    let r = curl_get(port, path, &[]);
    assert_eq!(r.status, 200, "{path}");
    String::from_utf8(r.body).unwrap()
}

#[test]
fn every_system_of_the_corpus_shows_its_groups_errors_and_times() {
    let site = Site::new();
    let logs: Vec<(String, Vec<u8>)> = CORPUS
        .iter()
        .map(|s| {
            let bytes = std::fs::read(corpus_dir().join(s.file)).unwrap();
            (format!("logs/{}", s.file), bytes)
        })
        .collect();
    let refs: Vec<(&str, &[u8])> = logs.iter().map(|(n, b)| (n.as_str(), &b[..])).collect();
    let (_preview, port) = serve(&site, &refs);
    for (source, (_, bytes)) in CORPUS.iter().zip(&logs) {
        let page = get(port, &format!("/ci.wwz/logs/{}?view&all", source.file));
        let file = source.file;
        assert!(
            page.contains(source.system),
            "{file}: not told {}",
            source.system
        );
        assert_eq!(
            count_groups(source.system, bytes),
            source.groups,
            "{file}: the table"
        );
        assert_eq!(
            page.matches("<details").count(),
            source.groups,
            "{file}: groups"
        );
        assert_eq!(
            page.matches("<details").count(),
            page.matches("</details>").count()
        );
        assert_eq!(
            header_count(&page, "error"),
            source.errors,
            "{file}: errors"
        );
        assert_eq!(
            header_count(&page, "warning"),
            source.warnings,
            "{file}: warnings"
        );
        let lines = page_lines(&page);
        let source_lines = bytes.split(|&b| b == b'\n').count() - 1;
        assert_eq!(lines.len(), source_lines, "{file}: every line numbered");
        assert_eq!(
            lines.iter().filter(|l| l.class.contains(" er")).count() as u64,
            source.errors,
            "{file}: error lines"
        );
        assert_clean(file, &lines);
        assert_eq!(
            page.contains("<time datetime="),
            source.timed && source.system != "Travis CI"
        );
        if source.timed {
            assert!(page.contains("class=\"tg\""), "{file}: no gutter");
        }
        // `?view&level=error` lists exactly the error lines.
        let errors = get(port, &format!("/ci.wwz/logs/{file}?view&level=error"));
        assert_eq!(
            page_lines(&errors).len() as u64,
            source.errors,
            "{file}: ?view&level=error"
        );
        assert!(
            errors.contains(&format!("{} listed", source.errors)),
            "{file}"
        );
    }
    // What each system says beyond counts.
    let gh = get(port, "/ci.wwz/logs/github-actions.log?view");
    assert!(
        gh.contains("<span class=\"lb\">src/lib.rs:14:9</span>"),
        "a workflow command's location"
    );
    assert!(gh.contains(
        "<a href=\"https://github.com/actions/runner-images/blob/ubuntu22/20240630.1/images/ubuntu/Ubuntu2204-Readme.md\" rel=\"nofollow noopener\">"
    ));
    let gl = get(port, "/ci.wwz/logs/gitlab-ci.log?view");
    // Section times: prepare_executor lasted 9 s; the cargo_build section
    // is closed by the format but holds an error, so it is open.
    assert!(
        gl.contains("executor</span></span><span class=\"du\">9.0s</span>"),
        "{gl}"
    );
    let cargo_build = gl.find("cargo build</span></span>").unwrap();
    assert!(gl[..cargo_build].ends_with_details_open());
    assert!(gl.contains(" ct\""), "the runner's continuation line");
    let bk = get(port, "/ci.wwz/logs/buildkite.log?view");
    assert!(
        bk.contains(">build #42</a> has 1 failed test"),
        "OSC 1339 link"
    );
    let tr = get(port, "/ci.wwz/logs/travis-ci.log?view");
    assert!(
        tr.contains("<span class=\"du\">2.8s</span>"),
        "Travis durations"
    );
    assert!(tr.contains("<span class=\"du\">12s</span>"));
}

trait DetailsOpen {
    fn ends_with_details_open(&self) -> bool;
}

impl DetailsOpen for str {
    /// Whether the last `<details` before here is open.
    fn ends_with_details_open(&self) -> bool {
        let at = self.rfind("<details").unwrap();
        self[at..].starts_with("<details class=\"g\" open>")
    }
}

/// Real logs kept out of the repository (`WWZ_CI_CORPUS`): every page
/// renders and no line's text holds an escape or a marker.
#[test]
fn a_corpus_of_real_logs_renders_clean() {
    let Some(dir) = std::env::var_os("WWZ_CI_CORPUS") else {
        eprintln!("WWZ_CI_CORPUS not set: only the committed corpus is checked");
        return;
    };
    let site = Site::new();
    let mut logs = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            let name = p.file_name().unwrap().to_string_lossy().replace(' ', "_");
            logs.push((name, std::fs::read(&p).unwrap()));
        }
    }
    let refs: Vec<(&str, &[u8])> = logs.iter().map(|(n, b)| (n.as_str(), &b[..])).collect();
    let (_preview, port) = serve(&site, &refs);
    for (name, _) in &logs {
        let page = get(port, &format!("/ci.wwz/{}?view&all", url_encode_path(name)));
        assert_clean(name, &page_lines(&page));
        assert_eq!(
            page.matches("<details").count(),
            page.matches("</details>").count()
        );
    }
    eprintln!("{} real logs checked", logs.len());
}

/// Runs `cmd` in `dir`; its stdout and stderr, merged as a terminal shows them.
fn tool_output(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let mut all = String::from_utf8_lossy(&out.stdout).into_owned();
    all.push_str(&String::from_utf8_lossy(&out.stderr));
    all
}

/// Output of real tools, each with its command line.
fn real_tool_output() -> Vec<(String, String)> {
    let dir = tempdir();
    let mut runs = Vec::new();
    // cargo: a crate with a type error, coloured.
    let krate = dir.path().join("demo");
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::fs::write(
        krate.join("Cargo.toml"),
        "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::write(
        krate.join("src/main.rs"),
        "fn main() {\n    let unused = 1;\n    let x: u32 = \"text\";\n}\n",
    )
    .unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    runs.push((
        "cargo build --color=always".to_string(),
        tool_output(
            Command::new(&cargo)
                .args(["build", "--color=always", "--offline"])
                .env("CARGO_TARGET_DIR", dir.path().join("target"))
                .current_dir(&krate),
        ),
    ));
    // cargo again: a crate that builds, with a warning (lints run only
    // when type checking passed).
    let warn = dir.path().join("warn");
    std::fs::create_dir_all(warn.join("src")).unwrap();
    std::fs::write(
        warn.join("Cargo.toml"),
        "[package]\nname = \"warn\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::write(
        warn.join("src/main.rs"),
        "fn main() {\n    let unused = 1;\n}\n",
    )
    .unwrap();
    runs.push((
        "cargo build --color=always (warnings)".to_string(),
        tool_output(
            Command::new(&cargo)
                .args(["build", "--color=always", "--offline"])
                .env("CARGO_TARGET_DIR", dir.path().join("target"))
                .current_dir(&warn),
        ),
    ));
    // git: a repository, coloured.
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let git = |args: &[&str]| {
        tool_output(
            Command::new(require_tool("git", "git"))
                .args([
                    "-c",
                    "color.ui=always",
                    "-c",
                    "user.name=CI",
                    "-c",
                    "user.email=ci@example.org",
                ])
                .args(args)
                .current_dir(&repo),
        )
    };
    let mut out = git(&["init", "-b", "main"]);
    std::fs::write(repo.join("a.txt"), "one\n").unwrap();
    out.push_str(&git(&["add", "a.txt"]));
    out.push_str(&git(&["commit", "-m", "first"]));
    std::fs::write(repo.join("a.txt"), "two\n").unwrap();
    out.push_str(&git(&["diff"]));
    out.push_str(&git(&["status"]));
    runs.push(("git init && git commit && git diff".to_string(), out));
    // pytest: a failing test, coloured.
    let tests = dir.path().join("pytests");
    std::fs::create_dir_all(&tests).unwrap();
    std::fs::write(
        tests.join("test_demo.py"),
        "def test_ok():\n    assert 1 == 1\n\ndef test_fails():\n    assert 1 == 2\n",
    )
    .unwrap();
    runs.push((
        "pytest --color=yes".to_string(),
        tool_output(
            Command::new(require_tool("pytest", "python3-pytest"))
                .args(["--color=yes", "-p", "no:cacheprovider", "test_demo.py"])
                .current_dir(&tests),
        ),
    ));
    // apt: a simulated install.
    runs.push((
        "apt-get -s install coreutils".to_string(),
        tool_output(Command::new(require_tool("apt-get", "apt")).args([
            "-s",
            "install",
            "coreutils",
        ])),
    ));
    runs
}

/// The tools' output as GitHub, GitLab and Buildkite write a job's steps.
fn wrapped(runs: &[(String, String)]) -> Vec<(&'static str, Vec<u8>)> {
    let mut github = String::new();
    let mut gitlab = String::new();
    let mut buildkite = String::new();
    let mut ms: i64 = 1_720_416_894_000;
    let mut tick = |step: i64| {
        ms += step;
        ms
    };
    let iso = |ms: i64, digits: usize| {
        let secs = ms / 1000;
        let (days, rem) = (secs / 86_400, secs % 86_400);
        // 2024-07-08 is day 19912 after 1970-01-01.
        let day = days - 19_912 + 8;
        let frac = format!("{:03}", ms % 1000) + &"0".repeat(digits - 3);
        format!(
            "2024-07-{day:02}T{:02}:{:02}:{:02}.{frac}Z",
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        )
    };
    for (i, (cmd, out)) in runs.iter().enumerate() {
        let t = tick(1000);
        github.push_str(&format!("{} ##[group]Run {cmd}\n", iso(t, 7)));
        github.push_str(&format!("{} shell: /usr/bin/bash -e {{0}}\n", iso(t, 7)));
        gitlab.push_str(&format!(
            "{} 00O \x1b[0Ksection_start:{}:step_{i}[collapsed=true]\r\x1b[0K\x1b[32;1m$ {cmd}\x1b[0;m\n",
            iso(t, 6),
            t / 1000
        ));
        buildkite.push_str(&format!("\x1b_bk;t={t}\x07--- {cmd}\n"));
        for line in out.lines() {
            let t = tick(7);
            github.push_str(&format!("{} {line}\n", iso(t, 7)));
            gitlab.push_str(&format!("{} 00O {line}\n", iso(t, 6)));
            buildkite.push_str(&format!("\x1b_bk;t={t}\x07{line}\n"));
        }
        let t = tick(3);
        github.push_str(&format!("{} ##[endgroup]\n", iso(t, 7)));
        gitlab.push_str(&format!(
            "{} 00O \x1b[0Ksection_end:{}:step_{i}\r\x1b[0K\n",
            iso(t, 6),
            t / 1000
        ));
    }
    github.push_str(&format!(
        "{} ##[error]Process completed with exit code 101.\n",
        iso(tick(5), 7)
    ));
    vec![
        ("github.log", github.into_bytes()),
        ("gitlab.log", gitlab.into_bytes()),
        ("buildkite.log", buildkite.into_bytes()),
    ]
}

#[test]
fn real_tools_output_wrapped_as_ci_systems_write_it() {
    let runs = real_tool_output();
    let (cmd, cargo) = &runs[0];
    assert!(
        cargo.contains("\x1b[") && cargo.contains("E0308"),
        "{cmd}: {cargo}"
    );
    let logs = wrapped(&runs);
    let site = Site::new();
    let refs: Vec<(&str, &[u8])> = logs.iter().map(|(n, b)| (*n, &b[..])).collect();
    let (_preview, port) = serve(&site, &refs);
    for (name, bytes) in &logs {
        let page = get(port, &format!("/ci.wwz/{name}?view&all"));
        let lines = page_lines(&page);
        assert_eq!(
            lines.len(),
            bytes.split(|&b| b == b'\n').count() - 1,
            "{name}"
        );
        assert_clean(name, &lines);
        assert_eq!(
            page.matches("<details").count(),
            runs.len(),
            "{name}: one group a step"
        );
        // cargo's and pytest's failures are errors; the group holding them is open.
        let error_texts: Vec<&str> = lines
            .iter()
            .filter(|l| l.class.contains(" er"))
            .map(|l| l.text.as_str())
            .collect();
        assert!(
            error_texts
                .iter()
                .any(|t| t.starts_with("error[E0308]: mismatched types")),
            "{name}: {error_texts:?}"
        );
        assert!(
            error_texts
                .iter()
                .any(|t| t.starts_with("FAILED test_demo.py::test_fails")),
            "{name}: {error_texts:?}"
        );
        assert_eq!(
            header_count(&page, "error"),
            error_texts.len() as u64,
            "{name}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.class.contains(" wa") && l.text.starts_with("warning: unused variable")),
            "{name}"
        );
        let cargo_group = page.find("cargo build --color=always</span>").unwrap();
        assert!(page[..cargo_group].ends_with_details_open(), "{name}");
    }
}

/// Headless Chromium over a GitHub, a GitLab and a Buildkite log (the
/// screenshots are kept), and `#L123` inside a closed group opens it.
#[test]
fn ci_logs_render_in_chromium_and_an_anchor_opens_its_group() {
    let site = Site::new();
    let logs: Vec<(String, Vec<u8>)> = ["github-actions.log", "gitlab-ci.log", "buildkite.log"]
        .iter()
        .map(|f| (f.to_string(), std::fs::read(corpus_dir().join(f)).unwrap()))
        .collect();
    let refs: Vec<(&str, &[u8])> = logs.iter().map(|(n, b)| (n.as_str(), &b[..])).collect();
    let (_preview, port) = serve(&site, &refs);
    let user_dir = site.path("chromium-profile");
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    for (file, shot) in [
        ("github-actions.log", "ci-github.png"),
        ("gitlab-ci.log", "ci-gitlab.png"),
        ("buildkite.log", "ci-buildkite.png"),
    ] {
        let url = format!("http://127.0.0.1:{port}/ci.wwz/{file}?view");
        let path = artifacts.join(shot);
        let _ = std::fs::remove_file(&path);
        let out = chromium(
            &[
                "--virtual-time-budget=3000",
                &format!("--screenshot={}", path.display()),
                "--window-size=1000,640",
                &url,
            ],
            &user_dir,
        );
        assert!(
            path.is_file() && std::fs::metadata(&path).unwrap().len() > 1000,
            "no screenshot of {file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("screenshot: {}", path.display());
    }
    // Line 3 ("Ubuntu") is inside the closed "Operating System" group.
    let page = get(port, "/ci.wwz/github-actions.log?view");
    let l3 = page.find("id=\"L3\"").unwrap();
    assert!(
        !page[..l3].ends_with_details_open(),
        "the group starts closed"
    );
    let dom_of = |url: &str| {
        let out = chromium(
            &["--virtual-time-budget=3000", "--dump-dom", url],
            &user_dir,
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let url = format!("http://127.0.0.1:{port}/ci.wwz/github-actions.log?view");
    let dom = dom_of(&url);
    let at = dom.find("id=\"L3\"").unwrap();
    let details = &dom[dom[..at].rfind("<details").unwrap()..at];
    assert!(
        !details.contains(" open"),
        "closed without an anchor: {details}"
    );
    let dom = dom_of(&format!("{url}#L3"));
    let at = dom.find("id=\"L3\"").unwrap();
    let details = &dom[dom[..at].rfind("<details").unwrap()..at];
    assert!(
        details.contains(" open"),
        "#L3 did not open its group: {details}"
    );
}
