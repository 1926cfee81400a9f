//! Content negotiation (RFC 9110 §12.5.3): which coding a client gets.
//!
//! [`Accept::parse`] reads `Accept-Encoding` once, without allocating, into
//! the q-values of the codings wwz can send (br, zstd, gzip), of `identity`
//! and of `*`. [`Accept::choose`] then picks among the codings a member has:
//! the highest q wins, `q=0` excludes, ties go to br, then zstd, then gzip;
//! identity wins only when the client ranks it strictly higher.
//!
//! No header means identity only (a deflated member is then inflated, not sent
//! as gzip): clients that take compression say so.
//!
//! [`Media::parse`] reads `Accept` once for the two choices of format wwz
//! makes: JSON for its own pages, and a page's Markdown twin for agents.

pub use crate::content::coding::Coding;

/// What an `Accept` header asks of wwz's choices of format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Media {
    /// `application/json` is named first: listings, searches and the status page as JSON.
    pub json: bool,
    /// `text/markdown` is preferred to `text/html`: a page's Markdown twin.
    pub markdown: bool,
}

impl Media {
    /// Reads the header without allocating. Markdown is preferred when
    /// `text/markdown` is named with a q above 0 and at least the q that
    /// `text/html` gets (by name, else `text/*`, else `*/*`): a client that
    /// names Markdown asks for it (browsers never do), and a tie goes to it;
    /// a wildcard alone never gets Markdown. A malformed q-value counts as 1.
    pub fn parse(header: Option<&[u8]>) -> Media {
        let Some(header) = header else {
            return Media::default();
        };
        let mut json = false;
        let (mut markdown, mut html, mut text, mut any) = (None, None, None, None);
        for (i, item) in header.split(|&b| b == b',').enumerate() {
            let mut fields = item.split(|&b| b == b';');
            let range = fields.next().unwrap_or_default().trim_ascii();
            if i == 0 {
                json = range.starts_with(b"application/json");
            }
            let slot = if range.eq_ignore_ascii_case(b"text/markdown") {
                &mut markdown
            } else if range.eq_ignore_ascii_case(b"text/html") {
                &mut html
            } else if range.eq_ignore_ascii_case(b"text/*") {
                &mut text
            } else if range == b"*/*" {
                &mut any
            } else {
                continue;
            };
            let q = fields
                .filter_map(|f| {
                    let f = f.trim_ascii();
                    f.strip_prefix(b"q=").or_else(|| f.strip_prefix(b"Q="))
                })
                .find_map(|v| qvalue(v.trim_ascii()))
                .unwrap_or(1000);
            // The first mention of a range counts.
            slot.get_or_insert(q);
        }
        let html = html.or(text).or(any).unwrap_or(0);
        Media {
            json,
            markdown: markdown.is_some_and(|q| q > 0 && q >= html),
        }
    }
}

/// The q-values (in thousandths) an `Accept-Encoding` header gives; `None`
/// where a coding is not named.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Accept {
    br: Option<u16>,
    zstd: Option<u16>,
    gzip: Option<u16>,
    identity: Option<u16>,
    star: Option<u16>,
}

impl Accept {
    /// Reads the header (`None`: no header, identity only). Unknown codings
    /// are ignored; a malformed q-value counts as 1, as before.
    pub fn parse(header: Option<&[u8]>) -> Accept {
        let mut a = Accept::default();
        let Some(header) = header else {
            return a;
        };
        for item in header.split(|&b| b == b',') {
            let mut fields = item.split(|&b| b == b';');
            let coding = fields.next().unwrap_or_default().trim_ascii();
            let q = fields
                .filter_map(|f| {
                    let f = f.trim_ascii();
                    f.strip_prefix(b"q=").or_else(|| f.strip_prefix(b"Q="))
                })
                .find_map(|v| qvalue(v.trim_ascii()))
                .unwrap_or(1000);
            let slot = if coding.eq_ignore_ascii_case(b"br") {
                &mut a.br
            } else if coding.eq_ignore_ascii_case(b"zstd") {
                &mut a.zstd
            } else if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip")
            {
                &mut a.gzip
            } else if coding.eq_ignore_ascii_case(b"identity") {
                &mut a.identity
            } else if coding == b"*" {
                &mut a.star
            } else {
                continue;
            };
            // The first mention of a coding counts.
            slot.get_or_insert(q);
        }
        a
    }

    /// The q-value of `coding`: named, else `*`'s, else 0.
    pub fn q(&self, coding: Coding) -> u16 {
        let named = match coding {
            Coding::Br => self.br,
            Coding::Zstd => self.zstd,
            Coding::Gzip => self.gzip,
        };
        named.or(self.star).unwrap_or(0)
    }

    /// Whether the identity (no coding) is acceptable: unless `identity;q=0`,
    /// or `*;q=0` without `identity` named.
    pub fn identity_ok(&self) -> bool {
        self.identity.or(self.star).is_none_or(|q| q > 0)
    }

    /// The coding to send among those `has` says the member has; `None` for identity.
    pub fn choose(&self, has: impl Fn(Coding) -> bool) -> Option<Coding> {
        let mut best: Option<(Coding, u16)> = None;
        for c in Coding::PREFERENCE {
            let q = self.q(c);
            if q > 0 && has(c) && best.is_none_or(|(_, bq)| q > bq) {
                best = Some((c, q));
            }
        }
        let (coding, q) = best?;
        // Identity wins only when ranked strictly higher by name (or by `*`).
        match self.identity.or(self.star) {
            Some(iq) if iq > q => None,
            _ => Some(coding),
        }
    }
}

/// A qvalue (`0`, `0.5`, `1.000`) in thousandths; `None` if malformed.
fn qvalue(v: &[u8]) -> Option<u16> {
    let (int, frac) = match v.iter().position(|&b| b == b'.') {
        Some(dot) => (v.get(..dot)?, v.get(dot + 1..)?),
        None => (v, &b""[..]),
    };
    let int = match int {
        b"0" => 0u16,
        b"1" => 1,
        _ => return None,
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths = 0u16;
    for i in 0..3 {
        let digit = frac.get(i).map_or(0, |d| u16::from(d.wrapping_sub(b'0')));
        thousandths = thousandths * 10 + digit;
    }
    Some((int * 1000 + thousandths).min(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `Accept-Encoding` allows gzip (named, `x-gzip` or `*`, with q > 0).
    fn accepts_gzip(header: Option<&[u8]>) -> bool {
        Accept::parse(header).q(Coding::Gzip) > 0
    }

    #[test]
    fn accept_encoding() {
        assert!(accepts_gzip(Some(b"gzip")));
        assert!(accepts_gzip(Some(b"gzip, deflate, br")));
        assert!(accepts_gzip(Some(b"br;q=1.0, gzip;q=0.8")));
        assert!(accepts_gzip(Some(b"*")));
        assert!(accepts_gzip(Some(b"x-gzip")));
        assert!(!accepts_gzip(Some(b"gzip;q=0")));
        assert!(!accepts_gzip(Some(b"gzip; q=0.000")));
        assert!(!accepts_gzip(Some(b"*;q=0")));
        assert!(!accepts_gzip(Some(b"gzip;q=0, *")));
        assert!(!accepts_gzip(Some(b"identity")));
        assert!(!accepts_gzip(Some(b"deflate, br")));
        assert!(!accepts_gzip(Some(b"")));
        assert!(!accepts_gzip(None));
    }

    fn pick(header: &str, has: &[Coding]) -> Option<Coding> {
        Accept::parse(Some(header.as_bytes())).choose(|c| has.contains(&c))
    }

    #[test]
    fn choice_between_codings() {
        use Coding::*;
        let all = [Br, Zstd, Gzip];
        assert_eq!(pick("gzip, deflate, br, zstd", &all), Some(Br));
        assert_eq!(pick("gzip, zstd", &all), Some(Zstd));
        assert_eq!(pick("br", &[Zstd, Gzip]), None);
        assert_eq!(pick("gzip;q=0, br", &all), Some(Br));
        assert_eq!(pick("br;q=0, gzip", &all), Some(Gzip));
        assert_eq!(pick("br;q=0.5, gzip", &all), Some(Gzip));
        assert_eq!(pick("br;q=0.5, gzip;q=0.5", &all), Some(Br));
        assert_eq!(pick("*", &all), Some(Br));
        assert_eq!(pick("*", &[Gzip]), Some(Gzip));
        assert_eq!(pick("*;q=0.5, br;q=0", &all), Some(Zstd));
        assert_eq!(pick("identity;q=0", &all), None);
        assert_eq!(pick("br;q=0.5, identity", &all), None);
        assert_eq!(pick("br, identity;q=0.5", &all), Some(Br));
        assert_eq!(pick("BR;Q=1", &all), Some(Br));
        assert_eq!(pick("", &all), None);
        assert_eq!(Accept::parse(None).choose(|_| true), None);
    }

    #[test]
    fn identity_acceptability() {
        let ok = |h: &str| Accept::parse(Some(h.as_bytes())).identity_ok();
        assert!(Accept::parse(None).identity_ok());
        assert!(ok("br"));
        assert!(ok("*;q=0, identity"));
        assert!(!ok("identity;q=0"));
        assert!(!ok("*;q=0"));
        assert!(!ok("br, identity;q=0.000"));
    }

    #[test]
    fn markdown_preference() {
        let md = |h: &str| Media::parse(Some(h.as_bytes())).markdown;
        assert!(md("text/markdown"));
        assert!(!md("text/markdown;q=0.5, text/html"));
        assert!(!md("*/*"));
        assert!(!Media::parse(None).markdown);
        assert!(md("text/markdown, text/html;q=0.9"));
        assert!(md("text/markdown, text/html, */*"));
        assert!(md("text/html;q=0.8, text/markdown;q=0.9"));
        assert!(md("Text/Markdown; charset=utf-8; q=0.7, */*;q=0.5"));
        assert!(!md("text/markdown;q=0.5, text/*"));
        assert!(!md("text/markdown;q=0"));
        assert!(!md("text/*"));
        assert!(!md(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        ));
        assert!(!md(""));
        // A malformed q counts as 1, as in Accept-Encoding.
        assert!(md("text/markdown;q=x, text/html"));
    }

    #[test]
    fn json_first() {
        let json = |h: &str| Media::parse(Some(h.as_bytes())).json;
        assert!(json("application/json"));
        assert!(json(" application/json;q=0.9, text/html"));
        assert!(!json("text/html, application/json"));
        assert!(!Media::parse(None).json);
    }

    #[test]
    fn qvalues() {
        assert_eq!(qvalue(b"1"), Some(1000));
        assert_eq!(qvalue(b"1.000"), Some(1000));
        assert_eq!(qvalue(b"0.5"), Some(500));
        assert_eq!(qvalue(b"0.001"), Some(1));
        assert_eq!(qvalue(b"0."), Some(0));
        assert_eq!(qvalue(b"1.5"), Some(1000));
        for bad in ["2", "0.0001", "-1", "x", "", "0.a"] {
            assert_eq!(qvalue(bad.as_bytes()), None, "{bad}");
        }
    }
}
