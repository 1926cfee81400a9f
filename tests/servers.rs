//! wwz behind every common web server, each configured with the recipe users
//! are given in `tools/servers/` (read verbatim; only the placeholder paths
//! `/usr/local/bin/wwz`, `/srv/www`, `/run/wwz…`, `/usr/local/lib/wwz-bin`
//! and the address `127.0.0.1:8080` are replaced): Apache with mod_fcgid
//! (two `.htaccess` styles), mod_proxy_fcgi and CGI, lighttpd, HAProxy (also
//! with `mpxs-conns`), Caddy, and several responders behind one nginx
//! upstream and one HAProxy backend; and one site per archive, at the root,
//! under `WWZ_PREFIX`, and mounted the standard CGI way (SCRIPT_NAME +
//! PATH_INFO) by each server.
//!
//! Every server gets the same checks with curl: each sample file from a
//! stored and a deflated archive byte for byte (deflated: with and without
//! `--compressed`), 304 for the ETag just received, Range (206, exact
//! bytes), Content-Length kept, redirects, 404.
//!
//! Each server runs in the foreground in its own process group, with its
//! config, pid and logs in the test's temp dir, on a free loopback port; on
//! drop the group gets SIGTERM (then SIGKILL), so children the server
//! spawned (mod_fcgid's and lighttpd's wwz processes) go too. Its logs are
//! printed when the test fails.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::{self, *};

// ---------------------------------------------------------------------------
// Recipes and servers
// ---------------------------------------------------------------------------

/// `tools/servers/NAME` with the placeholders replaced, in order.
pub(crate) fn recipe(name: &str, subst: &[(&str, String)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tools/servers")
        .join(name);
    let mut text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    for (from, to) in subst {
        assert!(text.contains(from), "{name} has no {from:?}");
        text = text.replace(from, to);
    }
    text
}

pub(crate) fn s(p: &Path) -> String {
    p.to_str().expect("UTF-8 temp path").to_owned()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// A site Apache's `www-data` can read: the temp dir opened up, a copy of the
/// binary it can execute.
pub(crate) fn open_site() -> (Site, PathBuf) {
    let site = Site::new();
    chmod(site.dir.path(), 0o755);
    let bin_dir = site.path("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let bin = bin_dir.join("wwz");
    std::fs::copy(wwz_bin(), &bin).unwrap();
    chmod(&bin, 0o755);
    (site, bin)
}

/// A web server started by a test: its own process group, logs shown on failure.
pub(crate) struct Server {
    proc: Proc,
    pub(crate) port: u16,
    logs: Vec<(String, PathBuf)>,
}

impl Server {
    fn start(mut cmd: Command, name: &str, dir: &Path, port: u16, logs: &[PathBuf]) -> Server {
        cmd.process_group(0);
        let proc = spawn(cmd, name, dir.join(format!("{name}.stderr")));
        let mut all = vec![(format!("{name} stderr"), proc.stderr_path.clone())];
        all.extend(
            logs.iter()
                .map(|p| (format!("{name} {}", p.display()), p.clone())),
        );
        let mut server = Server {
            proc,
            port,
            logs: all,
        };
        let addr = Addr::Tcp(([127, 0, 0, 1], port).into());
        wait_for(&addr, &mut server.proc);
        server
    }

    fn log_text(&self) -> String {
        let mut out = String::new();
        for (what, path) in &self.logs {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            out.push_str(&format!("--- {what} ---\n{text}\n"));
        }
        out
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.log_text());
        }
        let pgid = self.proc.child.id() as i32;
        // SAFETY: kill(2) has no memory-safety preconditions; the group is the
        // one this test created for the server.
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
        if self.proc.wait_exit(Duration::from_secs(5)).is_none() {
            // SAFETY: as above.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
        // Children of the group (spawned wwz processes) may outlive the leader briefly.
        // SAFETY: as above; signal 0 only checks whether the group still exists.
        poll(
            Duration::from_secs(5),
            || unsafe { libc::kill(-pgid, 0) } != 0,
        );
        // SAFETY: as above.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }
}

/// Shows wwz's stderr when a test fails.
pub(crate) struct ShowOnFailure(Vec<(String, PathBuf)>);

impl Drop for ShowOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for (what, path) in &self.0 {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                eprintln!("--- {what} ---\n{text}");
            }
        }
    }
}

fn unix_sock(wwz: &Wwz) -> PathBuf {
    match &wwz.addr {
        Addr::Unix(p) => p.clone(),
        Addr::Tcp(_) => unreachable!("started on a unix socket"),
    }
}

/// A wwz daemon on a unix socket that `www-data` may connect to.
pub(crate) fn daemon(site: &Site, extra: &[&str]) -> (Wwz, PathBuf, ShowOnFailure) {
    let wwz = Wwz::start(site, Transport::Unix, extra);
    let sock = unix_sock(&wwz);
    chmod(&sock, 0o666);
    let show = ShowOnFailure(vec![("wwz stderr".into(), wwz.proc.stderr_path.clone())]);
    (wwz, sock, show)
}

// --- Apache ---------------------------------------------------------------

const APACHE_MODULES: &str = "/usr/lib/apache2/modules";

/// Writes a minimal Apache config (event MPM, foreground-friendly paths in
/// `dir`) around `body`, checks it with `apache2 -t` and starts Apache.
pub(crate) fn start_apache(site: &Site, name: &str, body: &str) -> Server {
    let apache = require_tool("apache2", "apache2");
    assert!(
        Path::new(APACHE_MODULES).join("mod_mpm_event.so").is_file(),
        "Apache modules missing in {APACHE_MODULES}: install the Debian package `apache2`"
    );
    let dir = site.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    chmod(&dir, 0o755);
    let port = free_port();
    let d = s(&dir);
    let user = if is_root() {
        "User www-data\nGroup www-data"
    } else {
        ""
    };
    let conf = format!(
        r#"ServerRoot {d}
PidFile {d}/httpd.pid
ErrorLog {d}/error.log
LogLevel info
Listen 127.0.0.1:{port}
ServerName localhost
{user}
DefaultRuntimeDir {d}
Mutex file:{d}
TypesConfig /dev/null
LoadModule mpm_event_module {APACHE_MODULES}/mod_mpm_event.so
LoadModule authz_core_module {APACHE_MODULES}/mod_authz_core.so
LoadModule mime_module {APACHE_MODULES}/mod_mime.so
# Debian's default (mods-enabled/deflate.conf): the recipes must hold with it.
LoadModule filter_module {APACHE_MODULES}/mod_filter.so
LoadModule deflate_module {APACHE_MODULES}/mod_deflate.so
AddOutputFilterByType DEFLATE text/html text/plain text/xml text/css text/javascript application/javascript application/json
DocumentRoot {root}
{body}
"#,
        root = s(&site.docroot),
    );
    let conf_path = dir.join("httpd.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let test = Command::new(&apache)
        .arg("-t")
        .arg("-f")
        .arg(&conf_path)
        .output()
        .expect("run apache2 -t");
    assert!(
        test.status.success(),
        "apache2 -t rejected the config:\n{}{}",
        String::from_utf8_lossy(&test.stdout),
        String::from_utf8_lossy(&test.stderr)
    );
    let mut cmd = Command::new(&apache);
    cmd.arg("-f").arg(&conf_path).arg("-DFOREGROUND");
    Server::start(cmd, "apache2", &dir, port, &[dir.join("error.log")])
}

/// Places for mod_fcgid's sockets and process table (Debian's defaults are system paths).
fn fcgid_dirs(site: &Site) -> String {
    let ipc = site.path("fcgid");
    std::fs::create_dir_all(&ipc).unwrap();
    chmod(&ipc, 0o777);
    format!(
        "FcgidIPCDir {}\nFcgidProcessTableFile {}\n",
        s(&ipc),
        s(&site.path("fcgid_shm"))
    )
}

// ---------------------------------------------------------------------------
// What every server must deliver
// ---------------------------------------------------------------------------

/// The checks every configuration must pass.
fn check_server(site: &Site, port: u16) {
    // Every member, stored and deflated (gzip passed through, or inflated by wwz).
    curl_fetch_all(site, port, "site.wwz", &[]);
    curl_fetch_all(site, port, "deflated.wwz", &["--compressed"]);
    curl_fetch_all(site, port, "deflated.wwz", &[]);

    // A stored member: the headers wwz sends, as the server passes them on.
    let big = site.file("data/blob.bin");
    let r = curl_get(port, "/site.wwz/data/blob.bin", &[]);
    assert_eq!(r.status, 200, "{:?}", r.headers);
    assert_eq!(r.header("Content-Length"), big.len().to_string());
    assert_eq!(r.header("Last-Modified"), SAMPLE_MTIME_HTTP);
    assert_eq!(r.header("Accept-Ranges"), "bytes");
    assert!(
        r.opt_header("Status").is_none(),
        "Status leaked: {:?}",
        r.headers
    );
    assert!(r.body == big);
    let etag = r.header("ETag").to_owned();

    // 304 for the ETag just received, without a body.
    let r = curl_get(
        port,
        "/site.wwz/data/blob.bin",
        &["-H", &format!("If-None-Match: {etag}")],
    );
    assert_eq!(r.status, 304, "{:?}", r.headers);
    assert!(r.body.is_empty());
    assert_eq!(r.header("ETag"), etag);

    // Range: 206, Content-Range and exactly those bytes.
    let r = curl_get(port, "/site.wwz/data/blob.bin", &["-r", "1000-66999"]);
    assert_eq!(r.status, 206, "{:?}", r.headers);
    assert_eq!(
        r.header("Content-Range"),
        format!("bytes 1000-66999/{}", big.len())
    );
    assert_eq!(r.header("Content-Length"), "66000");
    assert!(r.body == big[1000..67000]);

    // A stored text member asked for with gzip accepted: wwz sends it as
    // it is, and the server must not compress it on its own (Apache's
    // mod_deflate would change the ETag and lose the 304).
    let text = site.file("logs/big.txt");
    let r = curl_get(port, "/site.wwz/logs/big.txt", &["--compressed"]);
    assert_eq!(r.status, 200, "{:?}", r.headers);
    assert!(
        r.opt_header("Content-Encoding").is_none(),
        "{:?}",
        r.headers
    );
    assert_eq!(r.header("Content-Length"), text.len().to_string());
    assert!(r.body == text);
    let stored_etag = r.header("ETag").to_owned();
    let r = curl_get(
        port,
        "/site.wwz/logs/big.txt",
        &[
            "--compressed",
            "-H",
            &format!("If-None-Match: {stored_etag}"),
        ],
    );
    assert_eq!(r.status, 304, "{:?}", r.headers);

    // A deflated member: gzip passed through to a client that takes it ...
    let r = curl_get(port, "/deflated.wwz/logs/big.txt", &["--compressed"]);
    assert_eq!(r.status, 200, "{:?}", r.headers);
    assert_eq!(r.header("Content-Encoding"), "gzip");
    assert_eq!(r.header("Vary"), "Accept-Encoding");
    assert!(r.body == text, "gzip body differs");
    let gz_etag = r.header("ETag").to_owned();
    assert!(gz_etag.ends_with("-gz\""), "{gz_etag}");
    let r = curl_get(
        port,
        "/deflated.wwz/logs/big.txt",
        &["--compressed", "-H", &format!("If-None-Match: {gz_etag}")],
    );
    assert_eq!(r.status, 304, "{:?}", r.headers);
    assert!(r.body.is_empty());

    // ... inflated for one that does not, ranges from the uncompressed bytes.
    let r = curl_get(port, "/deflated.wwz/logs/big.txt", &[]);
    assert_eq!(r.status, 200, "{:?}", r.headers);
    assert!(
        r.opt_header("Content-Encoding").is_none(),
        "{:?}",
        r.headers
    );
    assert_eq!(r.header("Content-Length"), text.len().to_string());
    assert!(r.body == text);
    let plain_etag = r.header("ETag").to_owned();
    let r = curl_get(
        port,
        "/deflated.wwz/logs/big.txt",
        &["-H", &format!("If-None-Match: {plain_etag}")],
    );
    assert_eq!(r.status, 304, "{:?}", r.headers);
    let r = curl_get(port, "/deflated.wwz/logs/big.txt", &["-r", "70000-70099"]);
    assert_eq!(r.status, 206, "{:?}", r.headers);
    assert_eq!(
        r.header("Content-Range"),
        format!("bytes 70000-70099/{}", text.len())
    );
    assert!(r.body == text[70000..70100]);

    // Percent-encoded names, redirects, directory index, 404.
    let r = curl_get(port, "/my%20site.wwz/with%20space/a%20file.txt", &[]);
    assert_eq!(r.status, 200, "{:?}", r.headers);
    assert_eq!(r.body, site.file("with space/a file.txt"));
    let r = curl_get(port, "/sub/nested.wwz?x=1", &[]);
    assert_eq!(r.status, 301, "{:?}", r.headers);
    assert_eq!(r.header("Location"), "./nested.wwz/?x=1");
    let r = curl_get(port, "/site.wwz/docs/", &[]);
    assert_eq!(r.status, 200, "{:?}", r.headers);
    assert_eq!(r.body, site.file("docs/index.html"));
    let r = curl_get(port, "/site.wwz/no/such/file.txt", &[]);
    assert_eq!(r.status, 404, "{:?}", r.headers);
}

/// Waits (bounded) until the web server holds a connection to `sock` open.
fn assert_kept_connection(sock: &Path) {
    wait_until(
        &format!("a kept-alive connection to {}", sock.display()),
        WAIT,
        || connected_unix_sockets(sock) > 0,
    );
}

fn assert_no_errors(server: &Server, log: &Path, markers: &[&str]) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    for m in markers {
        assert!(
            !text.contains(m),
            "{m} in the server's log:\n{}",
            server.log_text()
        );
    }
}

// ---------------------------------------------------------------------------
// Apache httpd
// ---------------------------------------------------------------------------

/// mod_fcgid spawning the binary itself, archives mapped to it by an
/// `.htaccess` `<FilesMatch>` + `FcgidWrapper` (as a shared host allows with
/// `AllowOverride FileInfo Options=ExecCGI`).
#[test]
fn apache_mod_fcgid_htaccess_wrapper() {
    let (site, bin) = open_site();
    let subst = [
        ("/usr/local/bin/wwz", s(&bin)),
        ("/srv/www", s(&site.docroot)),
    ];
    std::fs::write(
        site.docroot.join(".htaccess"),
        recipe("apache-fcgid.htaccess", &subst[..1]),
    )
    .unwrap();
    let snippet = site.path("apache-fcgid.conf");
    std::fs::write(&snippet, recipe("apache-fcgid.conf", &subst[1..])).unwrap();
    let body = format!(
        "Include {}\n{}FcgidInitialEnv WWZ_LOG_LEVEL info\n",
        s(&snippet),
        fcgid_dirs(&site)
    );
    let apache = start_apache(&site, "apache-fcgid", &body);
    check_server(&site, apache.port);
    // The wwz processes were started by mod_fcgid with the socket on fd 0.
    let log = apache.logs[1].1.clone();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("serving on") && text.contains(&s(&bin)),
        "no wwz started by mod_fcgid"
    );
    assert_no_errors(
        &apache,
        &log,
        &["[fcgid:warn]", "[fcgid:error]", "[core:error]"],
    );
}

/// What users see when mod_deflate is left on for archives (the recipes
/// turn it off with `no-gzip`): Apache gzips stored text members itself,
/// appends `-gzip` to the ETag and drops Content-Length, and a revalidation
/// with that ETag gets the whole member again (200, not 304). wwz's own gzip
/// (deflated members) is left alone, never compressed twice.
#[test]
fn apache_mod_deflate_without_no_gzip() {
    let (site, bin) = open_site();
    let htaccess = recipe("apache-fcgid.htaccess", &[("/usr/local/bin/wwz", s(&bin))]);
    let without: String = htaccess
        .lines()
        .filter(|l| !l.contains("no-gzip"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(without, htaccess);
    std::fs::write(site.docroot.join(".htaccess"), without).unwrap();
    let snippet = site.path("apache-fcgid.conf");
    std::fs::write(
        &snippet,
        recipe("apache-fcgid.conf", &[("/srv/www", s(&site.docroot))]),
    )
    .unwrap();
    let body = format!("Include {}\n{}", s(&snippet), fcgid_dirs(&site));
    let apache = start_apache(&site, "apache-deflate", &body);
    let port = apache.port;

    let text = site.file("logs/big.txt");
    let r = curl_get(port, "/site.wwz/logs/big.txt", &["--compressed"]);
    assert_eq!(r.status, 200, "{:?}", r.headers);
    assert_eq!(r.header("Content-Encoding"), "gzip");
    assert!(r.opt_header("Content-Length").is_none(), "{:?}", r.headers);
    assert!(r.body == text);
    let etag = r.header("ETag").to_owned();
    assert!(etag.ends_with("-gzip\""), "{etag}");
    let r = curl_get(
        port,
        "/site.wwz/logs/big.txt",
        &["--compressed", "-H", &format!("If-None-Match: {etag}")],
    );
    assert_eq!(
        r.status, 200,
        "mod_deflate's ETag now revalidates: update docs/servers.md"
    );
    assert!(r.body == text);

    // wwz's gzip passes through once; identity clients are unaffected.
    let r = curl_get(port, "/deflated.wwz/logs/big.txt", &["--compressed"]);
    assert_eq!(r.header("Content-Encoding"), "gzip");
    assert!(r.header("ETag").ends_with("-gz\""));
    assert!(r.body == text);
    let r = curl_get(port, "/site.wwz/logs/big.txt", &[]);
    assert_eq!(r.header("Content-Length"), text.len().to_string());
    assert!(r.body == text);
}

/// The other shared-host style: the binary copied into the docroot as
/// A shared host that runs `*.fcgi` programs with mod_fcgid: the wwz binary
/// copied into the docroot as `wwz.fcgi` and the `.htaccess` recipe
/// `htaccess` next to it, under the server config such hosts have.
fn start_dotfcgi_host(site: &Site, bin: &Path, htaccess: &str, name: &str) -> Server {
    let program = site.docroot.join("wwz.fcgi");
    std::fs::copy(bin, &program).unwrap();
    chmod(&program, 0o755);
    std::fs::write(site.docroot.join(".htaccess"), recipe(htaccess, &[])).unwrap();
    let body = format!(
        r#"LoadModule fcgid_module {APACHE_MODULES}/mod_fcgid.so
LoadModule rewrite_module {APACHE_MODULES}/mod_rewrite.so
LoadModule setenvif_module {APACHE_MODULES}/mod_setenvif.so
LoadModule env_module {APACHE_MODULES}/mod_env.so
{dirs}<Directory {root}>
    AllowOverride FileInfo
    Options +ExecCGI +FollowSymLinks
    AddHandler fcgid-script .fcgi
    Require all granted
</Directory>
"#,
        dirs = fcgid_dirs(site),
        root = s(&site.docroot),
    );
    start_apache(site, name, &body)
}

/// `wwz.fcgi` (run by the host's `AddHandler fcgid-script .fcgi`) and a
/// `RewriteRule` in `.htaccess`.
#[test]
fn apache_mod_fcgid_htaccess_rewrite_to_dot_fcgi() {
    let (site, bin) = open_site();
    let apache = start_dotfcgi_host(
        &site,
        &bin,
        "apache-fcgid-dotfcgi.htaccess",
        "apache-fcgid-dotfcgi",
    );
    check_server(&site, apache.port);
    let log = apache.logs[1].1.clone();
    assert_no_errors(
        &apache,
        &log,
        &["[fcgid:warn]", "[fcgid:error]", "[core:error]"],
    );
}

/// mod_proxy_fcgi to a wwz daemon with `enablereuse=on`; `ap_trust_cgilike_cl`
/// keeps wwz's Content-Length (Apache drops it otherwise).
#[test]
fn apache_mod_proxy_fcgi_enablereuse() {
    let (site, _bin) = open_site();
    let (_wwz, sock, _show) = daemon(&site, &["--status-path", "/wwz-status"]);
    let snippet = site.path("apache-proxy-fcgi.conf");
    std::fs::write(
        &snippet,
        recipe("apache-proxy-fcgi.conf", &[("/run/wwz.sock", s(&sock))]),
    )
    .unwrap();
    let status = site.path("apache-status.conf");
    std::fs::write(
        &status,
        recipe("apache-status.conf", &[("/run/wwz.sock", s(&sock))]),
    )
    .unwrap();
    let body = format!(
        "Include {}\nInclude {}\n<Directory {}>\n    Require all granted\n</Directory>\n",
        s(&snippet),
        s(&status),
        s(&site.docroot)
    );
    let apache = start_apache(&site, "apache-proxy-fcgi", &body);
    check_server(&site, apache.port);
    // The status page recipe, from this machine.
    let page = curl_get(apache.port, "/wwz-status?json", &[]);
    assert_eq!(page.status, 200, "{:?}", page.headers);
    assert!(String::from_utf8_lossy(&page.body).contains("\"requests_2xx\":"));
    assert_kept_connection(&sock);
    let log = apache.logs[1].1.clone();
    assert_no_errors(
        &apache,
        &log,
        &["[proxy_fcgi:error]", "[proxy:error]", "[core:error]"],
    );
}

/// wwz as a CGI program: `ScriptAlias` + `Action` in `.htaccess`, mod_cgid.
#[test]
fn apache_cgi_action() {
    let (site, bin) = open_site();
    let cgi_dir = bin.parent().unwrap().to_owned();
    let subst = [
        ("/usr/local/lib/wwz-bin", s(&cgi_dir)),
        ("/srv/www", s(&site.docroot)),
    ];
    std::fs::write(
        site.docroot.join(".htaccess"),
        recipe("apache-cgi.htaccess", &[]),
    )
    .unwrap();
    let snippet = site.path("apache-cgi.conf");
    std::fs::write(&snippet, recipe("apache-cgi.conf", &subst)).unwrap();
    let body = format!(
        "Include {}\nScriptSock {}\n",
        s(&snippet),
        s(&site.path("apache-cgi/cgid.sock"))
    );
    let apache = start_apache(&site, "apache-cgi", &body);
    check_server(&site, apache.port);
    let log = apache.logs[1].1.clone();
    assert_no_errors(&apache, &log, &["[cgid:error]", "[core:error]"]);
}

// ---------------------------------------------------------------------------
// lighttpd, HAProxy, Caddy
// ---------------------------------------------------------------------------

/// lighttpd with a config of its own that includes the recipe `name` (the
/// wwz binary and socket paths substituted, plus `subst`), checked with
/// `lighttpd -tt` first.
fn start_lighttpd(site: &Site, name: &str, subst: &[(&str, String)]) -> Server {
    let lighttpd = require_tool("lighttpd", "lighttpd");
    let dir = site.path("lighttpd");
    std::fs::create_dir_all(&dir).unwrap();
    let snippet = dir.join(format!("recipe-{name}"));
    let mut all = vec![
        ("/usr/local/bin/wwz", wwz_bin().to_owned()),
        ("/run/wwz", s(&dir.join("wwz"))),
    ];
    all.extend(subst.iter().cloned());
    std::fs::write(&snippet, recipe(name, &all)).unwrap();
    let port = free_port();
    let error_log = dir.join("error.log");
    let conf = format!(
        "server.document-root = \"{root}\"\nserver.bind = \"127.0.0.1\"\nserver.port = {port}\n\
         server.errorlog = \"{log}\"\ninclude \"{snippet}\"\n",
        root = s(&site.docroot),
        log = s(&error_log),
        snippet = s(&snippet),
    );
    let conf_path = dir.join("lighttpd.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let test = Command::new(&lighttpd)
        .arg("-tt")
        .arg("-f")
        .arg(&conf_path)
        .output()
        .expect("run lighttpd -tt");
    assert!(
        test.status.success(),
        "lighttpd -tt rejected the config:\n{}{}",
        String::from_utf8_lossy(&test.stdout),
        String::from_utf8_lossy(&test.stderr)
    );
    let mut cmd = Command::new(&lighttpd);
    cmd.arg("-D").arg("-f").arg(&conf_path);
    Server::start(cmd, "lighttpd", &dir, port, &[error_log])
}

/// lighttpd mod_fastcgi spawning wwz (`bin-path`, socket on fd 0).
#[test]
fn lighttpd_bin_path() {
    let site = Site::new();
    let server = start_lighttpd(
        &site,
        "lighttpd.conf",
        &[(
            "WWZ_LOG_LEVEL\" => \"warn",
            "WWZ_LOG_LEVEL\" => \"info".into(),
        )],
    );
    check_server(&site, server.port);
    // The spawned wwz logs to lighttpd's stderr.
    let sock = s(&site.path("lighttpd").join("wwz.sock"));
    assert!(
        server
            .log_text()
            .contains(&format!("serving on unix:{sock}")),
        "no wwz started by lighttpd"
    );
}

fn start_haproxy(site: &Site, name: &str, cfg: String) -> Server {
    let haproxy = require_tool("haproxy", "haproxy");
    let dir = site.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, cfg).unwrap();
    let test = Command::new(&haproxy)
        .arg("-c")
        .arg("-f")
        .arg(&path)
        .output()
        .expect("run haproxy -c");
    assert!(
        test.status.success(),
        "haproxy -c rejected the config:\n{}{}",
        String::from_utf8_lossy(&test.stdout),
        String::from_utf8_lossy(&test.stderr)
    );
    let mut cmd = Command::new(&haproxy);
    cmd.arg("-db").arg("-f").arg(&path);
    let port = cfg_port(&path);
    Server::start(cmd, "haproxy", &dir, port, &[])
}

/// The port a rendered config binds (the `127.0.0.1:PORT` put in for 8080).
fn cfg_port(path: &Path) -> u16 {
    let text = std::fs::read_to_string(path).unwrap();
    let at = text.find("127.0.0.1:").expect("an address in the config") + "127.0.0.1:".len();
    text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

fn haproxy_cfg(site: &Site, sock: &Path, extra_app_options: &str) -> String {
    let mut cfg = recipe(
        "haproxy.cfg",
        &[
            ("/srv/www", s(&site.docroot)),
            ("/run/wwz.sock", s(sock)),
            ("127.0.0.1:8080", format!("127.0.0.1:{}", free_port())),
        ],
    );
    if !extra_app_options.is_empty() {
        let anchor = "    option keep-conn\n";
        assert!(cfg.contains(anchor));
        cfg = cfg.replace(anchor, &format!("{anchor}{extra_app_options}"));
    }
    cfg
}

/// HAProxy `fcgi-app` with keep-conn: connections to wwz are reused.
#[test]
fn haproxy_fcgi_app_keep_conn() {
    let site = Site::new();
    let (_wwz, sock, _show) = daemon(&site, &[]);
    let haproxy = start_haproxy(&site, "haproxy", haproxy_cfg(&site, &sock, ""));
    check_server(&site, haproxy.port);
    assert_kept_connection(&sock);
}

/// Many concurrent requests through `fcgi-app` backends that allow
/// multiplexing: wwz does not multiplex (FCGI_MPXS_CONNS=0 from GET_VALUES;
/// CANT_MPX_CONN to a second BEGIN_REQUEST), and every request must still
/// succeed byte for byte.
fn haproxy_mpxs(options: &str) {
    let site = Site::new();
    let (_wwz, sock, _show) = daemon(&site, &["--log-level", "debug"]);
    let haproxy = start_haproxy(&site, "haproxy-mpxs", haproxy_cfg(&site, &sock, options));
    let port = haproxy.port;
    let out_dir = site.path("mpxs");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut cmd = Command::new(require_tool("curl", "curl"));
    // 64 fetches of at most 200 KiB each, 32 at a time.
    let limit = max_time(patience(Duration::from_secs(20)));
    cmd.args([
        "-s",
        "-S",
        "--max-time",
        &limit,
        "--parallel",
        "--parallel-max",
        "32",
        "-w",
        "%{http_code}\\n",
    ]);
    let members = [
        "data/blob.bin",
        "logs/big.txt",
        "data/exact.bin",
        "index.html",
    ];
    for i in 0..64 {
        let m = members[i % members.len()];
        cmd.arg("-o")
            .arg(out_dir.join(i.to_string()))
            .arg(format!("http://127.0.0.1:{port}/site.wwz/{m}"));
    }
    let out = cmd.output().expect("run curl");
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let codes = String::from_utf8(out.stdout).unwrap();
    assert_eq!(codes.lines().filter(|l| *l == "200").count(), 64, "{codes}");
    for i in 0..64 {
        let m = members[i % members.len()];
        let got = std::fs::read(out_dir.join(i.to_string())).unwrap();
        assert!(got == site.file(m), "request {i} ({m}): body differs");
    }
    check_server(&site, port);
}

#[test]
fn haproxy_fcgi_app_mpxs_conns() {
    haproxy_mpxs("    option mpxs-conns\n");
}

#[test]
fn haproxy_fcgi_app_mpxs_conns_with_get_values() {
    haproxy_mpxs("    option mpxs-conns\n    option get-values\n");
}

/// Caddy `reverse_proxy` + `transport fastcgi { split .wwz }`, offline.
#[test]
fn caddy_fastcgi_transport() {
    let site = Site::new();
    let (_wwz, sock, _show) = daemon(&site, &[]);
    let server = start_caddy(&site, "Caddyfile", &sock);
    check_server(&site, server.port);
}

/// Caddy running the recipe `name` (docroot, socket and port substituted), offline.
pub(crate) fn start_caddy(site: &Site, name: &str, sock: &Path) -> Server {
    let caddy = require_tool("caddy", "caddy");
    let dir = site.path("caddy");
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let path = dir.join(name);
    std::fs::write(
        &path,
        recipe(
            name,
            &[
                ("/srv/www", s(&site.docroot)),
                ("/run/wwz.sock", s(sock)),
                ("127.0.0.1:8080", format!("127.0.0.1:{port}")),
            ],
        ),
    )
    .unwrap();
    let mut cmd = Command::new(caddy);
    cmd.args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&path)
        // Caddy keeps its state under HOME / XDG dirs: keep it in the temp dir.
        .env("HOME", &dir)
        .env("XDG_DATA_HOME", &dir)
        .env("XDG_CONFIG_HOME", &dir);
    Server::start(cmd, "caddy", &dir, port, &[])
}

// ---------------------------------------------------------------------------
// Scale-out
// ---------------------------------------------------------------------------

/// Three responders, told apart by a Cache-Control extension each sends.
fn responders(site: &Site) -> Vec<(Wwz, PathBuf, ShowOnFailure)> {
    (1..=3)
        .map(|i| {
            daemon(
                site,
                &[
                    "--cache-control",
                    &format!("public, max-age=0, must-revalidate, responder={i}"),
                ],
            )
        })
        .collect()
}

fn responder_of(r: &HttpResponse) -> String {
    let cc = r.header("Cache-Control");
    cc.rsplit("responder=").next().unwrap().to_owned()
}

/// Requests through the front spread over every responder; with one killed,
/// the others serve every request.
fn check_scale_out(site: &Site, port: u16, wwz: &mut [(Wwz, PathBuf, ShowOnFailure)]) {
    check_server(site, port);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..12 {
        let r = curl_get(port, "/site.wwz/style.css", &[]);
        assert_eq!(r.status, 200);
        assert_eq!(r.body, site.file("style.css"));
        seen.insert(responder_of(&r));
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["1", "2", "3"],
        "requests did not reach every responder"
    );

    let killed = &mut wwz[1].0;
    killed.proc.child.kill().unwrap();
    killed.proc.child.wait().unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..12 {
        let r = curl_get(port, "/site.wwz/data/blob.bin", &[]);
        assert_eq!(r.status, 200, "with responder 2 gone: {:?}", r.headers);
        assert!(r.body == site.file("data/blob.bin"));
        seen.insert(responder_of(&r));
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["1", "3"]);
}

#[test]
fn scale_out_nginx_upstream() {
    let site = Site::new();
    let mut wwz = responders(&site);
    let mut subst = Vec::new();
    for (i, (_, sock, _)) in wwz.iter().enumerate() {
        subst.push((
            ["/run/wwz-1.sock", "/run/wwz-2.sock", "/run/wwz-3.sock"][i],
            s(sock),
        ));
    }
    let upstream = site.path("upstream.conf");
    std::fs::write(&upstream, recipe("nginx-scale-out.conf", &subst)).unwrap();
    let location = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/servers/nginx.conf");
    let nginx = common::nginx::start_with_upstream(
        &site,
        &format!("include {};", s(&upstream)),
        &format!("fastcgi_keep_conn on;\n        include {};", s(&location)),
    );
    check_scale_out(&site, nginx.port, &mut wwz);
}

#[test]
fn scale_out_haproxy_backend() {
    let site = Site::new();
    let mut wwz = responders(&site);
    let mut subst = vec![
        ("/srv/www", s(&site.docroot)),
        ("127.0.0.1:8080", format!("127.0.0.1:{}", free_port())),
    ];
    for (i, (_, sock, _)) in wwz.iter().enumerate() {
        subst.push((
            ["/run/wwz-1.sock", "/run/wwz-2.sock", "/run/wwz-3.sock"][i],
            s(sock),
        ));
    }
    let server = start_haproxy(
        &site,
        "haproxy-scale-out",
        recipe("haproxy-scale-out.cfg", &subst),
    );
    check_scale_out(&site, server.port, &mut wwz);
}

/// docs/servers.md quotes every tested recipe whole, so what users copy is
/// what these tests run.
#[test]
fn docs_quote_the_tested_recipes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(root.join("docs/servers.md")).unwrap();
    for name in [
        "nginx.conf",
        "nginx-scale-out.conf",
        "apache-fcgid.conf",
        "apache-fcgid.htaccess",
        "apache-fcgid-dotfcgi.htaccess",
        "apache-proxy-fcgi.conf",
        "apache-cgi.conf",
        "apache-cgi.htaccess",
        "lighttpd.conf",
        "haproxy.cfg",
        "haproxy-scale-out.cfg",
        "Caddyfile",
        "nginx-site.conf",
        "apache-site-proxy-fcgi.conf",
        "apache-site-fcgid.htaccess",
        "lighttpd-site.conf",
        "Caddyfile-site",
        "nginx-status.conf",
        "nginx-ci.conf",
        "apache-status.conf",
        "nginx-mount.conf",
        "apache-mount-script-alias.conf",
        "apache-mount-proxy-fcgi.conf",
        "lighttpd-mount.conf",
        "Caddyfile-mount",
    ] {
        let text = std::fs::read_to_string(root.join("tools/servers").join(name)).unwrap();
        assert!(
            docs.contains(text.trim_end()),
            "docs/servers.md does not quote tools/servers/{name} as it is"
        );
    }
}

// --- One site, one archive --------------------------------------------------

/// Every expected status, Location and body of the site, at the root (`""`)
/// and under the prefix `/docs`. Locations are relative, so they are the
/// same under both; none may name an archive.
fn check_site(files: &[(&str, Vec<u8>)], port: u16, prefix: &str) {
    check_site_bare_by(files, port, prefix, Bare::Wwz);
}

/// Who answers the bare prefix (`/docs` itself) with a redirect to `/docs/`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bare {
    /// wwz, with its relative `./docs/`.
    Wwz,
    /// The web server, as its recipe says, where it sends no PATH_INFO for
    /// `/docs` (Apache makes the Location absolute).
    Server,
}

/// [`check_site`], with the bare prefix redirected by `bare`.
fn check_site_bare_by(files: &[(&str, Vec<u8>)], port: u16, prefix: &str, bare: Bare) {
    let file = |name: &str| {
        files
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| c.clone())
            .unwrap()
    };
    #[rustfmt::skip]
    let cases: &[(&str, u16, Option<&str>, Option<&str>)] = &[
        ("/", 200, None, Some("index.html")),
        ("/about", 200, None, Some("about.html")),
        ("/about.html", 200, None, Some("about.html")),
        ("/guide", 301, Some("./guide/"), None),
        ("/guide?q=1", 301, Some("./guide/?q=1"), None),
        ("/guide/", 200, None, Some("guide/index.html")),
        ("/guide/intro", 200, None, Some("guide/intro.html")),
        ("/manual/", 200, None, Some("manual/index.htm")),
        ("/nope", 404, None, Some("404.html")),
        ("/site.wwz", 404, None, Some("404.html")),
        ("/guide/nope", 404, None, Some("guide/404.html")),
        ("/guide/deeper/nope", 404, None, Some("guide/404.html")),
        ("/old-page?x=1", 301, Some("./about?x=1"), None),
        ("/moved/a/b", 302, Some("./../../guide/a/b"), None),
        ("/u/intro", 308, Some("./../guide/intro"), None),
        ("/see", 303, Some("./about"), None),
        ("/temp", 307, Some("./about"), None),
        ("/ext", 302, Some("https://example.org/x"), None),
        ("/app/deep/route", 200, None, Some("index.html")),
        ("/p/post/show", 200, None, Some("blog/2024/post.html")),
    ];
    for (path, status, location, body) in cases {
        let url = format!("{prefix}{path}");
        let r = curl_get(port, &url, &[]);
        assert_eq!(r.status, *status, "{url}: {:?}", r.headers);
        assert_eq!(r.opt_header("Location"), *location, "{url}");
        if let Some(name) = body {
            assert!(r.body == file(name), "{url}: body is not {name}");
            assert!(
                r.header("Content-Type").starts_with("text/html"),
                "{url}: {:?}",
                r.headers
            );
        }
        if *status == 404 {
            assert!(r.opt_header("ETag").is_none() && r.opt_header("Last-Modified").is_none());
        }
    }
    // HEAD of a missing page says what GET would.
    let head = curl_get(port, &format!("{prefix}/nope"), &["-I"]);
    assert_eq!(head.status, 404);
    assert_eq!(
        head.header("Content-Length"),
        file("404.html").len().to_string()
    );
    // A listing (blog/ has no index) names no archive, in links or text.
    let listing = curl_get(port, &format!("{prefix}/blog/"), &[]);
    assert_eq!(listing.status, 200);
    let html = String::from_utf8_lossy(&listing.body);
    assert!(html.contains("2024/"), "{html}");
    assert!(!html.contains(".wwz"), "{html}");
    if !prefix.is_empty() {
        // The listing's title is the directory's URL path, under the prefix.
        assert!(html.contains(&format!("{prefix}/blog/")), "{html}");
        for query in ["", "?q=1"] {
            let r = curl_get(port, &format!("{prefix}{query}"), &[]);
            assert_eq!(r.status, 301, "{prefix}{query}: {:?}", r.headers);
            let location = r.header("Location");
            match bare {
                Bare::Wwz => assert_eq!(location, format!("./docs/{query}")),
                Bare::Server => {
                    let origin = format!("http://127.0.0.1:{port}");
                    let path = location.strip_prefix(&origin).unwrap_or(location);
                    assert_eq!(path, format!("{prefix}/{query}"));
                }
            }
        }
    }
}

fn check_sites(files: &[(&str, Vec<u8>)], port: u16) {
    check_site(files, port, "");
    check_site(files, port, "/docs");
}

#[test]
fn one_site_one_archive_nginx() {
    let site = Site::new();
    let files = site_archives(&site);
    let (_wwz, sock, _show) = daemon(&site, &[]);
    let recipe = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/servers/nginx-site.conf");
    let nginx = common::nginx::start(&site, &sock, true, &format!("include {};", s(&recipe)));
    check_sites(&files, nginx.port);
}

#[test]
fn one_site_one_archive_apache_mod_proxy_fcgi() {
    let (site, _bin) = open_site();
    let files = site_archives(&site);
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
    let apache = start_apache(&site, "apache-site-proxy-fcgi", &body);
    check_sites(&files, apache.port);
}

#[test]
fn one_site_one_archive_apache_mod_fcgid_htaccess() {
    let (site, bin) = open_site();
    let files = site_archives(&site);
    let apache = start_dotfcgi_host(
        &site,
        &bin,
        "apache-site-fcgid.htaccess",
        "apache-site-fcgid",
    );
    check_site(&files, apache.port, "");
}

#[test]
fn one_site_one_archive_lighttpd() {
    let site = Site::new();
    let files = site_archives(&site);
    let server = start_lighttpd(&site, "lighttpd-site.conf", &[]);
    check_sites(&files, server.port);
}

#[test]
fn one_site_one_archive_caddy() {
    let site = Site::new();
    let files = site_archives(&site);
    let (_wwz, sock, _show) = daemon(&site, &[]);
    let server = start_caddy(&site, "Caddyfile-site", &sock);
    check_sites(&files, server.port);
}

// --- Standard mounts (SCRIPT_NAME + PATH_INFO) ------------------------------

/// `docs.wwz` at `/docs` the standard CGI way, named by WWZ_ARCHIVE alone:
/// nginx's `fastcgi_split_path_info`.
#[test]
fn standard_mount_nginx() {
    let site = Site::new();
    let files = site_archives(&site);
    let (_wwz, sock, _show) = daemon(&site, &[]);
    let recipe = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/servers/nginx-mount.conf");
    let nginx = common::nginx::start(&site, &sock, true, &format!("include {};", s(&recipe)));
    check_site(&files, nginx.port, "/docs");
}

/// Apache's `ScriptAlias /docs` running wwz as a CGI program.
#[test]
fn standard_mount_apache_script_alias() {
    let (site, bin) = open_site();
    let files = site_archives(&site);
    let cgi_dir = bin.parent().unwrap().to_owned();
    let snippet = site.path("apache-mount-script-alias.conf");
    std::fs::write(
        &snippet,
        recipe(
            "apache-mount-script-alias.conf",
            &[("/usr/local/lib/wwz-bin", s(&cgi_dir))],
        ),
    )
    .unwrap();
    let body = format!(
        "Include {}\nScriptSock {}\n",
        s(&snippet),
        s(&site.path("apache-mount-script-alias/cgid.sock"))
    );
    let apache = start_apache(&site, "apache-mount-script-alias", &body);
    check_site_bare_by(&files, apache.port, "/docs", Bare::Server);
    let log = apache.logs[1].1.clone();
    assert_no_errors(&apache, &log, &["[cgid:error]", "[core:error]"]);
}

/// The same `ScriptAlias` recipe with mod_fcgid, as its comment says:
/// `SetHandler fcgid-script` for `/docs`.
#[test]
fn standard_mount_apache_script_alias_fcgid() {
    let (site, bin) = open_site();
    let files = site_archives(&site);
    let cgi_dir = bin.parent().unwrap().to_owned();
    let snippet = site.path("apache-mount-script-alias.conf");
    std::fs::write(
        &snippet,
        recipe(
            "apache-mount-script-alias.conf",
            &[("/usr/local/lib/wwz-bin", s(&cgi_dir))],
        ),
    )
    .unwrap();
    let body = format!(
        "LoadModule fcgid_module {APACHE_MODULES}/mod_fcgid.so\n{dirs}\
         Include {snippet}\nScriptSock {sock}\n\
         <Location \"/docs\">\n    SetHandler fcgid-script\n</Location>\n",
        dirs = fcgid_dirs(&site),
        snippet = s(&snippet),
        sock = s(&site.path("apache-mount-fcgid/cgid.sock")),
    );
    let apache = start_apache(&site, "apache-mount-fcgid", &body);
    check_site_bare_by(&files, apache.port, "/docs", Bare::Server);
    let log = apache.logs[1].1.clone();
    assert_no_errors(
        &apache,
        &log,
        &["[fcgid:warn]", "[fcgid:error]", "[core:error]"],
    );
    // mod_fcgid, not CGI, ran it: its socket for wwz is in FcgidIPCDir.
    assert!(
        std::fs::read_dir(site.path("fcgid"))
            .unwrap()
            .next()
            .is_some(),
        "no mod_fcgid socket: the recipe ran wwz as CGI"
    );
}

/// Apache's `ProxyPass "/docs"` to a wwz daemon with `proxy-fcgi-pathinfo`.
#[test]
fn standard_mount_apache_proxy_fcgi() {
    let (site, _bin) = open_site();
    let files = site_archives(&site);
    let (_wwz, sock, _show) = daemon(&site, &[]);
    let snippet = site.path("apache-mount-proxy-fcgi.conf");
    std::fs::write(
        &snippet,
        recipe(
            "apache-mount-proxy-fcgi.conf",
            &[("/run/wwz.sock", s(&sock))],
        ),
    )
    .unwrap();
    let apache = start_apache(
        &site,
        "apache-mount-proxy-fcgi",
        &format!("Include {}\n", s(&snippet)),
    );
    check_site(&files, apache.port, "/docs");
    assert_kept_connection(&sock);
    let log = apache.logs[1].1.clone();
    assert_no_errors(
        &apache,
        &log,
        &["[proxy_fcgi:error]", "[proxy:error]", "[core:error]"],
    );
}

/// lighttpd's `fastcgi.server = ( "/docs" => … )`, wwz started by lighttpd.
#[test]
fn standard_mount_lighttpd() {
    let site = Site::new();
    let files = site_archives(&site);
    let server = start_lighttpd(&site, "lighttpd-mount.conf", &[]);
    check_site_bare_by(&files, server.port, "/docs", Bare::Server);
}

/// Caddy's fastcgi transport with `split /docs`.
#[test]
fn standard_mount_caddy() {
    let site = Site::new();
    let files = site_archives(&site);
    let (_wwz, sock, _show) = daemon(&site, &[]);
    let server = start_caddy(&site, "Caddyfile-mount", &sock);
    check_site(&files, server.port, "/docs");
}
