//! `hoist delete docker://REGISTRY/REPO:TAG`: delete an image's manifest from a registry, as `skopeo delete`
//! (a tag is resolved to its digest first; every tag pointing at that manifest goes with it).

use super::common::{RegistryArgs, registry_reference};
use super::{Invocation, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Image: docker://REGISTRY/REPO:TAG or @DIGEST
    image: String,
    #[command(flatten)]
    registry: RegistryArgs,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let settings = a.registry.settings(ctx)?;
    let reference = registry_reference(&a.image)?;
    let digest = ctx.runtime.block_on(async {
        let dst = settings.registry_destination(&reference).await?;
        Ok::<_, super::Error>(dst.delete().await?)
    })?;
    ctx.printer.progress_line(&format!("Deleted {reference} ({digest})"));
    Ok(())
}
