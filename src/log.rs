//! One line per event on stderr, which web servers route to their error log.

use std::fmt::Arguments;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Warn as u8);

pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed)
}

fn emit(level: Level, label: &str, args: Arguments<'_>) {
    if enabled(level) {
        // One write per line so lines from threads do not interleave.
        let line = format!("wwz[{}]: {label}: {args}\n", std::process::id());
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

pub fn error(args: Arguments<'_>) {
    emit(Level::Error, "error", args);
}

pub fn warn(args: Arguments<'_>) {
    emit(Level::Warn, "warning", args);
}

pub fn info(args: Arguments<'_>) {
    emit(Level::Info, "info", args);
}

pub fn debug(args: Arguments<'_>) {
    emit(Level::Debug, "debug", args);
}
