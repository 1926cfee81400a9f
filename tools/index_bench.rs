//! `index-bench`: what opening a large archive costs, for figure 4 of
//! `tools/bench`.
//!
//! For each archive given: reads the whole file once (so the page cache is
//! hot and the figure is the index's own cost, not the disk's), then times
//! `wwz::zip::Index::build(&File)` and `wwz::archive::Archive::open(path)`
//! (open + fstat + index + mmap: what the server does on a cache miss) over
//! `--runs` runs, printing the best and the median. Then the index's heap per
//! member (`heap_bytes()` minus the names, divided by the members) and the
//! names' total, and the cost of `Index::get` for names that exist and for
//! absent names of the same length (each made from an existing name by
//! changing one byte), over `--lookups` lookups in a random order.
//!
//! Output is one `key: value` per line (values in ns, bytes or counts), then
//! a machine-readable `INDEX ...` line that `tools/bench` reads.
//!
//! ```text
//! cargo run --release --example index-bench -- [--runs 21] [--lookups 1000000] ARCHIVE...
//! ```

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a benchmark or build tool run by hand on inputs it makes: a panic is a clear stop"
)]

use std::fs::File;
use std::hint::black_box;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use wwz::archive::Archive;
use wwz::zip::Index;

const USAGE: &str = "usage: index-bench [--runs N] [--lookups N] ARCHIVE...";

/// splitmix64: a seeded, dependency-free source of random indexes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn main() -> ExitCode {
    let mut runs = 21usize;
    let mut lookups = 1_000_000usize;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut num = |name: &str| -> Result<usize, String> {
            let v = args.next().ok_or(format!("{name} needs a value"))?;
            v.parse().map_err(|e| format!("{name} {v:?}: {e}"))
        };
        let parsed = match arg.as_str() {
            "--runs" => num("--runs").map(|n| runs = n.max(1)),
            "--lookups" => num("--lookups").map(|n| lookups = n.max(1)),
            "-h" | "--help" => Err(String::new()),
            _ if arg.starts_with("--") => Err(format!("unknown argument {arg:?}")),
            _ => {
                paths.push(arg);
                Ok(())
            }
        };
        if let Err(e) = parsed {
            if !e.is_empty() {
                eprintln!("index-bench: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    }
    if paths.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    for path in &paths {
        if let Err(e) = bench(Path::new(path), runs, lookups) {
            eprintln!("index-bench: {path}: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// Best and median of `runs` timings of `f`.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            black_box(f());
            start.elapsed()
        })
        .collect();
    times.sort_unstable();
    (times[0], times[times.len() / 2])
}

fn bench(path: &Path, runs: usize, lookups: usize) -> Result<(), String> {
    // Warm the page cache: read every byte once.
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let file_len = bytes.len();
    drop(bytes);

    let file = File::open(path).map_err(|e| e.to_string())?;
    // The first build in this process also pays for faulting in fresh heap pages, as a
    // server's first request does; later builds may reuse memory the allocator kept.
    let start = Instant::now();
    let index = Index::build(&file).map_err(|e| e.to_string())?;
    let first = start.elapsed();
    let (build_best, build_median) = time(runs, || Index::build(&file).map(|i| i.len()));
    let (open_best, open_median) = time(runs, || {
        Archive::open(path)
            .map(|a| a.index().len())
            .map_err(|e| format!("{e:?}"))
    });

    let members = index.len();
    let entries = index.entries();
    if members == 0 {
        return Err("no members".into());
    }
    let names_total: usize = entries.iter().map(|e| index.name_of(e).len()).sum();
    let heap = index.heap_bytes();
    let per_member = (heap.saturating_sub(names_total)) as f64 / members as f64;

    // Lookups. Hits: every entry's name. Misses: the same names with one byte
    // changed in the last path segment, kept only when absent.
    let names: Vec<&[u8]> = entries.iter().map(|e| index.name_of(e)).collect();
    let mut rng = Rng(42);
    let mut absent: Vec<Vec<u8>> = Vec::with_capacity(names.len());
    for name in &names {
        let seg = name.iter().rposition(|&b| b == b'/').map_or(0, |p| p + 1);
        if seg >= name.len() {
            continue; // a directory entry
        }
        for _ in 0..8 {
            let mut miss = name.to_vec();
            let at = seg + rng.below(name.len() - seg);
            miss[at] = b'a' + (rng.below(26) as u8);
            if index.get(&miss).is_none() {
                absent.push(miss);
                break;
            }
        }
    }
    if absent.is_empty() {
        return Err("could not make absent names".into());
    }
    let hit_queries: Vec<&[u8]> = (0..lookups)
        .map(|_| names[rng.below(names.len())])
        .collect();
    let miss_queries: Vec<&[u8]> = (0..lookups)
        .map(|_| absent[rng.below(absent.len())].as_slice())
        .collect();
    let run = |queries: &[&[u8]]| -> (Duration, usize) {
        let start = Instant::now();
        let mut found = 0usize;
        for q in queries {
            if index.get(black_box(q)).is_some() {
                found += 1;
            }
        }
        (start.elapsed(), black_box(found))
    };
    // Interleaved, best of five each: a busy machine only ever adds time.
    let (mut hit_best, mut miss_best) = (Duration::MAX, Duration::MAX);
    for _ in 0..5 {
        let (t, found) = run(&hit_queries);
        if found != lookups {
            return Err(format!(
                "{} of {lookups} existing names not found",
                lookups - found
            ));
        }
        hit_best = hit_best.min(t);
        let (t, found) = run(&miss_queries);
        if found != 0 {
            return Err(format!("{found} absent names found"));
        }
        miss_best = miss_best.min(t);
    }
    let ns = |d: Duration| d.as_nanos() as f64;
    let per_lookup = |d: Duration| ns(d) / lookups as f64;
    let ms = |d: Duration| ns(d) / 1e6;

    println!("archive:                {}", path.display());
    println!("file bytes:             {file_len}");
    println!(
        "members:                {members} ({} central directory entries)",
        entries.len()
    );
    println!(
        "Index::build:           best {:.3} ms, median {:.3} ms ({runs} runs, page cache hot)",
        ms(build_best),
        ms(build_median)
    );
    println!(
        "Index::build, first:    {:.3} ms (the first build in this process)",
        ms(first)
    );
    println!(
        "Archive::open:          best {:.3} ms, median {:.3} ms (open + fstat + index + mmap)",
        ms(open_best),
        ms(open_median)
    );
    println!(
        "index heap:             {heap} bytes = {per_member:.1} bytes/member + {names_total} bytes of names"
    );
    println!(
        "lookup hit:             {:.1} ns ({lookups} random existing names, best of 5)",
        per_lookup(hit_best)
    );
    println!(
        "lookup miss:            {:.1} ns ({lookups} random absent names of the same length, best of 5)",
        per_lookup(miss_best)
    );
    println!(
        "INDEX members={members} first_build_ms={:.3} build_best_ms={:.3} build_median_ms={:.3} open_best_ms={:.3} open_median_ms={:.3} heap_bytes={heap} names_bytes={names_total} per_member={per_member:.1} hit_ns={:.1} miss_ns={:.1}",
        ms(first),
        ms(build_best),
        ms(build_median),
        ms(open_best),
        ms(open_median),
        per_lookup(hit_best),
        per_lookup(miss_best)
    );
    Ok(())
}
