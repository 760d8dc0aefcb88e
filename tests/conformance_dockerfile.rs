//! buildkit's own Dockerfile parser test files (tests/data/buildkit/, see its README) run through hoist-core's
//! public Dockerfile parser: each positive case's instructions, rendered as buildkit's `Node.Dump` renders
//! them, must equal buildkit's `result` file; each negative case must be refused. The few cases where hoist
//! deliberately refuses at another stage are listed below with the reason; any other difference fails.

use std::fs;
use std::path::{Path, PathBuf};

use hoist_core::build::dockerfile::{self, Instruction, Keyword};
use hoist_core::build::shell::split_words;

/// Lines of a positive case that hoist refuses while buildkit's parser accepts them (buildkit refuses them
/// too, one stage later): case, Dockerfile line, the dump entry buildkit's parser produced, why.
const DELIBERATE: &[(&str, usize, &str, &str)] = &[
    (
        "health",
        4,
        "(healthcheck)",
        "a bare HEALTHCHECK: hoist's parser refuses it (\"requires at least one argument\"); buildkit's \
         instruction stage refuses it with the same words",
    ),
    (
        "health",
        7,
        "(healthcheck \"CMD\")",
        "HEALTHCHECK CMD with no command: hoist's parser refuses it; buildkit's instruction stage refuses it \
         (\"Missing command after HEALTHCHECK CMD\")",
    ),
];

/// Negative cases hoist's parser accepts (no instructions) and hoist refuses when it checks the build,
/// before any work: the same outcome one stage later.
const REFUSED_BY_CHECK: &[(&str, &str)] = &[
    ("empty_dockerfile", "an empty Dockerfile parses to no instructions; `hoist build` refuses it (no FROM)"),
    ("only_comments", "only comments: no instructions; `hoist build` refuses it (no FROM)"),
];

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/buildkit")
}

fn cases(dir: &str) -> Vec<(String, PathBuf)> {
    let mut out: Vec<_> = fs::read_dir(data().join(dir))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().into_string().unwrap(), e.path())
        })
        .collect();
    out.sort();
    out
}

/// Go's `strconv.Quote`.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `reWhitespace` (`[\t\v\f\r ]+`).
fn is_blank(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

fn whitespace_list(args: &str) -> Vec<String> {
    args.split(is_blank).filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

/// buildkit's `parseMaybeJSON`: nothing, the JSON array's strings, or the text as one value.
fn maybe_json(args: &str) -> Vec<String> {
    if args.is_empty() {
        return Vec::new();
    }
    dockerfile::json_array(args).unwrap_or_else(|| vec![args.to_owned()])
}

/// One instruction as buildkit's `Node.Dump` shows it.
fn dump(ins: &Instruction, escape: char) -> String {
    let mut out = format!("({}", ins.keyword.as_str().to_ascii_lowercase());
    if !ins.flags.is_empty() {
        let flags: Vec<String> = ins
            .flags
            .iter()
            .map(|f| match &f.value {
                Some(v) => go_quote(&format!("--{}={v}", f.name)),
                None => go_quote(&format!("--{}", f.name)),
            })
            .collect();
        out.push_str(&format!(" [{}]", flags.join(" ")));
    }
    let args = ins.args.as_str();
    let values: Vec<String> = match ins.keyword {
        Keyword::Add | Keyword::Copy | Keyword::Volume => ins.json().unwrap_or_else(|| whitespace_list(args)),
        Keyword::Cmd | Keyword::Entrypoint | Keyword::Run | Keyword::Shell => maybe_json(args),
        Keyword::Expose | Keyword::From => whitespace_list(args),
        Keyword::Maintainer | Keyword::Stopsignal | Keyword::User | Keyword::Workdir => vec![args.to_owned()],
        Keyword::Arg => split_words(args, escape),
        Keyword::Env | Keyword::Label => {
            let words = split_words(args, escape);
            if words.first().is_some_and(|w| !w.contains('=')) {
                let (k, v) = args.split_once(is_blank).unwrap_or((args, ""));
                vec![k.to_owned(), v.trim_start_matches(is_blank).to_owned(), String::new()]
            } else {
                words
                    .iter()
                    .flat_map(|w| {
                        let (k, v) = w.split_once('=').unwrap();
                        [k.to_owned(), v.to_owned(), "=".to_owned()]
                    })
                    .collect()
            }
        }
        Keyword::Healthcheck => {
            let (typ, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
            std::iter::once(typ.to_owned()).chain(maybe_json(rest.trim_start())).collect()
        }
        Keyword::Onbuild => {
            let inner = dockerfile::parse(args).expect("the trigger parsed once already");
            assert_eq!(inner.instructions.len(), 1, "{args}");
            return format!("{} {})", out, dump(&inner.instructions[0], escape));
        }
    };
    for v in values {
        out.push(' ');
        out.push_str(&go_quote(&v));
    }
    out.push(')');
    out
}

#[test]
fn buildkit_parser_testfiles() {
    let (mut files, mut files_agreed, mut instructions, mut agreed, mut runs) = (0, 0, 0, 0, 0);
    let mut deliberate = Vec::new();
    let mut failures = Vec::new();
    for (name, dir) in cases("testfiles") {
        files += 1;
        let original = fs::read_to_string(dir.join("Dockerfile")).unwrap();
        let mut expected: Vec<String> =
            fs::read_to_string(dir.join("result")).unwrap().lines().map(str::to_owned).collect();
        let mut lines: Vec<String> = original.split('\n').map(str::to_owned).collect();
        let parsed = loop {
            match dockerfile::parse(&lines.join("\n")) {
                Ok(d) => break Some(d),
                Err(e) => match DELIBERATE.iter().find(|d| d.0 == name && d.1 == e.line) {
                    Some(&(_, line, entry, why)) => {
                        // Set the line aside and the entry buildkit made of it, then compare the rest.
                        lines[line - 1].clear();
                        let at = expected.iter().position(|x| x == entry);
                        assert!(at.is_some(), "{name}: buildkit's result has no {entry}");
                        expected.remove(at.unwrap());
                        deliberate.push(format!("{name} line {line}: {why} (hoist: {e})"));
                    }
                    None => {
                        failures.push(format!("{name}: hoist refuses what buildkit parses: {e}"));
                        break None;
                    }
                },
            }
        };
        let Some(df) = parsed else { continue };
        let got: Vec<String> = df.instructions.iter().map(|i| dump(i, df.escape)).collect();
        runs += df.instructions.iter().filter(|i| i.keyword == Keyword::Run).count();
        instructions += expected.len().max(got.len());
        let same = expected.iter().zip(&got).filter(|(a, b)| a == b).count();
        agreed += same;
        if got == expected {
            files_agreed += 1;
        } else {
            for (i, (a, b)) in expected.iter().zip(&got).enumerate() {
                if a != b {
                    failures.push(format!("{name} instruction {}:\n  buildkit {a}\n  hoist    {b}", i + 1));
                }
            }
            if expected.len() != got.len() {
                failures.push(format!("{name}: buildkit {} instructions, hoist {}", expected.len(), got.len()));
            }
        }
    }
    println!(
        "buildkit testfiles: {files} cases, {files_agreed} agreed (once the deliberate differences below are set aside); {instructions} instructions, {agreed} \
         agreed; {} deliberate differences:",
        deliberate.len()
    );
    for d in &deliberate {
        println!("  - {d}");
    }
    println!(
        "  ({runs} RUN instructions parsed exactly as buildkit does: hoist build refuses RUN by design, after a \
         correct parse; heredocs (<<EOF) likewise, and these files hold none)"
    );
    assert!(failures.is_empty(), "unexplained disagreements with buildkit:\n{}", failures.join("\n"));
    assert_eq!(deliberate.len(), DELIBERATE.len(), "a listed deliberate difference no longer happens");
    assert_eq!(files, 33, "the testfiles directory is not the one the README names");
}

#[test]
fn buildkit_parser_negative_testfiles() {
    let (mut cases_n, mut refused_at_parse) = (0, 0);
    let mut deliberate = Vec::new();
    let mut failures = Vec::new();
    for (name, dir) in cases("testfiles-negative") {
        cases_n += 1;
        let text = fs::read_to_string(dir.join("Dockerfile")).unwrap();
        match dockerfile::parse(&text) {
            Err(e) => {
                refused_at_parse += 1;
                println!("  {name}: refused: {e}");
            }
            Ok(_) => match REFUSED_BY_CHECK.iter().find(|c| c.0 == name) {
                Some(&(_, why)) => match hoist_core::build::check(&text, None) {
                    Err(e) => deliberate.push(format!("{name}: {why} (hoist: {e})")),
                    Ok(()) => failures.push(format!("{name}: accepted by the parser and by the build check")),
                },
                None => failures.push(format!("{name}: buildkit refuses it, hoist's parser accepts it")),
            },
        }
    }
    println!(
        "buildkit testfiles-negative: {cases_n} cases, {refused_at_parse} refused by the parser as buildkit does; \
         {} deliberate differences (refused one stage later):",
        deliberate.len()
    );
    for d in &deliberate {
        println!("  - {d}");
    }
    assert!(failures.is_empty(), "unexplained disagreements with buildkit:\n{}", failures.join("\n"));
    assert_eq!(cases_n, 4, "the testfiles-negative directory is not the one the README names");
}
