//! `hoist rmi IMAGE...`: remove images from the local store (by name: that name; by ID: every name of it,
//! which needs `--force` when it has several), then the blobs nothing references any more.

use hoist_core::ops;

use super::{Invocation, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Images: names, short names or IDs
    #[arg(required_unless_present = "all")]
    images: Vec<String>,
    /// Remove every image
    #[arg(short, long)]
    all: bool,
    /// Remove an image with several names by its ID
    #[arg(short, long)]
    force: bool,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let mut failed = Vec::new();
    for r in ops::rmi(&ctx.settings, &a.images, a.all, a.force)? {
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
    if !failed.is_empty() {
        return super::fail(failed.join("\n"));
    }
    Ok(())
}
