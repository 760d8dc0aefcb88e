//! `hoist prune` (`hoist image prune`): podman's `image prune` — remove the images without a name
//! (dangling), or with `-a` every image (hoist has no containers, so none is in use), then the blobs nothing
//! references (what interrupted pulls and removed images leave behind). Asks first, as podman does, unless
//! `-f`; prints the ID of each image removed.

use std::io::{BufRead, Read};

use hoist_core::ops;

use super::{Invocation, Result, fail};

#[derive(clap::Args)]
pub struct Args {
    /// Remove every image, not only the dangling ones (no image is in use: hoist has no containers)
    #[arg(short, long)]
    all: bool,
    /// Do not ask for confirmation
    #[arg(short, long)]
    force: bool,
}

/// The most bytes of an answer read from stdin.
const MAX_ANSWER: u64 = 4096;

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    if !a.force && !confirmed(&a, ctx)? {
        return Ok(());
    }
    let pruned = ops::prune(&ctx.settings, a.all)?;
    for id in &pruned.ids {
        ctx.printer.line(id.hex())?;
    }
    Ok(())
}

/// podman's question on stdout and the answer from stdin: yes when it starts with `y` or `Y`. No answer at
/// all (stdin at its end) is an error, as podman's `EOF`.
fn confirmed(a: &Args, ctx: &Invocation) -> Result<bool> {
    ctx.printer.line(if a.all {
        "WARNING! This command removes all images without at least one container associated with them."
    } else {
        "WARNING! This command removes all dangling images."
    })?;
    ctx.printer.prompt("Are you sure you want to continue? [y/N] ")?;
    let mut answer = Vec::new();
    std::io::stdin().lock().take(MAX_ANSWER).read_until(b'\n', &mut answer)?;
    if answer.is_empty() {
        return fail("no answer on stdin: nothing removed (-f removes without asking)");
    }
    Ok(matches!(answer.first(), Some(b'y' | b'Y')))
}
