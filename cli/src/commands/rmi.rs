//! `hoist rmi IMAGE...`: remove images from the local store (by name: that name; by ID: every name of it,
//! which needs `--force` when it has several), then the blobs nothing references any more.

use super::common::open_store;
use super::{Context, Result};

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

pub fn run(a: Args, ctx: &Context) -> Result<()> {
    let store = open_store(ctx)?;
    let targets: Vec<String> =
        if a.all { store.image_ids()?.iter().map(|id| id.hex().to_owned()).collect() } else { a.images.clone() };
    let force = a.force || a.all;
    let mut failed = Vec::new();
    for result in store.remove_each(&targets, force) {
        match result {
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
