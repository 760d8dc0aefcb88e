//! `hoist pull NAME`: copy an image from its registry into the local store, as `podman pull` does — short
//! names through registries.conf, mirrors before the primary, the host's platform from a multi-platform
//! image (or `--platform`, or every platform with `--all`). Prints the image ID on stdout.

use hoist_core::copy::{self, Options};
use hoist_core::store::Store;
use hoist_core::transport::store::StoreDestination;

use super::common::{CopyFlags, PlatformArgs, RegistryArgs, open_store, resolve_source};
use super::{Context, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Image to pull: a short name (alpine), a full name (quay.io/org/app:tag) or name@sha256:DIGEST
    name: String,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    platform: PlatformArgs,
    /// Pull every platform of a multi-platform image, and the index itself
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    pub copy: CopyFlags,
}

pub fn run(a: Args, ctx: &Context) -> Result<()> {
    let config = ctx.load_config()?;
    let opts = Options { jobs: a.copy.jobs, platform: a.platform.platform()?, all: a.all };
    let store = open_store()?;
    let progress = ctx.printer.copy_progress();
    let (reference, report) = ctx.runtime.block_on(async {
        let (reference, src) = resolve_source(&a.name, &config, &a.registry, ctx).await?;
        let dst = StoreDestination::open(store.clone(), reference.clone())?;
        let report = copy::copy(&src, &dst, &opts, progress.clone()).await?;
        Ok::<_, super::Error>((reference, report))
    })?;
    progress.summary(&report);
    let image = store.find(&reference.to_string())?;
    ctx.printer.line(image_id(&store, &image)?.hex())?;
    Ok(())
}

pub fn image_id(store: &Store, image: &hoist_core::store::Image) -> Result<hoist_core::digest::Digest> {
    Ok(store.image_id(image)?)
}
