//! `hoist inspect NAME`: an image's facts as JSON in skopeo's shape (Name, Digest, RepoTags, Created,
//! Architecture, Os, Layers, LayersData, Env, Labels) — from the local store, or from a registry with
//! `docker://NAME`. `--raw` prints the manifest exactly as stored or served, `--config` the config blob.

use hoist_core::ops::{self, InspectPart, Inspected};

use super::common::{PlatformArgs, RegistryArgs};
use super::{Invocation, Result};
use crate::printer::OutputFormat;

#[derive(clap::Args)]
pub struct Args {
    /// Image: a name or ID in the local store, or docker://REGISTRY/REPO[:TAG|@DIGEST]
    name: String,
    /// Print the manifest exactly as it is (an index stays an index)
    #[arg(long, conflicts_with = "config")]
    raw: bool,
    /// Print the image's config blob
    #[arg(long)]
    config: bool,
    /// Do not list the repository's tags (docker:// only)
    #[arg(long)]
    no_tags: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    platform: PlatformArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Json)]
    format: OutputFormat,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let platform = a.platform.platform()?;
    let part = match (a.raw, a.config) {
        (true, _) => InspectPart::Raw,
        (false, true) => InspectPart::Config,
        (false, false) => InspectPart::Facts { tags: !a.no_tags },
    };
    let settings = a.registry.settings(ctx)?;
    match ctx.runtime.block_on(ops::inspect(&settings, &a.name, platform, part))? {
        Inspected::Raw(bytes) | Inspected::Config(bytes) => ctx.printer.document(&bytes)?,
        Inspected::Facts(i) => {
            let _ = a.format; // JSON is the only shape inspect has, as in skopeo and podman
            ctx.printer.json(&i)?;
        }
    }
    Ok(())
}
