//! `hoist pull NAME...`: copy images from their registry into the local store, as `podman pull` does — short
//! names through registries.conf, mirrors before the primary, the host's platform from a multi-platform
//! image (or `--platform`, or every platform with `--all`); each name in turn, a failure reported and the
//! rest still pulled (exit 125 when one failed), as podman does. `--all-tags` (`-a`) pulls every tag of a
//! repository (the first failure stopping that repository's tags). `docker-daemon:NAME[:TAG]` pulls from a
//! Docker engine (`--daemon-host`, else `DOCKER_HOST`). Prints each image ID on stdout.

use super::common::{CopyFlags, PlatformArgs, PolicyArgs, RegistryArgs, SignatureStorageArgs};
use super::{Error, Invocation, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Images to pull: a short name (alpine), a full name (quay.io/org/app:tag) or name@sha256:DIGEST; with
    /// --all-tags, repositories without a tag (a name without a registry is on docker.io)
    #[arg(required = true)]
    names: Vec<String>,
    /// The Docker engine of docker-daemon:NAME[:TAG] names: unix://PATH or tcp://HOST:PORT (default: DOCKER_HOST,
    /// else unix:///var/run/docker.sock)
    #[arg(long, value_name = "HOST")]
    daemon_host: Option<String>,
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
    let mut failed: Option<Error> = None;
    for name in &a.names {
        let pull =
            hoist_core::ops::pull_named(&settings, name, a.daemon_host.as_deref(), a.all, a.all_tags, progress.clone());
        let pulled = ctx.runtime.block_on(pull);
        match pulled {
            Ok(pulled) => {
                for p in &pulled {
                    progress.summary(&p.report);
                    ctx.printer.line(p.id.hex())?;
                }
            }
            // As podman: every name is tried; each failure but the last is printed here, the last ends the run.
            Err(e) => {
                if let Some(earlier) = failed.replace(e.into()) {
                    ctx.printer.error(&earlier.to_string());
                }
            }
        }
    }
    failed.map_or(Ok(()), Err)
}
