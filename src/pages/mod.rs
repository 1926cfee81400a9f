//! The pages wwz writes itself: directory listings and the status page.

pub mod listing;
pub mod status;
