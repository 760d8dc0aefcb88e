//! Words and variables in Dockerfile arguments, as buildkit's shell lexer treats them.
//!
//! - [`split_words`]: an argument string into words at blanks outside quotes, quotes and escapes kept (what
//!   `ENV a="x y" b=z`, `LABEL`, `ARG`, `EXPOSE` and the shell form of `COPY` are split by);
//! - [`expand`]: one word with its quotes removed, escapes applied and variables substituted: `$v`, `${v}`,
//!   `${v:-word}`, `${v-word}`, `${v:+word}`, `${v+word}`, `${v:?msg}`, `${v?msg}`, `${v#pat}`, `${v##pat}`,
//!   `${v%pat}`, `${v%%pat}`, `${v/pat/repl}`, `${v//pat/repl}` (patterns: `*`, `?`, `[...]`). An unset
//!   variable is empty.
//!
//! Bounded: a word expands to at most [`MAX_WORD`] bytes, checked as it grows (so `ENV b=$a$a` doubling
//! line after line fails at the line that passes it, before the memory is taken), and the expansions of one
//! build share a [`Work`] budget: every byte produced, kept or not (`${unset:+$big}`), and every step of
//! pattern matching (`${v//pat/x}` on a long value is quadratic) spend from it.
//!
//! What it is not: a shell. Nothing is run; `$(...)` and backquotes are plain text.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;

use super::glob::{Pattern, Slashes};

/// Variables by name.
pub type Vars = BTreeMap<String, String>;

/// The most bytes one word may expand to (an `ENV` or `LABEL` value, a path, a name): 1 MiB. A container's
/// environment variable cannot pass 128 KiB anyway (Linux's `MAX_ARG_STRLEN`), and a config must stay under
/// [`crate::image::MAX_CONFIG_SIZE`] (8 MiB) for hoist and registries to read it back.
pub const MAX_WORD: usize = 1 << 20;

/// The expansion work one build may do: bytes produced plus pattern-matching steps, 64 Mi. A Dockerfile
/// that needs more is an attack (real ones need thousands); this bounds the time to well under a second.
pub const MAX_WORK: u64 = 1 << 26;

/// What is left of the [`MAX_WORK`] budget; one per build, shared by all its expansions.
#[derive(Debug)]
pub struct Work(Cell<u64>);

impl Default for Work {
    fn default() -> Work {
        Work(Cell::new(MAX_WORK))
    }
}

impl Work {
    fn spend(&self, n: u64) -> Result<(), ExpandError> {
        match self.0.get().checked_sub(n) {
            Some(left) => {
                self.0.set(left);
                Ok(())
            }
            None => {
                self.0.set(0);
                Err(ExpandError(format!(
                    "variable substitution needs more than the {MAX_WORK} steps hoist allows a build (values \
                     copied, patterns matched against long values)"
                )))
            }
        }
    }
}

/// Why a word could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExpandError(pub String);

/// Splits `text` at blanks outside quotes; quotes and escapes stay in the words (buildkit's `parseWords`).
pub fn split_words(text: &str, escape: char) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut quote: Option<char> = None;
    let mut in_word = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !in_word {
            if c.is_whitespace() {
                i += 1;
                continue;
            }
            in_word = true;
        }
        match quote {
            None => {
                if c.is_whitespace() {
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    blank_ok = false;
                    in_word = false;
                    i += 1;
                    continue;
                }
                if c == '\'' || c == '"' {
                    quote = Some(c);
                    blank_ok = true;
                }
                if c == escape {
                    if i + 1 == chars.len() {
                        i += 1;
                        continue;
                    }
                    word.push(c);
                    i += 1;
                }
                word.push(chars[i]);
                i += 1;
            }
            Some(q) => {
                if c == q {
                    quote = None;
                }
                if c == escape && q != '\'' {
                    if i + 1 == chars.len() {
                        quote = None;
                        i += 1;
                        continue;
                    }
                    word.push(c);
                    i += 1;
                }
                word.push(chars[i]);
                i += 1;
            }
        }
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// Expands one word: quotes removed, escapes applied, variables substituted; with a budget of its own.
pub fn expand(word: &str, vars: &Vars, escape: char) -> Result<String, ExpandError> {
    expand_in(word, vars, escape, &Work::default())
}

/// [`expand`], spending from a build's `work`.
pub fn expand_in(word: &str, vars: &Vars, escape: char, work: &Work) -> Result<String, ExpandError> {
    if word.len() > MAX_WORD {
        return Err(too_long());
    }
    let mut lexer = Lexer { chars: word.chars().collect(), pos: 0, vars, escape, depth: 0, work };
    let (out, _) = lexer.until(&[], false)?;
    Ok(out)
}

fn too_long() -> ExpandError {
    ExpandError(format!("a word expands to more than {MAX_WORD} bytes (1 MiB), the most hoist takes for one word"))
}

/// Expands every word of `words`, then splits the results at blanks (for `EXPOSE $PORTS`).
pub fn expand_fields(words: &[String], vars: &Vars, escape: char, work: &Work) -> Result<Vec<String>, ExpandError> {
    let mut out = Vec::new();
    for w in words {
        out.extend(expand_in(w, vars, escape, work)?.split_whitespace().map(str::to_owned));
    }
    Ok(out)
}

/// How deep `${a:-${b:-...}}` may nest.
const MAX_DEPTH: usize = 64;

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    vars: &'a Vars,
    escape: char,
    depth: usize,
    work: &'a Work,
}

impl<'a> Lexer<'a> {
    /// Appends `s` to `out`: spends its length, and fails when `out` would pass [`MAX_WORD`].
    fn emit(&self, out: &mut String, s: &str) -> Result<(), ExpandError> {
        self.work.spend(s.len() as u64)?;
        if out.len() + s.len() > MAX_WORD {
            return Err(too_long());
        }
        out.push_str(s);
        Ok(())
    }

    fn emit_char(&self, out: &mut String, c: char) -> Result<(), ExpandError> {
        self.emit(out, c.encode_utf8(&mut [0u8; 4]))
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    /// Reads until one of `stops` (consumed; `None` at the end when `stops` is empty). With `raw_escapes`,
    /// escapes are kept (patterns escape their wildcards).
    fn until(&mut self, stops: &[char], raw_escapes: bool) -> Result<(String, Option<char>), ExpandError> {
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                if stops.is_empty() {
                    return Ok((out, None));
                }
                return Err(ExpandError(format!(
                    "unexpected end of statement while looking for matching {}",
                    stops.iter().collect::<String>()
                )));
            };
            if stops.contains(&c) {
                self.pos += 1;
                return Ok((out, Some(c)));
            }
            match c {
                '\'' => {
                    let s = self.single_quoted()?;
                    self.emit(&mut out, &s)?;
                }
                '"' => {
                    let s = self.double_quoted()?;
                    self.emit(&mut out, &s)?;
                }
                '$' => {
                    let s = self.dollar()?;
                    self.emit(&mut out, &s)?;
                }
                _ => {
                    self.pos += 1;
                    if c == self.escape {
                        if let Some(n) = self.next() {
                            if raw_escapes {
                                self.emit_char(&mut out, c)?;
                            }
                            self.emit_char(&mut out, n)?;
                        }
                    } else {
                        self.emit_char(&mut out, c)?;
                    }
                }
            }
        }
    }

    fn single_quoted(&mut self) -> Result<String, ExpandError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.next() {
                None => {
                    return Err(ExpandError(
                        "unexpected end of statement while looking for matching single-quote".into(),
                    ));
                }
                Some('\'') => return Ok(out),
                Some(c) => self.emit_char(&mut out, c)?,
            }
        }
    }

    fn double_quoted(&mut self) -> Result<String, ExpandError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(ExpandError(
                        "unexpected end of statement while looking for matching double-quote".into(),
                    ));
                }
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('$') => {
                    let s = self.dollar()?;
                    self.emit(&mut out, &s)?;
                }
                Some(c) => {
                    self.pos += 1;
                    if c == self.escape {
                        match self.peek() {
                            None => {}
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.pos += 1;
                                self.emit_char(&mut out, n)?;
                            }
                            Some(_) => self.emit_char(&mut out, c)?,
                        }
                    } else {
                        self.emit_char(&mut out, c)?;
                    }
                }
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if name.is_empty() && c.is_ascii_digit() {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    name.push(d);
                    self.pos += 1;
                }
                return name;
            }
            if name.is_empty() && "@*#?-$!0".contains(c) {
                self.pos += 1;
                return c.to_string();
            }
            if !(c.is_alphanumeric() || c == '_') {
                break;
            }
            name.push(c);
            self.pos += 1;
        }
        name
    }

    /// A `$` form's value: borrowed from the variables when it is one, so nothing is copied until it is
    /// emitted (and spent).
    fn dollar(&mut self) -> Result<Cow<'a, str>, ExpandError> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok(Cow::Borrowed("$"));
            }
            let vars: &'a Vars = self.vars;
            return Ok(vars.get(&name).map_or(Cow::Borrowed(""), |v| Cow::Borrowed(v.as_str())));
        }
        self.pos += 1;
        match self.peek() {
            None => return Err(ExpandError("syntax error: missing '}'".into())),
            Some('{' | '}' | ':') => return Err(ExpandError("syntax error: bad substitution".into())),
            _ => {}
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ExpandError("substitutions nest too deeply".into()));
        }
        let result = self.braced();
        self.depth -= 1;
        result
    }

    fn braced(&mut self) -> Result<Cow<'a, str>, ExpandError> {
        let name = self.name();
        let vars: &'a Vars = self.vars;
        let value: Option<&'a str> = vars.get(&name).map(String::as_str);
        let Some(c) = self.next() else { return Err(ExpandError("syntax error: missing '}'".into())) };
        let mut modifier = c.to_string();
        let mut op = c;
        let mut null_is_unset = false;
        match c {
            '}' => return Ok(Cow::Borrowed(value.unwrap_or_default())),
            ':' => {
                null_is_unset = true;
                op = self.next().unwrap_or('}');
                modifier.push(op);
            }
            '/' => return self.replace(value).map(Cow::Owned),
            _ => {}
        }
        if !matches!(op, '+' | '-' | '?' | '#' | '%') || (null_is_unset && matches!(op, '#' | '%')) {
            return Err(ExpandError(format!("unsupported modifier ({modifier}) in substitution")));
        }
        let raw = matches!(op, '#' | '%');
        let (word, _) = self.until(&['}'], raw)?;
        let empty_unset = value.is_none() || (null_is_unset && value == Some(""));
        match op {
            '-' => Ok(if empty_unset { Cow::Owned(word) } else { Cow::Borrowed(value.unwrap_or_default()) }),
            '+' => Ok(if empty_unset { Cow::Borrowed("") } else { Cow::Owned(word) }),
            '?' => match value {
                None => Err(ExpandError(format!(
                    "{name}: {}",
                    if word.is_empty() { "is not allowed to be unset" } else { &word }
                ))),
                Some(v) if null_is_unset && v.is_empty() => Err(ExpandError(format!(
                    "{name}: {}",
                    if word.is_empty() { "is not allowed to be empty" } else { &word }
                ))),
                Some(v) => Ok(Cow::Borrowed(v)),
            },
            _ => {
                let value = value.unwrap_or_default();
                let (greedy, pat) = match word.strip_prefix(op) {
                    Some(rest) => (true, rest.to_owned()),
                    None => (false, word),
                };
                let pattern = shell_pattern(&pat)?;
                let n = value.chars().count();
                self.work.spend(pattern.cost(n))?;
                Ok(Cow::Owned(if op == '#' {
                    trim_prefix(&pattern, value, greedy)
                } else {
                    trim_suffix(&pattern, value, greedy)
                }))
            }
        }
    }

    /// `${v/pat/repl}` and `${v//pat/repl}` (the first `/` already read).
    fn replace(&mut self, value: Option<&str>) -> Result<String, ExpandError> {
        let all = self.peek() == Some('/');
        if all {
            self.pos += 1;
        }
        let (pat, _) = self.until(&['/'], true)?;
        let (replacement, _) = self.until(&['}'], true)?;
        let pattern = shell_pattern(&pat)?;
        let value: Vec<char> = value.unwrap_or_default().chars().collect();
        self.work.spend(value.len() as u64)?;
        let mut out = String::new();
        let mut i = 0;
        let mut replaced = false;
        let mut last_end = None;
        while i <= value.len() {
            let longest = if replaced && !all {
                None
            } else {
                // A pattern without `*` matches exactly as many characters as it has tokens: only those are read.
                let window = pattern.max_len().map_or(value.len() - i, |m| m.min(value.len() - i));
                self.work.spend(pattern.cost(window))?;
                pattern.longest_prefix(&value[i..i + window])
            };
            // An empty match right after a match is not one (Go's ReplaceAll).
            let longest = longest.filter(|&n| n > 0 || last_end != Some(i));
            match longest {
                Some(n) => {
                    self.emit(&mut out, &replacement)?;
                    replaced = true;
                    last_end = Some(i + n);
                    if n == 0 {
                        if let Some(c) = value.get(i) {
                            self.emit_char(&mut out, *c)?;
                        }
                        i += 1;
                    } else {
                        i += n;
                    }
                }
                None => {
                    if let Some(c) = value.get(i) {
                        self.emit_char(&mut out, *c)?;
                    }
                    i += 1;
                }
            }
        }
        Ok(out)
    }
}

fn shell_pattern(p: &str) -> Result<Pattern, ExpandError> {
    Pattern::new(p, false, Slashes::Cross).map_err(|e| ExpandError(e.to_string()))
}

fn trim_prefix(pattern: &Pattern, value: &str, greedy: bool) -> String {
    let lengths = pattern.prefix_lengths(value);
    let cut = if greedy { lengths.last() } else { lengths.first() };
    match cut {
        Some(&n) => value.chars().skip(n).collect(),
        None => value.to_owned(),
    }
}

/// The suffixes the pattern matches are the prefixes its reverse matches in the reversed value: one pass,
/// not one per start.
fn trim_suffix(pattern: &Pattern, value: &str, greedy: bool) -> String {
    let chars: Vec<char> = value.chars().collect();
    let reversed: String = chars.iter().rev().collect();
    let lengths = pattern.reversed().prefix_lengths(&reversed);
    // The longest suffix starts earliest.
    let cut = if greedy { lengths.last() } else { lengths.first() };
    match cut {
        Some(&len) => chars[..chars.len() - len].iter().collect(),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        [("A", "apple"), ("EMPTY", ""), ("P", "/usr/local/bin/app.tar.gz"), ("SP", "a b")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    fn x(w: &str) -> String {
        expand(w, &vars(), '\\').unwrap()
    }

    /// The error of expanding `w`.
    fn err(w: &str) -> String {
        expand(w, &vars(), '\\').unwrap_err().0
    }

    #[test]
    fn the_forms_of_the_dockerfile_reference() {
        assert_eq!(x("$A"), "apple");
        assert_eq!(x("${A}s"), "apples");
        assert_eq!(x("$As"), "");
        assert_eq!(x("${NOPE:-def}"), "def");
        assert_eq!(x("${EMPTY:-def}"), "def");
        assert_eq!(x("${EMPTY-def}"), "");
        assert_eq!(x("${NOPE-def}"), "def");
        assert_eq!(x("${A:+set}"), "set");
        assert_eq!(x("${EMPTY:+set}"), "");
        assert_eq!(x("${EMPTY+set}"), "set");
        assert_eq!(x("${NOPE:-$A}"), "apple");
        assert_eq!(x("${NOPE:-${A:+x$A}}"), "xapple");
        assert_eq!(x("${P#*/}"), "usr/local/bin/app.tar.gz");
        assert_eq!(x("${P##*/}"), "app.tar.gz");
        assert_eq!(x("${P%.*}"), "/usr/local/bin/app.tar");
        assert_eq!(x("${P%%.*}"), "/usr/local/bin/app");
        assert_eq!(x("${A/p/P}"), "aPple");
        assert_eq!(x("${A//p/P}"), "aPPle");
        assert_eq!(x("${A/x/y}"), "apple");
        assert_eq!(x("${A//*/X}"), "X");
        assert_eq!(x("${A/#/X}"), "apple");
        assert!(expand("${NOPE:?must be set}", &vars(), '\\').unwrap_err().0.contains("must be set"));
        assert_eq!(err("${EMPTY:?}"), "EMPTY: is not allowed to be empty");
        assert_eq!(err("${NOPE?}"), "NOPE: is not allowed to be unset");
        assert_eq!(x("${EMPTY?}"), "");
        assert_eq!(err("${A"), "syntax error: missing '}'");
        assert_eq!(err("${}"), "syntax error: bad substitution");
        assert_eq!(err("${A:#x}"), "unsupported modifier (:#) in substitution");
        assert_eq!(err("${A!x}"), "unsupported modifier (!) in substitution");
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(x("'$A'"), "$A");
        assert_eq!(x("\"$A b\""), "apple b");
        assert_eq!(x("\\$A"), "$A");
        assert_eq!(x("\"\\$A\""), "$A");
        assert_eq!(x("\"a\\nb\""), "a\\nb");
        assert_eq!(x("a\\ b"), "a b");
        assert_eq!(x("$"), "$");
        assert_eq!(x("a$"), "a$");
        assert_eq!(x("$1x"), "x");
        assert_eq!(expand("`$A", &vars(), '`').unwrap(), "$A");
        assert_eq!(err("'open"), "unexpected end of statement while looking for matching single-quote");
        assert_eq!(err("\"open"), "unexpected end of statement while looking for matching double-quote");
    }

    #[test]
    fn words_keep_quotes() {
        assert_eq!(split_words(r#"a="x y" b=z  'c d'"#, '\\'), [r#"a="x y""#, "b=z", "'c d'"]);
        assert_eq!(split_words(r#"a\ b c"#, '\\'), [r#"a\ b"#, "c"]);
        assert_eq!(split_words(r#"x="" y"#, '\\'), [r#"x="""#, "y"]);
        assert_eq!(split_words("  ", '\\'), Vec::<String>::new());
        assert_eq!(
            expand_fields(&["$SP".to_owned(), "c".to_owned()], &vars(), '\\', &Work::default()).unwrap(),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn words_and_work_are_bounded() {
        let mut v = vars();
        v.insert("BIG".into(), "x".repeat(MAX_WORD / 2 + 1));
        let e = expand("$BIG$BIG", &v, '\\').unwrap_err();
        assert!(e.0.contains("more than 1048576 bytes"), "{e}");
        assert_eq!(expand("$BIG", &v, '\\').unwrap().len(), MAX_WORD / 2 + 1);
        let e = expand(&"a".repeat(MAX_WORD + 1), &v, '\\').unwrap_err();
        assert!(e.0.contains("more than 1048576 bytes"), "a literal word too: {e}");
        // What is produced and dropped (${unset:+...}) is work too: a build runs out instead of spinning.
        let work = Work::default();
        let word = "${NOPE:+$BIG}".repeat(10);
        let mut runs = 0;
        while expand_in(&word, &v, '\\', &work).is_ok() {
            runs += 1;
            assert!(runs < 10_000, "the budget never ran out");
        }
        assert!(runs > 1 && expand_in("$A", &v, '\\', &work).unwrap_err().0.contains("steps"));
        // Quadratic pattern work on a long value is stopped, not done.
        v.insert("LONG".into(), "ab".repeat(200_000));
        let e = expand("${LONG//a*c/x}", &v, '\\').unwrap_err();
        assert!(e.0.contains("steps"), "{e}");
        // Linear forms on the same value are fine, and fast.
        let started = std::time::Instant::now();
        assert_eq!(expand("${LONG%%b*}", &v, '\\').unwrap(), "a");
        assert_eq!(expand("${LONG%b*}", &v, '\\').unwrap().len(), 399_999);
        assert_eq!(expand("${LONG##*a}", &v, '\\').unwrap(), "b");
        assert_eq!(expand("${LONG//ab/}", &v, '\\').unwrap(), "");
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn suffixes_match_as_before() {
        // The reversed-pattern suffix trim against the obvious one, on a few patterns and values.
        for value in ["", "a", "abcabc", "/usr/local/bin/app.tar.gz", "aaa", "x.y.z"] {
            for pat in ["*", "?", "a*", "*c", "[ab]*", "*.*", ".*", "b?", "", "\\*", "a?c"] {
                let p = shell_pattern(pat).unwrap();
                let chars: Vec<char> = value.chars().collect();
                let starts: Vec<usize> =
                    (0..=chars.len()).filter(|&i| p.matches(&chars[i..].iter().collect::<String>())).collect();
                for greedy in [false, true] {
                    let cut = if greedy { starts.first() } else { starts.last() };
                    let want = cut.map_or(value.to_owned(), |&i| chars[..i].iter().collect());
                    assert_eq!(trim_suffix(&p, value, greedy), want, "{value:?} {pat:?} {greedy}");
                }
            }
        }
    }
}
