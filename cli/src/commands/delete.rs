//! `hoist delete docker://REGISTRY/REPO:TAG`: delete an image's manifest from a registry, as `skopeo delete`
//! (a tag is resolved to its digest first; every tag pointing at that manifest goes with it), and the digest's
//! signatures in the lookaside registries.d names, as containers/image deletes them.

use hoist_core::ops;

use super::common::{RegistryArgs, SignatureStorageArgs, registry_reference};
use super::{Invocation, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Image: docker://REGISTRY/REPO:TAG or @DIGEST
    image: String,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    signature_storage: SignatureStorageArgs,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let settings = a.signature_storage.apply(a.registry.settings(ctx)?);
    let reference = registry_reference(&a.image)?;
    let (digest, _) = ctx.runtime.block_on(ops::delete(&settings, &reference))?;
    ctx.printer.progress_line(&format!("Deleted {reference} ({digest})"));
    Ok(())
}
