//! `hoist digest IMAGE`: the manifest digest of an image — in the local store, or in a registry with
//! `docker://` (asked with HEAD, checked against the body when the registry does not say).

use hoist_core::ops;

use super::common::RegistryArgs;
use super::{Invocation, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Image: a name or ID in the local store, or docker://REGISTRY/REPO[:TAG]
    image: String,
    #[command(flatten)]
    registry: RegistryArgs,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let settings = a.registry.settings(ctx)?;
    let digest = ctx.runtime.block_on(ops::digest(&settings, &a.image))?;
    ctx.printer.line(digest)?;
    Ok(())
}
