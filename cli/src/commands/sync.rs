//! `hoist sync --src docker --dest docker SRC DEST`: skopeo's `sync`, incremental. SRC is a repository (every
//! tag) or `repo:tag`; DEST a registry or a namespace; each image lands at `DEST/LAST-COMPONENT:TAG` (with
//! `--scoped`, `DEST/REGISTRY/PATH:TAG`). A tag the destination already holds with the source's manifest costs a
//! HEAD at each side. Per-image lines on stderr (hidden by `-q`), then the summary "N copied, M up to date, K
//! failed" (or `--format json`); exit non-zero when anything failed. `--src dir`/`--dest dir`: skopeo's directory
//! tree of `dir:` images (`DIR/app:1`, scoped `DIR/127.0.0.1:5000/ns/app:1`). `--src yaml FILE`: skopeo's sync
//! YAML file ([`hoist_core::sync_file`]). `-f oci|v2s2` converts manifests on the way, as skopeo's.

use std::path::PathBuf;

use hoist_core::ops::sync::{Outcome, SourceSpec, Summary, SyncDestination, SyncOptions, TagSelection};
use hoist_core::ops::{RegistryAccess, Settings};

use super::common::{PlatformArgs, PolicyArgs, SidesArgs, SignArgs, SignatureStorageArgs};
use super::{Errors, Invocation, Result, fail};
use crate::printer::OutputFormat;

/// `--src`/`--dest`: the kind of SOURCE and DESTINATION.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A registry (`REGISTRY/REPO[:TAG]`; a destination: `REGISTRY[/NAMESPACE]`)
    Docker,
    /// A directory tree of dir: images, as skopeo writes it (DIR/app:1, scoped DIR/registry/ns/app:1)
    Dir,
    /// skopeo's sync YAML file (a source only): per registry, images (tags or all), images-by-tag-regex,
    /// images-by-semver, credentials, tls-verify, cert-dir
    Yaml,
}

#[derive(clap::Args)]
pub struct Args {
    /// SOURCE transport: docker, dir or yaml
    #[arg(short = 's', long = "src", value_enum, value_name = "TRANSPORT")]
    src: Transport,
    /// DESTINATION transport: docker or dir
    #[arg(short = 'd', long = "dest", value_enum, value_name = "TRANSPORT")]
    dest: Transport,
    /// [docker://]REGISTRY/REPO (every tag) or REGISTRY/REPO:TAG; with --src dir, a directory of dir: images;
    /// with --src yaml, skopeo's sync YAML file
    source: String,
    /// [docker://]REGISTRY[/NAMESPACE] (or, with --dest dir, a directory): images land at DESTINATION/REPO:TAG
    /// (REPO: the source's last path component; with --scoped its registry and whole path)
    destination: String,
    /// Name each destination image with the source's registry and whole path (a port becomes _PORT)
    #[arg(long)]
    scoped: bool,
    /// Add SUFFIX to every destination tag
    #[arg(long, value_name = "SUFFIX", default_value = "")]
    append_suffix: String,
    /// Only the version tags meeting REQ ('>=2.0, <3'; list-tags' syntax)
    #[arg(long, value_name = "REQ")]
    semver: Option<String>,
    /// Only the tags this regular expression matches (anywhere in the tag; linear-time engine)
    #[arg(long, value_name = "REGEX", conflicts_with = "semver")]
    tag_regex: Option<String>,
    /// Copy every platform of a multi-platform image and the index itself
    #[arg(short, long)]
    all: bool,
    /// Say what would be copied (and deleted); write nothing
    #[arg(long)]
    dry_run: bool,
    /// Go on with the other images when one fails
    #[arg(long)]
    keep_going: bool,
    /// Try an image again up to N times after a transient registry error
    #[arg(long, value_name = "N", default_value_t = 0)]
    retry_times: u32,
    /// Keep the digests of images and lists (hoist never changes them when syncing: accepted for skopeo's
    /// command lines)
    #[arg(long)]
    preserve_digests: bool,
    /// Delete the destination tags the source no longer lists, printing each first (opt-in)
    #[arg(long)]
    delete_missing: bool,
    /// Images to copy at once (the check whether an image is up to date, a HEAD at each side, runs for up to
    /// 32 images at once whatever N is)
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    jobs: u32,
    /// Print no per-image lines
    #[arg(short, long)]
    pub quiet: bool,
    /// json or text: how the summary is printed; oci or v2s2: the manifest type written (skopeo's -f,
    /// converted on the way; default: as the source has it). Both may be given: -f json -f oci
    #[arg(short = 'f', long = "format", value_name = "FORMAT")]
    format: Vec<String>,
    #[command(flatten)]
    sides: SidesArgs,
    #[command(flatten)]
    platform: PlatformArgs,
    #[command(flatten)]
    policy: PolicyArgs,
    #[command(flatten)]
    sign: SignArgs,
    #[command(flatten)]
    signature_storage: SignatureStorageArgs,
}

/// The summary `--format json` prints.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct JsonSummary {
    copied: usize,
    up_to_date: usize,
    failed: usize,
    deleted: usize,
    dry_run: bool,
    images: Vec<JsonImage>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct JsonImage {
    source: String,
    destination: String,
    digest: Option<String>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    ctx.settings.config()?;
    let (output, manifest_format) = formats(&a.format)?;
    if a.preserve_digests && manifest_format.is_some() {
        return fail("--preserve-digests and --format oci|v2s2 conflict: a converted manifest has another digest");
    }
    if a.dest == Transport::Yaml {
        return fail("--dest yaml: a YAML file is a source only; use docker or dir");
    }
    if a.src != Transport::Docker && (a.semver.is_some() || a.tag_regex.is_some()) {
        return fail(
            "--semver and --tag-regex select a registry repository's tags: with --src dir there are none, with --src yaml the file selects (images-by-semver, images-by-tag-regex)",
        );
    }
    let mut spec: Option<SourceSpec> = None;
    let mut from_file: Option<Vec<SourceSpec>> = None;
    match a.src {
        Transport::Docker => spec = Some(hoist_core::ops::sync::source_from_name(&a.source)?),
        Transport::Yaml => from_file = Some(hoist_core::sync_file::read(std::path::Path::new(&a.source))?),
        Transport::Dir => {}
    }
    if let (Some(spec), Some(req)) = (spec.as_mut(), &a.semver) {
        let req = hoist_core::ops::sync::semver_requirement(req).map_err(|e| format!("--semver: {e}"))?;
        spec.tags =
            narrowed(std::mem::replace(&mut spec.tags, TagSelection::All), TagSelection::Semver(req), &a.source)?;
    }
    if let (Some(spec), Some(re)) = (spec.as_mut(), &a.tag_regex) {
        let re = hoist_core::ops::sync::tag_regex(re).map_err(|e| format!("--tag-regex {re:?}: {e}"))?;
        spec.tags = narrowed(std::mem::replace(&mut spec.tags, TagSelection::All), TagSelection::Regex(re), &a.source)?;
    }
    let side = |access: RegistryAccess| {
        let settings = ctx.settings.clone().with_registry(access).with_platform(a.platform.platform()?);
        Ok::<Settings, super::Error>(a.signature_storage.apply(settings))
    };
    let src_settings = a.policy.apply(side(a.sides.source()?)?);
    let mut dst_settings = a.sign.apply(side(a.sides.destination()?)?)?;
    dst_settings.format = manifest_format;
    let opts = SyncOptions {
        scoped: a.scoped,
        append_suffix: a.append_suffix.clone(),
        all: a.all,
        dry_run: a.dry_run,
        keep_going: a.keep_going,
        retry_times: a.retry_times,
        delete_missing: a.delete_missing,
        images_at_once: a.jobs as usize,
    };
    let destination = match a.dest {
        Transport::Dir => {
            // Checked before any registry is asked: a file or a FIFO there is refused, never replaced.
            hoist_core::archive::output::check_dir(std::path::Path::new(&a.destination))?;
            SyncDestination::Dir(PathBuf::from(&a.destination))
        }
        _ => SyncDestination::Registry(a.destination.clone()),
    };
    let sources = match (spec, from_file) {
        (Some(spec), _) => Some(vec![spec]),
        (None, file) => file,
    };
    let summary = match sources {
        Some(sources) => {
            let run = hoist_core::ops::sync::sync(&src_settings, &sources, &dst_settings, &destination, &opts);
            ctx.runtime.block_on(run)?
        }
        None => {
            let root = PathBuf::from(&a.source);
            let run = hoist_core::ops::sync::sync_from_dir(&src_settings, &root, &dst_settings, &destination, &opts);
            ctx.runtime.block_on(run)?
        }
    };
    report(&summary, &a, output, ctx)?;
    let errors = summary.errors();
    if !errors.is_empty() {
        return Err(Box::new(Errors(errors)));
    }
    Ok(())
}

/// `-f/--format`, given once or twice: `json`/`text` the summary's form, `oci`/`v2s2` the manifest type
/// written (skopeo's `--format`).
fn formats(given: &[String]) -> Result<(OutputFormat, Option<hoist_core::image::convert::ManifestFormat>)> {
    let (mut output, mut manifest) = (None, None);
    for f in given {
        match f.as_str() {
            "json" | "text" if output.is_some() => return fail("--format: json or text given twice"),
            "json" => output = Some(OutputFormat::Json),
            "text" => output = Some(OutputFormat::Text),
            _ if manifest.is_some() => return fail("--format: a manifest type (oci, v2s2) given twice"),
            other => manifest = Some(other.parse::<hoist_core::image::convert::ManifestFormat>()?),
        }
    }
    Ok((output.unwrap_or_default(), manifest))
}

/// `--semver`/`--tag-regex` on a source: a repository's tags narrowed; a source naming its tag refused.
fn narrowed(given: TagSelection, by: TagSelection, source: &str) -> Result<TagSelection> {
    match given {
        TagSelection::All => Ok(by),
        _ => {
            fail(format!("{source}: --semver and --tag-regex select among a repository's tags; name it without a tag"))
        }
    }
}

fn report(summary: &Summary, a: &Args, output: OutputFormat, ctx: &Invocation) -> Result<()> {
    if output == OutputFormat::Json {
        let images = summary
            .images
            .iter()
            .map(|i| JsonImage {
                source: i.source.clone(),
                destination: i.destination.clone(),
                digest: i.digest.as_ref().map(|d| d.to_string()),
                status: match i.outcome {
                    Outcome::Copied => "Copied",
                    Outcome::UpToDate => "UpToDate",
                    Outcome::WouldCopy => "WouldCopy",
                    Outcome::Failed(_) => "Failed",
                    Outcome::Deleted => "Deleted",
                    Outcome::WouldDelete => "WouldDelete",
                },
                error: match &i.outcome {
                    Outcome::Failed(e) => Some(e.clone()),
                    _ => None,
                },
            })
            .collect();
        ctx.printer.json(&JsonSummary {
            copied: summary.copied(),
            up_to_date: summary.up_to_date(),
            failed: summary.failed(),
            deleted: summary.deleted(),
            dry_run: a.dry_run,
            images,
        })?;
        return Ok(());
    }
    let mut line = if a.dry_run {
        format!("{} to copy, {} up to date, {} failed", summary.copied(), summary.up_to_date(), summary.failed())
    } else {
        format!("{} copied, {} up to date, {} failed", summary.copied(), summary.up_to_date(), summary.failed())
    };
    if a.delete_missing {
        line.push_str(&format!(", {} {}", summary.deleted(), if a.dry_run { "to delete" } else { "deleted" }));
    }
    if a.dry_run {
        line.push_str(" (dry run: nothing written)");
    }
    ctx.printer.line(line)?;
    Ok(())
}
