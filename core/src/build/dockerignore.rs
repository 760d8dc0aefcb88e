//! `.dockerignore` (and podman's `.containerignore`) with docker's real semantics (moby/patternmatcher and
//! buildkit's ignorefile), not gitignore's:
//!
//! - one pattern a line; a line starting with `#` is a comment; blank lines are skipped; surrounding blanks
//!   are trimmed; a UTF-8 BOM on the first line is dropped;
//! - `!` makes an exception; the last pattern that matches a path decides;
//! - every pattern is cleaned as Go's `filepath.Clean` does and anchored at the context root (a leading `/`
//!   changes nothing): `foo` is only `./foo`, never `sub/foo`;
//! - matching is Go's `filepath.Match` plus `**` (any number of directories);
//! - a pattern matches a path when it matches the path or any of its parent directories (`dir` excludes
//!   `dir/a/b`), so an exception for something inside an excluded directory works.
//!
//! What it is not: walking the context (see `context`).

use super::glob::{BadPattern, Pattern, Slashes, clean};

/// One parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The cleaned pattern, without `!`.
    pub pattern: String,
    /// A `!` exception: matching paths are included again.
    pub exception: bool,
    compiled: Pattern,
}

/// The rules of one ignore file, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DockerIgnore {
    pub rules: Vec<Rule>,
}

/// Why an ignore file was refused: the line and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IgnoreError {
    #[error("line {line}: illegal exclusion pattern: \"!\"")]
    LoneBang { line: usize },
    #[error("line {line}: {source}")]
    Pattern { line: usize, source: BadPattern },
}

/// Parses an ignore file's text.
pub fn parse(text: &str) -> Result<DockerIgnore, IgnoreError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rules = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = i + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.starts_with('#') {
            continue;
        }
        let mut pattern = raw.trim();
        if pattern.is_empty() {
            continue;
        }
        let exception = pattern.starts_with('!');
        if exception {
            pattern = pattern[1..].trim();
            if pattern.is_empty() {
                return Err(IgnoreError::LoneBang { line });
            }
        }
        let mut cleaned = clean(pattern);
        if cleaned.len() > 1 && cleaned.starts_with('/') {
            cleaned.remove(0);
        }
        let compiled =
            Pattern::new(&cleaned, true, Slashes::Stop).map_err(|source| IgnoreError::Pattern { line, source })?;
        rules.push(Rule { pattern: cleaned, exception, compiled });
    }
    Ok(DockerIgnore { rules })
}

impl DockerIgnore {
    /// True when `path` (relative to the context root, `/`-separated) is excluded.
    pub fn is_excluded(&self, path: &str) -> bool {
        let path = clean(path);
        if path == "." {
            return false;
        }
        let parents: Vec<&str> = path.split('/').collect();
        let mut matched = false;
        for rule in &self.rules {
            // Only a rule that could change the answer is tried (patternmatcher's shortcut).
            if rule.exception != matched {
                continue;
            }
            let mut hit = rule.compiled.matches(&path);
            if !hit && parents.len() > 1 {
                hit = (1..parents.len()).any(|n| rule.compiled.matches(&parents[..n].join("/")));
            }
            if hit {
                matched = !rule.exception;
            }
        }
        matched
    }

    /// True when some exception could include a path below an excluded directory: the directory must then
    /// be walked rather than skipped.
    pub fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|r| r.exception)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ig(text: &str) -> DockerIgnore {
        parse(text).unwrap()
    }

    #[test]
    fn anchored_at_the_root_not_gitignore() {
        let i = ig("foo\n*.log\n");
        assert!(i.is_excluded("foo"));
        assert!(i.is_excluded("foo/bar/baz"), "a matching directory excludes what is under it");
        assert!(!i.is_excluded("sub/foo"), "patterns are anchored at the root, unlike .gitignore");
        assert!(i.is_excluded("a.log"));
        assert!(!i.is_excluded("sub/a.log"), "* does not cross /");
        assert!(ig("**/*.log").is_excluded("sub/deeper/a.log"));
        assert!(ig("/foo").is_excluded("foo"), "a leading slash changes nothing");
        assert!(ig("./foo/../bar").is_excluded("bar"), "patterns are cleaned");
        assert!(!ig("foo/").is_excluded("foobar"));
        assert!(ig("foo/").is_excluded("foo/x"));
    }

    #[test]
    fn exceptions_and_last_match_wins() {
        let i = ig("*.md\n!README.md\n");
        assert!(i.is_excluded("CHANGES.md"));
        assert!(!i.is_excluded("README.md"));
        let i = ig("!README.md\n*.md\n");
        assert!(i.is_excluded("README.md"), "the last matching line decides");
        let i = ig("docs\n!docs/keep.txt\n");
        assert!(i.is_excluded("docs/other.txt"));
        assert!(!i.is_excluded("docs/keep.txt"));
        assert!(i.has_exceptions());
        let i = ig("**\n!src\n");
        assert!(!i.is_excluded("src/main.rs"), "an exception for a directory includes its contents");
        assert!(i.is_excluded("target/x"));
    }

    #[test]
    fn comments_blanks_and_errors() {
        let i = ig("\u{feff}# comment\n\n   \n  spaced  \r\n #not-a-comment\n");
        assert_eq!(i.rules.iter().map(|r| r.pattern.as_str()).collect::<Vec<_>>(), ["spaced", "#not-a-comment"]);
        assert_eq!(parse("ok\n!\n"), Err(IgnoreError::LoneBang { line: 2 }));
        assert!(matches!(parse("a\n[\n"), Err(IgnoreError::Pattern { line: 2, .. })));
        assert!(!ig("").is_excluded("anything"));
        assert!(!ig("*").is_excluded("."), "the root itself is never excluded");
    }
}
