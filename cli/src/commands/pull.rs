//! `hoist pull NAME...`: copy images from their registry into the local store, as `podman pull` does — short
//! names through registries.conf, mirrors before the primary, the host's platform from a multi-platform
//! image (or `--platform`, or every platform with `--all`); each name in turn, the first failure stopping
//! the rest. `--all-tags` (`-a`) pulls every tag of a repository. Prints each image ID on stdout.

use super::common::{CopyFlags, PlatformArgs, PolicyArgs, RegistryArgs, SignatureStorageArgs};
use super::{Invocation, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Images to pull: a short name (alpine), a full name (quay.io/org/app:tag) or name@sha256:DIGEST; with
    /// --all-tags, repositories without a tag (a name without a registry is on docker.io)
    #[arg(required = true)]
    names: Vec<String>,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    platform: PlatformArgs,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Pull every platform of a multi-platform image, and the index itself
    #[arg(long)]
    all: bool,
    /// Pull every tag of each repository (podman's -a; not with a tag or digest)
    #[arg(short = 'a', long)]
    all_tags: bool,
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
    for name in &a.names {
        if a.all_tags {
            let pulled =
                ctx.runtime.block_on(hoist_core::ops::pull_all_tags(&settings, name, a.all, progress.clone()))?;
            for p in &pulled {
                progress.summary(&p.report);
            }
            for p in &pulled {
                ctx.printer.line(p.id.hex())?;
            }
            continue;
        }
        let pulled = ctx.runtime.block_on(hoist_core::ops::pull(&settings, name, a.all, progress.clone()))?;
        progress.summary(&pulled.report);
        ctx.printer.line(pulled.id.hex())?;
    }
    Ok(())
}
