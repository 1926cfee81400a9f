//! Small shared knowledge that is no part of the product's layers: dates,
//! percent-coding, JSON strings.

pub mod bounds;
pub mod json;
pub mod percent;
pub mod time;
