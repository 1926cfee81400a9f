//! Relative references to one path segment, as wwz writes them in `Location`
//! headers and listing links. Relative, so they resolve against the request
//! URL whatever prefix the web server mounted wwz under; `./` first, so a
//! name like `a:b` is never read as a scheme; percent-encoded, so `?`, `#`,
//! `%` and spaces stay part of the name.

/// Where the reference goes: an HTML attribute must not carry `&` or `'`
/// raw; a header may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Header,
    HtmlAttribute,
}

/// `./name`, percent-encoded for `context`.
pub fn segment(name: &str, context: Context) -> String {
    let safe: &[u8] = match context {
        Context::Header => b"-._~!$&'()*+,;=:@",
        Context::HtmlAttribute => b"-._~!$()*+,;=:@",
    };
    let mut out = String::with_capacity(name.len() + 3);
    out.push_str("./");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || safe.contains(&b) {
            out.push(char::from(b));
        } else {
            push_escape(&mut out, b);
        }
    }
    out
}

/// Appends `%XX` for the byte `b`.
pub fn push_escape(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 15)]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments() {
        let attr = |n| segment(n, Context::HtmlAttribute);
        assert_eq!(attr("a b?#%.txt"), "./a%20b%3F%23%25.txt");
        assert_eq!(attr("c:d"), "./c:d");
        assert_eq!(attr("<x>\"'"), "./%3Cx%3E%22%27");
        assert_eq!(attr("é&"), "./%C3%A9%26");
        assert_eq!(segment("a&b'c d", Context::Header), "./a&b'c%20d");
    }
}
