//! `hoist prune`: remove blobs no image in the local store references (what interrupted pulls and removed
//! images leave behind).

use super::common::{human_size, open_store};
use super::{Invocation, Result};

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_a: Args, ctx: &Invocation) -> Result<()> {
    let report = open_store(ctx)?.gc()?;
    ctx.printer.line(format!("removed {} blob(s), freed {}", report.blobs_removed, human_size(report.bytes_freed)))?;
    Ok(())
}
