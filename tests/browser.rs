//! The directory listing as a person sees it: headless Chromium renders it
//! (a screenshot is kept under the target directory), and its DOM is checked:
//! awkward names show as themselves, not as markup, and every link resolves.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

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

    let port = free_port();
    let mut preview = spawn(
        {
            let mut cmd = Command::new(wwz_bin());
            cmd.args(["serve", "--http", &format!("127.0.0.1:{port}"), "--docroot"])
                .arg(&site.docroot);
            cmd
        },
        "wwz preview",
        site.path("preview.stderr"),
    );
    wait_for(
        &Addr::Tcp(std::net::SocketAddr::from(([127, 0, 0, 1], port))),
        &mut preview,
    );
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
        .args(["-c", script, &page])
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
    let parsed: serde_json::Value = serde_json::from_slice(&parsed.stdout).unwrap();
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
            .args(["-s", "-f", "--max-time", "5", url])
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
                "5",
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
