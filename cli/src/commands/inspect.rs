//! `hoist inspect NAME`: an image's facts as JSON in skopeo's shape (Name, Digest, RepoTags, Created,
//! Architecture, Os, Layers, LayersData, Env, Labels) — from the local store, or from a registry with
//! `docker://NAME`. `--raw` prints the manifest exactly as stored or served, `--config` the config blob.

use futures_util::TryStreamExt;
use hoist_core::catalog;
use hoist_core::image::{MAX_CONFIG_SIZE, Manifest, Platform};
use hoist_core::transport::store::StoreSource;
use hoist_core::transport::{ImageSource, RawManifest};

use super::common::{PlatformArgs, RegistryArgs, open_store, registry_reference};
use super::{Context, Result, fail};
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

/// The manifest of the image to describe: the top-level one, or the platform's child of an index.
async fn image_manifest(src: &dyn ImageSource, platform: Option<Platform>) -> Result<RawManifest> {
    let top = src.manifest().await?;
    match Manifest::parse(&top.raw, Some(&top.media_type))? {
        Manifest::Image(_) => Ok(top),
        Manifest::Index(index) => {
            let want = platform.unwrap_or_else(Platform::host);
            let Some(chosen) = index.choose(&want) else {
                return fail(format!("{}: no image for platform {want} in the index", src.name()));
            };
            Ok(src.manifest_by_digest(&chosen.digest).await?)
        }
    }
}

async fn config_of(src: &dyn ImageSource, manifest: &RawManifest) -> Result<Vec<u8>> {
    let Manifest::Image(m) = Manifest::parse(&manifest.raw, Some(&manifest.media_type))? else {
        return fail("expected an image manifest");
    };
    if m.config.size > MAX_CONFIG_SIZE as u64 {
        return fail(format!("config {} is larger than the {MAX_CONFIG_SIZE}-byte limit", m.config.digest));
    }
    let chunks: Vec<bytes::Bytes> = src.blob(&m.config).await?.try_collect().await?;
    Ok(chunks.concat())
}

pub fn run(a: Args, ctx: &Context) -> Result<()> {
    let platform = a.platform.platform()?;
    let (raw, config, inspection) = ctx.runtime.block_on(async {
        if a.name.starts_with("docker://") {
            let settings = a.registry.settings(ctx)?;
            settings.config()?;
            let reference = registry_reference(&a.name)?;
            let src = settings.registry_source(&reference).await?;
            let top = src.manifest().await?;
            if a.raw {
                return Ok::<_, super::Error>((Some(top.raw), None, None));
            }
            let m = image_manifest(&src, platform).await?;
            let cfg = config_of(&src, &m).await?;
            if a.config {
                return Ok((None, Some(cfg), None));
            }
            let tags = if a.no_tags { Vec::new() } else { src.tags().await? };
            let mut s = catalog::summarize(&m, &cfg)?;
            s.digest = top.digest.clone();
            Ok((None, None, Some(s.inspection(reference.name(), tags))))
        } else {
            let src = StoreSource::open(open_store(ctx)?, &a.name)?;
            let top = src.manifest().await?;
            if a.raw {
                return Ok((Some(top.raw), None, None));
            }
            let m = image_manifest(&src, platform).await?;
            let cfg = config_of(&src, &m).await?;
            if a.config {
                return Ok((None, Some(cfg), None));
            }
            let names = &src.image().names;
            let repo = names.first().map(|n| n.name()).unwrap_or_default();
            let tags = names.iter().filter(|n| n.name() == repo).filter_map(|n| n.tag().map(str::to_owned)).collect();
            let mut s = catalog::summarize(&m, &cfg)?;
            s.digest = top.digest.clone();
            Ok((None, None, Some(s.inspection(repo, tags))))
        }
    })?;
    if let Some(bytes) = raw.or(config) {
        ctx.printer.document(&bytes)?;
        return Ok(());
    }
    if let Some(i) = inspection {
        let _ = a.format; // JSON is the only shape inspect has, as in skopeo and podman
        ctx.printer.json(&i)?;
    }
    Ok(())
}
