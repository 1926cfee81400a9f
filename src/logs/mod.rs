//! What a CI log viewer does, over members read with `pread` (never from the
//! mapping): the terminal renderer, the formats of CI systems, the log view
//! and search.

pub mod format;
pub mod search;
pub mod terminal;
pub mod view;
