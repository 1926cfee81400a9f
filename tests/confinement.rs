//! Confinement to the docroot under attack: a directory on the archive's
//! path is swapped with a symlink to the outside, atomically and in a tight
//! loop, while requests run. Whatever the timing, no byte of the archive
//! outside is ever served; symlinks that stay inside keep working.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::common::*;
use rustix::fs::{renameat_with, RenameFlags, CWD};

const INSIDE: &[u8] = b"inside-the-docroot";
const CANARY: &[u8] = b"CANARY-outside-the-docroot-5d1e";
const REQUESTS: usize = 10_000;

/// `docroot/d` is a real directory holding `x.wwz`, or a symlink (absolute
/// or relative) to a directory outside holding a canary `x.wwz`; a swapper
/// thread exchanges the two names with renameat2(RENAME_EXCHANGE).
fn race(symlink_target: impl Fn(&std::path::Path) -> std::path::PathBuf) {
    let site = Site::new();
    let outside = site.path("outside");
    std::fs::create_dir_all(&outside).unwrap();
    zip_files(&outside.join("x.wwz"), &[("m.txt", CANARY)]);
    let real = site.docroot.join("d");
    std::fs::create_dir_all(&real).unwrap();
    zip_files(&real.join("x.wwz"), &[("m.txt", INSIDE)]);
    let swap = site.docroot.join("d.swap");
    std::os::unix::fs::symlink(symlink_target(&outside), &swap).unwrap();

    // Every request stats the archive and reopens it when it changed.
    let w = Wwz::start(&site, Transport::Unix, &["--revalidate-ms", "0"]);
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicU64::new(0));
    let swapper = {
        let (stop, swaps) = (Arc::clone(&stop), Arc::clone(&swaps));
        let (real, swap) = (real.clone(), swap.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                renameat_with(CWD, &real, CWD, &swap, RenameFlags::EXCHANGE).unwrap();
                swaps.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    let params = nginx_params(&site, "GET", "/d/x.wwz/m.txt");
    let mut client = w.client();
    let (mut served, mut refused) = (0, 0);
    for i in 0..REQUESTS {
        let id = u16::try_from(i % 60_000 + 1).unwrap();
        let reply = client.get(id, true, &params);
        assert!(
            !reply.body.windows(CANARY.len()).any(|w| w == CANARY),
            "request {i}: a byte from outside the docroot was served: {reply:?}"
        );
        match reply.status {
            200 => {
                assert_eq!(reply.body, INSIDE);
                served += 1;
            }
            404 => refused += 1,
            other => panic!("request {i}: status {other}: {reply:?}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    let swaps = swaps.load(Ordering::Relaxed);
    eprintln!(
        "{REQUESTS} requests during {swaps} swaps: {served} served from inside, {refused} refused"
    );
    // The race really ran: the name flipped many times and both sides were seen.
    assert!(swaps > REQUESTS as u64 / 10, "only {swaps} swaps");
    assert!(
        served > 0 && refused > 0,
        "served {served}, refused {refused}"
    );
}

#[test]
fn swapping_a_directory_for_an_absolute_symlink_never_serves_outside_bytes() {
    race(|outside| outside.to_path_buf());
}

#[test]
fn swapping_a_directory_for_a_relative_symlink_never_serves_outside_bytes() {
    race(|_| "../outside".into());
}

/// Symlinks that resolve inside the docroot, relative and absolute, to an
/// archive and to a directory of archives, are followed as before.
#[test]
fn symlinks_inside_the_docroot_keep_working() {
    let site = Site::new();
    let root = &site.docroot;
    std::os::unix::fs::symlink("site.wwz", root.join("relative.wwz")).unwrap();
    std::os::unix::fs::symlink(root.join("site.wwz"), root.join("absolute.wwz")).unwrap();
    std::os::unix::fs::symlink(root, root.join("again")).unwrap();
    let w = Wwz::start(&site, Transport::Unix, &[]);
    for uri in [
        "/relative.wwz/style.css",
        "/absolute.wwz/style.css",
        "/again/site.wwz/style.css",
    ] {
        let reply = w.client().get(1, false, &nginx_params(&site, "GET", uri));
        assert_eq!(reply.status, 200, "{uri}: {reply:?}");
        assert_eq!(reply.body, site.file("style.css"), "{uri}");
    }
}
