//! `hoist rmi IMAGE...`: remove images from the local store (by name: that name; by ID: every name of it,
//! which needs `--force` when it has several), then the blobs nothing references any more. Exit codes as
//! podman's: 1 when every failure is an image not known (`rmi -f` ignores those), else 125.

use hoist_core::ops;

use super::{Errors, ExitWith, Invocation, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Images: names, short names or IDs
    #[arg(required_unless_present = "all")]
    images: Vec<String>,
    /// Remove every image
    #[arg(short, long)]
    all: bool,
    /// Remove an image with several names by its ID; an image not known is no error
    #[arg(short, long)]
    force: bool,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let mut failed = Vec::new();
    let mut all_not_known = true;
    for r in ops::rmi(&ctx.settings, &a.images, a.all, a.force)? {
        all_not_known &= r.outcome.is_ok() || r.not_known();
        match r.outcome {
            Ok(removed) => {
                for n in &removed.untagged {
                    ctx.printer.line(format!("Untagged: {n}"))?;
                }
                if let Some(id) = &removed.deleted {
                    ctx.printer.line(format!("Deleted: {}", id.hex()))?;
                }
            }
            Err(e) => failed.push(e.to_string()),
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    Err(Box::new(ExitWith { code: if all_not_known { 1 } else { 125 }, error: Box::new(Errors(failed)) }))
}
