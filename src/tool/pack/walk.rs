//! The walk of the input tree: every directory and file to pack, in the
//! order they are written (byte order within each directory, depth first),
//! symbolic links followed, with the names they get in the archive. It
//! reads no file's data; the pipeline does.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::tool::Error;
use crate::zip::name::member_name_problem;

/// One thing to pack, found by the walk.
pub(super) struct Item {
    /// The member name: `/`-separated, directories end in `/`.
    pub(super) name: String,
    pub(super) path: PathBuf,
    /// For directories, their mtime (files are stat'ed when opened).
    pub(super) dir_mtime: Option<i64>,
}

/// Appends the entries under `dir` (member names starting with `prefix`) in sorted order.
pub(super) fn walk(
    dir: &Path,
    prefix: &str,
    ancestors: &mut Vec<(u64, u64)>,
    items: &mut Vec<Item>,
    mtime: Option<i64>,
) -> Result<(), Error> {
    let mut entries = Vec::new();
    for e in fs::read_dir(dir).map_err(Error::io(dir, "read directory"))? {
        let e = e.map_err(Error::io(dir, "read directory"))?;
        let ft = e.file_type().map_err(Error::io(&e.path(), "stat"))?;
        entries.push((e.file_name(), ft));
    }
    entries.sort_unstable_by(|a, b| a.0.as_encoded_bytes().cmp(b.0.as_encoded_bytes()));
    for (file_name, mut ft) in entries {
        let path = dir.join(&file_name);
        let Some(name) = file_name.to_str() else {
            return Err(Error::input(&path, "file name is not UTF-8"));
        };
        let member = format!("{prefix}{name}");
        if let Some(problem) = member_name_problem(member.as_bytes()) {
            return Err(Error::input(
                &path,
                format!("cannot be a member: {problem}"),
            ));
        }
        let mut meta = None;
        if ft.is_symlink() {
            // Followed: the link's target is packed under the link's name.
            let m = fs::metadata(&path).map_err(|e| {
                Error::input(&path, format!("symbolic link cannot be followed: {e}"))
            })?;
            ft = m.file_type();
            meta = Some(m);
        }
        if ft.is_dir() {
            let m = match meta {
                Some(m) => m,
                None => fs::metadata(&path).map_err(Error::io(&path, "stat"))?,
            };
            let id = (m.dev(), m.ino());
            if ancestors.contains(&id) {
                return Err(Error::input(&path, "symbolic link loop"));
            }
            let member = member + "/";
            items.push(Item {
                name: member.clone(),
                path: path.clone(),
                dir_mtime: Some(mtime.unwrap_or(m.mtime())),
            });
            ancestors.push(id);
            walk(&path, &member, ancestors, items, mtime)?;
            ancestors.pop();
        } else if ft.is_file() {
            items.push(Item {
                name: member,
                path,
                dir_mtime: None,
            });
        } else {
            let kind = if ft.is_socket() {
                "socket"
            } else if ft.is_fifo() {
                "FIFO"
            } else if ft.is_block_device() || ft.is_char_device() {
                "device"
            } else {
                "special file"
            };
            eprintln!(
                "wwz pack: {}: skipped: a {kind} cannot be packed",
                path.display()
            );
        }
    }
    Ok(())
}
