//! `hoist verify PATH`: checks a backup (any of the four formats, compressed or not) without loading it —
//! every blob's digest and size, config diff_ids against the layers, every referenced blob present, names
//! valid — and prints each problem; exits non-zero on any. `--format json` prints the whole report.

use std::path::PathBuf;

use hoist_core::archive::verify::verify;
use hoist_core::archive::{Input, open};

use super::{Invocation, Result, fail};
use crate::printer::OutputFormat;

#[derive(clap::Args)]
pub struct Args {
    /// The archive (file) or directory to check
    path: PathBuf,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let spool = std::env::temp_dir();
    let report = match open(Input::Path(a.path.clone()), &spool) {
        Ok(opened) => verify(&opened),
        Err(e) => hoist_core::archive::verify::Report {
            path: a.path.display().to_string(),
            format: "unknown".to_owned(),
            images: 0,
            blobs: 0,
            problems: vec![e.to_string()],
        },
    };
    if a.format == OutputFormat::Json {
        ctx.printer.json(&report)?;
    } else {
        for p in &report.problems {
            ctx.printer.line(p)?;
        }
        if report.problems.is_empty() {
            ctx.printer.line(format!(
                "{}: {} is whole: {} image(s), {} file(s) checked",
                report.path, report.format, report.images, report.blobs
            ))?;
        }
    }
    match report.problems.len() {
        0 => Ok(()),
        n => fail(format!("{}: {n} problem(s) found", report.path)),
    }
}
