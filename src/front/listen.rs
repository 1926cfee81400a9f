//! Where the listening socket comes from: `--listen`, systemd socket
//! activation (`LISTEN_FDS`), or the socket a FastCGI server hands us on fd 0
//! (mod_fcgid, lighttpd `bin-path`, spawn-fcgi).

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;

use socket2::Socket;

/// A bound, listening socket, not yet registered with the runtime.
pub enum Listener {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener),
}

impl Listener {
    /// Whether other hosts can connect: a TCP socket on any address but
    /// loopback (`0.0.0.0` and `::` included). A unix socket never.
    pub fn reachable_from_other_hosts(&self) -> bool {
        match self {
            Listener::Tcp(l) => l.local_addr().map_or(true, |a| !a.ip().is_loopback()),
            Listener::Unix(_) => false,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Listener::Tcp(l) => l
                .local_addr()
                .map_or_else(|_| "tcp".into(), |a| a.to_string()),
            Listener::Unix(l) => l
                .local_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(|p| format!("unix:{}", p.display())))
                .unwrap_or_else(|| "unix socket".into()),
        }
    }
}

/// Binds `--listen`: `unix:/path/to.sock` or `HOST:PORT`.
pub fn bind(spec: &str) -> io::Result<Listener> {
    if let Some(path) = spec.strip_prefix("unix:") {
        let path = PathBuf::from(path);
        // A socket left by a previous run would make bind fail; anything else is kept.
        // A socket someone still listens on is not stale: taking it over would orphan
        // that server and leave a dead path behind once we exit.
        if let Ok(meta) = std::fs::symlink_metadata(&path) {
            if meta.file_type().is_socket() {
                match std::os::unix::net::UnixStream::connect(&path) {
                    Ok(_) => {
                        return Err(io::Error::new(
                            io::ErrorKind::AddrInUse,
                            format!("{}: address in use by a running server", path.display()),
                        ))
                    }
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                        std::fs::remove_file(&path)?;
                    }
                    // Not ours to judge (permissions, …): bind reports it.
                    Err(_) => {}
                }
            }
        }
        return Ok(Listener::Unix(std::os::unix::net::UnixListener::bind(
            &path,
        )?));
    }
    let addrs: Vec<SocketAddr> = spec
        .to_socket_addrs()
        .map_err(|e| io::Error::new(e.kind(), format!("bad --listen address {spec:?}: {e}")))?
        .collect();
    Ok(Listener::Tcp(std::net::TcpListener::bind(&addrs[..])?))
}

/// The socket we were started with: systemd's fd 3, else a listening fd 0.
pub fn inherited() -> io::Result<Option<Listener>> {
    if let Some(l) = systemd()? {
        return Ok(Some(l));
    }
    let fd0 = io::stdin().as_fd().try_clone_to_owned()?;
    from_fd(fd0)
}

/// Whether fd 0 is a listening socket (then `wwz` with no arguments serves on it).
pub fn fd0_is_listener() -> bool {
    io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .ok()
        .and_then(|fd| from_fd(fd).ok().flatten())
        .is_some()
}

fn from_fd(fd: OwnedFd) -> io::Result<Option<Listener>> {
    let socket = Socket::from(fd);
    // Not a socket (a terminal, /dev/null, a pipe) or not listening: nothing inherited.
    if !socket.is_listener().unwrap_or(false) {
        return Ok(None);
    }
    let local = socket.local_addr()?;
    if local.is_unix() {
        Ok(Some(Listener::Unix(socket.into())))
    } else {
        Ok(Some(Listener::Tcp(socket.into())))
    }
}

/// systemd socket activation: `LISTEN_PID` is us and `LISTEN_FDS` ≥ 1; the socket is fd 3.
fn systemd() -> io::Result<Option<Listener>> {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    if !ours || count == 0 {
        return Ok(None);
    }
    const SD_LISTEN_FDS_START: i32 = 3;
    // SAFETY: systemd passes the listening sockets as fds 3.. to the process named in
    // LISTEN_PID (checked above); nothing else in this process has taken ownership of
    // fd 3, and this runs once at startup. Variables are removed so children don't inherit them.
    #[allow(unsafe_code)]
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(SD_LISTEN_FDS_START) };
    std::env::remove_var("LISTEN_FDS");
    std::env::remove_var("LISTEN_PID");
    std::env::remove_var("LISTEN_FDNAMES");
    from_fd(fd)?
        .map(Some)
        .ok_or_else(|| io::Error::other("LISTEN_FDS is set but fd 3 is not a listening socket"))
}

/// `FCGI_WEB_SERVER_ADDRS`: the peers allowed to connect over TCP; `None` allows all.
pub fn allowed_peers() -> Result<Option<Vec<IpAddr>>, String> {
    let Ok(list) = std::env::var("FCGI_WEB_SERVER_ADDRS") else {
        return Ok(None);
    };
    let addrs: Result<Vec<IpAddr>, _> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpAddr>()
                .map_err(|_| format!("FCGI_WEB_SERVER_ADDRS: {s:?} is not an IP address"))
        })
        .collect();
    let addrs = addrs?;
    Ok((!addrs.is_empty()).then_some(addrs))
}

/// Whether `peer` is in the allowed list (IPv4-mapped IPv6 peers match their IPv4 form).
pub fn peer_allowed(allowed: &[IpAddr], peer: IpAddr) -> bool {
    let peer = match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
        v4 => v4,
    };
    allowed.contains(&peer)
}

/// Raises the soft limit on open descriptors to the hard limit (each
/// connection and each open archive holds one) and returns the limit now in
/// force.
pub fn raise_descriptor_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let now = getrlimit(Resource::Nofile);
    // "Unlimited" is not a number of descriptors; the kernel caps it at nr_open.
    let hard = now.maximum.unwrap_or(1 << 20);
    let soft = now.current.unwrap_or(hard);
    if soft < hard {
        let raised = Rlimit {
            current: Some(hard),
            maximum: now.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return hard;
        }
    }
    soft
}
