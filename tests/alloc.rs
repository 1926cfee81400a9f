//! The hot path allocates nothing: answering a GET for a stored member, after
//! the archive is open, costs no heap allocation (issue: per-request work on
//! the hot path). Counted with a global allocator that tallies this thread.
//!
//! The allocator serves the whole test binary, but it counts only on the
//! thread inside [`allocations`], so tests running alongside add nothing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use crate::common;
use wwz::archive::Cache;
use wwz::http::{Body, Params};
use wwz::service::Service;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    COUNT.with(Cell::get)
}

#[test]
fn stored_member_get_allocates_nothing() {
    let dir = common::tempdir();
    common::zip_files(
        &dir.path().join("site.wwz"),
        &[
            ("index.html", b"<p>hi</p>"),
            ("logs/build.log", &[b'x'; 1024]),
        ],
    );
    let service = Service::new(
        Some(dir.path().to_path_buf()),
        Cache::new(16, Duration::from_secs(3600)),
    );
    let docroot = dir.path().to_str().unwrap().to_owned();
    // What nginx's stock fastcgi_params sends for a GET, without validators or Range.
    let params = [
        ("QUERY_STRING", ""),
        ("REQUEST_METHOD", "GET"),
        ("SCRIPT_NAME", "/site.wwz/logs/build.log"),
        ("REQUEST_URI", "/site.wwz/logs/build.log"),
        ("DOCUMENT_URI", "/site.wwz/logs/build.log"),
        ("DOCUMENT_ROOT", docroot.as_str()),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("HTTP_HOST", "localhost"),
        ("HTTP_ACCEPT_ENCODING", "gzip"),
        ("HTTP_USER_AGENT", "test"),
    ];
    let mut head = Vec::with_capacity(1024);
    let mut answer = |params: &dyn Params| {
        let resp = service.respond(params);
        head.clear();
        resp.write_head(&mut head);
        assert_eq!(resp.status.code(), 200);
        assert!(matches!(resp.body, Body::Mapped { len: 1024, .. }));
    };
    // The first request opens the archive and reads the member's local header.
    answer(&params);
    let n = allocations(|| {
        for _ in 0..100 {
            answer(&params);
        }
    });
    assert_eq!(n, 0, "{n} allocations in 100 requests");
    // The counter does count: a directory request formats a name.
    let dir_params = [
        ("REQUEST_METHOD", "GET"),
        ("REQUEST_URI", "/site.wwz/"),
        ("DOCUMENT_ROOT", docroot.as_str()),
    ];
    assert!(allocations(|| drop(service.respond(&dir_params))) > 0);
}
