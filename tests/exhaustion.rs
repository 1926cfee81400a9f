//! Resource exhaustion through the real binary: 10,000 idle connections,
//! slow-drip records, a params flood, thousands of archives under a small
//! descriptor limit, and running out of descriptors altogether. Memory
//! (VmRSS, VmHWM) and descriptors (/proc/PID/fd) are read from /proc.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;
use wwz::front::fcgi::record::{self, kind};

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The tests here each push one resource to its limit; run one at a time so
/// they measure wwz, not each other (10,000 connects racing a 64 MiB flood).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn get_params(uri: &str) -> Vec<(String, Vec<u8>)> {
    vec![
        ("REQUEST_METHOD".into(), b"GET".to_vec()),
        ("REQUEST_URI".into(), uri.as_bytes().to_vec()),
    ]
}

/// `sh -c 'ulimit -n N; exec wwz serve --listen unix:… --docroot … extra…'`.
fn start_limited(site: &Site, nofile: u32, extra: &[&str]) -> Wwz {
    let sock = site.path(&format!("limited-{nofile}.sock"));
    let mut script = format!(
        "ulimit -n {nofile} && exec \"$0\" serve --listen unix:{} --docroot {}",
        sock.display(),
        site.docroot.display()
    );
    for e in extra {
        script.push(' ');
        script.push_str(e);
    }
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).arg(wwz_bin());
    let mut proc = spawn(
        cmd,
        "wwz (ulimit)",
        site.path(&format!("limited-{nofile}.stderr")),
    );
    let addr = Addr::Unix(sock);
    wait_for(&addr, &mut proc);
    Wwz { proc, addr }
}

/// Descriptors a process needs beyond the connections a test holds: the
/// standard streams, the listening socket, the runtime's, archives, pipes.
const NOFILE_HEADROOM: usize = 200;

/// Raises this process's descriptor limit to its hard limit (children
/// inherit it) so that both this process and wwz can hold `connections`
/// sockets at once. Fails the test when the hard limit is too low: holding
/// fewer would leave the assertions about eviction and descriptors with
/// nothing to bite on.
fn raise_nofile(connections: usize) {
    let need = connections + NOFILE_HEADROOM;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a valid struct.
    let raised = unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = lim.rlim_max;
        let set = libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0;
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        set
    };
    let have = usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX);
    assert!(
        raised && have >= need,
        "this test holds {connections} connections, so it needs a descriptor limit of at \
         least {need} (soft and hard); the limit is {} (hard {}){}. Raise the hard limit \
         before running the tests, e.g. `ulimit -Hn {need}` as root in the shell that runs \
         them, `LimitNOFILE={need}` in a systemd unit, `--ulimit nofile={need}:{need}` for \
         docker, or a `nofile` line in /etc/security/limits.conf.",
        lim.rlim_cur,
        lim.rlim_max,
        if raised {
            ""
        } else {
            "; setrlimit refused to raise the soft limit to the hard one"
        },
    );
}

/// On an idle machine a connection is made and accepted in about 0.1 ms;
/// this is the allowance per connection for a wait that covers many of them
/// (stretched further by the load, see `patience`).
const PER_CONNECTION: Duration = Duration::from_millis(2);

/// `count` times [`PER_CONNECTION`]: the work of `count` connections.
fn for_connections(count: usize) -> Duration {
    PER_CONNECTION * u32::try_from(count).unwrap()
}

/// The unix socket path of `w`.
fn socket_path(w: &Wwz) -> std::path::PathBuf {
    let Addr::Unix(path) = &w.addr else {
        unreachable!("the tests here listen on unix sockets")
    };
    path.clone()
}

/// Waits until wwz holds no connection (the probe that found its socket and
/// any answered request closed) and returns its descriptors then: what it
/// holds with no connection once it has served (runtime, watcher, archive).
fn settled_fds(w: &Wwz) -> usize {
    let path = socket_path(w);
    wait_until("wwz to close its earlier connections", WAIT, || {
        connected_unix_sockets(&path) == 0
    });
    open_fds(w.proc.child.id())
}

/// 10,000 idle connections are held with bounded memory and one descriptor
/// each, a well-behaved client is served meanwhile, and the idle timeout
/// closes them all.
#[test]
fn ten_thousand_idle_connections_are_held_then_timed_out() {
    let _one = exclusive();
    const IDLE: usize = 10_000;
    raise_nofile(IDLE);
    const IDLE_TIMEOUT: Duration = Duration::from_secs(25);
    let site = Site::new();
    let w = Wwz::start(
        &site,
        Transport::Unix,
        &[
            "--max-connections",
            "12000",
            "--idle-timeout",
            &IDLE_TIMEOUT.as_secs().to_string(),
            "--status-path",
            "/wwz-status",
        ],
    );
    let pid = w.proc.child.id();
    let path = socket_path(&w);
    // The baseline once wwz has served a request: its runtime, watcher and
    // the archive are open by then (a count taken as soon as the socket
    // answers can miss descriptors wwz opens a moment later, and then the
    // closed connections never seem to return to it).
    let reply = w.client().get(1, false, &get_params("/site.wwz/style.css"));
    assert_eq!(reply.status, 200);
    let base_fds = settled_fds(&w);
    let connecting = Instant::now();
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        idle.push(UnixStream::connect(&path).expect("connect an idle client"));
    }
    // Accepting them all is work per connection; it must also end before the
    // first one's idle timeout, or the count could never reach them all.
    let allowance = for_connections(IDLE).min(IDLE_TIMEOUT.saturating_sub(connecting.elapsed()));
    wait_until_or(
        "all idle connections accepted (wwz's count of idle connections)",
        allowance,
        || w.status_figure(&site, "connections_idle") >= IDLE as u64,
        || {
            format!(
                "; {} descriptors, {base_fds} before, after {:?} of a {IDLE_TIMEOUT:?} idle timeout",
                open_fds(pid),
                connecting.elapsed()
            )
        },
    );
    let held_after = connecting.elapsed();
    assert!(
        held_after < IDLE_TIMEOUT,
        "holding {IDLE} connections took {held_after:?}, longer than the idle timeout: \
         the first may have timed out before the last was accepted"
    );
    let fds = open_fds(pid);
    let (_, rss) = memory_kib(pid);
    assert_eq!(w.status_figure(&site, "connections_idle"), IDLE as u64);
    assert!(
        fds >= base_fds + IDLE,
        "{fds} descriptors for {IDLE} connections"
    );
    let reply = w.client().get(1, false, &get_params("/site.wwz/style.css"));
    assert_eq!(reply.status, 200);
    eprintln!(
        "{IDLE} idle connections held after {held_after:?}: {fds} descriptors ({base_fds} \
         before), VmRSS {rss} KiB"
    );
    assert!(fds <= base_fds + IDLE + 16, "{fds} descriptors");
    assert!(
        rss < 256 * 1024,
        "VmRSS {rss} KiB with {IDLE} idle connections"
    );
    // The idle timeout closes them, by wwz's own count: each connection's
    // timer fires the idle timeout after it was accepted (all were by now),
    // then closing is work per connection. The bound is there for a server
    // that never closes them.
    let timing_out = Instant::now();
    wait_until_or(
        "idle connections closed by the idle timeout",
        IDLE_TIMEOUT + for_connections(IDLE),
        || w.status_figure(&site, "connections_idle") == 0,
        || format!("; {} descriptors", open_fds(pid)),
    );
    eprintln!(
        "idle connections closed {:?} after all were held",
        timing_out.elapsed()
    );
    // Descriptors return to what they were before the connections.
    wait_until_or(
        "wwz's descriptors to return to their count before the connections",
        WAIT,
        || open_fds(pid) <= base_fds,
        || format!("; {} descriptors, {base_fds} before", open_fds(pid)),
    );
    // Every client sees EOF (the server closed each one; a read that times
    // out means the connection is still open, and that is a failure).
    let mut buf = [0u8; 8];
    for (i, s) in idle.iter_mut().enumerate() {
        s.set_read_timeout(Some(patience(WAIT))).unwrap();
        match s.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Ok(n) => panic!("idle client {i} was sent {n} bytes instead of being closed"),
            Err(e) => {
                panic!("idle client {i}: no EOF after wwz closed every idle connection ({e})")
            }
        }
    }
    let reply = w.client().get(1, false, &get_params("/site.wwz/style.css"));
    assert_eq!(reply.status, 200);
}

/// Slowloris: a request dripped one byte every 100 ms never completes a
/// record within the 1 s idle timeout, so the connection is closed long
/// before the drip ends (it would take ~30 s), while other clients are served.
#[test]
fn slow_drip_records_hit_the_idle_timeout() {
    let _one = exclusive();
    let site = Site::new();
    let w = Wwz::start(&site, Transport::Unix, &["--idle-timeout", "1"]);
    let Addr::Unix(path) = &w.addr else {
        unreachable!()
    };
    let request = request_bytes(1, true, &get_params("/site.wwz/style.css"));
    let drips: Vec<_> = (0..20)
        .map(|_| {
            let path = path.clone();
            let request = request.clone();
            std::thread::spawn(move || {
                let mut s = UnixStream::connect(&path).unwrap();
                s.set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                let start = Instant::now();
                let mut buf = [0u8; 64];
                for (sent, byte) in request.iter().enumerate() {
                    if s.write_all(&[*byte]).is_err() {
                        return Some((sent, start.elapsed()));
                    }
                    // The read doubles as the 100 ms pause between drips.
                    match s.read(&mut buf) {
                        Ok(0) => return Some((sent, start.elapsed())),
                        Ok(_) => panic!("a dripped request got an answer"),
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) => {}
                        Err(_) => return Some((sent, start.elapsed())),
                    }
                }
                None
            })
        })
        .collect();
    // Meanwhile, a well-behaved client.
    for _ in 0..5 {
        let reply = w.client().get(1, false, &get_params("/site.wwz/style.css"));
        assert_eq!(reply.status, 200);
    }
    for d in drips {
        let (sent, after) = d
            .join()
            .unwrap()
            .unwrap_or_else(|| panic!("a slow drip of {} bytes was never cut off", request.len()));
        eprintln!(
            "slow drip cut off after {sent} of {} bytes, {after:?}",
            request.len()
        );
        assert!(sent < request.len());
    }
    let reply = w.client().get(1, false, &get_params("/site.wwz/style.css"));
    assert_eq!(reply.status, 200);
}

/// A params flood (64 MiB of PARAMS records) gets 431 and a close, and
/// 64 MiB of STDIN after an answered request is drained, both with bounded
/// memory; the server keeps serving.
#[test]
fn params_and_stdin_floods_are_bounded() {
    let _one = exclusive();
    let site = Site::new();
    let mut w = Wwz::start(&site, Transport::Unix, &[]);
    let pid = w.proc.child.id();
    let chunk = vec![b'x'; record::MAX_CONTENT];
    let flood = |c: &mut Client, kind: u8, id: u16| {
        let mut stream = match &c.stream {
            Stream::Unix(s) => s.try_clone().unwrap(),
            Stream::Tcp(_) => unreachable!(),
        };
        let rec = record_bytes(kind, id, &chunk);
        std::thread::spawn(move || {
            for _ in 0..1024 {
                if stream.write_all(&rec).is_err() {
                    return false;
                }
            }
            true
        })
    };
    // PARAMS flood: 431, then the connection closes; the writer gets cut off.
    let mut c = w.client();
    c.send(&begin_bytes(1, record::role::RESPONDER, true));
    let writer = flood(&mut c, kind::PARAMS, 1);
    let reply = c.read_reply(1);
    assert_eq!(reply.status, 431);
    let _ = c.read_until_closed();
    assert!(
        !writer.join().unwrap(),
        "64 MiB of params were all accepted"
    );
    // STDIN flood after a complete request on a kept connection: drained.
    let mut c = w.client();
    let reply = c.get(1, true, &get_params("/site.wwz/style.css"));
    assert_eq!(reply.status, 200);
    let writer = flood(&mut c, kind::STDIN, 1);
    assert!(writer.join().unwrap(), "the server stopped reading STDIN");
    let reply = c.get(2, true, &get_params("/site.wwz/style.css"));
    assert_eq!(reply.status, 200);
    let (hwm, rss) = memory_kib(pid);
    eprintln!("floods: VmHWM {hwm} KiB, VmRSS {rss} KiB");
    assert!(hwm < 64 * 1024, "peak RSS {hwm} KiB");
    w.assert_healthy(&site);
}

/// 2,000 distinct archives under `ulimit -n 256` with `--max-archives 64`:
/// all served, descriptors stay under the cap, memory stays bounded.
#[test]
fn thousands_of_archives_under_a_small_descriptor_limit() {
    let _one = exclusive();
    const ARCHIVES: usize = 2_000;
    let site = Site::new();
    let many = site.docroot.join("many");
    std::fs::create_dir_all(&many).unwrap();
    let one = site.docroot.join("site.wwz");
    for i in 0..ARCHIVES {
        // Hard links: distinct paths, one inode; each is opened on its own.
        std::fs::hard_link(&one, many.join(format!("a{i:04}.wwz"))).unwrap();
    }
    let w = start_limited(&site, 256, &["--max-archives", "64"]);
    let pid = w.proc.child.id();
    let mut max_fds = 0;
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let addr = w.addr.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(&addr);
                for i in (t..ARCHIVES).step_by(4) {
                    let r = c.get(
                        1,
                        true,
                        &get_params(&format!("/many/a{i:04}.wwz/style.css")),
                    );
                    assert_eq!(r.status, 200, "archive {i}: {r:?}");
                }
            })
        })
        .collect();
    while threads.iter().any(|t| !t.is_finished()) {
        max_fds = max_fds.max(open_fds(pid));
        // The sampling interval: what is measured is the maximum while the load runs.
        std::thread::sleep(Duration::from_millis(5));
    }
    for t in threads {
        t.join().unwrap();
    }
    let fds = open_fds(pid);
    let (hwm, _) = memory_kib(pid);
    eprintln!(
        "{ARCHIVES} archives, --max-archives 64, ulimit -n 256: max {max_fds} descriptors sampled, {fds} at the end, VmHWM {hwm} KiB"
    );
    assert!(max_fds <= 64 + 32, "{max_fds} descriptors");
    assert!(hwm < 64 * 1024, "peak RSS {hwm} KiB");
    let r = w.client().get(1, false, &get_params("/site.wwz/style.css"));
    assert_eq!(r.status, 200);
}

/// Regression: when every descriptor is taken (here by idle connections under
/// `ulimit -n 64`), opening an archive fails with EMFILE. That used to be
/// cached as a broken archive (500 until the file changed); it is now a 503,
/// not remembered, and the archive opens once descriptors are free.
#[test]
fn emfile_is_a_503_and_the_archive_opens_once_descriptors_free_up() {
    let _one = exclusive();
    let site = Site::new();
    // A connection limit above the descriptor limit: by default wwz derives
    // its limit from the descriptors and closes idle connections at it, so
    // idle connections could never exhaust them.
    let w = start_limited(
        &site,
        64,
        &["--max-archives", "8", "--max-connections", "1000"],
    );
    let pid = w.proc.child.id();
    let Addr::Unix(path) = &w.addr else {
        unreachable!()
    };
    let mut first = w.client();
    let r = first.get(1, true, &get_params("/site.wwz/style.css"));
    assert_eq!(r.status, 200);
    // Take every descriptor the server has left.
    let mut flood: Vec<UnixStream> = Vec::new();
    for _ in 0..80 {
        flood.push(UnixStream::connect(path).unwrap());
    }
    wait_until("the descriptor table to fill", WAIT, || open_fds(pid) >= 64);
    let r = first.get(2, true, &get_params("/py.wwz/style.css"));
    assert_eq!(r.status, 503, "{r:?}");
    // Free the descriptors; the same archive now opens.
    drop(flood);
    wait_until("descriptors to be released", WAIT, || open_fds(pid) < 40);
    let r = first.get(3, true, &get_params("/py.wwz/style.css"));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, site.file("style.css"));
}

/// 3,000 idle connections against `--max-connections 1000`: each new
/// connection at the limit takes the place of the one idle longest, so a
/// request on a fresh connection afterwards is answered (the time is
/// printed; RELIABILITY.md records it). Connections in the middle of a
/// request or a response are never the ones closed: a slow reader of an
/// 8 MiB member and a half-sent request both complete. The status page counts
/// the closed connections.
#[test]
fn idle_connections_make_room_for_new_ones_at_the_limit() {
    let _one = exclusive();
    let idle_count = 3_000;
    raise_nofile(idle_count);
    let site = Site::new();
    let big = noise(8 << 20, 0xb16);
    zip_files(&site.docroot.join("big.wwz"), &[("big.bin", &big)]);
    let w = Wwz::start(
        &site,
        Transport::Unix,
        &[
            "--max-connections",
            "1000",
            "--idle-timeout",
            "120",
            "--status-path",
            "/wwz-status",
            "--log-level",
            "info",
        ],
    );
    let Addr::Unix(path) = &w.addr else {
        unreachable!()
    };

    // Mid-response: a slow reader that has taken one record of 8 MiB.
    let mut slow = w.client();
    if let Stream::Unix(s) = &slow.stream {
        socket2::SockRef::from(s)
            .set_recv_buffer_size(4096)
            .unwrap();
    }
    slow.send(&request_bytes(1, true, &get_params("/big.wwz/big.bin")));
    let mut stdout = Vec::new();
    let first = slow.read_record();
    assert_eq!(first.kind, kind::STDOUT);
    stdout.extend_from_slice(&first.content);
    // Mid-request: BEGIN_REQUEST and params without their end.
    let mut half = w.client();
    half.send(&record_bytes(
        kind::BEGIN_REQUEST,
        1,
        &record::BeginRequest {
            role: record::role::RESPONDER,
            flags: record::KEEP_CONN,
        }
        .encode(),
    ));
    half.send_record(
        kind::PARAMS,
        1,
        &encode_params(&get_params("/site.wwz/style.css")),
    );

    let mut idle = Vec::with_capacity(idle_count);
    for _ in 0..idle_count {
        idle.push(UnixStream::connect(path).expect("connect an idle client"));
    }
    let start = Instant::now();
    let reply = w.client().get(1, false, &get_params("/site.wwz/style.css"));
    let answered_after = start.elapsed();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, site.file("style.css"));

    // The half-sent request completes and is answered.
    half.send_record(kind::PARAMS, 1, &[]);
    let r = half.read_reply(1);
    assert_eq!(r.body, site.file("style.css"));
    // The slow reader gets every byte.
    loop {
        let rec = slow.read_record();
        match rec.kind {
            kind::STDOUT => stdout.extend_from_slice(&rec.content),
            kind::END_REQUEST => break,
            other => panic!("unexpected record type {other}"),
        }
    }
    let (status, _, body) = parse_cgi(&stdout);
    assert_eq!(status, 200);
    assert!(body == big, "the 8 MiB member arrived changed");

    // Idle connections were closed to make room: at least the ones beyond
    // the limit. Each was chosen when a newer one was accepted, and closes on
    // its own task a moment later: wait for the clients to see it (work per
    // connection; the bound is there for a server that never closes them).
    let beyond = idle_count.saturating_sub(1000);
    let mut buf = [0u8; 8];
    for s in &idle {
        s.set_nonblocking(true).unwrap();
    }
    let mut closed = 0;
    poll(WAIT + for_connections(beyond), || {
        closed = idle
            .iter_mut()
            .map(|s| matches!(s.read(&mut buf), Ok(0)))
            .filter(|&eof| eof)
            .count();
        closed >= beyond
    });
    let status = w
        .client()
        .get(1, false, &get_params("/wwz-status?json"))
        .body;
    let status: serde_json::Value = serde_json::from_slice(&status).expect("status JSON");
    let counted = status["connections_idle_closed"]
        .as_u64()
        .unwrap_or_else(|| panic!("no idle-closed count in {status}"));
    eprintln!(
        "{idle_count} idle connections at --max-connections 1000: a new request answered after \
         {answered_after:?}; {closed} idle clients saw their connection closed, the status page \
         counts {counted}"
    );
    assert!(closed >= beyond, "only {closed} idle connections closed");
    assert!(counted >= beyond as u64, "status page counts {counted}");
    assert!(w
        .proc
        .stderr()
        .contains("closing the connection idle longest"));
}
