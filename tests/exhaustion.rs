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

/// Raises this process's descriptor limit to its hard limit (children
/// inherit it) and returns how many idle connections both sides can hold.
fn raise_nofile(want: usize) -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a valid struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    let room = usize::try_from(lim.rlim_cur)
        .unwrap_or(usize::MAX)
        .saturating_sub(200);
    want.min(room)
}

/// 10,000 idle connections (fewer only if the hard descriptor limit is
/// lower; the number is printed) are held with bounded memory and one
/// descriptor each, a well-behaved client is served meanwhile, and the idle
/// timeout closes them all.
#[test]
fn ten_thousand_idle_connections_are_held_then_timed_out() {
    let _one = exclusive();
    let idle_count = raise_nofile(10_000);
    eprintln!("idle connections: {idle_count}");
    let site = Site::new();
    let w = Wwz::start(
        &site,
        Transport::Unix,
        // Long enough that the first connection cannot time out before the
        // last is accepted, even on a loaded machine.
        &["--max-connections", "12000", "--idle-timeout", "25"],
    );
    let pid = w.proc.child.id();
    let Addr::Unix(path) = &w.addr else {
        unreachable!()
    };
    let base_fds = open_fds(pid);
    let mut idle = Vec::with_capacity(idle_count);
    for _ in 0..idle_count {
        idle.push(UnixStream::connect(path).expect("connect an idle client"));
    }
    // `base_fds` may still count the probe connection that found the socket
    // up; it closes at its own pace, so allow for it.
    wait_until(
        "all idle connections accepted",
        Duration::from_secs(24),
        || open_fds(pid) + 1 >= base_fds + idle_count,
    );
    let fds = open_fds(pid);
    let (_, rss) = memory_kib(pid);
    let reply = w.client().get(1, false, &get_params("/site.wwz/style.css"));
    assert_eq!(reply.status, 200);
    eprintln!("{idle_count} idle connections: {fds} descriptors, VmRSS {rss} KiB");
    assert!(fds <= base_fds + idle_count + 16, "{fds} descriptors");
    assert!(
        rss < 256 * 1024,
        "VmRSS {rss} KiB with {idle_count} idle connections"
    );
    // The idle timeout closes them: every client sees EOF, descriptors return.
    wait_until("idle connections closed", Duration::from_secs(60), || {
        open_fds(pid) <= base_fds + 4
    });
    let mut buf = [0u8; 8];
    for s in idle.iter_mut().take(100) {
        s.set_read_timeout(Some(WAIT)).unwrap();
        assert_eq!(s.read(&mut buf).unwrap_or(0), 0);
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
    let idle_count = raise_nofile(3_000);
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

    // Idle connections were closed to make room: at least the ones beyond the limit.
    let mut closed = 0;
    let mut buf = [0u8; 8];
    for s in &mut idle {
        s.set_nonblocking(true).unwrap();
        if matches!(s.read(&mut buf), Ok(0)) {
            closed += 1;
        }
    }
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
    let beyond = idle_count.saturating_sub(1000);
    assert!(closed >= beyond, "only {closed} idle connections closed");
    assert!(counted >= beyond as u64, "status page counts {counted}");
    assert!(w
        .proc
        .stderr()
        .contains("closing the connection idle longest"));
}
