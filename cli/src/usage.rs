//! Usage errors as podman reports them: clap's parse errors become one `Error: ...` line on stderr, then
//! `See 'hoist CMD --help'` naming the command that was being parsed, and exit 125 (clap's own is 2);
//! `--help` and `--version` print on stdout and exit 0; a group called without its command (`hoist creds`)
//! prints its help on stdout, then `Error: missing command 'hoist creds COMMAND'`, and exits 125.
//!
//! clap's "tip: a similar argument exists" lines are never shown: a near spelling can be a flag with another
//! meaning (`pull --all-tags` is not `pull --all`), so only the error itself is printed, as podman does.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::printer::Printer;

/// The exit code of a usage error (podman's for every error of its own).
pub const USAGE_EXIT: u8 = 125;

/// Reports clap's `error` for the command line `args` (argv, program name first) and returns the exit code.
pub fn report(error: &clap::Error, root: &clap::Command, args: &[OsString]) -> ExitCode {
    let printer = Printer::new(false, false);
    let path = command_path(root, args);
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let shown =
                if printer.stdout_is_terminal() { error.render().ansi().to_string() } else { error.to_string() };
            // A closed stdout (`hoist --help | head -1`) is no failure.
            let _ = printer.raw(shown.as_bytes());
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let shown =
                if printer.stdout_is_terminal() { error.render().ansi().to_string() } else { error.to_string() };
            let _ = printer.raw(shown.as_bytes());
            printer.error(&format!("missing command '{path} COMMAND'"));
            ExitCode::from(USAGE_EXIT)
        }
        _ => {
            printer.error(&message(error, &path));
            printer.notice(&format!("See '{path} --help'"));
            ExitCode::from(USAGE_EXIT)
        }
    }
}

/// The error on one line: podman's words where clap's differ (`unknown flag: --bogus`, `flag needs an
/// argument: --format`), else clap's message without its tips and usage.
fn message(error: &clap::Error, path: &str) -> String {
    let context = |kind| match error.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    match (error.kind(), context(ContextKind::InvalidArg)) {
        (ErrorKind::UnknownArgument, Some(arg)) if arg.starts_with("--") => {
            return format!("unknown flag: {}", arg.split('=').next().unwrap_or(&arg));
        }
        (ErrorKind::UnknownArgument, Some(arg)) if arg.starts_with('-') => {
            let mut letters = arg.chars().skip(1);
            return match (letters.next(), letters.next()) {
                (Some(c), None) if c != '=' => format!("unknown shorthand flag: '{c}' in {arg}"),
                _ => format!("unknown flag: {arg}"),
            };
        }
        (ErrorKind::InvalidValue, Some(arg)) if context(ContextKind::InvalidValue).is_some_and(|v| v.is_empty()) => {
            return format!("flag needs an argument: {}", arg.split([' ', '=']).next().unwrap_or(&arg));
        }
        _ => {}
    }
    if let (ErrorKind::InvalidSubcommand, Some(name)) = (error.kind(), context(ContextKind::InvalidSubcommand)) {
        return format!("unrecognized command `{path} {name}`");
    }
    // clap's text: `error: MESSAGE` and maybe indented detail lines, then a blank line before tips and usage.
    let rendered = error.render().to_string();
    let text = rendered.trim_start().strip_prefix("error: ").unwrap_or(rendered.trim_start());
    let head = text.split("\n\n").next().unwrap_or(text);
    let joined: Vec<&str> = head.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let mut line = joined.join(" ");
    // A source error (a value's parser) is in the text already; keep it on this one line.
    if line.is_empty() {
        line = error.kind().to_string();
    }
    line
}

/// The command being parsed when clap stopped, as a user types it: `hoist`, `hoist images`, `hoist creds
/// list`. Flags are stepped over (with their values when they take one), so `hoist --timeout 5 pull --bogus`
/// is `hoist pull`.
fn command_path(root: &clap::Command, args: &[OsString]) -> String {
    let mut root = root.clone();
    root.build();
    let mut path = vec![root.get_name().to_owned()];
    let mut cur = &root;
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        let Some(arg) = arg.to_str() else { break };
        if arg == "--" {
            break;
        }
        // A flag this command does not have is where clap stopped (`hoist --bogus images`: `hoist`).
        if let Some(long) = arg.strip_prefix("--") {
            let name = long.split('=').next().unwrap_or(long);
            let Some(flag) = cur.get_arguments().find(|a| a.get_long() == Some(name)) else { break };
            if !long.contains('=') && flag.get_action().takes_values() {
                rest.next();
            }
            continue;
        }
        if let Some(short) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            let mut chars = short.chars();
            let Some(first) = chars.next() else { break };
            let Some(flag) = cur.get_arguments().find(|a| a.get_short() == Some(first)) else { break };
            if chars.next().is_none() && flag.get_action().takes_values() {
                rest.next();
            }
            continue;
        }
        match cur.find_subcommand(arg) {
            Some(sub) => {
                path.push(sub.get_name().to_owned());
                cur = sub;
            }
            None => break,
        }
    }
    path.join(" ")
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::{command_path, message};
    use crate::Cli;

    fn os(args: &[&str]) -> Vec<std::ffi::OsString> {
        args.iter().map(Into::into).collect()
    }

    /// The one-line message and the command named in `See '... --help'` for a command line clap refuses.
    fn refused(args: &[&str]) -> (String, String) {
        let e = Cli::try_parse_from(args).err().expect("clap refuses it");
        let path = command_path(&Cli::command(), &os(args));
        (message(&e, &path), path)
    }

    #[test]
    fn flags_are_reported_as_podman_words_them_without_tips() {
        assert_eq!(refused(&["hoist", "images", "--bogus"]), ("unknown flag: --bogus".into(), "hoist images".into()));
        // A near spelling of a real flag: no "similar argument" tip pointing at it.
        assert_eq!(refused(&["hoist", "images", "--digest"]).0, "unknown flag: --digest");
        assert_eq!(refused(&["hoist", "pull", "--all-tagz=1", "x"]).0, "unknown flag: --all-tagz");
        assert_eq!(refused(&["hoist", "images", "-z"]).0, "unknown shorthand flag: 'z' in -z");
        assert_eq!(refused(&["hoist", "images", "--format"]).0, "flag needs an argument: --format");
        assert_eq!(
            refused(&["hoist", "--timeout", "5", "creds", "list", "--bogus"]),
            ("unknown flag: --bogus".into(), "hoist creds list".into())
        );
        assert_eq!(refused(&["hoist", "--bogus", "images"]).1, "hoist");
        assert_eq!(refused(&["hoist", "creds", "-z", "list"]).1, "hoist creds");
    }

    #[test]
    fn other_errors_are_one_line_with_no_tip_or_usage() {
        let (tag, path) = refused(&["hoist", "tag", "x"]);
        assert_eq!(path, "hoist tag");
        assert_eq!(tag, "the following required arguments were not provided: <NAMES>...");
        let (format, _) = refused(&["hoist", "list-tags", "--format", "yaml", "x"]);
        assert_eq!(format, "invalid value 'yaml' for '--format <FORMAT>' [possible values: text, json]");
        let (timeout, _) = refused(&["hoist", "--timeout", "x", "images"]);
        assert_eq!(timeout, "invalid value 'x' for '--timeout <SECONDS>': invalid digit found in string");
        assert_eq!(refused(&["hoist", "logot"]).0, "unrecognized command `hoist logot`");
        for args in [
            &["hoist", "tag", "x"][..],
            &["hoist", "logot"],
            &["hoist", "images", "--fromat", "json"],
            &["hoist", "list-tags", "--format", "yaml", "x"],
        ] {
            let (m, _) = refused(args);
            assert!(!m.contains('\n') && !m.contains("tip") && !m.contains("Usage"), "{args:?}: {m}");
        }
    }
}
