//! The Dockerfile parser: text in, instructions with their line numbers out, as buildkit's parser reads it.
//!
//! - Parser directives (`# syntax=...`, `# escape=\` or `` ` ``, `# check=...`) only at the very top, before
//!   any comment, blank line or instruction; each at most once.
//! - Lines ending in the escape character (blanks may follow it) continue on the next line, unless that
//!   escape character is itself escaped (`a\\` ends the instruction, as buildkit's parser reads it); comment
//!   lines and blank lines inside a continuation are skipped; `\r\n` line ends and a UTF-8 BOM are accepted.
//! - An instruction is a keyword (any case) and its arguments; leading `--name[=value]` words are its flags,
//!   and a lone `--` ends them.
//! - The JSON form (`["a", "b"]`) is recognised where docker accepts it; text that is not JSON is the shell
//!   form, as docker does, but a JSON array holding anything other than strings is an error.
//! - Checked here, as buildkit's parser does: `ENV`/`LABEL` pairs (`ENV PATH` without a value is refused),
//!   and `HEALTHCHECK CMD` needs a command (buildkit refuses those two one stage later, with the same outcome).
//! - Heredocs (`<<EOF`) are refused with their line number; so is an unknown instruction.
//! - Bounded: at most [`MAX_SIZE`] bytes ([`read`] reads no more than one byte past it) and
//!   [`MAX_INSTRUCTIONS`] instructions; each refusal names the line where the limit is passed.
//!
//! What it is not: what the instructions mean (see `stage`), or variable substitution (see `shell`).

use std::fmt;
use std::io::Read;

/// The largest Dockerfile hoist reads: 4 MiB. buildkit sets no limit of its own; real Dockerfiles are a few
/// KiB (the largest public ones tens of KiB), and the parse holds the text several times over, so this keeps
/// a hostile one (50 MB of `LABEL a=b`) to tens of MiB of memory.
pub const MAX_SIZE: usize = 4 << 20;
/// The most instructions a Dockerfile may have: 10,000 (each is a history entry in the image's config,
/// which must stay under 8 MiB; real Dockerfiles have tens).
pub const MAX_INSTRUCTIONS: usize = 10_000;

/// Every instruction docker knows: an instruction's keyword, read once by [`parse`] (any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Keyword {
    Add,
    Arg,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    Label,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    Stopsignal,
    User,
    Volume,
    Workdir,
}

impl Keyword {
    /// Every keyword, in alphabetical order.
    pub const ALL: [Keyword; 18] = [
        Keyword::Add,
        Keyword::Arg,
        Keyword::Cmd,
        Keyword::Copy,
        Keyword::Entrypoint,
        Keyword::Env,
        Keyword::Expose,
        Keyword::From,
        Keyword::Healthcheck,
        Keyword::Label,
        Keyword::Maintainer,
        Keyword::Onbuild,
        Keyword::Run,
        Keyword::Shell,
        Keyword::Stopsignal,
        Keyword::User,
        Keyword::Volume,
        Keyword::Workdir,
    ];

    /// As Dockerfiles write it, upper case (`COPY`).
    pub fn as_str(self) -> &'static str {
        match self {
            Keyword::Add => "ADD",
            Keyword::Arg => "ARG",
            Keyword::Cmd => "CMD",
            Keyword::Copy => "COPY",
            Keyword::Entrypoint => "ENTRYPOINT",
            Keyword::Env => "ENV",
            Keyword::Expose => "EXPOSE",
            Keyword::From => "FROM",
            Keyword::Healthcheck => "HEALTHCHECK",
            Keyword::Label => "LABEL",
            Keyword::Maintainer => "MAINTAINER",
            Keyword::Onbuild => "ONBUILD",
            Keyword::Run => "RUN",
            Keyword::Shell => "SHELL",
            Keyword::Stopsignal => "STOPSIGNAL",
            Keyword::User => "USER",
            Keyword::Volume => "VOLUME",
            Keyword::Workdir => "WORKDIR",
        }
    }

    /// The keyword `word` names, in any case.
    pub fn parse(word: &str) -> Option<Keyword> {
        Keyword::ALL.into_iter().find(|k| k.as_str().eq_ignore_ascii_case(word))
    }

    /// The `--flags` it takes (as hoist builds: none of those for downloads or labs features).
    pub fn flags(self) -> &'static [&'static str] {
        match self {
            Keyword::From => &["platform"],
            Keyword::Copy => &["from", "chown", "chmod", "link"],
            Keyword::Add => &["chown", "chmod", "link"],
            Keyword::Healthcheck => &["interval", "timeout", "start-period", "start-interval", "retries"],
            _ => &[],
        }
    }
}

impl fmt::Display for Keyword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The escape character (`\` unless `# escape=` says `` ` ``).
    pub escape: char,
    /// The `# syntax=` directive, if any (recorded, not acted on).
    pub syntax: Option<String>,
    pub instructions: Vec<Instruction>,
}

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// The line it starts on, from 1.
    pub line: usize,
    pub keyword: Keyword,
    /// Leading `--name[=value]` flags, in order.
    pub flags: Vec<Flag>,
    /// The arguments after the flags, continuations joined, leading and trailing blanks removed.
    pub args: String,
    /// The whole instruction as written (continuations joined), for history entries.
    pub original: String,
}

/// A `--name[=value]` flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub name: String,
    pub value: Option<String>,
}

/// Why a Dockerfile was refused: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dockerfile line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError { line, message: message.into() })
}

/// Reads a Dockerfile: at most one byte more than [`MAX_SIZE`], so that [`parse`] refuses a longer one
/// (naming the line that passes the limit) without the rest ever being read. Fails on bytes that are not
/// UTF-8.
pub fn read(r: impl Read) -> std::io::Result<String> {
    let mut buf = Vec::new();
    r.take(MAX_SIZE as u64 + 1).read_to_end(&mut buf)?;
    if buf.len() > MAX_SIZE {
        // Too long whatever it holds: cut where it was cut, for parse to refuse.
        return Ok(String::from_utf8_lossy(&buf).into_owned());
    }
    String::from_utf8(buf)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "the Dockerfile is not UTF-8 text"))
}

/// Parses a Dockerfile's text.
pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    if text.len() > MAX_SIZE {
        let mut cut = MAX_SIZE;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let line = text[..cut].bytes().filter(|&b| b == b'\n').count() + 1;
        return err(line, format!("the Dockerfile passes {MAX_SIZE} bytes (4 MiB), the most hoist reads"));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
    let mut escape = '\\';
    let mut syntax = None;
    let mut seen_directives: Vec<String> = Vec::new();
    let mut i = 0;
    // Directives: only while every line so far was one.
    while i < lines.len() {
        let Some((name, value)) = directive(lines[i]) else { break };
        let lower = name.to_ascii_lowercase();
        if seen_directives.contains(&lower) {
            return err(i + 1, format!("only one {lower} parser directive can be used"));
        }
        match lower.as_str() {
            "escape" => {
                escape = match value.as_str() {
                    "\\" => '\\',
                    "`" => '`',
                    other => return err(i + 1, format!("invalid escape token {other:?}: it must be ` or \\")),
                }
            }
            "syntax" => syntax = Some(value),
            "check" => {}
            _ => break, // an unknown directive is a comment, and ends the directives
        }
        seen_directives.push(lower);
        i += 1;
    }
    let mut instructions = Vec::new();
    while i < lines.len() {
        let start = i;
        let first = lines[i].trim_start();
        i += 1;
        if first.is_empty() || first.starts_with('#') {
            continue;
        }
        let mut joined = String::new();
        let mut current = first.to_owned();
        loop {
            match strip_continuation(&current, escape) {
                Some(before) => {
                    joined.push_str(before);
                    // The next line that is neither blank nor a comment continues it.
                    let mut next = None;
                    while i < lines.len() {
                        let l = lines[i];
                        i += 1;
                        let t = l.trim_start();
                        if t.is_empty() || t.starts_with('#') {
                            continue;
                        }
                        next = Some(l.to_owned());
                        break;
                    }
                    match next {
                        Some(l) => current = l,
                        None => break, // a continuation at the end of the file ends the instruction
                    }
                }
                None => {
                    joined.push_str(&current);
                    break;
                }
            }
        }
        if instructions.len() == MAX_INSTRUCTIONS {
            return err(
                start + 1,
                format!("more than {MAX_INSTRUCTIONS} instructions, the most hoist reads in one Dockerfile"),
            );
        }
        instructions.push(instruction(start + 1, joined.trim(), escape)?);
    }
    Ok(Dockerfile { escape, syntax, instructions })
}

/// `# name = value` at the top of a file.
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.trim_start().strip_prefix('#')?;
    let (name, value) = rest.split_once('=')?;
    let name = name.trim();
    if name.is_empty()
        || !name.starts_with(|c: char| c.is_ascii_alphabetic())
        || !name.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return None;
    }
    Some((name.to_owned(), value.trim().to_owned()))
}

/// The line without its continuation (the escape character, then only blanks), if it has one. An escape
/// character preceded by another one is an escaped escape, not a continuation (buildkit's rule, which also
/// looks no further back: `a\\\` ends the instruction too).
fn strip_continuation(line: &str, escape: char) -> Option<&str> {
    let trimmed = line.trim_end_matches([' ', '\t']);
    let before = trimmed.strip_suffix(escape)?;
    if before.ends_with(escape) {
        return None;
    }
    Some(before)
}

fn instruction(line: usize, text: &str, escape: char) -> Result<Instruction, ParseError> {
    let (word, rest) = match text.find(char::is_whitespace) {
        Some(at) => (&text[..at], text[at..].trim_start()),
        None => (text, ""),
    };
    let Some(keyword) = Keyword::parse(word) else {
        return err(line, format!("unknown instruction: {}", super::excerpt(word)));
    };
    let (flags, args) = flags(rest, line)?;
    if matches!(keyword, Keyword::Run | Keyword::Copy | Keyword::Add) && has_heredoc(args) {
        return err(line, format!("{keyword}: heredocs (<<EOF) are not supported by hoist build"));
    }
    if keyword == Keyword::Onbuild {
        // The trigger is an instruction of its own: check it now (never another ONBUILD, so no deep recursion).
        let inner_word = args.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        if matches!(inner_word.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
            return err(line, format!("ONBUILD {inner_word} is not allowed"));
        }
        instruction(line, args, escape)?;
    }
    if args.is_empty() && !matches!(keyword, Keyword::Cmd | Keyword::Entrypoint | Keyword::Run) {
        return err(line, format!("{keyword} requires at least one argument"));
    }
    match keyword {
        Keyword::Add
        | Keyword::Copy
        | Keyword::Volume
        | Keyword::Cmd
        | Keyword::Entrypoint
        | Keyword::Run
        | Keyword::Shell => check_json(line, keyword, args)?,
        Keyword::Env | Keyword::Label => check_pairs(line, keyword, args, escape)?,
        Keyword::Healthcheck => {
            let (word, cmd) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
            let cmd = cmd.trim_start();
            if word.eq_ignore_ascii_case("CMD") && (cmd.is_empty() || json_array(cmd).is_some_and(|l| l.is_empty())) {
                return err(line, "HEALTHCHECK CMD needs a command after it");
            }
            check_json(line, keyword, cmd)?;
        }
        _ => {}
    }
    Ok(Instruction {
        line,
        flags,
        args: args.to_owned(),
        original: format!("{keyword} {rest}").trim().to_owned(),
        keyword,
    })
}

/// Text that is a JSON array must be one of strings (buildkit: "not a string array"); text that is not JSON
/// at all is the shell form.
fn check_json(line: usize, keyword: Keyword, args: &str) -> Result<(), ParseError> {
    if !args.starts_with('[') {
        return Ok(());
    }
    match serde_json::from_str::<Vec<serde_json::Value>>(args) {
        Ok(items) if items.iter().any(|v| !v.is_string()) => err(
            line,
            format!(
                "{keyword}: the JSON array holds something other than strings; the JSON form is an array of strings"
            ),
        ),
        _ => Ok(()),
    }
}

/// `ENV`/`LABEL`: `name value` (a name alone is refused) or `name=value` words, as buildkit's parser checks.
fn check_pairs(line: usize, keyword: Keyword, args: &str, escape: char) -> Result<(), ParseError> {
    let words = super::shell::split_words(args, escape);
    let Some(first) = words.first() else {
        return err(line, format!("{keyword} requires at least one argument"));
    };
    if !first.contains('=') {
        if !args.contains(char::is_whitespace) {
            return err(
                line,
                format!(
                    "{keyword} {}: a name needs a value ({keyword} name=value, or {keyword} name value)",
                    super::excerpt(args)
                ),
            );
        }
        return Ok(());
    }
    match words.iter().find(|w| !w.contains('=')) {
        Some(w) => err(line, format!("{keyword}: {} is not of the form name=value", super::excerpt(w))),
        None => Ok(()),
    }
}

/// The leading `--flag[=value]` words, and what follows them; a lone `--` ends them.
fn flags(mut rest: &str, line: usize) -> Result<(Vec<Flag>, &str), ParseError> {
    let mut out = Vec::new();
    while let Some(after) = rest.strip_prefix("--") {
        let end = after.find(char::is_whitespace).unwrap_or(after.len());
        let word = &after[..end];
        if word.is_empty() {
            // `--`: the end of the flags, as in buildkit and docker.
            rest = after.trim_start();
            break;
        }
        let (name, value) = match word.split_once('=') {
            Some((n, v)) => (n, Some(unquote(v).to_owned())),
            None => (word, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return err(line, format!("invalid flag {:?}", super::excerpt(word)));
        }
        out.push(Flag { name: name.to_owned(), value });
        rest = after[end..].trim_start();
    }
    Ok((out, rest))
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

/// `<<WORD`, `<<-WORD`, `<<"WORD"` or `<<'WORD'`: a heredoc as buildkit reads one.
fn has_heredoc(args: &str) -> bool {
    let mut rest = args;
    while let Some(at) = rest.find("<<") {
        let mut after = &rest[at + 2..];
        after = after.strip_prefix('-').unwrap_or(after);
        after = after.strip_prefix(['"', '\'']).unwrap_or(after);
        if after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            return true;
        }
        rest = &rest[at + 2..];
    }
    false
}

impl Instruction {
    /// The value of flag `name` (the last one given), if it was given.
    pub fn flag(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().rev().find(|f| f.name == name)
    }

    /// The JSON form's strings when the arguments are a JSON array of strings.
    pub fn json(&self) -> Option<Vec<String>> {
        json_array(&self.args)
    }
}

/// `text` as a JSON array of strings, if it is one.
pub fn json_array(text: &str) -> Option<Vec<String>> {
    if !text.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw(d: &Dockerfile) -> Vec<(usize, &str, &str)> {
        d.instructions.iter().map(|i| (i.line, i.keyword.as_str(), i.args.as_str())).collect()
    }

    #[test]
    fn lines_continuations_comments() {
        let d = parse(
            "# syntax=docker/dockerfile:1\n\
             FROM alpine AS base\r\n\
             # a comment\n\
             \n\
             copy --chown=1:2 --chmod=0644 \\\n\
             \x20 a b \\   \n\
             # comment inside a continuation\n\
             \n\
             \x20 /dst/\n\
             env A=1\\\\\n\
             LABEL x=y\n\
             USER u\n",
        )
        .unwrap();
        assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(
            kw(&d),
            [
                (2, "FROM", "alpine AS base"),
                (5, "COPY", "a b   /dst/"),
                (10, "ENV", "A=1\\\\"),
                (11, "LABEL", "x=y"),
                (12, "USER", "u")
            ]
        );
        let copy = &d.instructions[1];
        assert_eq!(copy.flag("chown").and_then(|f| f.value.as_deref()), Some("1:2"));
        assert_eq!(copy.flag("chmod").and_then(|f| f.value.as_deref()), Some("0644"));
        assert!(copy.original.starts_with("COPY --chown=1:2"), "{}", copy.original);
    }

    #[test]
    fn escape_directive_and_directive_rules() {
        let d = parse("# escape=`\nFROM x\nCOPY a `\n b\n").unwrap();
        assert_eq!(d.escape, '`');
        assert_eq!(kw(&d)[1], (3, "COPY", "a  b"));
        // A directive after a comment is a comment.
        let d = parse("# hello\n# escape=`\nFROM x\nCOPY a \\\n b\n").unwrap();
        assert_eq!(d.escape, '\\');
        assert_eq!(parse("# escape=x\nFROM a").unwrap_err().line, 1);
        assert_eq!(parse("# escape=`\n# escape=\\\nFROM a").unwrap_err().line, 2);
    }

    #[test]
    fn json_and_shell_forms() {
        let d = parse("FROM x\nCMD [\"a\", \"b c\"]\nENTRYPOINT [not json\nCMD\n").unwrap();
        assert_eq!(d.instructions[1].json(), Some(vec!["a".to_owned(), "b c".to_owned()]));
        assert_eq!(d.instructions[2].json(), None);
        assert_eq!(d.instructions[3].args, "");
    }

    #[test]
    fn refusals_carry_the_line() {
        let e = parse("FROM x\n\nBOGUS y\n").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (3, "unknown instruction: BOGUS"));
        let e = parse("FROM x\nCOPY <<EOF /a\nhello\nEOF\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("heredoc"), "{e}");
        assert_eq!(parse("FROM x\nONBUILD FROM y\n").unwrap_err().line, 2);
        let deep = format!("FROM x\n{}COPY a b\n", "ONBUILD ".repeat(100_000));
        assert!(parse(&deep).unwrap_err().message.contains("ONBUILD ONBUILD is not allowed"));
        assert_eq!(parse("FROM x\nONBUILD BOGUS\n").unwrap_err().line, 2);
        assert_eq!(parse("FROM x\nLABEL\n").unwrap_err().line, 2);
        assert_eq!(parse("FROM x\nCOPY --=1 a b\n").unwrap_err().line, 2);
        assert!(parse("FROM x\nCOPY a<<b c\n").is_err());
        assert!(parse("FROM x\nCOPY a<<1 c\n").is_ok(), "<<1 is not a heredoc");
    }

    #[test]
    fn buildkit_agreements() {
        // An escaped escape at the end of a line ends the instruction (buildkit's trailing-backslash test).
        let d = parse("FROM x\nENV C trailing\\\\backslash\\\\\nENV D not appended\n").unwrap();
        assert_eq!(kw(&d)[1..], [(2, "ENV", "C trailing\\\\backslash\\\\"), (3, "ENV", "D not appended")]);
        let d = parse("# escape=`\nFROM x\nENV C a``\nENV D b\n").unwrap();
        assert_eq!(kw(&d)[1..], [(3, "ENV", "C a``"), (4, "ENV", "D b")]);
        // A JSON array of anything but strings is an error, not the shell form.
        for bad in [
            "CMD [\"a\",42,\"b\"]",
            "CMD [ \"echo\", [ \"nested json\" ] ]",
            "COPY [\"a\", null]",
            "HEALTHCHECK CMD [1]",
        ] {
            let e = parse(&format!("FROM x\n{bad}\n")).unwrap_err();
            assert_eq!(e.line, 2, "{bad}");
            assert!(e.message.contains("other than strings"), "{bad}: {e}");
        }
        assert_eq!(parse("FROM x\nCMD [\"a\", \"b\"] x\n").unwrap().instructions[1].json(), None, "not JSON: shell");
        // `--` ends the flags.
        let d = parse("FROM x\nCOPY -- foo /tmp/\nCOPY --chown=1 -- foo /tmp/\n").unwrap();
        assert_eq!(kw(&d)[1..], [(2, "COPY", "foo /tmp/"), (3, "COPY", "foo /tmp/")]);
        assert_eq!(d.instructions[2].flags, [Flag { name: "chown".into(), value: Some("1".into()) }]);
        assert!(d.instructions[1].flags.is_empty());
        // ENV/LABEL pairs are checked by the parser.
        for (bad, what) in [("ENV PATH", "needs a value"), ("LABEL a", "needs a value"), ("ENV a=1 b", "name=value")] {
            let e = parse(&format!("FROM busybox\n\n{bad}\n")).unwrap_err();
            assert_eq!(e.line, 3, "{bad}");
            assert!(e.message.contains(what), "{bad}: {e}");
        }
        assert!(parse("FROM x\nENV PATH /bin\nLABEL a=\"b c\" d=\n").is_ok());
        // HEALTHCHECK CMD needs a command.
        let e = parse("FROM x\nHEALTHCHECK --interval=5s CMD   \n").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (2, "HEALTHCHECK CMD needs a command after it"));
        assert_eq!(parse("FROM x\nHEALTHCHECK CMD [ ]\n").unwrap_err().line, 2, "an empty JSON command too");
        assert!(parse("FROM x\nHEALTHCHECK CMD true\nHEALTHCHECK NONE\n").is_ok());
    }

    #[test]
    fn continuation_at_end_of_file() {
        let d = parse("FROM x \\").unwrap();
        assert_eq!(kw(&d), [(1, "FROM", "x")]);
        assert!(parse("").unwrap().instructions.is_empty());
    }
}
