//! Accepting connections, bounding them, and shutting down gracefully.
//!
//! At most `max_conns` connections are served at once. When a new one comes
//! at the limit, the connection idle longest between requests is closed to
//! make room ([`crate::front::connections`]); if every connection is busy, the new
//! one waits for a permit and the rest wait in the kernel's backlog. On shutdown the listener
//! closes, idle connections end at once, busy ones finish their response, and
//! we wait for them up to the grace period.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Semaphore};

use crate::front::connections::Registry;
use crate::front::fcgi::{self, Limits};
use crate::front::listen::{self, Listener};
use crate::log;
use crate::service::Service;
use crate::stats::{self, STATS};

pub struct Server {
    pub service: Arc<Service>,
    pub limits: Arc<Limits>,
    pub allowed_peers: Option<Vec<IpAddr>>,
    pub grace: Duration,
}

enum Accepting {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
}

impl Server {
    /// Serves `listener` until `shutdown` completes, then drains connections.
    /// Must run inside a Tokio runtime.
    pub async fn run(
        self,
        listener: Listener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        stats::mark_start();
        let accepting = match listener {
            Listener::Tcp(l) => {
                l.set_nonblocking(true)?;
                Accepting::Tcp(tokio::net::TcpListener::from_std(l)?)
            }
            Listener::Unix(l) => {
                l.set_nonblocking(true)?;
                Accepting::Unix(tokio::net::UnixListener::from_std(l)?)
            }
        };
        let permits = Arc::new(Semaphore::new(self.limits.max_conns));
        let registry = Registry::new();
        let hangups = tokio::spawn(reload_on_hangup(Arc::clone(&self.service)));
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                a = accept(&accepting) => a,
                _ = &mut shutdown => break,
            };
            let stream = match accepted {
                Ok(s) => s,
                Err(e) => {
                    // EMFILE and friends: say so and give the system a moment.
                    log::error!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            if let Accepted::Tcp(_, peer) = &stream {
                if let Some(allowed) = &self.allowed_peers {
                    if !listen::peer_allowed(allowed, *peer) {
                        log::warn!("refusing connection from {peer}: not in FCGI_WEB_SERVER_ADDRS");
                        continue;
                    }
                }
            }
            STATS.accepted.inc();
            let permit = match Arc::clone(&permits).try_acquire_owned() {
                Ok(p) => p,
                Err(_) => {
                    // At the limit with a connection waiting: the connection
                    // idle longest between requests makes room, as nginx
                    // reuses keep-alive connections; with none idle, the
                    // first to finish its response and turn idle does. A
                    // connection that closes frees its permit meanwhile.
                    let permit = loop {
                        tokio::select! {
                            p = Arc::clone(&permits).acquire_owned() => break p.ok(),
                            () = registry.make_room() => {
                                tokio::select! {
                                    p = Arc::clone(&permits).acquire_owned() => break p.ok(),
                                    // The one chosen had a request arriving: choose again.
                                    () = registry.chosen_one_stayed() => continue,
                                    _ = &mut shutdown => break None,
                                }
                            }
                            _ = &mut shutdown => break None,
                        }
                    };
                    registry.stop_waiting();
                    match permit {
                        Some(p) => p,
                        None => break,
                    }
                }
            };
            let (svc, limits, stop, slot) = (
                Arc::clone(&self.service),
                Arc::clone(&self.limits),
                stop_rx.clone(),
                registry.register(),
            );
            match stream {
                Accepted::Tcp(s, _) => {
                    let _ = s.set_nodelay(true);
                    tokio::spawn(async move {
                        fcgi::serve(s, svc, limits, stop, slot).await;
                        drop(permit);
                    });
                }
                Accepted::Unix(s) => {
                    tokio::spawn(async move {
                        fcgi::serve(s, svc, limits, stop, slot).await;
                        drop(permit);
                    });
                }
            }
        }
        drop(accepting);
        hangups.abort();
        let _ = stop_tx.send(true);
        let total = u32::try_from(self.limits.max_conns).unwrap_or(u32::MAX);
        let drained = tokio::time::timeout(self.grace, permits.acquire_many(total)).await;
        match drained {
            Ok(_) => Ok(()),
            Err(_) => {
                log::warn!(
                    "grace period of {:?} over; closing remaining connections",
                    self.grace
                );
                Ok(())
            }
        }
    }
}

enum Accepted {
    Tcp(tokio::net::TcpStream, IpAddr),
    Unix(tokio::net::UnixStream),
}

async fn accept(l: &Accepting) -> std::io::Result<Accepted> {
    match l {
        Accepting::Tcp(l) => l.accept().await.map(|(s, a)| Accepted::Tcp(s, a.ip())),
        Accepting::Unix(l) => l.accept().await.map(|(s, _)| Accepted::Unix(s)),
    }
}

/// SIGHUP closes every cached archive, so the next requests reopen them;
/// connections and responses in flight are untouched.
async fn reload_on_hangup(service: Arc<Service>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        let open = service.cache.len();
        service.cache.clear();
        log::info!("SIGHUP: closed {open} cached archives");
    }
}

/// Completes on SIGTERM or SIGINT.
pub async fn termination() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        log::error!("cannot install signal handlers");
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
