//! Headless Chromium, run once per question (`--dump-dom`, `--screenshot`, a net log).

use std::path::Path;
use std::process::{Command, Stdio};

use super::require_tool;

/// Runs headless Chromium with `args` and its profile in `user_dir`.
pub fn chromium(args: &[&str], user_dir: &Path) -> std::process::Output {
    let bin = require_tool("chromium", "chromium");
    Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", user_dir.display()))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run chromium")
}
