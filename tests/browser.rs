//! The directory listing as a person sees it: headless Chromium renders it
//! (a screenshot is kept under the target directory), and its DOM is checked:
//! awkward names show as themselves, not as markup, and every link resolves.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{self, *};

/// Names that break naive listings: markup, entities, quotes, spaces, `#`, `?`, `%`.
const NAMES: &[&str] = &[
    "<b>bold<b>.txt",
    "fish & chips.log",
    "\"quoted\" name.txt",
    "it's.txt",
    "hash#and?query%.txt",
    "plain.txt",
];

#[test]
fn listing_renders_in_chromium_with_escaped_names_and_working_links() {
    let site = Site::new();
    let files: Vec<(String, Vec<u8>)> = NAMES
        .iter()
        .map(|n| (format!("ci/job 1/{n}"), n.as_bytes().to_vec()))
        .chain([("ci/job 1/sub dir/deep.txt".to_string(), b"deep".to_vec())])
        .collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_slice()))
        .collect();
    zip_files(&site.docroot.join("run.wwz"), &refs);

    let (_preview, port) = start_preview(&site, &[]);
    let page = format!("http://127.0.0.1:{port}/run.wwz/ci/job%201/");

    // A screenshot, kept as an artifact for people to look at.
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("listing.png");
    let _ = std::fs::remove_file(&shot);
    let user_dir = site.path("chromium-profile");
    let out = chromium(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=800,600",
            &page,
        ],
        &user_dir,
    );
    assert!(
        shot.is_file() && std::fs::metadata(&shot).unwrap().len() > 1000,
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("listing screenshot: {}", shot.display());

    // The DOM as Chromium parsed it: anchor texts and resolved hrefs.
    let out = chromium(&["--dump-dom", &page], &user_dir);
    let dom = String::from_utf8(out.stdout).unwrap();
    assert!(dom.contains("<table>"), "no listing in the DOM: {dom}");
    let parsed = parse_dom(&dom, &page);
    assert_eq!(parsed["bold"], 0, "a name became markup");
    let links: Vec<(String, String)> = parsed["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l[0].as_str().unwrap().to_owned(),
                l[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for name in NAMES {
        let (_, url) = links
            .iter()
            .find(|(text, _)| text == name)
            .unwrap_or_else(|| panic!("no link showing {name:?} in {links:?}"));
        // Following the link gets that member's bytes.
        let body = Command::new(require_tool("curl", "curl"))
            .args(["-s", "-f", "--max-time", &max_time(patience(WAIT)), url])
            .output()
            .unwrap();
        assert!(body.status.success(), "{url} does not resolve");
        assert_eq!(body.stdout, name.as_bytes(), "{url} serves another member");
    }
    assert!(
        links.iter().any(|(text, _)| text == "sub dir/"),
        "{links:?}"
    );
    // Every link on the page, breadcrumbs included, answers 200.
    for (text, url) in &links {
        let code = Command::new(require_tool("curl", "curl"))
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                &max_time(patience(WAIT)),
                url,
            ])
            .output()
            .unwrap();
        let code = String::from_utf8_lossy(&code.stdout).to_string();
        // The breadcrumb to the docroot leaves wwz's territory: 404 there is the web server's business.
        let outside = url == &format!("http://127.0.0.1:{port}/");
        assert!(code == "200" || outside, "link {text:?} → {url}: {code}");
    }
}

/// Anchors of a DOM (as Chromium dumped it) with their text and their href
/// resolved against `base`, and how many `<b>` elements it has.
fn parse_dom(dom: &str, base: &str) -> serde_json::Value {
    let script = r#"
import sys, json
from html.parser import HTMLParser
from urllib.parse import urljoin
base = sys.argv[1]
class P(HTMLParser):
    def __init__(self):
        super().__init__(); self.links = []; self.href = None; self.text = ""; self.tags = []
    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "a": self.href = dict(attrs).get("href"); self.text = ""
    def handle_data(self, data):
        if self.href is not None: self.text += data
    def handle_endtag(self, tag):
        if tag == "a" and self.href is not None:
            self.links.append([self.text, urljoin(base, self.href)]); self.href = None
p = P(); p.feed(sys.stdin.read())
print(json.dumps({"links": p.links, "bold": p.tags.count("b")}))
"#;
    let mut child = Command::new(require_tool("python3", "python3"))
        .args(["-c", script, base])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dom.as_bytes())
        .unwrap();
    let parsed = child.wait_with_output().unwrap();
    serde_json::from_slice(&parsed.stdout).unwrap()
}

/// A whole site at a host's root, as a person browses it: Chromium follows
/// every link from the root page across the site (nginx with the one-site
/// recipe in front), no URL it reaches names an archive, and the site's own
/// 404 page renders with its stylesheet (a screenshot is kept).
#[test]
fn a_site_at_the_host_root_never_shows_an_archive_in_a_url() {
    let site = Site::new();
    site_archives(&site);
    let w = Wwz::start(&site, Transport::Unix, &[]);
    let Addr::Unix(sock) = &w.addr else {
        unreachable!()
    };
    let recipe = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/servers/nginx-site.conf");
    let nginx = common::nginx::start(&site, sock, true, &format!("include {};", recipe.display()));
    let origin = format!("http://127.0.0.1:{}", nginx.port);
    let user_dir = site.path("chromium-profile");

    let mut queue = vec![format!("{origin}/")];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(url) = queue.pop() {
        if !seen.insert(url.clone()) {
            continue;
        }
        assert!(seen.len() < 100, "the crawl does not end: {seen:?}");
        let path = url.strip_prefix(&origin).unwrap();
        let r = curl_get(nginx.port, path, &[]);
        assert!(
            r.status == 200 || (300..400).contains(&r.status),
            "{url}: {}",
            r.status
        );
        // Only pages are crawled: a download (a listing's `?zip`) is not one.
        let html = r
            .opt_header("Content-Type")
            .is_some_and(|t| t.starts_with("text/html"));
        if r.status == 200 && !html {
            continue;
        }
        let out = chromium(&["--dump-dom", &url], &user_dir);
        let dom = String::from_utf8(out.stdout).unwrap();
        let parsed = parse_dom(&dom, &url);
        for link in parsed["links"].as_array().unwrap() {
            let target = link[1].as_str().unwrap();
            let target = target.split('#').next().unwrap().to_owned();
            assert!(!target.contains(".wwz"), "{url} links to {target}");
            if target.starts_with(&origin) {
                queue.push(target);
            }
        }
    }
    eprintln!("crawled {} URLs: {seen:?}", seen.len());
    for page in [
        "/",
        "/about",
        "/guide/",
        "/guide/intro",
        "/manual/",
        "/blog/2024/",
    ] {
        assert!(
            seen.contains(&format!("{origin}{page}")),
            "{page} not reached: {seen:?}"
        );
    }

    // The 404 page, with its stylesheet: the page's own script reads the
    // background colour that /style.css sets.
    let missing = format!("{origin}/no/such/page");
    let out = chromium(
        &["--virtual-time-budget=5000", "--dump-dom", &missing],
        &user_dir,
    );
    let dom = String::from_utf8(out.stdout).unwrap();
    assert!(dom.contains("not here"), "{dom}");
    assert!(
        dom.contains("data-bg=\"rgb(1, 2, 3)\""),
        "the 404 page has no stylesheet: {dom}"
    );
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("site-404.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=800,600",
            &missing,
        ],
        &user_dir,
    );
    assert!(shot.is_file(), "no screenshot of the 404 page");
}

/// A CI log as a person reads it in Chromium (screenshots kept under the
/// target directory): colours become styled spans, log text never becomes
/// markup (a `<script>` in the log stays text and does not run), `#L120-L140`
/// highlights exactly those lines, and a search result marks the needle and
/// links to its line in the view.
#[test]
fn a_ci_log_renders_in_chromium_with_colours_line_ranges_and_search() {
    let site = Site::new();
    let mut log = Vec::new();
    // Short enough to fit one tall window: headless Chromium screenshots a
    // page scrolled far down (to #L120) as blank.
    for i in 1..=160 {
        let line = match i {
            5 => "\x1b[1;31merror[E0308]: mismatched types\x1b[0m".to_string(),
            7 => "<script>document.title='pwned'</script> <b>not bold</b> &amp;".to_string(),
            130 => "found the NEEDLE here".to_string(),
            _ => format!("line {i} \x1b[32mok\x1b[0m"),
        };
        log.extend_from_slice(line.as_bytes());
        log.push(b'\n');
    }
    zip_files(&site.docroot.join("run.wwz"), &[("logs/build.log", &log)]);
    let (_preview, port) = start_preview(&site, &[]);
    let origin = format!("http://127.0.0.1:{port}");
    let view = format!("{origin}/run.wwz/logs/build.log?view");
    let user_dir = site.path("chromium-profile");
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shoot = |name: &str, url: &str, size: &str| {
        let shot = artifacts.join(name);
        let _ = std::fs::remove_file(&shot);
        chromium(
            &[
                "--virtual-time-budget=3000",
                &format!("--screenshot={}", shot.display()),
                &format!("--window-size={size}"),
                url,
            ],
            &user_dir,
        );
        assert!(shot.is_file(), "no screenshot of {url}");
        eprintln!("screenshot: {}", shot.display());
    };
    let dom_of = |url: &str| {
        let out = chromium(
            &["--virtual-time-budget=3000", "--dump-dom", url],
            &user_dir,
        );
        String::from_utf8(out.stdout).unwrap()
    };

    // Colours: line 5 is bold red, and the page styles that class.
    let dom = dom_of(&view);
    let line = |dom: &str, n: u32| -> String {
        let start = dom
            .find(&format!("id=\"L{n}\""))
            .unwrap_or_else(|| panic!("no line {n} in the view"));
        let from = dom[..start].rfind("<div").unwrap();
        let end = start + dom[start..].find("</div>").unwrap();
        dom[from..end].to_string()
    };
    let red = line(&dom, 5);
    assert!(
        red.contains("class=\"f1 bo\"") || red.contains("class=\"bo f1\""),
        "{red}"
    );
    assert!(dom.contains(".f1{"), "the page does not style red");
    // Log text stays text: the <script> did not run, no <b> from the log.
    assert!(!dom.contains("<title>pwned"), "a script from the log ran");
    let markup = line(&dom, 7);
    assert!(markup.contains("&lt;script&gt;"), "{markup}");
    assert!(!markup.contains("<b>"), "{markup}");
    assert_eq!(parse_dom(&dom, &view)["bold"], 0);
    shoot("log-view.png", &view, "900,700");

    // A line range: exactly L120..=L140 highlighted.
    let range = format!("{view}#L120-L140");
    let dom = dom_of(&range);
    for n in [119, 120, 130, 140, 141] {
        let highlighted = line(&dom, n).contains(" hl");
        assert_eq!(
            highlighted,
            (120..=140).contains(&n),
            "line {n}: {}",
            line(&dom, n)
        );
    }
    shoot("log-range.png", &range, "900,3600");

    // Search: the needle marked, linked to its line in the view.
    let search = format!("{origin}/run.wwz/?q=NEEDLE");
    let dom = dom_of(&search);
    assert!(dom.contains("<mark>NEEDLE</mark>"), "{dom}");
    let links = parse_dom(&dom, &search);
    let target = format!("{origin}/run.wwz/logs/build.log?view#L130");
    assert!(
        links["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l[1].as_str() == Some(target.as_str())),
        "no link to {target}: {links}"
    );
    shoot("log-search.png", &search, "900,700");
}
