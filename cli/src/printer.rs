//! The one writer `hoist` has to the terminal: command output on stdout (text, `--format json`, raw
//! documents, an archive streamed by `save`), and on stderr `Warning:` and `Error:` lines, `--verbose` steps,
//! progress lines and copy progress (bars or podman's plain lines, built here by [`Printer::copy_progress`]).
//! It is also the library's [`Observer`], so what the library reports goes through the same policy.
//!
//! A [`Printer`] is a small `Copy` value decided once in `main` from the command's flags (`-q`, `--verbose`)
//! and never changed afterwards: a command receives it and only writes through it.
//!
//! Every text line passes through [`terminal_safe`]: what a registry, an archive or a file says (an error
//! message, a tag name) cannot set the terminal's title, rewrite a line or fake another. JSON is written by
//! its encoder, which escapes control characters itself, so `--format json` stays exact.

use std::io::{IsTerminal, Write};

use hoist_core::observe::{Observer, SharedObserver, terminal_safe};

use crate::progress::CopyReporter;

/// How a command prints its result: `--format text` (lines) or `--format json`.
#[derive(Clone, Copy, clap::ValueEnum, PartialEq, Eq, Debug, Default)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

/// What reaches the terminal, decided once per run. `Copy`: commands, progress and the library's observer
/// each hold their own copy of the same policy.
#[derive(Clone, Copy, Debug)]
pub struct Printer {
    /// `--verbose`: the library's debug lines are shown (`hoist: ...`).
    verbose: bool,
    /// `-q`: progress (copy bars and lines, `Trying to pull`, build steps) is not shown; results, warnings
    /// and errors still are.
    quiet: bool,
    sink: Sink,
}

/// Where the bytes go: the process's stdout and stderr, or (in unit tests) two buffers.
#[derive(Clone, Copy, Debug)]
enum Sink {
    Terminal,
    #[cfg(test)]
    Memory(&'static tests::Memory),
}

/// The two streams a [`Printer`] writes.
#[derive(Clone, Copy)]
enum Stream {
    Out,
    Err,
}

impl Printer {
    /// The printer for one run: `verbose` shows debug lines, `quiet` hides progress.
    pub fn new(verbose: bool, quiet: bool) -> Printer {
        Printer { verbose, quiet, sink: Sink::Terminal }
    }

    /// Writes `bytes` to one stream, whole.
    fn write(&self, stream: Stream, bytes: &[u8]) -> std::io::Result<()> {
        match (self.sink, stream) {
            (Sink::Terminal, Stream::Out) => std::io::stdout().lock().write_all(bytes),
            (Sink::Terminal, Stream::Err) => std::io::stderr().lock().write_all(bytes),
            #[cfg(test)]
            (Sink::Memory(m), Stream::Out) => m.out.lock().unwrap().write_all(bytes),
            #[cfg(test)]
            (Sink::Memory(m), Stream::Err) => m.err.lock().unwrap().write_all(bytes),
        }
    }

    /// One text line, escaped for the terminal.
    fn text_line(&self, stream: Stream, text: &str) -> std::io::Result<()> {
        let mut line = terminal_safe(text).into_owned();
        line.push('\n');
        self.write(stream, line.as_bytes())
    }

    /// One line of a command's result on stdout.
    pub fn line(&self, text: impl std::fmt::Display) -> std::io::Result<()> {
        self.text_line(Stream::Out, &text.to_string())
    }

    /// A command's result as pretty JSON on stdout, then a newline.
    pub fn json<T: serde::Serialize>(&self, value: &T) -> std::io::Result<()> {
        let mut bytes = serde_json::to_vec_pretty(value)?;
        bytes.push(b'\n');
        self.write(Stream::Out, &bytes)
    }

    /// A `--format` template's output on stdout, as rendered: the template already escaped what came from the
    /// data (`crate::template`), so the tabs and newlines the format asked for stay real.
    pub fn rendered(&self, text: &str) -> std::io::Result<()> {
        self.write(Stream::Out, text.as_bytes())
    }

    /// Raw bytes on stdout, as they are (completion scripts).
    pub fn raw(&self, bytes: &[u8]) -> std::io::Result<()> {
        self.write(Stream::Out, bytes)
    }

    /// A document on stdout exactly as stored (a manifest, a config), ending with a newline: one is added
    /// when the document has none.
    pub fn document(&self, bytes: &[u8]) -> std::io::Result<()> {
        self.write(Stream::Out, bytes)?;
        if bytes.ends_with(b"\n") { Ok(()) } else { self.write(Stream::Out, b"\n") }
    }

    /// A question on stdout, as podman asks it (`... [y/N] `, no newline), flushed before the answer is read.
    pub fn prompt(&self, text: &str) -> std::io::Result<()> {
        self.write(Stream::Out, terminal_safe(text).as_bytes())?;
        match self.sink {
            Sink::Terminal => std::io::stdout().lock().flush(),
            #[cfg(test)]
            Sink::Memory(_) => Ok(()),
        }
    }

    /// True when stdout is a terminal (`save` refuses to stream an archive to one).
    pub fn stdout_is_terminal(&self) -> bool {
        matches!(self.sink, Sink::Terminal) && std::io::stdout().is_terminal()
    }

    /// stdout as a stream, for a result too large to hold (`save`'s archive); bytes go as they are.
    pub fn result_stream(&self) -> Box<dyn Write + Send> {
        Box::new(ResultStream(*self))
    }

    /// True when progress may draw bars: not `-q`, and stderr is a terminal.
    fn draws_bars(&self) -> bool {
        !self.quiet && matches!(self.sink, Sink::Terminal) && std::io::stderr().is_terminal()
    }

    /// A line for the person at the terminal that is not the result (`WARNING! ...`), on stderr.
    pub fn notice(&self, text: &str) {
        let _ = self.text_line(Stream::Err, text);
    }

    /// A progress line on stderr (`Trying to pull ...`, `STEP 1/3: ...`), unless `-q`.
    pub fn progress_line(&self, text: &str) {
        if !self.quiet {
            self.notice(text);
        }
    }

    /// A build's progress line, on stdout with its result as podman prints them (`STEP 1/3: ...`, `COMMIT
    /// NAME`, `--> ID`), unless `-q`.
    pub fn build_line(&self, text: &str) -> std::io::Result<()> {
        if self.quiet { Ok(()) } else { self.line(text) }
    }

    /// This printer as the observer of a build: its steps are [`Printer::build_line`]s (stdout), its
    /// warnings and debug lines as every command's.
    pub fn build_observer(&self) -> SharedObserver {
        std::sync::Arc::new(BuildSteps(*self))
    }

    pub fn warn(&self, text: &str) {
        self.notice(&format!("Warning: {text}"));
    }

    pub fn error(&self, text: &str) {
        self.notice(&format!("Error: {text}"));
    }

    /// Several errors as podman prints them: `Error: N errors occurred:`, then `\t* MESSAGE` each (each
    /// message escaped on its own line); one alone is a plain [`Printer::error`].
    pub fn errors(&self, messages: &[String]) {
        if let [one] = messages {
            return self.error(one);
        }
        self.error(&format!("{} errors occurred:", messages.len()));
        for m in messages {
            let _ = self.write(Stream::Err, b"\t* ");
            let _ = self.text_line(Stream::Err, m);
        }
    }

    /// A `--verbose` step (`hoist: ...`), shown only with `--verbose`.
    pub fn debug(&self, text: &str) {
        if self.verbose {
            self.notice(&format!("hoist: {text}"));
        }
    }

    /// This printer as the library's observer.
    pub fn observer(&self) -> SharedObserver {
        std::sync::Arc::new(*self)
    }

    /// Copy progress for one copy: bars when stderr is a terminal, podman's plain lines otherwise, nothing
    /// with `-q`.
    pub fn copy_progress(&self) -> std::sync::Arc<CopyReporter> {
        std::sync::Arc::new(if self.draws_bars() {
            CopyReporter::bars(indicatif::ProgressDrawTarget::stderr())
        } else {
            CopyReporter::Lines(*self)
        })
    }
}

/// [`Printer::build_observer`]: progress lines go to stdout. A closed stdout is noticed by the command's next
/// result line, not here.
struct BuildSteps(Printer);

impl Observer for BuildSteps {
    fn debug(&self, line: &str) {
        Printer::debug(&self.0, line);
    }
    fn warning(&self, line: &str) {
        self.0.warn(line);
    }
    fn progress(&self, line: &str) {
        let _ = self.0.build_line(line);
    }
}

/// [`Printer::result_stream`]: every write goes whole to the printer's stdout.
struct ResultStream(Printer);

impl Write for ResultStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(Stream::Out, buf).map(|()| buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.0.sink {
            Sink::Terminal => std::io::stdout().flush(),
            #[cfg(test)]
            Sink::Memory(_) => Ok(()),
        }
    }
}

impl Observer for Printer {
    fn debug(&self, line: &str) {
        Printer::debug(self, line);
    }
    fn warning(&self, line: &str) {
        self.warn(line);
    }
    fn progress(&self, line: &str) {
        self.progress_line(line);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use hoist_core::copy::{BlobOutcome, CopyProgress};
    use hoist_core::image::Descriptor;

    use super::{Printer, Sink};

    /// What a test printer wrote.
    #[derive(Debug, Default)]
    pub struct Memory {
        pub out: Mutex<Vec<u8>>,
        pub err: Mutex<Vec<u8>>,
    }

    fn printer(verbose: bool, quiet: bool) -> (Printer, &'static Memory) {
        let memory: &'static Memory = Box::leak(Box::default());
        (Printer { verbose, quiet, sink: Sink::Memory(memory) }, memory)
    }

    fn text(buffer: &Mutex<Vec<u8>>) -> String {
        String::from_utf8(buffer.lock().unwrap().clone()).unwrap()
    }

    fn blob() -> Descriptor {
        serde_json::from_value(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": format!("sha256:{}", "ab".repeat(32)),
            "size": 3,
        }))
        .unwrap()
    }

    /// Everything a command can print, once.
    fn print_everything(p: Printer) {
        p.line("result").unwrap();
        p.json(&serde_json::json!({"tag": "a\u{1b}[2Jb"})).unwrap();
        p.progress_line("Trying to pull x...");
        p.warn("careful");
        p.error("broken");
        p.debug("asked the registry");
        let progress = p.copy_progress();
        progress.blob_finished(&blob(), BlobOutcome::Copied);
    }

    #[test]
    fn quiet_hides_progress_but_not_results_warnings_or_errors() {
        let (quiet, memory) = printer(false, true);
        print_everything(quiet);
        assert_eq!(text(&memory.out), "result\n{\n  \"tag\": \"a\\u001b[2Jb\"\n}\n");
        assert_eq!(text(&memory.err), "Warning: careful\nError: broken\n");

        let (loud, memory) = printer(true, false);
        print_everything(loud);
        assert_eq!(
            text(&memory.err),
            "Trying to pull x...\nWarning: careful\nError: broken\nhoist: asked the registry\nCopying blob abababababab done\n"
        );
    }

    #[test]
    fn several_errors_are_listed_as_podman_lists_them_each_line_escaped() {
        let (p, memory) = printer(false, true);
        p.errors(&["a: image not known".into(), "b\n\t* c: fake".into()]);
        p.errors(&["one".into()]);
        assert_eq!(
            text(&memory.err),
            "Error: 2 errors occurred:\n\t* a: image not known\n\t* b\\n\\t* c: fake\nError: one\n"
        );
    }

    #[test]
    fn text_lines_are_escaped_and_documents_kept_exact() {
        let (p, memory) = printer(true, false);
        p.line("tag\u{1b}]0;pwned\u{7}\nError: fake").unwrap();
        p.warn("registry said \r\u{202e}x");
        <Printer as hoist_core::observe::Observer>::debug(&p, "a\tb");
        p.document(b"{\"a\":\"\x1b\"}").unwrap();
        p.document(b"{}\n").unwrap();
        assert_eq!(text(&memory.out), "tag\\u{1b}]0;pwned\\u{7}\\nError: fake\n{\"a\":\"\x1b\"}\n{}\n");
        assert_eq!(text(&memory.err), "Warning: registry said \\r\\u{202e}x\nhoist: a\\tb\n");
    }
}
