//! JSON string literals, for the pages and reports wwz writes by hand
//! (listings, search results, `wwz check` and `wwz ls`): one escaper.

/// Appends `s` to `out` as a JSON string literal.
pub fn json_str(out: &mut String, s: &str) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings() {
        let mut s = String::new();
        json_str(&mut s, "a\"b\\c\n\u{1}é\u{7f}");
        assert_eq!(s, r#""a\"b\\c\n\u0001é\u007f""#);
    }
}
