//! Patterns as Go's `path/filepath.Match` reads them (`*`, `?`, `[...]` with `^` and ranges, `\` escapes),
//! plus the `**` of `.dockerignore` (moby/patternmatcher: `**/` is any number of directories, a trailing `**`
//! anything), and Go's `path.Clean`. COPY source wildcards and `.dockerignore` both match through here.
//!
//! What it is not: a shell glob (no braces) or gitignore (no unanchored names, no trailing-slash rule).

/// One piece of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Lit(char),
    /// `?`: one character, not `/` (any character in [`Slashes::Cross`] patterns).
    One,
    /// `*`: any run of characters without `/` (any run in [`Slashes::Cross`] patterns).
    Star,
    /// `**/` (or `**` before more pattern): nothing, or anything ending in `/`.
    Dirs,
    /// A trailing `**`: anything.
    All,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// Whether `*` and `?` stop at `/` (paths) or not (shell word patterns in `${v#pattern}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slashes {
    Stop,
    Cross,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    tokens: Vec<Token>,
    slashes: Slashes,
    /// The pattern has no wildcard: it matches only itself.
    literal: bool,
}

/// Why a pattern was refused (Go's `ErrBadPattern`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("syntax error in pattern {pattern:?}: {reason}")]
pub struct BadPattern {
    pub pattern: String,
    pub reason: &'static str,
}

impl Pattern {
    /// `filepath.Match` syntax; `double_star` also reads `**` as patternmatcher does.
    pub fn new(pattern: &str, double_star: bool, slashes: Slashes) -> Result<Pattern, BadPattern> {
        let bad = |reason| BadPattern { pattern: pattern.to_owned(), reason };
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut literal = true;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '*' if double_star && chars.get(i) == Some(&'*') => {
                    literal = false;
                    i += 1;
                    if chars.get(i) == Some(&'/') {
                        i += 1;
                    }
                    tokens.push(if i >= chars.len() { Token::All } else { Token::Dirs });
                }
                '*' => {
                    literal = false;
                    tokens.push(Token::Star);
                }
                '?' => {
                    literal = false;
                    tokens.push(Token::One);
                }
                '\\' => match chars.get(i) {
                    Some(&n) => {
                        i += 1;
                        tokens.push(Token::Lit(n));
                    }
                    None => return Err(bad("a trailing backslash escapes nothing")),
                },
                '[' => {
                    literal = false;
                    let mut negated = false;
                    if chars.get(i) == Some(&'^') {
                        negated = true;
                        i += 1;
                    }
                    let mut ranges = Vec::new();
                    loop {
                        let Some(&first) = chars.get(i) else { return Err(bad("unclosed [")) };
                        if first == ']' && !ranges.is_empty() {
                            i += 1;
                            break;
                        }
                        let (lo, next) = class_char(&chars, i).ok_or_else(|| bad("bad character class"))?;
                        i = next;
                        let mut hi = lo;
                        if chars.get(i) == Some(&'-') {
                            let (h, next) = class_char(&chars, i + 1).ok_or_else(|| bad("bad range"))?;
                            if h < lo {
                                return Err(bad("a range whose end is before its start"));
                            }
                            hi = h;
                            i = next;
                        }
                        ranges.push((lo, hi));
                    }
                    tokens.push(Token::Class { negated, ranges });
                }
                other => tokens.push(Token::Lit(other)),
            }
        }
        Ok(Pattern { tokens, slashes, literal })
    }

    /// True when the pattern has no wildcard.
    pub fn is_literal(&self) -> bool {
        self.literal
    }

    /// The steps [`Pattern::matches`] or [`Pattern::prefix_lengths`] take on `n` characters: one per token
    /// and position (and one per position for reading them).
    pub fn cost(&self, n: usize) -> u64 {
        (self.tokens.len() as u64 + 1).saturating_mul(n as u64 + 1)
    }

    /// The length of every match when the pattern has no `*` (each token matches one character); `None`
    /// when matches can be of any length.
    pub fn max_len(&self) -> Option<usize> {
        let fixed = self.tokens.iter().all(|t| matches!(t, Token::Lit(_) | Token::One | Token::Class { .. }));
        fixed.then_some(self.tokens.len())
    }

    /// The pattern read backwards: it matches the reverse of what this one matches (for patterns made without
    /// `double_star`, whose tokens each match the same whatever the direction).
    pub fn reversed(&self) -> Pattern {
        Pattern { tokens: self.tokens.iter().rev().cloned().collect(), slashes: self.slashes, literal: self.literal }
    }

    /// True when the whole of `s` matches.
    pub fn matches(&self, s: &str) -> bool {
        let chars: Vec<char> = s.chars().collect();
        self.reach(&chars)[chars.len()]
    }

    /// The lengths (in chars) of the prefixes of `s` the pattern matches, shortest first.
    pub fn prefix_lengths(&self, s: &str) -> Vec<usize> {
        let chars: Vec<char> = s.chars().collect();
        let reach = self.reach(&chars);
        (0..=chars.len()).filter(|&end| reach[end]).collect()
    }

    /// The length (in chars) of the longest prefix of `s` the pattern matches, if any.
    pub fn longest_prefix(&self, s: &[char]) -> Option<usize> {
        self.reach(s).iter().rposition(|&r| r)
    }

    /// `reach[p]`: the whole pattern matches `s[..p]`. A dynamic program over (token, position), so no
    /// pattern takes exponential time.
    fn reach(&self, s: &[char]) -> Vec<bool> {
        let n = s.len();
        let mut reach = vec![false; n + 1];
        reach[0] = true;
        let stop = self.slashes == Slashes::Stop;
        for token in &self.tokens {
            let mut next = vec![false; n + 1];
            match token {
                Token::Lit(c) => {
                    for p in 0..n {
                        next[p + 1] = reach[p] && s[p] == *c;
                    }
                }
                Token::One => {
                    for p in 0..n {
                        next[p + 1] = reach[p] && !(stop && s[p] == '/');
                    }
                }
                Token::Class { negated, ranges } => {
                    for p in 0..n {
                        if reach[p] && !(stop && s[p] == '/') {
                            let inside = ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&s[p]));
                            next[p + 1] = inside != *negated;
                        }
                    }
                }
                Token::Star => {
                    let mut on = false;
                    for p in 0..=n {
                        on |= reach[p];
                        next[p] = on;
                        if p < n && stop && s[p] == '/' {
                            on = false;
                        }
                    }
                }
                Token::All => {
                    let mut on = false;
                    for p in 0..=n {
                        on |= reach[p];
                        next[p] = on;
                    }
                }
                Token::Dirs => {
                    // Nothing, or any run ending in `/`.
                    let mut on = false;
                    for p in 0..=n {
                        next[p] = reach[p] || (on && p > 0 && s[p - 1] == '/');
                        on |= reach[p];
                    }
                }
            }
            reach = next;
        }
        reach
    }
}

/// One character of a class (an escaped one with `\`): the character and the index after it. `None` for
/// what Go refuses there: the end, or an unescaped `-` or `]`.
fn class_char(chars: &[char], i: usize) -> Option<(char, usize)> {
    match chars.get(i)? {
        '\\' => chars.get(i + 1).map(|&c| (c, i + 2)),
        '-' | ']' => None,
        &c => Some((c, i + 1)),
    }
}

/// `filepath.Match(pattern, name)`: `*` and `?` stop at `/`; no `**`.
pub fn go_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    Ok(Pattern::new(pattern, false, Slashes::Stop)?.matches(name))
}

/// True when `s` holds a character `filepath.Match` treats specially (`*`, `?`, `[`, or `\`).
pub fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '[', '\\'])
}

/// Go's `path.Clean`: one `/` between elements, no `.` elements, `..` eaten with the element before it (and
/// dropped at the root of a rooted path); `"."` for an empty result.
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        go_match(p, s).unwrap()
    }

    fn ds(p: &str, s: &str) -> bool {
        Pattern::new(p, true, Slashes::Stop).unwrap().matches(s)
    }

    #[test]
    fn go_filepath_match_table() {
        // Go's own table (path/filepath/match_test.go), the cases without Windows specifics.
        let cases: &[(&str, &str, bool)] = &[
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*", "ab/c", false),
            ("a*/b", "abc/b", true),
            ("a*/b", "a/c/b", false),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("ab[c]", "abc", true),
            ("ab[b-d]", "abc", true),
            ("ab[e-g]", "abc", false),
            ("ab[^c]", "abc", false),
            ("ab[^b-d]", "abc", false),
            ("ab[^e-g]", "abc", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "ab", false),
            ("a?b", "a☺b", true),
            ("a[^a]b", "a☺b", true),
            ("a???b", "a☺b", false),
            ("a[^a][^a][^a]b", "a☺b", false),
            ("[a-ζ]*", "α", true),
            ("*[a-ζ]", "A", false),
            ("a?b", "a/b", false),
            ("a*b", "a/b", false),
            ("[\\]a]", "]", true),
            ("[\\-]", "-", true),
            ("[x\\-]", "x", true),
            ("[x\\-]", "-", true),
            ("[x\\-]", "z", false),
            ("[\\-x]", "x", true),
            ("*x", "xxx", true),
        ];
        for (p, s, want) in cases {
            assert_eq!(m(p, s), *want, "{p:?} {s:?}");
        }
        for bad in ["[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[", "[a-"] {
            assert!(go_match(bad, "x").is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn double_star_as_patternmatcher() {
        assert!(ds("**", "a/b/c"));
        assert!(ds("**/*.go", "a.go"));
        assert!(ds("**/*.go", "x/y/a.go"));
        assert!(!ds("**/*.go", "x/y/a.gox"));
        assert!(ds("a/**/b", "a/b"));
        assert!(ds("a/**/b", "a/x/y/b"));
        assert!(!ds("a/**/b", "a/xb"));
        assert!(ds("a/**", "a/x/y"));
        assert!(ds("foo**bar", "foox/bar"));
        assert!(ds("foo**bar", "foobar"));
        assert!(!ds("foo**bar", "fooxbar"));
        assert!(!ds("*", "a/b"));
    }

    #[test]
    fn shell_patterns_cross_slashes() {
        let p = Pattern::new("*/", false, Slashes::Cross).unwrap();
        assert_eq!(p.prefix_lengths("a/b/c"), vec![2, 4]);
    }

    #[test]
    fn clean_as_go() {
        for (i, o) in [
            ("", "."),
            ("abc", "abc"),
            ("abc/def", "abc/def"),
            ("a/b/c", "a/b/c"),
            (".", "."),
            ("..", ".."),
            ("../..", "../.."),
            ("../../abc", "../../abc"),
            ("/abc", "/abc"),
            ("/", "/"),
            ("abc/", "abc"),
            ("abc/def/", "abc/def"),
            ("//abc", "/abc"),
            ("abc//def//ghi", "abc/def/ghi"),
            ("abc/./def", "abc/def"),
            ("/./abc/def", "/abc/def"),
            ("abc/.", "abc"),
            ("abc/def/ghi/../jkl", "abc/def/jkl"),
            ("abc/def/../ghi/../jkl", "abc/jkl"),
            ("abc/def/..", "abc"),
            ("abc/def/../..", "."),
            ("/abc/def/../..", "/"),
            ("abc/def/../../..", ".."),
            ("/abc/def/../../..", "/"),
            ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
            ("abc/./../def", "def"),
            ("abc//./../def", "def"),
            ("abc/../../././../def", "../../def"),
        ] {
            assert_eq!(clean(i), o, "{i:?}");
        }
    }
}
