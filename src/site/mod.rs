//! What a static host does: which member answers a path (index pages, clean
//! URLs, the URL policy), the site's own error pages, its `_redirects`
//! rules and its `_headers` ([`headers`]).
//!
//! A site's rules are read from its archive once per archive version and
//! kept in the archive's slot for derived data ([`Archive::derived`]).

use std::sync::Arc;

use crate::archive::Archive;
use crate::log;

pub mod headers;
pub mod lookup;
pub mod policy;
pub mod redirects;

use redirects::Redirects;

/// The site's configuration files: read by wwz, never served (as Netlify and
/// Cloudflare Pages never serve theirs), and left out of listings.
pub const CONFIG_FILES: [&str; 2] = ["_headers", "_redirects"];

/// Whether member `name` (a path in the archive) is a configuration file.
pub fn is_config(name: &[u8]) -> bool {
    CONFIG_FILES.iter().any(|c| c.as_bytes() == name)
}

/// The rules a site's archive carries at its root.
#[derive(Debug, Default)]
pub struct Rules {
    /// `_redirects` (none if absent, too large or unreadable).
    pub redirects: Redirects,
    /// `_headers` (none if absent, too large or unreadable).
    pub headers: headers::Headers,
}

/// The rules of `archive`'s site, parsed the first time they are asked for
/// (problems are logged then).
pub fn rules(archive: &Arc<Archive>) -> &Rules {
    static NONE: Rules = Rules {
        redirects: Redirects::EMPTY,
        headers: headers::Headers::EMPTY,
    };
    archive.derived(read_rules).unwrap_or(&NONE)
}

fn read_rules(archive: &Arc<Archive>) -> Rules {
    Rules {
        redirects: read_redirects(archive),
        headers: read_headers(archive),
    }
}

/// `_headers`: read one byte past its limit, so the parser can say the
/// limit was hit and keep the rules before it.
fn read_headers(archive: &Arc<Archive>) -> headers::Headers {
    let Some(entry) = archive.index().get(b"_headers") else {
        return headers::Headers::default();
    };
    match archive.read_member(entry, headers::MAX_BYTES + 1) {
        Ok(text) => headers::Headers::parse_logged(&text),
        Err(e) => {
            log::warn!("_headers cannot be read: {e}; ignored");
            headers::Headers::default()
        }
    }
}

fn read_redirects(archive: &Arc<Archive>) -> Redirects {
    let Some(entry) = archive.index().get(b"_redirects") else {
        return Redirects::default();
    };
    if entry.size() > redirects::MAX_BYTES as u64 {
        log::warn!(
            "_redirects is {} bytes, over the {} byte limit: its rules are ignored",
            entry.size(),
            redirects::MAX_BYTES
        );
        return Redirects::default();
    }
    match archive.read_member(entry, redirects::MAX_BYTES) {
        Ok(text) => Redirects::parse_logged(&text),
        Err(e) => {
            log::warn!("_redirects cannot be read: {e}; ignored");
            Redirects::default()
        }
    }
}
