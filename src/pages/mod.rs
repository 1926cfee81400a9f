//! The pages wwz writes itself: directory listings and the status page, and
//! the one HTML module every page of wwz (log views and searches too) is made with.

pub mod html;
pub mod listing;
pub mod status;
