//! A JUnit/xUnit report (untrusted XML from a CI job) read as `?view` reads
//! one: the page is built within its bounds whatever the bytes, its JSON is
//! valid, and nothing from the input reaches the HTML unescaped.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (html, json) = wwz::logs::report::render("TEST-fuzz.xml", data);
    // The page's markup is ours: the input's `<` always arrives escaped, so
    // no element of the input's making (a script) can appear.
    assert!(!html.contains("<script"), "{html}");
    assert!(
        serde_json::from_str::<serde_json::Value>(&json).is_ok(),
        "invalid JSON: {json}"
    );
    // Bounded: at most 200 failures of 32 KiB + 8 KiB each, plus the rest.
    assert!(html.len() < 32 << 20, "{} bytes of HTML", html.len());
});
