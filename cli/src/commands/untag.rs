//! `hoist untag IMAGE [NAME...]` (`hoist image untag`): podman's — take names off an image of the local
//! store (every name when none is given); the image stays, as `<none>` when no name is left (`prune` or
//! `rmi` removes it). A NAME without a registry is `localhost/NAME`, as `tag` gives it. Prints nothing.

use hoist_core::ops;

use super::{Invocation, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Image in the local store: a name, short name or ID
    image: String,
    /// Names to take off ([REGISTRY/]REPO[:TAG]; localhost/ and :latest when left out); none: every name.
    /// A name the image does not have is refused before any is taken off
    names: Vec<String>,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    ops::untag(&ctx.settings, &a.image, &a.names)?;
    Ok(())
}
