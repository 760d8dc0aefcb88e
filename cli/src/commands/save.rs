//! `hoist save [-o PATH] [--format docker-archive|oci-archive|oci-dir|docker-dir] [-m] IMAGE...`: images of the
//! local store into an archive or directory, as `podman save`. Without `-o` an archive goes to stdout, unless
//! stdout is a terminal (refused, as podman refuses). Several images need `-m` and an archive format; several
//! names of one image are all saved. Layers stay as stored for the OCI formats and docker-dir (with
//! `--compress`, a docker-dir gets uncompressed layers gzipped); a docker-archive gets them uncompressed
//! (decompressed while streaming).

use std::path::PathBuf;

use hoist_core::archive::Format;
use hoist_core::copy::archive::SaveOutput;

use super::common::PolicyArgs;
use super::{Invocation, Result, fail};

#[derive(clap::Args)]
pub struct Args {
    /// Images to save: names, IDs or ID prefixes
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<String>,
    /// Write to this file (archives: a device or FIFO is written through, a symlink followed) or directory
    /// (oci-dir, docker-dir); default: stdout for archives
    #[arg(short, long, value_name = "PATH")]
    output: Option<PathBuf>,
    /// docker-archive, oci-archive, oci-dir or docker-dir
    #[arg(long, default_value = "docker-archive", value_parser = parse_format)]
    format: Format,
    /// Save several images into one archive (docker-archive or oci-archive)
    #[arg(short, long = "multi-image-archive")]
    multi_image_archive: bool,
    /// Gzip uncompressed layers into a docker-dir (layers already compressed stay as they are)
    #[arg(long)]
    compress: bool,
    /// Accept uncompressed layers for the OCI formats (hoist keeps layers as stored: accepted for podman's
    /// command lines)
    #[arg(long)]
    uncompressed: bool,
    /// Print no progress
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    policy: PolicyArgs,
}

fn parse_format(s: &str) -> std::result::Result<Format, String> {
    Format::parse(s).ok_or_else(|| format!("unknown format {s:?}: docker-archive, oci-archive, oci-dir or docker-dir"))
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    if a.compress && a.format != Format::DockerDir {
        return fail("--compress can only be set when --format is docker-dir");
    }
    if a.uncompressed && !matches!(a.format, Format::OciArchive | Format::OciDir) {
        return fail("--uncompressed can only be set when --format is oci-archive or oci-dir");
    }
    let target = match &a.output {
        Some(p) => SaveOutput::Path(p.clone()),
        None if !a.format.is_archive() => return fail(format!("{} is a directory: give its path with -o", a.format)),
        None if ctx.printer.stdout_is_terminal() => {
            return fail("refusing to save to terminal. Use -o flag or redirect");
        }
        None => SaveOutput::Stream(ctx.printer.result_stream()),
    };
    let settings = a.policy.apply(ctx.settings.clone());
    let images = hoist_core::ops::save_images(&settings, &a.images)?;
    if images.len() > 1 && !a.multi_image_archive {
        return fail("several images given: use -m (--multi-image-archive) to save them into one archive");
    }
    let progress = ctx.printer.copy_progress();
    let save = hoist_core::ops::save(&settings, images, a.format, target, a.compress, progress);
    ctx.runtime.block_on(save)?;
    Ok(())
}
