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

/// Writes one line at `level` (for the macros below).
pub fn write(level: Level, args: Arguments<'_>) {
    let label = match level {
        Level::Error => "error",
        Level::Warn => "warning",
        Level::Info => "info",
        Level::Debug => "debug",
    };
    emit(level, label, args);
}

/// `log::error!("…", …)`: a fault of the server or its configuration.
macro_rules! log_error {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Error, format_args!($($arg)*)) };
}

/// `log::warn!("…", …)`: something an operator should look at.
macro_rules! log_warn {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Warn, format_args!($($arg)*)) };
}

/// `log::info!("…", …)`: a client's mistake or a notable event.
macro_rules! log_info {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Info, format_args!($($arg)*)) };
}

/// `log::debug!("…", …)`: what a developer needs to follow a connection.
macro_rules! log_debug {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Debug, format_args!($($arg)*)) };
}

// Named `log_*` where they are defined (`warn` is also a built-in
// attribute), used as `log::warn!`.
pub(crate) use {log_debug as debug, log_error as error, log_info as info, log_warn as warn};
