//! Reading zip archives for serving: record layouts, the end records that
//! locate the central directory, and the index built from it.
//!
//! - [`format`]: APPNOTE record layouts over byte slices.
//! - [`end`]: finding and checking the end of central directory records.
//! - [`read`]: positional reads, and the central directory walked through one buffer.
//! - [`entry`]: one member in 36 bytes, and its bits (siblings, encryption).
//! - [`index`]: member name → entry, the lookups every request makes.
//! - `open`: [`Index::build`], the one place that chooses how an index is made:
//!   - [`packed`]: read from the block `wwz pack` writes before the central directory;
//!   - `directory`: built from the central directory, as for any zip.
//! - `local`: where a member's data starts ([`Index::data_offset`]).
//! - [`table`]: the name table (open addressing, a hash of our own).
//! - [`tree`]: directory questions (is this a directory, what does it hold).
//! - [`name`]: which member names are safe to serve.
//! - [`error`]: why an archive or a member cannot be read.
//! - [`stream`]: the layout of a zip made of another archive's members, walked as pieces (`DIR/?zip`).
//! - [`write`](mod@write): the records wwz writes (headers, end records), for `wwz pack` and `DIR/?zip`.
//!
//! Imports run one way: `entry`, `table` ← `index` ← `directory` ← `packed`
//! ← `open`; `local` and `tree` add methods to [`Index`] and are imported by
//! no one.

mod directory;
pub mod end;
pub mod entry;
pub mod error;
pub mod format;
pub mod index;
mod local;
pub mod name;
mod open;
pub mod packed;
pub mod read;
pub mod stream;
pub mod table;
#[cfg(test)]
mod testing;
pub mod tree;
pub mod write;

pub use end::EndOfCentralDirectory;
pub use entry::Entry;
pub use error::{DataError, IndexError};
pub use index::Index;
pub use read::ReadAt;
pub use tree::Child;
