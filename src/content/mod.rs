//! What a member's bytes are, known to the server and to the tool alike:
//! its media type, the content codings of its precompressed siblings, a
//! page's Markdown twin and the gzip framing of a deflated member.

pub mod coding;
pub mod gzip;
pub mod markdown;
pub mod mime;
