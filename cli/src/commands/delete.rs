//! `hoist delete docker://REGISTRY/REPO:TAG`: delete an image's manifest from a registry, as `skopeo delete`
//! (a tag is resolved to its digest first; every tag pointing at that manifest goes with it).

use hoist_core::transport::registry::RegistryDestination;

use super::common::{RegistryArgs, push_endpoint, registry_reference};
use super::{Context, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Image: docker://REGISTRY/REPO:TAG or @DIGEST
    image: String,
    #[command(flatten)]
    registry: RegistryArgs,
}

pub fn run(a: Args, ctx: &Context) -> Result<()> {
    let config = ctx.load_config()?;
    let reference = registry_reference(&a.image)?;
    let endpoint = push_endpoint(&config, &reference, &a.registry.tls());
    let creds = a.registry.creds(&config, ctx)?;
    let digest = ctx.runtime.block_on(async {
        let dst = RegistryDestination::open(&endpoint, reference.clone(), &creds, &ctx.observer()).await?;
        Ok::<_, super::Error>(dst.delete().await?)
    })?;
    ctx.printer.progress_line(&format!("Deleted {reference} ({digest})"));
    Ok(())
}
