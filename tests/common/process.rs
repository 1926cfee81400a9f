//! The processes a test starts: `wwz serve` on a fresh socket, or any
//! command, killed and reaped when the test ends.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{nginx_params, poll, wait_until_or, Addr, Client, Site, WAIT};

/// Which transport a test runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Unix,
    Tcp,
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A running process, killed (and reaped) on drop; its stderr goes to a file.
pub struct Proc {
    pub child: Child,
    pub stderr_path: PathBuf,
    pub name: String,
}

impl Proc {
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Panics (with its stderr) if the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "{} exited with {status}; stderr:\n{}",
                self.name,
                self.stderr()
            );
        }
    }

    /// Waits up to `limit` for the process to exit on its own.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let mut status = None;
        poll(limit, || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        status
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns `cmd` with stderr to `stderr_path` and stdin from /dev/null.
pub fn spawn(mut cmd: Command, name: &str, stderr_path: PathBuf) -> Proc {
    let err = std::fs::File::create(&stderr_path).unwrap();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(err));
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    Proc {
        child,
        stderr_path,
        name: name.to_owned(),
    }
}

/// Waits until `addr` accepts connections, failing early if `proc` dies.
pub fn wait_for(addr: &Addr, proc: &mut Proc) {
    let what = format!("{} to listen on {addr}", proc.name);
    let stderr = proc.stderr_path.clone();
    wait_until_or(
        &what,
        WAIT,
        || {
            Client::try_connect(addr).is_ok() || {
                proc.assert_running();
                false
            }
        },
        || {
            format!(
                "; stderr:\n{}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            )
        },
    );
}

/// The path of the binary under test: `WWZ_TEST_BIN` when set (tools/release
/// runs tests against the static release binary that way), else cargo's build.
pub fn wwz_bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| match std::env::var("WWZ_TEST_BIN") {
        Ok(path) if !path.is_empty() => path,
        _ => env!("CARGO_BIN_EXE_wwz").to_owned(),
    })
}

/// `wwz serve --http 127.0.0.1:PORT --docroot DOCROOT extra…` (the local
/// preview front), waiting for the port; returns the process and the port.
pub fn start_preview(site: &Site, extra: &[&str]) -> (Proc, u16) {
    let port = free_port();
    let mut cmd = Command::new(wwz_bin());
    cmd.args(["serve", "--http", &format!("127.0.0.1:{port}")])
        .arg("--docroot")
        .arg(&site.docroot)
        .args(extra)
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID");
    let mut proc = spawn(cmd, "wwz --http", site.path("preview.stderr"));
    wait_for(&Addr::Tcp(([127, 0, 0, 1], port).into()), &mut proc);
    (proc, port)
}

static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A `wwz serve` started by a test.
pub struct Wwz {
    pub proc: Proc,
    pub addr: Addr,
}

impl Wwz {
    /// One number of the status page's JSON (the server runs with
    /// `--status-path /wwz-status`).
    pub fn status_figure(&self, site: &Site, key: &str) -> u64 {
        let r = self
            .client()
            .get(1, false, &nginx_params(site, "GET", "/wwz-status?json"));
        assert_eq!(r.status, 200, "{r:?}");
        let v: serde_json::Value = serde_json::from_slice(&r.body).expect("status JSON");
        v[key].as_u64().unwrap_or_else(|| panic!("no {key} in {v}"))
    }

    /// `wwz serve --listen … --docroot DOCROOT extra…`, waiting for the socket.
    pub fn start(site: &Site, transport: Transport, extra: &[&str]) -> Wwz {
        Wwz::start_env(site, transport, extra, &[])
    }

    pub fn start_env(
        site: &Site,
        transport: Transport,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Wwz {
        let mut args: Vec<&std::ffi::OsStr> = vec!["--docroot".as_ref(), site.docroot.as_os_str()];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        Wwz::start_raw(site, transport, &args, env)
    }

    /// `wwz serve --listen … args…` (no `--docroot` unless in `args`).
    pub fn start_raw(
        site: &Site,
        transport: Transport,
        args: &[&std::ffi::OsStr],
        env: &[(&str, &str)],
    ) -> Wwz {
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let addr = match transport {
            Transport::Unix => Addr::Unix(site.path(&format!("wwz-{n}.sock"))),
            Transport::Tcp => Addr::Tcp(SocketAddr::from(([127, 0, 0, 1], free_port()))),
        };
        let listen = match &addr {
            Addr::Unix(p) => format!("unix:{}", p.display()),
            Addr::Tcp(a) => a.to_string(),
        };
        let mut cmd = Command::new(wwz_bin());
        cmd.arg("serve")
            .arg("--listen")
            .arg(&listen)
            .args(args)
            .env_remove("FCGI_WEB_SERVER_ADDRS")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut proc = spawn(cmd, "wwz", site.path(&format!("wwz-{n}.stderr")));
        wait_for(&addr, &mut proc);
        Wwz { proc, addr }
    }

    /// A client whose reads and writes wait [`WAIT`] stretched by the load.
    pub fn client(&self) -> Client {
        let c = Client::connect(&self.addr);
        super::stretch_timeouts(&c.stream);
        c
    }

    /// Asserts the server still runs and still answers a plain GET.
    pub fn assert_healthy(&mut self, site: &Site) {
        self.proc.assert_running();
        let reply = self
            .client()
            .get(1, false, &nginx_params(site, "GET", "/site.wwz/style.css"));
        assert_eq!(reply.status, 200, "health check: {reply:?}");
        assert_eq!(reply.body, site.file("style.css"));
    }
}

/// Connected (accepted) sockets bound to the unix socket `path`, from /proc/net/unix.
pub fn connected_unix_sockets(path: &Path) -> usize {
    let table = std::fs::read_to_string("/proc/net/unix").expect("read /proc/net/unix");
    let path = path.to_str().unwrap();
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // Num RefCount Protocol Flags Type St Inode Path; St 03 = connected.
            f.len() >= 8 && f[5] == "03" && f[7] == path
        })
        .count()
}

/// User + system CPU time of process `pid` so far (all its threads), in clock
/// ticks: fields 14 and 15 of `/proc/PID/stat`.
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    // The command name (field 2) may hold spaces; the fields after it do not.
    let rest = &stat[stat.rfind(')').expect("a stat line") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// VmHWM and VmRSS of process `pid` in KiB, from /proc/PID/status (0 when unreadable).
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let get = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (get("VmHWM:"), get("VmRSS:"))
}
