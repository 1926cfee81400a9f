//! The companion tool: subcommands that make, re-align, verify and list the
//! archives wwz serves.
//!
//! - [`pack`]: a directory tree → an aligned, reproducible archive.
//! - [`align`]: any tool's zip → the same members, stored ones aligned.
//! - [`check`]: is an archive servable and safe? One line per problem.
//! - [`ls`]: one line (or JSON object) per member.
//!
//! [`write`](mod@write) is the aligned zip writer `pack` and `align` share; [`read`]
//! reads a whole central directory and local headers for `align`, `check`
//! and `ls` (the server's [`crate::zip::Index`] keeps less).

pub mod align;
pub mod check;
pub mod compress;
pub mod ls;
pub mod pack;
pub mod read;
pub mod write;

use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::zip::IndexError;

/// Why a subcommand failed. Every variant names the file it is about.
#[derive(Debug)]
pub enum Error {
    /// An I/O operation (`what`: "open", "read", "write", …) failed on `path`.
    Io {
        path: PathBuf,
        what: &'static str,
        source: io::Error,
    },
    /// The input is not a zip archive wwz can read.
    Zip { path: PathBuf, source: IndexError },
    /// One member of an input archive cannot be handled.
    Member {
        path: PathBuf,
        name: String,
        problem: String,
    },
    /// A file or option cannot be used, for the reason given.
    Input { path: PathBuf, problem: String },
}

impl Error {
    pub(crate) fn io<'a>(
        path: &'a Path,
        what: &'static str,
    ) -> impl FnOnce(io::Error) -> Error + 'a {
        move |source| Error::Io {
            path: path.to_path_buf(),
            what,
            source,
        }
    }

    pub(crate) fn input(path: &Path, problem: impl Into<String>) -> Error {
        Error::Input {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }

    pub(crate) fn member(path: &Path, name: &[u8], problem: impl Into<String>) -> Error {
        Error::Member {
            path: path.to_path_buf(),
            name: String::from_utf8_lossy(name).into_owned(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, what, source } => {
                write!(f, "{}: cannot {what}: {source}", path.display())
            }
            Error::Zip { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Member {
                path,
                name,
                problem,
            } => write!(
                f,
                "{}: member {}: {problem}",
                path.display(),
                printable(name)
            ),
            Error::Input { path, problem } => write!(f, "{}: {problem}", path.display()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Zip { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Prints `wwz: ERROR` and returns exit status 1: the end of a failed subcommand.
pub(crate) fn fail(e: &Error) -> ExitCode {
    eprintln!("wwz: {e}");
    ExitCode::FAILURE
}

/// A member name for people: UTF-8 as is, other bytes replaced.
pub(crate) fn display_name(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

/// `s` for a terminal: control characters (escape sequences, NUL, newlines in
/// member names) are shown escaped (`\u{1b}`) instead of being sent raw.
pub(crate) fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return s.into();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

/// A file being written beside its final path, renamed into place by
/// [`Output::commit`] after an fsync, removed if dropped before that. A live
/// archive is therefore never rewritten in place: readers that have it mapped
/// keep the old inode.
pub struct Output {
    file: Option<File>,
    tmp: PathBuf,
    dest: PathBuf,
}

impl Output {
    pub fn create(dest: &Path) -> Result<Output, Error> {
        use std::os::unix::fs::OpenOptionsExt;
        let name = dest
            .file_name()
            .ok_or_else(|| Error::input(dest, "output path has no file name"))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".tmp{}", std::process::id()));
        let tmp = dest.with_file_name(tmp_name);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(Error::io(&tmp, "create"))?;
        Ok(Output {
            file: Some(file),
            tmp,
            dest: dest.to_path_buf(),
        })
    }

    /// The temporary path (to keep it out of a tree being packed).
    pub fn tmp_path(&self) -> &Path {
        &self.tmp
    }

    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Takes the file to write into; give it back with [`Output::commit`].
    pub fn take_file(&mut self) -> Option<File> {
        self.file.take()
    }

    /// fsyncs `file` (the one taken), renames it over the destination and
    /// fsyncs the directory so the rename is durable too.
    pub fn commit(mut self, file: File) -> Result<(), Error> {
        file.sync_all().map_err(Error::io(&self.tmp, "fsync"))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.dest).map_err(Error::io(&self.dest, "rename into"))?;
        // Renamed: nothing left to clean up.
        self.tmp = PathBuf::new();
        let dir = match self.dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_names() {
        assert_eq!(printable("a\u{1b}[31m\0b"), "a\\u{1b}[31m\\u{0}b");
        assert_eq!(printable("plain é"), "plain é");
    }
}
