//! `Accept-Encoding` as a client sends it, then the choice among every set
//! of codings a member can have: the choice is a coding the member has, the
//! client accepts (q > 0) and ranks highest; no choice while the member has
//! an accepted coding means the client ranked identity above it. The same
//! bytes as an `Accept` header: Markdown is chosen only where it is named.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wwz::http::negotiate::{Accept, Coding, Media};

fuzz_target!(|data: &[u8]| {
    let accept = Accept::parse(Some(data));
    for c in Coding::PREFERENCE {
        assert!(accept.q(c) <= 1000, "{c:?} q={}", accept.q(c));
    }
    for set in 0u8..8 {
        let has = |c: Coding| {
            let bit = Coding::PREFERENCE.iter().position(|&p| p == c).unwrap_or(0);
            set & (1 << bit) != 0
        };
        let best = Coding::PREFERENCE
            .into_iter()
            .filter(|&c| has(c))
            .map(|c| accept.q(c))
            .max()
            .unwrap_or(0);
        match accept.choose(has) {
            Some(c) => {
                assert!(has(c), "{c:?} not among {set:#b}");
                assert!(accept.q(c) > 0, "{c:?} refused by the client");
                assert_eq!(accept.q(c), best, "{c:?} not ranked highest");
            }
            // Nothing acceptable, or identity ranked higher (so acceptable).
            None => assert!(best == 0 || accept.identity_ok(), "{accept:?} {set:#b}"),
        }
    }
    let media = Media::parse(Some(data));
    if media.markdown {
        let named = data
            .windows(b"text/markdown".len())
            .any(|w| w.eq_ignore_ascii_case(b"text/markdown"));
        assert!(named, "Markdown chosen without being named");
    }
    assert_eq!(Media::parse(None), Media::default());
    // No header: identity only.
    let none = Accept::parse(None);
    assert_eq!(none.choose(|_| true), None);
    assert!(none.identity_ok());
});
