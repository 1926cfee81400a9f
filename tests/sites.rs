//! A site moved from Netlify or Cloudflare Pages: its `_headers` file
//! through real nginx, Apache (mod_proxy_fcgi) and Caddy, at the host's root
//! and under a prefix (the "one site, one archive" recipes); `OPTIONS` and
//! CORS preflights; the operator's `--header`; and, in headless Chromium,
//! what those headers are for: cross-origin isolation, cross-origin fetches
//! and a Content-Security-Policy.

use std::path::Path;
use std::process::Command;

use crate::common::*;
use crate::servers::{daemon, open_site, recipe, s, start_apache, start_caddy};

/// Every kind of rule: a catch-all, a splat with a detach, placeholders
/// used in values, a list of allowed origins, two rules merging, a rule for
/// one host, a bad line, forbidden headers; then 150 generated rules (the
/// first 100 rules count) and a 3,000-byte line.
fn headers_file() -> String {
    let mut text = String::from(
        "# Moved from Cloudflare Pages.
/*
  X-Frame-Options: DENY
  X-Robots-Tag: noindex

/assets/*
  Cache-Control: public, max-age=31536000, immutable
  ! X-Robots-Tag

/api/:version/*
  X-Api-Version: :version
  X-Rest: :splat
  Access-Control-Allow-Origin: https://a.example, https://b.example
  Access-Control-Allow-Headers: *

/fonts/*
  Access-Control-Allow-Origin: *

/app/*
  Cross-Origin-Opener-Policy: same-origin
  Cross-Origin-Embedder-Policy: require-corp
  Link: </app/main.js>; rel=preload; as=script

/app/*
  Link: </app/style.css>; rel=preload; as=style

https://preview.example.org/*
  X-Robots-Tag: noarchive

/guide/
  Content-Security-Policy: default-src 'self'
  Vary: Cookie

  Content-Length: 5
/about
  Content-Length: 5
  X-About: yes
",
    );
    text.push_str(&format!(
        "/long\n  X-Long: {}\n  X-Short: yes\n",
        "a".repeat(3000)
    ));
    for i in 0..150 {
        text.push_str(&format!("/gen/{i}\n  X-Gen: {i}\n"));
    }
    text
}

/// The sample site with `_headers` and the members its rules name.
fn files() -> Vec<(&'static str, Vec<u8>)> {
    let mut files = site_tree();
    files.extend([
        ("_headers", headers_file().into_bytes()),
        ("assets/app.js", b"console.log(1)\n".to_vec()),
        ("api/v2/users/list.json", b"[]\n".to_vec()),
        ("fonts/a.woff2", b"font".to_vec()),
        (
            "app/index.html",
            b"<!doctype html><title>app</title>\n".to_vec(),
        ),
        (
            "long.html",
            b"<!doctype html><title>long</title>\n".to_vec(),
        ),
        (
            "gen/10.html",
            b"<!doctype html><title>10</title>\n".to_vec(),
        ),
        (
            "gen/140.html",
            b"<!doctype html><title>140</title>\n".to_vec(),
        ),
    ]);
    files
}

/// `files` packed as `site.wwz` and `docs.wwz` in the docroot.
fn pack_site(site: &Site, files: &[(&str, Vec<u8>)]) {
    let src = site.path("site-src");
    for (name, content) in files {
        let path = src.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    for archive in ["site.wwz", "docs.wwz"] {
        let mut cmd = Command::new(wwz_bin());
        cmd.arg("pack")
            .arg(&src)
            .arg("-o")
            .arg(site.docroot.join(archive));
        run_ok(&mut cmd, "wwz pack");
    }
}

/// All values of header `name`, in order.
fn all(r: &HttpResponse, name: &str) -> Vec<String> {
    r.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .collect()
}

/// The one value of `name` (none, or more than one, fails).
fn one(r: &HttpResponse, name: &str, url: &str) -> String {
    let values = all(r, name);
    assert_eq!(values.len(), 1, "{url}: {name}: {:?}", r.headers);
    values.into_iter().next().unwrap()
}

fn vary_names(r: &HttpResponse) -> Vec<String> {
    all(r, "Vary")
        .iter()
        .flat_map(|v| v.split(',').map(|n| n.trim().to_ascii_lowercase()))
        .collect()
}

/// Every rule kind of [`headers_file`], under `prefix` (`""` or `/docs`);
/// `any_host`: the server passes requests for any `Host` (Caddy's site
/// address is a host, so it answers others itself).
fn check_headers(port: u16, prefix: &str, any_host: bool) {
    let get = |path: &str, args: &[&str]| {
        let url = format!("{prefix}{path}");
        (curl_get(port, &url, args), url)
    };

    // The catch-all; wwz's own nosniff kept.
    let (r, url) = get("/", &[]);
    assert_eq!(r.status, 200, "{url}");
    assert_eq!(one(&r, "X-Frame-Options", &url), "DENY");
    assert_eq!(one(&r, "X-Robots-Tag", &url), "noindex");
    assert_eq!(one(&r, "X-Content-Type-Options", &url), "nosniff");
    assert!(one(&r, "Cache-Control", &url).contains("must-revalidate"));

    // A splat; Cache-Control replaced, not doubled; a detached header.
    let (r, url) = get("/assets/app.js", &[]);
    assert_eq!(r.status, 200, "{url}");
    assert_eq!(
        one(&r, "Cache-Control", &url),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(one(&r, "X-Frame-Options", &url), "DENY");
    assert!(all(&r, "X-Robots-Tag").is_empty(), "{url}: {:?}", r.headers);
    // A 304 says the same.
    let etag = r.header("ETag").to_owned();
    let (r, url) = get("/assets/app.js", &["-H", &format!("If-None-Match: {etag}")]);
    assert_eq!(r.status, 304, "{url}");
    assert_eq!(
        one(&r, "Cache-Control", &url),
        "public, max-age=31536000, immutable"
    );
    // A 404 gets the headers of the URL asked for, but never a year of caching.
    let (r, url) = get("/assets/missing.js", &[]);
    assert_eq!(r.status, 404, "{url}");
    assert_eq!(one(&r, "X-Frame-Options", &url), "DENY");
    assert!(!one(&r, "Cache-Control", &url).contains("immutable"));

    // Placeholders and the splat in values; a list of origins.
    let (r, url) = get(
        "/api/v2/users/list.json",
        &["-H", "Origin: https://b.example"],
    );
    assert_eq!(r.status, 200, "{url}");
    assert_eq!(one(&r, "X-Api-Version", &url), "v2");
    assert_eq!(one(&r, "X-Rest", &url), "users/list.json");
    assert_eq!(
        one(&r, "Access-Control-Allow-Origin", &url),
        "https://b.example"
    );
    assert!(
        vary_names(&r).contains(&"origin".into()),
        "{url}: {:?}",
        r.headers
    );
    let (r, url) = get(
        "/api/v2/users/list.json",
        &["-H", "Origin: https://evil.example"],
    );
    assert!(all(&r, "Access-Control-Allow-Origin").is_empty(), "{url}");

    // Two rules merged; the index page of a directory.
    let (r, url) = get("/app/", &[]);
    assert_eq!(r.status, 200, "{url}");
    assert_eq!(one(&r, "Cross-Origin-Opener-Policy", &url), "same-origin");
    assert_eq!(
        one(&r, "Cross-Origin-Embedder-Policy", &url),
        "require-corp"
    );
    assert_eq!(
        one(&r, "Link", &url),
        "</app/main.js>; rel=preload; as=script, </app/style.css>; rel=preload; as=style"
    );

    // A rule for one host, merged with the catch-all.
    if any_host {
        let (r, url) = get("/about", &["-H", "Host: preview.example.org"]);
        assert_eq!(r.status, 200, "{url}");
        assert_eq!(one(&r, "X-Robots-Tag", &url), "noindex, noarchive");
    }
    let (r, url) = get("/about", &[]);
    assert_eq!(one(&r, "X-Robots-Tag", &url), "noindex");
    // The header the file may not set is skipped, the rest of the rule kept.
    assert_eq!(one(&r, "X-About", &url), "yes");
    assert_eq!(r.header("Content-Length"), r.body.len().to_string());

    // Vary merged with wwz's own; a listing is a site page too.
    let (r, url) = get("/guide/", &[]);
    assert_eq!(
        one(&r, "Content-Security-Policy", &url),
        "default-src 'self'"
    );
    assert!(
        vary_names(&r).contains(&"cookie".into()),
        "{url}: {:?}",
        r.headers
    );
    let (r, url) = get("/blog/", &[]);
    assert_eq!(r.status, 200, "{url}");
    assert_eq!(one(&r, "X-Frame-Options", &url), "DENY");

    // A 3,000-byte line is skipped, the rest of its rule kept.
    let (r, url) = get("/long", &[]);
    assert!(all(&r, "X-Long").is_empty(), "{url}");
    assert_eq!(one(&r, "X-Short", &url), "yes");

    // The first 100 rules count.
    let (r, url) = get("/gen/10.html", &[]);
    assert!(
        all(&r, "X-Gen").is_empty(),
        "{url}: a rule for /gen/10 only"
    );
    let (r, url) = get("/gen/10", &[]);
    assert_eq!(r.status, 200, "{url}");
    assert_eq!(one(&r, "X-Gen", &url), "10");
    let (r, url) = get("/gen/140", &[]);
    assert_eq!(r.status, 200, "{url}");
    assert!(all(&r, "X-Gen").is_empty(), "{url}: rule 150 applied");

    // The configuration files are not content.
    for path in ["/_headers", "/_redirects"] {
        let (r, url) = get(path, &[]);
        assert_eq!(r.status, 404, "{url}");
    }

    // OPTIONS, and CORS preflights.
    let (r, url) = get("/about", &["-X", "OPTIONS"]);
    assert_eq!(r.status, 204, "{url}");
    assert_eq!(r.header("Allow"), "GET, HEAD, OPTIONS");
    let preflight = |path: &str, origin: &str| {
        get(
            path,
            &[
                "-X",
                "OPTIONS",
                "-H",
                &format!("Origin: {origin}"),
                "-H",
                "Access-Control-Request-Method: GET",
                "-H",
                "Access-Control-Request-Headers: x-custom, content-type",
            ],
        )
    };
    let (r, url) = preflight("/api/v1/x", "https://a.example");
    assert_eq!(r.status, 204, "{url}");
    assert_eq!(
        one(&r, "Access-Control-Allow-Origin", &url),
        "https://a.example"
    );
    assert_eq!(
        one(&r, "Access-Control-Allow-Methods", &url),
        "GET, HEAD, OPTIONS"
    );
    assert_eq!(
        one(&r, "Access-Control-Allow-Headers", &url),
        "x-custom, content-type"
    );
    assert!(one(&r, "Access-Control-Max-Age", &url)
        .parse::<u32>()
        .is_ok());
    let vary = vary_names(&r);
    assert!(
        vary.contains(&"origin".into()) && vary.contains(&"access-control-request-headers".into()),
        "{url}: {:?}",
        r.headers
    );
    let (r, url) = preflight("/fonts/a.woff2", "https://anyone.example");
    assert_eq!(r.status, 204, "{url}");
    assert_eq!(one(&r, "Access-Control-Allow-Origin", &url), "*");
    for (path, origin) in [
        ("/api/v1/x", "https://evil.example"),
        ("/about", "https://a.example"),
    ] {
        let (r, url) = preflight(path, origin);
        assert_eq!(r.status, 204, "{url}");
        assert!(
            all(&r, "Access-Control-Allow-Origin").is_empty(),
            "{url} from {origin}: {:?}",
            r.headers
        );
    }
}

fn check_both(port: u16, any_host: bool) {
    check_headers(port, "", any_host);
    check_headers(port, "/docs", any_host);
}

#[test]
fn headers_nginx() {
    let site = Site::new();
    pack_site(&site, &files());
    // `wwz check` names the lines the server skips and the limit it hit.
    let out = Command::new(wwz_bin())
        .arg("check")
        .arg(site.docroot.join("site.wwz"))
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    for (line, why) in [
        (34, "wwz sets this header"),
        (36, "wwz sets this header"),
        (39, "longer than 2,000 bytes"),
    ] {
        assert!(
            report.contains(&format!("_headers: line {line}: {why}")),
            "line {line}: {report}"
        );
    }
    assert!(report.contains("_headers: more than 100 rules"), "{report}");
    // The rules of the members the site has match something.
    assert!(
        !report.contains("line 6: the rule's pattern matches no"),
        "{report}"
    );
    let (_wwz, sock, _show) = daemon(&site, &[]);
    let recipe = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/servers/nginx-site.conf");
    let nginx =
        crate::common::nginx::start(&site, &sock, true, &format!("include {};", s(&recipe)));
    check_both(nginx.port, true);
}

#[test]
fn headers_apache_mod_proxy_fcgi() {
    let (site, _bin) = open_site();
    pack_site(&site, &files());
    let (_wwz, sock, _show) = daemon(&site, &[]);
    let snippet = site.path("apache-site-proxy-fcgi.conf");
    std::fs::write(
        &snippet,
        recipe(
            "apache-site-proxy-fcgi.conf",
            &[("/run/wwz.sock", s(&sock))],
        ),
    )
    .unwrap();
    let body = format!(
        "Include {}\n<Directory {}>\n    Require all granted\n</Directory>\n",
        s(&snippet),
        s(&site.docroot)
    );
    let apache = start_apache(&site, "apache-headers", &body);
    check_both(apache.port, true);
}

#[test]
fn headers_caddy() {
    let site = Site::new();
    pack_site(&site, &files());
    let (_wwz, sock, _show) = daemon(&site, &[]);
    let server = start_caddy(&site, "Caddyfile-site", &sock);
    check_both(server.port, false);
}

/// `--header` (and `WWZ_HEADERS`, one a line) on every response; a site's
/// `_headers` wins for its paths; what wwz sets itself is refused (exit 2).
#[test]
fn operator_headers_on_every_response() {
    let site = Site::new();
    pack_site(&site, &files());
    let (_wwz, sock, _show) = daemon(
        &site,
        &[
            "--header",
            "X-Operator: yes",
            "--header",
            "X-Frame-Options: SAMEORIGIN",
        ],
    );
    let recipe = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/servers/nginx-site.conf");
    let nginx =
        crate::common::nginx::start(&site, &sock, true, &format!("include {};", s(&recipe)));
    for (path, status) in [("/", 200), ("/nope", 404), ("/blog/", 200), ("/guide", 301)] {
        let r = curl_get(nginx.port, path, &[]);
        assert_eq!(r.status, status, "{path}");
        assert_eq!(one(&r, "X-Operator", path), "yes");
        // The site's catch-all sets X-Frame-Options (not on its redirects).
        let frame = if status == 301 { "SAMEORIGIN" } else { "DENY" };
        assert_eq!(one(&r, "X-Frame-Options", path), frame);
    }
    let r = curl_get(nginx.port, "/about?view", &[]);
    assert_eq!(one(&r, "X-Operator", "/about?view"), "yes");
    assert_eq!(one(&r, "X-Frame-Options", "/about?view"), "SAMEORIGIN");

    // The environment form, one header a line.
    let wwz2 = Wwz::start_env(
        &site,
        Transport::Unix,
        &[],
        &[("WWZ_HEADERS", "X-One: 1\nX-Two: 2, 3\n")],
    );
    let Addr::Unix(sock2) = &wwz2.addr else {
        unreachable!("started on a unix socket")
    };
    let nginx2 =
        crate::common::nginx::start(&site, sock2, true, &format!("include {};", s(&recipe)));
    let r = curl_get(nginx2.port, "/", &[]);
    assert_eq!(one(&r, "X-One", "/"), "1");
    assert_eq!(one(&r, "X-Two", "/"), "2, 3");

    for bad in [
        "Content-Length: 1",
        "Cache-Control: no-store",
        "Bad Name: x",
        "X-A",
    ] {
        let out = Command::new(wwz_bin())
            .args([
                "serve",
                "--listen",
                "unix:/nonexistent/x.sock",
                "--header",
                bad,
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "--header {bad:?} accepted");
        assert!(!out.stderr.is_empty());
    }
}

// --- In a browser -----------------------------------------------------------

/// Chromium's DOM of `url` after its scripts ran (fetches included).
fn dom_of(site: &Site, url: &str) -> String {
    let out = chromium(
        &["--virtual-time-budget=5000", "--dump-dom", url],
        &site.path("chromium-profile"),
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A page whose script writes `what` (a JavaScript expression) into
/// `<html data-result>`.
fn reporting_page(what: &str) -> Vec<u8> {
    format!(
        "<!doctype html><html><head><title>t</title></head><body>\
         <script>document.documentElement.dataset.result = String({what})</script>\
         </body></html>\n"
    )
    .into_bytes()
}

/// The `data-result` a page's script left, if it ran.
fn result(dom: &str) -> Option<&str> {
    let at = dom.find("data-result=\"")? + "data-result=\"".len();
    dom.get(at..)?.split('"').next()
}

/// COOP and COEP from `_headers` make a page cross-origin isolated (what
/// WASM threads and `SharedArrayBuffer` need); without the rule it is not.
#[test]
fn chromium_cross_origin_isolation_from_headers() {
    let site = Site::new();
    let page = reporting_page("self.crossOriginIsolated");
    let rules = b"/isolated/*\n  Cross-Origin-Opener-Policy: same-origin\n  \
                  Cross-Origin-Embedder-Policy: require-corp\n";
    zip_files(
        &site.docroot.join("app.wwz"),
        &[
            ("_headers", rules),
            ("isolated/index.html", &page),
            ("plain/index.html", &page),
        ],
    );
    let (_preview, port) = start_preview(&site, &[]);
    let url = |dir: &str| format!("http://127.0.0.1:{port}/app.wwz/{dir}/");
    assert_eq!(result(&dom_of(&site, &url("isolated"))), Some("true"));
    assert_eq!(result(&dom_of(&site, &url("plain"))), Some("false"));
}

/// A page on one origin fetches from a second (another port): allowed where
/// `_headers` grants CORS (`*`, or a list naming the page's origin, with a
/// preflight for a custom header), refused where it does not.
#[test]
fn chromium_cross_origin_fetch_where_headers_allow_it() {
    let site = Site::new();
    let (_a, port_a) = start_preview(&site, &[]);
    let (_b, port_b) = start_preview(&site, &[]);
    let page_origin = format!("http://127.0.0.1:{port_a}");
    let other = format!("http://127.0.0.1:{port_b}/data.wwz");
    let rules = format!(
        "/open/*\n  Access-Control-Allow-Origin: *\n\
         /listed/*\n  Access-Control-Allow-Origin: https://else.example, {page_origin}\n  \
         Access-Control-Allow-Headers: *\n\
         /unlisted/*\n  Access-Control-Allow-Origin: https://else.example, https://other.example\n"
    );
    let script = format!(
        "(async () => {{
            const get = (path, headers) => fetch('{other}' + path, {{ headers }})
                .then(r => r.text().then(t => r.status + ':' + t.trim()), () => 'refused');
            const out = [
                await get('/open/a.txt', {{}}),
                await get('/listed/a.txt', {{ 'X-Custom': '1' }}),
                await get('/unlisted/a.txt', {{}}),
                await get('/none/a.txt', {{}}),
            ];
            document.documentElement.dataset.result = out.join(' ');
        }})()"
    );
    let page = format!(
        "<!doctype html><html><head><title>t</title></head><body>\
         <script>{script}</script></body></html>\n"
    );
    let files: Vec<(&str, &[u8])> = vec![
        ("_headers", rules.as_bytes()),
        ("page/index.html", page.as_bytes()),
        ("open/a.txt", b"open\n"),
        ("listed/a.txt", b"listed\n"),
        ("unlisted/a.txt", b"unlisted\n"),
        ("none/a.txt", b"none\n"),
    ];
    zip_files(&site.docroot.join("data.wwz"), &files);
    let dom = dom_of(&site, &format!("{page_origin}/data.wwz/page/"));
    assert_eq!(
        result(&dom),
        Some("200:open 200:listed refused refused"),
        "{dom}"
    );
}

/// A Content-Security-Policy from `_headers` blocks an inline script; the
/// same page without the rule runs it.
#[test]
fn chromium_content_security_policy_from_headers() {
    let site = Site::new();
    let page = reporting_page("'ran'");
    let rules = b"/strict/*\n  Content-Security-Policy: script-src 'self'\n";
    zip_files(
        &site.docroot.join("csp.wwz"),
        &[
            ("_headers", rules),
            ("strict/index.html", &page),
            ("open/index.html", &page),
        ],
    );
    let (_preview, port) = start_preview(&site, &[]);
    let url = |dir: &str| format!("http://127.0.0.1:{port}/csp.wwz/{dir}/");
    assert_eq!(result(&dom_of(&site, &url("open"))), Some("ran"));
    let dom = dom_of(&site, &url("strict"));
    assert_eq!(result(&dom), None, "the inline script ran: {dom}");
}

/// `--sandbox`: an HTML artifact's inline script does not run (and runs
/// without the option); an SVG gets the policy too; wwz's own pages
/// (listing, log view) never get it and still work.
#[test]
fn chromium_sandbox_stops_an_artifacts_scripts() {
    let site = Site::new();
    let page = reporting_page("'ran'");
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>";
    zip_files(
        &site.docroot.join("run.wwz"),
        &[
            ("report/index.html", &page),
            ("report/chart.svg", svg),
            ("logs/build.log", b"\x1b[31merror\x1b[0m: it broke\nok\n"),
        ],
    );
    let (_plain, plain_port) = start_preview(&site, &[]);
    let (_boxed, boxed_port) = start_preview(&site, &["--sandbox"]);
    let url = |port: u16, path: &str| format!("http://127.0.0.1:{port}/run.wwz/{path}");
    assert_eq!(
        result(&dom_of(&site, &url(plain_port, "report/"))),
        Some("ran")
    );
    let dom = dom_of(&site, &url(boxed_port, "report/"));
    assert_eq!(result(&dom), None, "the script ran in the sandbox: {dom}");

    let csp = |port: u16, path: &str| {
        let r = curl_get(port, &format!("/run.wwz/{path}"), &[]);
        assert_eq!(r.status, 200, "{path}");
        all(&r, "Content-Security-Policy")
    };
    for path in ["report/index.html", "report/chart.svg"] {
        let policies = csp(boxed_port, path);
        assert!(
            policies.len() == 1 && policies[0].starts_with("sandbox;"),
            "{path}: {policies:?}"
        );
        assert!(csp(plain_port, path).is_empty(), "{path}");
    }
    for path in [
        "logs/build.log",
        "logs/build.log?view",
        "logs/",
        "logs/?q=broke",
    ] {
        assert!(csp(boxed_port, path).is_empty(), "{path} sandboxed");
    }
    // wwz's own pages render as without the option.
    for port in [plain_port, boxed_port] {
        let dom = dom_of(&site, &url(port, "logs/build.log?view"));
        assert!(dom.contains("it broke"), "{dom}");
        let dom = dom_of(&site, &url(port, "logs/"));
        assert!(dom.contains("build.log"), "{dom}");
    }
}

/// `tools/servers/nginx-ci.conf`: each job's archive on a host of its own,
/// named from the `Host`; with `--sandbox`, its HTML is sandboxed.
#[test]
fn ci_artifacts_on_an_origin_per_job() {
    let site = Site::new();
    std::fs::create_dir_all(site.docroot.join("jobs")).unwrap();
    for job in ["1234", "99"] {
        let page = format!("<!doctype html><title>job {job}</title>\n");
        zip_files(
            &site.docroot.join(format!("jobs/{job}.wwz")),
            &[
                ("report/index.html", page.as_bytes()),
                ("build.log", b"ok\n"),
            ],
        );
    }
    let (_wwz, sock, _show) = daemon(&site, &["--sandbox"]);
    let port = free_port();
    let conf = site.path("nginx-ci.conf");
    std::fs::write(
        &conf,
        recipe(
            "nginx-ci.conf",
            &[
                ("127.0.0.1:8080", format!("127.0.0.1:{port}")),
                ("/srv/www", s(&site.docroot)),
            ],
        ),
    )
    .unwrap();
    let upstream = format!(
        "upstream wwz {{ server unix:{}; }}\n    include {};",
        s(&sock),
        s(&conf)
    );
    let _nginx = crate::common::nginx::start_with_upstream(&site, &upstream, "");
    for job in ["1234", "99"] {
        let host = format!("Host: {job}.artifacts.example.org");
        let r = curl_get(port, "/report/", &["-H", &host]);
        assert_eq!(r.status, 200, "{job}: {:?}", r.headers);
        assert!(String::from_utf8_lossy(&r.body).contains(&format!("job {job}")));
        assert!(one(&r, "Content-Security-Policy", job).starts_with("sandbox;"));
        let r = curl_get(port, "/", &["-H", &host]);
        assert_eq!(r.status, 200, "{job}: the listing");
        assert!(all(&r, "Content-Security-Policy").is_empty());
    }
    let r = curl_get(port, "/report/", &["-H", "Host: 7.artifacts.example.org"]);
    assert_eq!(r.status, 404, "a job without an archive");
}
