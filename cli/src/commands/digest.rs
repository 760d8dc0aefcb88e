//! `hoist digest IMAGE`: the manifest digest of an image — in the local store, or in a registry with
//! `docker://` (asked with HEAD, checked against the body when the registry does not say).

use hoist_core::transport::ImageSource;
use hoist_core::transport::store::StoreSource;

use super::common::{RegistryArgs, open_store, registry_reference};
use super::{Invocation, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Image: a name or ID in the local store, or docker://REGISTRY/REPO[:TAG]
    image: String,
    #[command(flatten)]
    registry: RegistryArgs,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let digest = if a.image.starts_with("docker://") {
        let settings = a.registry.settings(ctx)?;
        let reference = registry_reference(&a.image)?;
        ctx.runtime.block_on(async {
            let src = settings.registry_source(&reference).await?;
            Ok::<_, super::Error>(src.manifest().await?.digest)
        })?
    } else {
        StoreSource::open(open_store(ctx)?, &a.image)?.image().descriptor.digest.clone()
    };
    ctx.printer.line(digest)?;
    Ok(())
}
