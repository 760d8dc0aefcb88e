//! How the library tells its caller what is going on without printing: an [`Observer`] receives debug lines
//! (what `--verbose` shows: files consulted, requests made) and warnings (something the user should know that
//! did not stop the work, such as a credential helper that failed while another source answered).
//!
//! The library never writes to stdout or stderr; the CLI's printer implements this trait and decides. No
//! message passed here ever holds a secret. Messages may quote what a server or a file said, so whoever shows
//! them on a terminal passes them through [`terminal_safe`] first.
//!
//! This is the one channel for text out of the library. Every module reports through an [`Observer`] it is
//! given (a registry client, [`Auth`](crate::auth::Auth), a copy's source), and so do the operations with a
//! richer report of their own, which only add what is not text:
//! - a build reports through a plain [`Observer`]: each step that starts as a progress line
//!   (`STEP 2/4: ...`), its warnings (unused build args, entries `ADD` left out) as warnings;
//! - a copy's `copy::CopyProgress` carries byte counts and blob outcomes only (bars, podman's lines);
//! - a wait for an auth file's lock reaches the `Auth`'s observer as a warning (hoist-fs's `LockNotice`,
//!   built from it), never through a process-wide hook.

use std::borrow::Cow;
use std::sync::Arc;

/// Receives what the library has to say while it works. Both methods default to ignoring the line.
pub trait Observer: Send + Sync {
    /// A step worth showing with `--verbose`.
    fn debug(&self, _line: &str) {}
    /// Something worth a `Warning:` line.
    fn warning(&self, _line: &str) {}
    /// A line saying what happens next (`Trying to pull quay.io/app:1...`), which `-q` hides.
    fn progress(&self, _line: &str) {}
}

/// An observer that ignores everything (library callers that want no output).
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Observer for Silent {}

/// A shared observer handle, as library objects keep it.
pub type SharedObserver = Arc<dyn Observer>;

/// The silent observer, shared.
pub fn silent() -> SharedObserver {
    Arc::new(Silent)
}

/// `text` with every character that could steer a terminal written as an escape: control characters (C0,
/// DEL, C1 — ESC sequences that set the title or move the cursor, `\r` that rewrites the line, `\n` that fakes
/// another) and the Unicode bidirectional overrides that reorder what is shown. `\n`, `\r` and `\t` become
/// those two-character escapes, the rest `\u{..}` (Rust's `escape_debug` forms); everything else is kept, so
/// a clean line is returned as it is. For text, not JSON: a JSON encoder escapes on its own.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    fn steers(c: char) -> bool {
        c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
    }
    if !text.chars().any(steers) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if !steers(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::terminal_safe;

    #[test]
    fn control_characters_are_escaped() {
        assert!(matches!(terminal_safe("plain: é ü 中 ok"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(terminal_safe("a\x1b]0;pwned\x07b"), "a\\u{1b}]0;pwned\\u{7}b");
        assert_eq!(terminal_safe("x\r\nError: fake\t"), "x\\r\\nError: fake\\t");
        assert_eq!(terminal_safe("\u{9b}31m \u{7f}"), "\\u{9b}31m \\u{7f}");
        assert_eq!(terminal_safe("abc\u{202e}fed"), "abc\\u{202e}fed");
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Mutex;

    /// Records every line, for tests that assert what the library reported.
    #[derive(Default)]
    pub struct Recorder {
        pub debug: Mutex<Vec<String>>,
        pub warnings: Mutex<Vec<String>>,
    }

    impl super::Observer for Recorder {
        fn debug(&self, line: &str) {
            self.debug.lock().unwrap().push(line.to_owned());
        }
        fn warning(&self, line: &str) {
            self.warnings.lock().unwrap().push(line.to_owned());
        }
    }
}
