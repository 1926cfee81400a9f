//! wwz with independent FastCGI peers and process managers: libfcgi's
//! `cgi-fcgi` as a client, `spawn-fcgi` handing over a listening socket on
//! fd 0, systemd-style socket activation on fd 3, and no socket at all.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::*;
use wwz::front::fcgi::params;
use wwz::front::fcgi::record::kind;

/// Runs `cgi-fcgi -bind -connect SOCK` with exactly `env` as the request's params.
fn cgi_fcgi(sock: &Path, env: &[(&str, &str)]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let tool = require_tool("cgi-fcgi", "libfcgi-bin");
    let mut cmd = Command::new(tool);
    cmd.args(["-bind", "-connect"])
        .arg(sock)
        .env_clear()
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run cgi-fcgi");
    assert!(
        out.status.success(),
        "cgi-fcgi failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    parse_cgi(&out.stdout)
}

#[test]
fn cgi_fcgi_gets_exact_bytes_and_headers() {
    let site = Site::new();
    let wwz = Wwz::start(&site, Transport::Unix, &[]);
    let Addr::Unix(sock) = &wwz.addr else {
        unreachable!()
    };
    let root = site.docroot.to_str().unwrap();
    for f in [
        "index.html",
        "data/blob.bin",
        "data/exact.bin",
        "logs/big.txt",
        "empty.txt",
    ] {
        let uri = format!("/site.wwz/{f}");
        let (status, headers, body) = cgi_fcgi(
            sock,
            &[
                ("REQUEST_METHOD", "GET"),
                ("REQUEST_URI", &uri),
                ("DOCUMENT_ROOT", root),
                ("QUERY_STRING", ""),
            ],
        );
        assert_eq!(status, 200, "{f}: {headers:?}");
        let want = site.file(f);
        assert!(
            body == want,
            "{f}: {} bytes, want {}",
            body.len(),
            want.len()
        );
        assert_eq!(
            find_header(&headers, "Content-Length"),
            Some(want.len().to_string().as_str())
        );
        assert_eq!(
            find_header(&headers, "Last-Modified"),
            Some(SAMPLE_MTIME_HTTP)
        );
        assert_eq!(find_header(&headers, "Accept-Ranges"), Some("bytes"));
        assert!(find_header(&headers, "ETag").is_some_and(|e| e.starts_with('"')));
    }

    // mod_fcgid-style split params, a space in both names.
    let script = format!("{root}/my site.wwz");
    let (status, headers, body) = cgi_fcgi(
        sock,
        &[
            ("REQUEST_METHOD", "GET"),
            ("SCRIPT_FILENAME", &script),
            ("PATH_INFO", "/with space/a file.txt"),
            ("DOCUMENT_ROOT", root),
        ],
    );
    assert_eq!(status, 200, "{headers:?}");
    assert_eq!(body, site.file("with space/a file.txt"));
    assert_eq!(
        find_header(&headers, "Content-Type"),
        Some("text/plain; charset=utf-8")
    );

    // 404 and 405 through the same client.
    let (status, _, body) = cgi_fcgi(
        sock,
        &[("REQUEST_METHOD", "GET"), ("REQUEST_URI", "/site.wwz/nope")],
    );
    assert_eq!(status, 404);
    assert_eq!(body, b"Not Found\n");
    let (status, headers, _) = cgi_fcgi(
        sock,
        &[
            ("REQUEST_METHOD", "DELETE"),
            ("REQUEST_URI", "/site.wwz/index.html"),
        ],
    );
    assert_eq!(status, 405);
    assert_eq!(find_header(&headers, "Allow"), Some("GET, HEAD, OPTIONS"));
}

/// Starts `spawn-fcgi -n <socket args> -- <argv…>` and waits for the socket.
fn spawn_fcgi(site: &Site, addr: &Addr, argv: &[&str], env: &[(&str, &str)]) -> Proc {
    let tool = require_tool("spawn-fcgi", "spawn-fcgi");
    let mut cmd = Command::new(tool);
    cmd.arg("-n");
    match addr {
        Addr::Unix(p) => {
            cmd.arg("-s").arg(p);
        }
        Addr::Tcp(a) => {
            cmd.args(["-a", &a.ip().to_string(), "-p", &a.port().to_string()]);
        }
    }
    cmd.arg("--")
        .arg(wwz_bin())
        .args(argv)
        .env_remove("WWZ_DOCROOT")
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut proc = spawn(cmd, "spawn-fcgi + wwz", site.path("spawned.stderr"));
    wait_for(addr, &mut proc);
    proc
}

fn assert_serves(site: &Site, addr: &Addr) {
    let mut c = Client::connect(addr);
    for (i, f) in ["index.html", "data/blob.bin"].into_iter().enumerate() {
        let r = c.get(
            i as u16 + 1,
            true,
            &nginx_params(site, "GET", &format!("/site.wwz/{f}")),
        );
        assert_eq!(r.status, 200, "{f}: {r:?}");
        assert!(r.body == site.file(f), "{f}: body differs");
    }
}

#[test]
fn spawn_fcgi_socket_on_fd0_with_serve() {
    let site = Site::new();
    let addr = Addr::Unix(site.path("spawned.sock"));
    let docroot = site.docroot.to_str().unwrap().to_owned();
    let mut proc = spawn_fcgi(&site, &addr, &["serve", "--docroot", &docroot], &[]);
    assert_serves(&site, &addr);
    proc.assert_running();
}

#[test]
fn spawn_fcgi_tcp_socket_on_fd0() {
    let site = Site::new();
    let addr = Addr::Tcp(([127, 0, 0, 1], free_port()).into());
    let docroot = site.docroot.to_str().unwrap().to_owned();
    let mut proc = spawn_fcgi(&site, &addr, &["serve", "--docroot", &docroot], &[]);
    assert_serves(&site, &addr);
    proc.assert_running();
}

#[test]
fn spawn_fcgi_no_arguments_configured_by_environment() {
    let site = Site::new();
    let addr = Addr::Unix(site.path("spawned.sock"));
    let docroot = site.docroot.to_str().unwrap().to_owned();
    let mut proc = spawn_fcgi(
        &site,
        &addr,
        &[],
        &[("WWZ_DOCROOT", &docroot), ("WWZ_MAX_CONNECTIONS", "3")],
    );
    assert_serves(&site, &addr);
    // The environment really configured it: WWZ_MAX_CONNECTIONS shows in GET_VALUES.
    let mut c = Client::connect(&addr);
    let mut q = Vec::new();
    params::push_pair(&mut q, b"FCGI_MAX_CONNS", b"");
    c.send_record(kind::GET_VALUES, 0, &q);
    let rec = c.read_record();
    assert_eq!(rec.kind, kind::GET_VALUES_RESULT);
    let pairs: Vec<_> = params::pairs(&rec.content).map(Result::unwrap).collect();
    assert_eq!(pairs, vec![(&b"FCGI_MAX_CONNS"[..], &b"3"[..])]);
    // WWZ_DOCROOT wins over what the request says.
    let mut params = nginx_params(&site, "GET", "/site.wwz/style.css");
    for (n, v) in &mut params {
        if n == "DOCUMENT_ROOT" {
            *v = b"/nonexistent".to_vec();
        }
    }
    let r = c.get(1, false, &params);
    assert_eq!(r.body, site.file("style.css"));
    proc.assert_running();
}

/// A python3 stand-in for systemd: binds a unix socket, puts it on fd 3,
/// forks, and in the child sets LISTEN_FDS=1 and LISTEN_PID (its own pid,
/// or with `wrong_pid` the parent's) before exec'ing the command.
/// The parent writes the child's pid to PIDFILE and waits for it.
const SYSTEMD_WRAPPER: &str = r#"
import os, socket, sys
sock_path, pidfile, wrong_pid, argv = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sock_path)
s.listen(16)
if s.fileno() == 3:
    os.set_inheritable(3, True)
    s.detach()
else:
    os.dup2(s.fileno(), 3, inheritable=True)
    s.close()
parent = os.getpid()
pid = os.fork()
if pid == 0:
    os.environ["LISTEN_FDS"] = "1"
    os.environ["LISTEN_PID"] = str(parent if wrong_pid else os.getpid())
    os.execv(argv[0], argv)
os.close(3)
with open(pidfile + ".tmp", "w") as f:
    f.write(str(pid))
os.rename(pidfile + ".tmp", pidfile)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"#;

/// Kills the wrapped wwz (the wrapper's child) on drop.
struct KillPid(Option<i32>);

impl Drop for KillPid {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            // SAFETY: kill(2) has no memory-safety preconditions; the pid is our grandchild.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

fn systemd_wrapper(site: &Site, wrong_pid: bool, argv: &[&str]) -> (Proc, Addr) {
    let python = require_tool("python3", "python3");
    let sock = site.path("activated.sock");
    let pidfile = site.path("activated.pid");
    let mut cmd = Command::new(python);
    cmd.arg("-c")
        .arg(SYSTEMD_WRAPPER)
        .arg(&sock)
        .arg(&pidfile)
        .arg(if wrong_pid { "1" } else { "0" })
        .arg(wwz_bin())
        .args(argv)
        .env_remove("WWZ_DOCROOT")
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID");
    let proc = spawn(
        cmd,
        "systemd-style wrapper + wwz",
        site.path("activated.stderr"),
    );
    (proc, Addr::Unix(sock))
}

fn read_pidfile(site: &Site, proc: &mut Proc) -> i32 {
    let pidfile = site.path("activated.pid");
    let mut pid = None;
    wait_until("the wrapper's pid file", WAIT, || {
        pid = std::fs::read_to_string(&pidfile).ok();
        pid.is_some() || {
            proc.assert_running();
            false
        }
    });
    pid.unwrap().trim().parse().unwrap()
}

#[test]
fn systemd_socket_activation_on_fd3() {
    let site = Site::new();
    let docroot = site.docroot.to_str().unwrap().to_owned();
    let (mut proc, addr) = systemd_wrapper(&site, false, &["serve", "--docroot", &docroot]);
    let _kill = KillPid(Some(read_pidfile(&site, &mut proc)));
    wait_for(&addr, &mut proc);
    assert_serves(&site, &addr);
    proc.assert_running();
}

#[test]
fn systemd_listen_pid_of_another_process_is_ignored() {
    let site = Site::new();
    let docroot = site.docroot.to_str().unwrap().to_owned();
    let (mut proc, _addr) = systemd_wrapper(&site, true, &["serve", "--docroot", &docroot]);
    let _kill = KillPid(Some(read_pidfile(&site, &mut proc)));
    // fd 0 is /dev/null and LISTEN_PID is not wwz's: no socket, exit 2.
    let status = proc
        .wait_exit(WAIT)
        .expect("wwz should exit when LISTEN_PID names another process");
    assert_eq!(status.code(), Some(2), "stderr:\n{}", proc.stderr());
    assert!(proc.stderr().contains("no listening socket"));
}

fn run_without_socket(stdin: Stdio, args: &[&str]) -> std::process::Output {
    Command::new(wwz_bin())
        .args(args)
        .env_remove("WWZ_LISTEN")
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID")
        .stdin(stdin)
        .output()
        .expect("run wwz")
}

#[test]
fn serve_without_a_socket_exits_2_with_one_line() {
    let site = Site::new();
    let docroot = site.docroot.to_str().unwrap();
    for (what, stdin) in [
        ("/dev/null", Stdio::null()),
        ("a pipe", Stdio::piped()),
        (
            "a regular file",
            Stdio::from(std::fs::File::open(site.docroot.join("site.wwz")).unwrap()),
        ),
    ] {
        let out = run_without_socket(stdin, &["serve", "--docroot", docroot]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "stdin {what}: {err}");
        assert_eq!(err.lines().count(), 1, "stdin {what}: {err:?}");
        assert!(err.ends_with('\n'), "{err:?}");
        assert!(err.starts_with("wwz: "), "{err:?}");
        assert!(out.stdout.is_empty());
    }
    // Without --docroot too.
    let out = run_without_socket(Stdio::null(), &["serve"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(out.stderr.split(|&b| b == b'\n').count(), 2); // one line + trailing ""
}

/// Runs `wwz serve --listen unix:PATH` expecting it to refuse to start.
fn serve_must_refuse(site: &Site, sock: &Path) -> String {
    let docroot = site.docroot.to_str().unwrap();
    let mut cmd = Command::new(wwz_bin());
    cmd.arg("serve")
        .arg("--listen")
        .arg(format!("unix:{}", sock.display()))
        .args(["--docroot", docroot]);
    let mut proc = spawn(cmd, "second wwz", site.path("second.stderr"));
    let status = proc
        .wait_exit(WAIT)
        .unwrap_or_else(|| panic!("wwz started on {sock:?}, which it must not take over"));
    assert_eq!(status.code(), Some(2), "stderr:\n{}", proc.stderr());
    let err = proc.stderr();
    assert_eq!(err.lines().count(), 1, "{err:?}");
    err
}

#[test]
fn listen_replaces_a_stale_socket_only() {
    let site = Site::new();
    // A socket file left by a process that died: taken over.
    let stale = site.path("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    let docroot = site.docroot.to_str().unwrap().to_owned();
    let mut cmd = Command::new(wwz_bin());
    cmd.arg("serve")
        .arg("--listen")
        .arg(format!("unix:{}", stale.display()))
        .args(["--docroot", &docroot]);
    let mut proc = spawn(cmd, "wwz", site.path("stale.stderr"));
    let addr = Addr::Unix(stale.clone());
    wait_for(&addr, &mut proc);
    assert_serves(&site, &addr);

    // A regular file at the path: left alone, and wwz refuses to start.
    let file = site.path("not-a-socket");
    std::fs::write(&file, b"precious").unwrap();
    serve_must_refuse(&site, &file);
    assert_eq!(std::fs::read(&file).unwrap(), b"precious");
}

#[test]
fn listen_does_not_steal_a_live_socket() {
    // Regression: a second `wwz serve` on the path of a running one used to
    // unlink the live socket and bind its own, orphaning the first server
    // (still running, unreachable) and leaving a dead path once it exited.
    let site = Site::new();
    let first = Wwz::start(&site, Transport::Unix, &[]);
    let Addr::Unix(sock) = &first.addr else {
        unreachable!()
    };
    let err = serve_must_refuse(&site, sock);
    assert!(err.contains("in use") || err.contains("listening"), "{err}");
    // The first server still owns the path.
    assert_serves(&site, &first.addr);
}
