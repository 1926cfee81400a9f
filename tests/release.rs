//! The Debian package as installed: tools/test builds the static binary
//! (tools/release) and the package (tools/deb) from this tree and installs it
//! with `dpkg -i` before the suite runs. This test reads what dpkg installed:
//! the binary (static, this tree's version), a man page per subcommand, the
//! completions, and the systemd units, whose service it starts the way
//! systemd would (ExecStart as written, as its User=, on the socket the
//! .socket unit names, passed as fd 3 with LISTEN_FDS/LISTEN_PID), then asks
//! for archive members with libfcgi's `cgi-fcgi`.

use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::*;

const REBUILD: &str = "build and install the package from this tree: \
                       tools/deb --install \
                       (tools/test does this)";

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The files of the installed `wwz` package (`dpkg -L`).
fn package_files() -> Vec<PathBuf> {
    let status = Command::new("dpkg-query")
        .args(["-W", "-f=${Status} ${Version}", "wwz"])
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert_eq!(
        status,
        format!("install ok installed {}-1", env!("CARGO_PKG_VERSION")),
        "the wwz package is not installed; {REBUILD}"
    );
    run(Command::new("dpkg").args(["-L", "wwz"]))
        .lines()
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .collect()
}

fn installed(files: &[PathBuf], name: &str) -> PathBuf {
    files
        .iter()
        .find(|p| p.ends_with(name))
        .unwrap_or_else(|| panic!("the package installs no {name}; it has {files:#?}"))
        .clone()
}

/// The value of `key=` in `[section]` of a systemd unit; exactly one allowed.
fn directive(unit: &str, section: &str, key: &str) -> String {
    let mut current = "";
    let mut found = Vec::new();
    for line in unit.lines().map(str::trim) {
        if line.starts_with('[') && line.ends_with(']') {
            current = &line[1..line.len() - 1];
        } else if current == section && !line.starts_with('#') {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == key {
                    found.push(v.trim().to_owned());
                }
            }
        }
    }
    assert_eq!(found.len(), 1, "[{section}] {key}= in the unit: {found:?}");
    found.pop().unwrap()
}

fn id(flag: &str, user: &str) -> u32 {
    run(Command::new("id").args([flag, user]))
        .trim()
        .parse()
        .unwrap()
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn installed_package_serves_as_systemd_would_start_it() {
    let files = package_files();

    // The binary: static, built from this tree.
    let bin = installed(&files, "usr/bin/wwz");
    let version = run(Command::new(&bin).arg("--version"));
    assert_eq!(
        version.trim(),
        format!("wwz {}", wwz::cli::VERSION),
        "the installed wwz is not this tree's; {REBUILD}"
    );
    let ldd = Command::new("ldd").arg(&bin).output().unwrap();
    let ldd = String::from_utf8_lossy(&ldd.stdout) + String::from_utf8_lossy(&ldd.stderr);
    assert!(
        ldd.contains("not a dynamic executable") || ldd.contains("statically linked"),
        "{} is not static; ldd says:\n{ldd}",
        bin.display()
    );
    run(Command::new("dpkg").args(["--verify", "wwz"]));

    // A man page for wwz and each subcommand, where man finds it.
    let cli = wwz::cli::command();
    let mut pages = vec!["wwz".to_owned()];
    pages.extend(
        cli.get_subcommands()
            .map(|c| format!("wwz-{}", c.get_name())),
    );
    assert!(pages.len() >= 5, "{pages:?}");
    for page in &pages {
        let path = run(Command::new("man").args(["-w", page]));
        assert_eq!(
            path.trim(),
            format!("/usr/share/man/man1/{page}.1.gz"),
            "man -w {page}"
        );
        assert!(files.iter().any(|f| f.as_os_str() == path.trim()));
    }
    let serve = run(Command::new("man")
        .arg("wwz-serve")
        .env("MANWIDTH", "200")
        .env_remove("MAN_KEEP_FORMATTING"));
    for option in ["--listen", "--docroot", "--max-archives", "WWZ_DOCROOT"] {
        assert!(
            serve.contains(option),
            "man wwz-serve lacks {option}:\n{serve}"
        );
    }

    // Completions: bash loads them, zsh and fish files are in place.
    let bash = installed(&files, "bash-completion/completions/wwz");
    let complete = run(Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p wwz", bash.display())));
    assert!(complete.trim_end().ends_with(" wwz"), "{complete}");
    let zsh = std::fs::read_to_string(installed(&files, "zsh/vendor-completions/_wwz")).unwrap();
    assert!(zsh.starts_with("#compdef wwz"), "{zsh:.80}");
    let fish =
        std::fs::read_to_string(installed(&files, "fish/vendor_completions.d/wwz.fish")).unwrap();
    assert!(fish.contains("complete -c wwz"), "{fish:.200}");

    // The units: systemd accepts them as they are.
    let socket_unit = installed(&files, "systemd/system/wwz.socket");
    let service_unit = installed(&files, "systemd/system/wwz.service");
    let analyze = require_tool("systemd-analyze", "systemd");
    let verify = Command::new(analyze)
        .arg("verify")
        .arg(&socket_unit)
        .arg(&service_unit)
        .output()
        .unwrap();
    assert!(
        verify.status.success() && verify.stdout.is_empty() && verify.stderr.is_empty(),
        "systemd-analyze verify: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    let socket = std::fs::read_to_string(&socket_unit).unwrap();
    let service = std::fs::read_to_string(&service_unit).unwrap();
    assert_eq!(directive(&service, "Unit", "Requires"), "wwz.socket");
    for (key, value) in [
        ("User", "www-data"),
        ("Group", "www-data"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
    ] {
        assert_eq!(directive(&service, "Service", key), value, "{key}=");
    }
    let listen_stream = directive(&socket, "Socket", "ListenStream");
    assert_eq!(listen_stream, "/run/wwz/wwz.sock");
    let user = directive(&service, "Service", "User");
    let group = directive(&service, "Service", "Group");
    assert_eq!(directive(&socket, "Socket", "SocketUser"), user);
    assert_eq!(directive(&socket, "Socket", "SocketGroup"), group);
    let mode = u32::from_str_radix(&directive(&socket, "Socket", "SocketMode"), 8).unwrap();

    // ExecStart, taken as written: no prefixes, quoting or specifiers to expand.
    let exec_start = directive(&service, "Service", "ExecStart");
    assert!(
        !exec_start.contains(['"', '\'', '%', '$', '\\'])
            && !exec_start.starts_with(['-', '@', '+', '!', ':']),
        "ExecStart needs a real systemd to expand: {exec_start}"
    );
    let argv: Vec<&str> = exec_start.split_whitespace().collect();
    assert_eq!(Path::new(argv[0]), bin);

    // Bind the socket as systemd would, in the test's dir instead of /run/wwz
    // (same file name, owner and mode), and start the service on it: fd 3,
    // LISTEN_FDS=1, LISTEN_PID = the service's pid, a clean environment, the
    // unit's user when the test runs as root. The shell moves the socket from
    // fd 0 to fd 3 and execs, so $$ is the service's pid.
    let site = Site::new();
    chmod(site.dir.path(), 0o755); // the service's user reads the docroot
    let sock = site.path(
        Path::new(&listen_stream)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap(),
    );
    let listener = UnixListener::bind(&sock).unwrap();
    chmod(&sock, mode);
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(r#"exec 3<&0 0</dev/null; LISTEN_FDS=1 LISTEN_PID=$$ exec "$@""#)
        .arg("sh")
        .args(&argv)
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .stdin(Stdio::from(OwnedFd::from(listener)))
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(site.path("service.stderr")).unwrap(),
        ));
    if run(Command::new("id").arg("-u")).trim() == "0" {
        let (uid, gid) = (id("-u", &user), id("-g", &group));
        std::os::unix::fs::chown(&sock, Some(uid), Some(gid)).unwrap();
        cmd.uid(uid).gid(gid);
    }
    let mut service_proc = Proc {
        child: cmd.spawn().unwrap(),
        stderr_path: site.path("service.stderr"),
        name: format!("{exec_start} (as wwz.service)"),
    };
    let addr = Addr::Unix(sock.clone());
    wait_for(&addr, &mut service_proc);

    // Real FastCGI requests from libfcgi's client. The unit gives no
    // --docroot, so the request's DOCUMENT_ROOT (the web server's) decides.
    let cgi_fcgi = require_tool("cgi-fcgi", "libfcgi-bin");
    let docroot = site.docroot.to_str().unwrap();
    for (archive, member) in [
        ("site.wwz", "index.html"),
        ("deflated.wwz", "data/blob.bin"),
    ] {
        let uri = format!("/{archive}/{member}");
        let out = Command::new(&cgi_fcgi)
            .args(["-bind", "-connect"])
            .arg(&sock)
            .env_clear()
            .env("REQUEST_METHOD", "GET")
            .env("REQUEST_URI", &uri)
            .env("DOCUMENT_ROOT", docroot)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "cgi-fcgi {uri}: {out:?}");
        let (status, headers, body) = parse_cgi(&out.stdout);
        assert_eq!(status, 200, "{uri}: {headers:?}");
        assert!(body == site.file(member), "{uri}: body differs");
        assert_eq!(
            find_header(&headers, "Content-Length"),
            Some(site.file(member).len().to_string().as_str())
        );
    }
    service_proc.assert_running();

    // `systemctl stop` sends KillSignal=SIGTERM: wwz finishes and exits 0.
    assert_eq!(directive(&service, "Service", "KillSignal"), "SIGTERM");
    let pid = service_proc.child.id().to_string();
    run(Command::new("kill").args(["-TERM", &pid]));
    let status = service_proc
        .wait_exit(WAIT)
        .unwrap_or_else(|| panic!("wwz did not exit on SIGTERM within {WAIT:?}"));
    assert!(
        status.success(),
        "{status}; stderr:\n{}",
        service_proc.stderr()
    );
}
