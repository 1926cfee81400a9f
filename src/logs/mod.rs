//! What a CI log viewer does, over members read with `pread` (never from the
//! mapping): the terminal renderer, the formats of CI systems, the log view,
//! test reports and search.

pub mod format;
pub mod report;
pub mod search;
pub mod terminal;
pub mod view;
