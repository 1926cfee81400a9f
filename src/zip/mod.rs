//! Reading zip archives for serving: record layouts, the end records that
//! locate the central directory, and the index built from it.
//!
//! - [`format`]: APPNOTE record layouts over byte slices.
//! - [`end`]: finding and checking the end of central directory records.
//! - [`read`]: positional reads, and the central directory walked through one buffer.
//! - [`index`]: member name → entry, and where each member's data starts.
//! - [`table`]: the name table (open addressing, a hash of our own).
//! - [`packed`]: the index `wwz pack` writes before the central directory.
//! - [`tree`]: directory questions (is this a directory, what does it hold).
//! - [`name`]: which member names are safe to serve.
//! - [`error`]: why an archive or a member cannot be read.

pub mod end;
pub mod error;
pub mod format;
pub mod index;
pub mod name;
pub mod packed;
pub mod read;
pub mod table;
pub mod tree;

pub use end::EndOfCentralDirectory;
pub use error::{DataError, IndexError};
pub use index::{Entry, Index};
pub use read::ReadAt;
pub use tree::Child;
