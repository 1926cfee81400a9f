//! `Accept-Encoding` as a client sends it, then the choice among every set
//! of codings a member can have: the choice is a coding the member has, the
//! client accepts (q > 0) and ranks highest; no choice while the member has
//! an accepted coding means the client ranked identity above it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wwz::http::negotiate::{Accept, Coding};

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
    // No header: identity only.
    let none = Accept::parse(None);
    assert_eq!(none.choose(|_| true), None);
    assert!(none.identity_ok());
});
