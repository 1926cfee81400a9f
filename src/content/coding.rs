//! The content codings wwz sends (RFC 9110 §8.4.1) and the precompressed
//! siblings that carry them: `NAME.br`, `NAME.zst` and `NAME.gz` beside `NAME`.
//! `wwz pack` writes siblings under these names, the index links them to
//! their member, and negotiation chooses among them: one definition for all three.

/// A content coding wwz sends, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Br,
    Zstd,
    Gzip,
}

impl Coding {
    /// In order of preference when the client's q-values tie.
    pub const PREFERENCE: [Coding; 3] = [Coding::Br, Coding::Zstd, Coding::Gzip];

    /// The `Content-Encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
        }
    }

    /// The suffix of a precompressed sibling in this coding.
    pub fn suffix(self) -> &'static [u8] {
        match self {
            Coding::Br => b".br",
            Coding::Zstd => b".zst",
            Coding::Gzip => b".gz",
        }
    }

    /// The ETag suffix that tells this representation's tag from the others'.
    pub fn tag_suffix(self) -> &'static str {
        match self {
            Coding::Br => "-br",
            Coding::Zstd => "-zst",
            Coding::Gzip => "-gz",
        }
    }

    /// Every coding, in order of preference.
    pub const ALL: [Coding; 3] = Coding::PREFERENCE;

    /// The coding whose sibling suffix ends `name`, and `name` without it.
    pub fn split_sibling(name: &[u8]) -> Option<(&[u8], Coding)> {
        Coding::ALL
            .into_iter()
            .find_map(|c| name.strip_suffix(c.suffix()).map(|base| (base, c)))
    }
}
