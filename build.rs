//! Records the commit the binary is built from, for `wwz --version`:
//! `WWZ_COMMIT` = "abc1234 2026-12-03" (short hash and commit date), or
//! "unknown" when built outside a git checkout (e.g. from a source tarball).
//!
//! Cargo reruns this only when HEAD or the branch it points to moves, so an
//! ordinary edit-build cycle does not rebuild the crate for it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "the build script reads this checkout: a panic is a clear build error"
)]

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// `git rev-parse --git-path NAME` (handles worktrees, whose HEAD and refs
/// live in different directories), if that file exists.
fn git_path(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(git(&[
        "rev-parse",
        "--path-format=absolute",
        "--git-path",
        name,
    ])?);
    p.exists().then_some(p)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let commit = git(&["log", "-1", "--format=%h %cs"]);
    if commit.is_some() {
        // HEAD moves on checkout; the branch ref (or packed-refs) on commit.
        let mut watched = vec![git_path("HEAD")];
        if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(git_path(&r));
        }
        watched.push(git_path("packed-refs"));
        for p in watched.into_iter().flatten() {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    }
    println!(
        "cargo:rustc-env=WWZ_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
}
