//! Which member names are safe: one rule set for the router (a request path
//! is a member name once the archive is split off) and for the tools (`wwz
//! check` reports unsafe names, `wwz pack` refuses to write them). A name
//! the tools pass is one the router can reach, and no name can climb out of
//! its archive or hide from a log line.

/// What a `/`-separated segment of a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// `..`: refused everywhere (traversal).
    Parent,
    /// `.`: folded away in a request path, refused in a member name.
    Current,
    /// Nothing between two slashes: folded in a request path, refused in a name.
    Empty,
    Normal,
}

impl Segment {
    pub fn of(seg: &[u8]) -> Segment {
        match seg {
            b".." => Segment::Parent,
            b"." => Segment::Current,
            b"" => Segment::Empty,
            _ => Segment::Normal,
        }
    }

    /// Why a member name may not have this segment.
    pub fn problem(self) -> Option<&'static str> {
        match self {
            Segment::Parent => Some("`..` segment"),
            Segment::Current => Some("`.` segment"),
            Segment::Empty => Some("empty segment (`//`)"),
            Segment::Normal => None,
        }
    }
}

/// The bytes no name or request path may hold: NUL, backslash (a separator
/// to Windows and to some servers) and control characters (C0, DEL, and C1
/// as UTF-8 encodes them: C2 80..C2 9F), which would let a name forge log
/// lines or terminal output. The most serious finding wins, so the answer
/// does not depend on where in the name each byte sits.
pub fn byte_problem(path: &[u8]) -> Option<&'static str> {
    let (mut nul, mut backslash, mut control) = (false, false, false);
    let mut prev = 0u8;
    for &b in path {
        match b {
            0 => nul = true,
            b'\\' => backslash = true,
            0x01..=0x1f | 0x7f => control = true,
            0x80..=0x9f if prev == 0xc2 => control = true,
            _ => {}
        }
        prev = b;
    }
    if nul {
        Some("NUL byte")
    } else if backslash {
        Some("backslash")
    } else if control {
        Some("control character")
    } else {
        None
    }
}

/// Why `name` is unsafe to serve or extract as a member name, if it is.
pub fn member_name_problem(name: &[u8]) -> Option<String> {
    let unsafe_name = |why: &str| Some(format!("unsafe name: {why}"));
    if name.is_empty() {
        return Some("empty name".into());
    }
    if let Some(why) = byte_problem(name) {
        return unsafe_name(why);
    }
    if name.first() == Some(&b'/') {
        return unsafe_name("absolute path");
    }
    if let [d, b':', ..] = name {
        if d.is_ascii_alphabetic() {
            return unsafe_name("absolute path (drive letter)");
        }
    }
    let body = name.strip_suffix(b"/").unwrap_or(name);
    if let Some(why) = body
        .split(|&b| b == b'/')
        .find_map(|seg| Segment::of(seg).problem())
    {
        return unsafe_name(why);
    }
    if std::str::from_utf8(name).is_err() {
        return Some("name is not UTF-8 (wwz looks members up by UTF-8 paths)".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "a/b.txt", "dir/", "é/ü.html", "a..b", ".hidden"] {
            assert_eq!(member_name_problem(ok.as_bytes()), None, "{ok}");
        }
        for (bad, why) in [
            ("../x", "`..`"),
            ("a/../x", "`..`"),
            ("a/..", "`..`"),
            ("/etc/passwd", "absolute"),
            ("C:/x", "drive"),
            ("a\\b", "backslash"),
            ("a\0b", "NUL"),
            ("a\nb", "control"),
            ("a//b", "empty segment"),
            ("./a", "`.`"),
            ("", "empty"),
        ] {
            let p = member_name_problem(bad.as_bytes()).unwrap_or_default();
            assert!(p.contains(why), "{bad:?}: {p}");
        }
        assert!(member_name_problem(b"\xff").is_some());
    }

    /// A C1 control (U+0085, NEXT LINE) is refused by the router, so a member
    /// named with one could never be served: the tools now say so too.
    #[test]
    fn c1_controls_are_unsafe() {
        assert_eq!(
            byte_problem("a\u{85}b".as_bytes()),
            Some("control character")
        );
        assert!(member_name_problem("a\u{85}b".as_bytes()).is_some());
        assert_eq!(byte_problem("é\u{a0}".as_bytes()), None);
        // The most serious finding wins wherever it sits.
        assert_eq!(byte_problem(b"a\\b\0"), Some("NUL byte"));
    }
}
