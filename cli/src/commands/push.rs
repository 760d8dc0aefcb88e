//! `hoist push IMAGE [DESTINATION]`: copy an image from the local store to a registry, as `podman push`:
//! only blobs the registry lacks are sent (others are skipped or mounted), the manifest goes last, byte for
//! byte — unless `--format` converts the manifest or `--compression-format` recompresses layers (gzip or
//! zstd, streamed). `--digestfile` records the manifest digest. `docker-daemon:NAME[:TAG]` as the destination
//! loads it into a Docker engine (`--daemon-host`, else `DOCKER_HOST`).

use std::path::PathBuf;

use hoist_core::archive::output::SmallFile;

use super::common::{CompressionArgs, CopyFlags, FormatArgs, PolicyArgs, RegistryArgs, SignArgs, SignatureStorageArgs};
use super::{Invocation, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Image in the local store: a name, a short name or an ID
    image: String,
    /// Where to push (default: the image's own name): [docker://]REGISTRY/REPO[:TAG], or
    /// docker-daemon:NAME[:TAG] (a Docker engine)
    destination: Option<String>,
    /// The Docker engine of a docker-daemon: destination: unix://PATH or tcp://HOST:PORT (default: DOCKER_HOST,
    /// else unix:///var/run/docker.sock)
    #[arg(long, value_name = "HOST")]
    daemon_host: Option<String>,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    policy: PolicyArgs,
    #[command(flatten)]
    sign: SignArgs,
    /// Write the pushed manifest's digest to this file
    #[arg(long, value_name = "FILE")]
    digestfile: Option<PathBuf>,
    #[command(flatten)]
    format: FormatArgs,
    #[command(flatten)]
    compression: CompressionArgs,
    #[command(flatten)]
    pub copy: CopyFlags,
    #[command(flatten)]
    signature_storage: SignatureStorageArgs,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let settings = a.compression.apply(a.format.apply(
        a.signature_storage.apply(a.sign.apply(a.policy.apply(a.registry.settings(ctx)?))?.with_jobs(a.copy.jobs)),
    )?)?;
    // Opened first: a digest file that cannot be written is refused before anything moves.
    let digestfile = a.digestfile.as_deref().map(SmallFile::open).transpose()?;
    let progress = ctx.printer.copy_progress();
    let push = hoist_core::ops::push_to(
        &settings,
        &a.image,
        a.destination.as_deref(),
        a.daemon_host.as_deref(),
        progress.clone(),
    );
    let report = ctx.runtime.block_on(push)?;
    progress.summary(&report);
    if let Some(file) = digestfile {
        file.write(report.manifest.digest.to_string().as_bytes())?;
    }
    Ok(())
}
