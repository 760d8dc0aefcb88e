//! Words and variables in Dockerfile arguments, as buildkit's shell lexer treats them.
//!
//! - [`split_words`]: an argument string into words at blanks outside quotes, quotes and escapes kept (what
//!   `ENV a="x y" b=z`, `LABEL`, `ARG`, `EXPOSE` and the shell form of `COPY` are split by);
//! - [`expand`]: one word with its quotes removed, escapes applied and variables substituted: `$v`, `${v}`,
//!   `${v:-word}`, `${v-word}`, `${v:+word}`, `${v+word}`, `${v:?msg}`, `${v?msg}`, `${v#pat}`, `${v##pat}`,
//!   `${v%pat}`, `${v%%pat}`, `${v/pat/repl}`, `${v//pat/repl}` (patterns: `*`, `?`, `[...]`). An unset
//!   variable is empty.
//!
//! What it is not: a shell. Nothing is run; `$(...)` and backquotes are plain text.

use std::collections::BTreeMap;

use super::glob::{Pattern, Slashes};

/// Variables by name.
pub type Vars = BTreeMap<String, String>;

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

/// Expands one word: quotes removed, escapes applied, variables substituted.
pub fn expand(word: &str, vars: &Vars, escape: char) -> Result<String, ExpandError> {
    let mut lexer = Lexer { chars: word.chars().collect(), pos: 0, vars, escape, depth: 0 };
    let (out, _) = lexer.until(&[], false)?;
    Ok(out)
}

/// Expands every word of `words`, then splits the results at blanks (for `EXPOSE $PORTS`).
pub fn expand_fields(words: &[String], vars: &Vars, escape: char) -> Result<Vec<String>, ExpandError> {
    let mut out = Vec::new();
    for w in words {
        out.extend(expand(w, vars, escape)?.split_whitespace().map(str::to_owned));
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
}

impl Lexer<'_> {
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
                '\'' => out.push_str(&self.single_quoted()?),
                '"' => out.push_str(&self.double_quoted()?),
                '$' => out.push_str(&self.dollar()?),
                _ => {
                    self.pos += 1;
                    if c == self.escape {
                        if let Some(n) = self.next() {
                            if raw_escapes {
                                out.push(c);
                            }
                            out.push(n);
                        }
                    } else {
                        out.push(c);
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
                Some(c) => out.push(c),
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
                Some('$') => out.push_str(&self.dollar()?),
                Some(c) => {
                    self.pos += 1;
                    if c == self.escape {
                        match self.peek() {
                            None => {}
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.pos += 1;
                                out.push(n);
                            }
                            Some(_) => out.push(c),
                        }
                    } else {
                        out.push(c);
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

    fn dollar(&mut self) -> Result<String, ExpandError> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".to_owned());
            }
            return Ok(self.vars.get(&name).cloned().unwrap_or_default());
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

    fn braced(&mut self) -> Result<String, ExpandError> {
        let name = self.name();
        let value = self.vars.get(&name).cloned();
        let Some(c) = self.next() else { return Err(ExpandError("syntax error: missing '}'".into())) };
        let mut modifier = c.to_string();
        let mut op = c;
        let mut null_is_unset = false;
        match c {
            '}' => return Ok(value.unwrap_or_default()),
            ':' => {
                null_is_unset = true;
                op = self.next().unwrap_or('}');
                modifier.push(op);
            }
            '/' => return self.replace(value),
            _ => {}
        }
        if !matches!(op, '+' | '-' | '?' | '#' | '%') || (null_is_unset && matches!(op, '#' | '%')) {
            return Err(ExpandError(format!("unsupported modifier ({modifier}) in substitution")));
        }
        let raw = matches!(op, '#' | '%');
        let (word, _) = self.until(&['}'], raw)?;
        let empty_unset = value.is_none() || (null_is_unset && value.as_deref() == Some(""));
        match op {
            '-' => Ok(if empty_unset { word } else { value.unwrap_or_default() }),
            '+' => Ok(if empty_unset { String::new() } else { word }),
            '?' => match value {
                None => Err(ExpandError(format!(
                    "{name}: {}",
                    if word.is_empty() { "is not allowed to be unset" } else { &word }
                ))),
                Some(v) if null_is_unset && v.is_empty() => Err(ExpandError(format!(
                    "{name}: {}",
                    if word.is_empty() { "is not allowed to be empty" } else { &word }
                ))),
                Some(v) => Ok(v),
            },
            _ => {
                let value = value.unwrap_or_default();
                let (greedy, pat) = match word.strip_prefix(op) {
                    Some(rest) => (true, rest.to_owned()),
                    None => (false, word),
                };
                let pattern = shell_pattern(&pat)?;
                Ok(if op == '#' {
                    trim_prefix(&pattern, &value, greedy)
                } else {
                    trim_suffix(&pattern, &value, greedy)
                })
            }
        }
    }

    /// `${v/pat/repl}` and `${v//pat/repl}` (the first `/` already read).
    fn replace(&mut self, value: Option<String>) -> Result<String, ExpandError> {
        let all = self.peek() == Some('/');
        if all {
            self.pos += 1;
        }
        let (pat, _) = self.until(&['/'], true)?;
        let (replacement, _) = self.until(&['}'], true)?;
        let pattern = shell_pattern(&pat)?;
        let value: Vec<char> = value.unwrap_or_default().chars().collect();
        let mut out = String::new();
        let mut i = 0;
        let mut replaced = false;
        let mut last_end = None;
        while i <= value.len() {
            let rest: String = value[i..].iter().collect();
            let longest = if replaced && !all { None } else { pattern.prefix_lengths(&rest).last().copied() };
            // An empty match right after a match is not one (Go's ReplaceAll).
            let longest = longest.filter(|&n| n > 0 || last_end != Some(i));
            match longest {
                Some(n) => {
                    out.push_str(&replacement);
                    replaced = true;
                    last_end = Some(i + n);
                    if n == 0 {
                        if let Some(c) = value.get(i) {
                            out.push(*c);
                        }
                        i += 1;
                    } else {
                        i += n;
                    }
                }
                None => {
                    if let Some(c) = value.get(i) {
                        out.push(*c);
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

fn trim_suffix(pattern: &Pattern, value: &str, greedy: bool) -> String {
    let chars: Vec<char> = value.chars().collect();
    // Suffix starts: the longest suffix starts earliest.
    let starts: Vec<usize> =
        (0..=chars.len()).filter(|&i| pattern.matches(&chars[i..].iter().collect::<String>())).collect();
    let cut = if greedy { starts.first() } else { starts.last() };
    match cut {
        Some(&i) => chars[..i].iter().collect(),
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
        assert!(expand("${EMPTY:?}", &vars(), '\\').is_err());
        assert_eq!(x("${EMPTY?}"), "");
        assert!(expand("${A", &vars(), '\\').is_err());
        assert!(expand("${}", &vars(), '\\').is_err());
        assert!(expand("${A:#x}", &vars(), '\\').is_err());
        assert!(expand("${A!x}", &vars(), '\\').is_err());
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
        assert!(expand("'open", &vars(), '\\').is_err());
        assert!(expand("\"open", &vars(), '\\').is_err());
    }

    #[test]
    fn words_keep_quotes() {
        assert_eq!(split_words(r#"a="x y" b=z  'c d'"#, '\\'), [r#"a="x y""#, "b=z", "'c d'"]);
        assert_eq!(split_words(r#"a\ b c"#, '\\'), [r#"a\ b"#, "c"]);
        assert_eq!(split_words(r#"x="" y"#, '\\'), [r#"x="""#, "y"]);
        assert_eq!(split_words("  ", '\\'), Vec::<String>::new());
        assert_eq!(expand_fields(&["$SP".to_owned(), "c".to_owned()], &vars(), '\\').unwrap(), ["a", "b", "c"]);
    }
}
