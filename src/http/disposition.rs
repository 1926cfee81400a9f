//! `Content-Disposition: attachment` (RFC 6266) naming the file so that
//! every client can save it: `filename` in ASCII for those that read no
//! other (curl `-OJ`), characters it cannot hold replaced by `_`; and the
//! exact UTF-8 name as `filename*` (RFC 8187), which browsers prefer.

use crate::util::percent::{self, Keep};

/// The name saved when there is none to give.
const NO_NAME: &str = "download";

/// The header value for a download saved as `name` (a file name, no `/`).
pub fn attachment(name: &str) -> String {
    let name = if name.is_empty() { NO_NAME } else { name };
    let mut out = String::with_capacity(32 + name.len() * 4);
    out.push_str("attachment; filename=\"");
    out.extend(name.chars().map(|c| if ascii_safe(c) { c } else { '_' }));
    out.push_str("\"; filename*=UTF-8''");
    // Unreserved characters only: a subset of RFC 8187's attr-char.
    percent::encode_into(&mut out, name.as_bytes(), Keep::QueryValue);
    out
}

/// Whether `c` may stand as it is in the quoted ASCII `filename`: printable
/// ASCII but the quote and backslash (which a quoted-string escapes, and
/// not every client unescapes), `%` (which some clients decode) and `/`.
fn ascii_safe(c: char) -> bool {
    (' '..='~').contains(&c) && !matches!(c, '"' | '\\' | '%' | '/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_names_pass_as_they_are() {
        assert_eq!(
            attachment("build log-1.txt"),
            "attachment; filename=\"build log-1.txt\"; filename*=UTF-8''build%20log-1.txt"
        );
    }

    #[test]
    fn utf8_names_and_unsafe_characters() {
        assert_eq!(
            attachment("résumé \"final\" 100%.txt"),
            "attachment; filename=\"r_sum_ _final_ 100_.txt\"; \
             filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22%20100%25.txt"
        );
        assert_eq!(
            attachment("日本\r\n.zip"),
            "attachment; filename=\"____.zip\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%0D%0A.zip"
        );
        assert!(attachment("").contains("filename=\"download\""));
    }
}
