//! Reading zip archives for serving: record layouts and the name index.

pub mod format;
pub mod index;

pub use index::{Child, DataError, Entry, Index, IndexError, ReadAt};
