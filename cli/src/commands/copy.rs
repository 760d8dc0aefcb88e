//! `hoist copy SRC DST`: any transport to any transport through the one copy engine, with skopeo's flags.
//! Transports: `docker://REGISTRY/REPO[:TAG|@DIGEST]`, `store:NAME` (hoist's local store), and archives and
//! directories as skopeo names them: `docker-archive:FILE[:NAME|:@N]`, `oci-archive:FILE[:REF]`, `oci:DIR[:REF]`,
//! `dir:DIR`, and `docker-daemon:NAME[:TAG]` (a Docker engine: `--src-daemon-host`/`--dest-daemon-host`, else
//! `DOCKER_HOST`).

use hoist_core::archive::output::SmallFile;
use hoist_core::ops::{RegistryAccess, Settings};
use hoist_core::transport::name::{DestinationOptions, ImageName};
use std::path::PathBuf;

use super::common::{
    CopyFlags, FormatArgs, PlatformArgs, PolicyArgs, SidesArgs, SignArgs, SignatureStorageArgs, compression,
};
use super::{Invocation, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Source: docker://REGISTRY/REPO[:TAG|@DIGEST], store:NAME, docker-archive:FILE[:NAME], oci-archive:FILE[:REF],
    /// oci:DIR[:REF], dir:DIR or docker-daemon:NAME[:TAG]
    source: String,
    /// Destination: docker://REGISTRY/REPO[:TAG], store:NAME, docker-archive:FILE[:NAME], oci-archive:FILE[:REF],
    /// oci:DIR[:REF], dir:DIR or docker-daemon:NAME[:TAG]
    destination: String,
    /// The Docker engine of a docker-daemon: source: unix://PATH or tcp://HOST:PORT (default: DOCKER_HOST, else
    /// unix:///var/run/docker.sock)
    #[arg(long, value_name = "HOST")]
    src_daemon_host: Option<String>,
    /// The Docker engine of a docker-daemon: destination (as --src-daemon-host)
    #[arg(long, value_name = "HOST")]
    dest_daemon_host: Option<String>,
    #[command(flatten)]
    sides: SidesArgs,
    /// Copy every platform of a multi-platform image and the index itself, byte for byte
    #[arg(short, long)]
    all: bool,
    #[command(flatten)]
    platform: PlatformArgs,
    #[command(flatten)]
    policy: PolicyArgs,
    #[command(flatten)]
    sign: SignArgs,
    /// Write the copied manifest's digest to this file
    #[arg(long, value_name = "FILE")]
    digestfile: Option<PathBuf>,
    /// Gzip uncompressed layers when copying into a dir: destination (layers already compressed stay as they
    /// are; default: layers keep their compression)
    #[arg(long)]
    dest_compress: bool,
    /// Write layers compressed with gzip or zstd, recompressing those compressed otherwise (zstd makes the
    /// manifest OCI; default: layers as they are)
    #[arg(long, value_name = "FORMAT")]
    dest_compress_format: Option<String>,
    /// Compression level: zstd 1 to 20 (default 3), gzip 1 to 9 (default 6)
    #[arg(long, value_name = "LEVEL", allow_negative_numbers = true)]
    dest_compress_level: Option<i32>,
    #[command(flatten)]
    format: FormatArgs,
    #[command(flatten)]
    pub copy: CopyFlags,
    #[command(flatten)]
    signature_storage: SignatureStorageArgs,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    ctx.settings.config()?;
    let source = ImageName::parse(&a.source)?.with_daemon_host(a.src_daemon_host.as_deref());
    let destination = ImageName::parse(&a.destination)?.with_daemon_host(a.dest_daemon_host.as_deref());
    let side = |access: RegistryAccess| -> Result<Settings> {
        let settings = ctx.settings.clone().with_registry(access).with_platform(a.platform.platform()?);
        Ok(a.signature_storage.apply(settings.with_jobs(a.copy.jobs)))
    };
    let src_settings = a.policy.apply(side(a.sides.source()?)?);
    let dst_settings = a.format.apply(a.sign.apply(side(a.sides.destination()?)?)?)?;
    let dst_settings = compression(dst_settings, a.dest_compress_format.as_deref(), a.dest_compress_level, false)?;
    let options = DestinationOptions { compress_layers: a.dest_compress };
    // Opened first: a digest file that cannot be written is refused before anything moves.
    let digestfile = a.digestfile.as_deref().map(SmallFile::open).transpose()?;
    let progress = ctx.printer.copy_progress();
    let copy = hoist_core::ops::copy_by_name(
        &source,
        &src_settings,
        &destination,
        &dst_settings,
        &options,
        a.all,
        progress.clone(),
    );
    let report = ctx.runtime.block_on(copy)?;
    progress.summary(&report);
    if let Some(file) = digestfile {
        file.write(report.manifest.digest.to_string().as_bytes())?;
    }
    Ok(())
}
