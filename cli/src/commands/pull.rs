//! `hoist pull NAME`: copy an image from its registry into the local store, as `podman pull` does — short
//! names through registries.conf, mirrors before the primary, the host's platform from a multi-platform
//! image (or `--platform`, or every platform with `--all`). Prints the image ID on stdout.

use super::common::{CopyFlags, PlatformArgs, PolicyArgs, RegistryArgs, SignatureStorageArgs};
use super::{Invocation, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Image to pull: a short name (alpine), a full name (quay.io/org/app:tag) or name@sha256:DIGEST
    name: String,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    platform: PlatformArgs,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Pull every platform of a multi-platform image, and the index itself
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    pub copy: CopyFlags,
    #[command(flatten)]
    signature_storage: SignatureStorageArgs,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let settings =
        a.policy.apply(a.registry.settings(ctx)?).with_platform(a.platform.platform()?).with_jobs(a.copy.jobs);
    let settings = a.signature_storage.apply(settings);
    let progress = ctx.printer.copy_progress();
    let pulled = ctx.runtime.block_on(hoist_core::ops::pull(&settings, &a.name, a.all, progress.clone()))?;
    progress.summary(&pulled.report);
    ctx.printer.line(pulled.id.hex())?;
    Ok(())
}
