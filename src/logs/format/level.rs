//! Which lines count as errors and warnings when no CI marker says so: the
//! few patterns compilers and test runners print at the start of a failure.
//! The list is short on purpose (a false error on a page that counts them
//! costs more than a missed one) and docs/ci.md repeats it.
//!
//! | level   | the line's visible text (leading spaces ignored)                          | who writes it |
//! |---------|------------------------------------------------------------------------------|---------------|
//! | error   | starts `error:` or `error[…]:`                                               | rustc, cargo, gcc, clang, Go tools |
//! | error   | holds `: error:`, `: fatal error:` or `): error `                           | gcc/clang `file:1:2: error:`, tsc, MSBuild |
//! | error   | starts `Error:`, `ERROR:`, `ERROR ` or `fatal:`                             | Node, pip, Jenkins, pytest's summary, git |
//! | error   | holds the word `FAILED`                                                      | cargo test, pytest, ctest, Gradle |
//! | error   | starts `FAIL:`, `FAIL `, `FAIL\t` or `--- FAIL:`                             | unittest, Jest, Go |
//! | error   | starts `Traceback (most recent call last):`                                  | Python |
//! | error   | starts `npm ERR!`; holds `panicked at`                                       | npm; Rust |
//! | warning | starts `warning:` or `warning[…]:`; holds `: warning:`                       | rustc, gcc, clang |
//! | warning | starts `Warning:`, `WARNING:`, `npm WARN` or `npm warn`                      | pip, GitLab runner, npm |

/// How much a line matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Level {
    #[default]
    Plain,
    Notice,
    Warning,
    Error,
}

impl Level {
    /// Its name in JSON and in `?view&level=`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Plain => "plain",
            Level::Notice => "notice",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// The level of a line from the patterns above (CI markers are read before).
pub fn of_text(text: &str) -> Level {
    let t = text.trim_start();
    if t.is_empty() {
        return Level::Plain;
    }
    let bracketed = |t: &str, word: &str| {
        t.strip_prefix(word)
            .and_then(|r| r.strip_prefix('['))
            .and_then(|r| r.find(']').and_then(|at| r.get(at + 1..)))
            .is_some_and(|r| r.starts_with(':'))
    };
    let error = t.starts_with("error:")
        || bracketed(t, "error")
        || t.contains(": error:")
        || t.contains(": fatal error:")
        || t.contains("): error ")
        || [
            "Error:",
            "ERROR:",
            "ERROR ",
            "fatal:",
            "FAIL:",
            "FAIL ",
            "FAIL\t",
            "--- FAIL:",
        ]
        .iter()
        .any(|p| t.starts_with(p))
        || word(t, "FAILED")
        || t.starts_with("Traceback (most recent call last):")
        || t.starts_with("npm ERR!")
        || t.contains("panicked at");
    if error {
        return Level::Error;
    }
    let warning = t.starts_with("warning:")
        || bracketed(t, "warning")
        || t.contains(": warning:")
        || ["Warning:", "WARNING:", "npm WARN", "npm warn"]
            .iter()
            .any(|p| t.starts_with(p));
    if warning {
        Level::Warning
    } else {
        Level::Plain
    }
}

/// Whether `w` stands in `t` as a word (not inside a longer identifier).
fn word(t: &str, w: &str) -> bool {
    let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    t.match_indices(w).any(|(at, _)| {
        !ident(t.get(..at).and_then(|s| s.chars().last()))
            && !ident(t.get(at + w.len()..).and_then(|s| s.chars().next()))
    })
}
