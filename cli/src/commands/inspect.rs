//! `hoist inspect NAME...`: local images as `podman image inspect` shows them (a JSON array, one object per
//! name, podman's keys: `hoist_core::ops::ImageData`), or a Go template per image (`--format '{{.Id}}'`,
//! `crate::template`). `docker://NAME` keeps skopeo's shape (Name, Digest, RepoTags, Created, Architecture,
//! Os, Layers, LayersData, Env, Labels) from the registry; `--raw` prints the manifest exactly as stored or
//! served, `--config` the config blob.

use hoist_core::ops::{self, InspectPart, Inspected, Sizes};

use super::common::{PlatformArgs, RegistryArgs};
use super::{Invocation, Result};
use crate::template::{self, Template};

#[derive(clap::Args)]
pub struct Args {
    /// Images: names or IDs in the local store, or one docker://REGISTRY/REPO[:TAG|@DIGEST]
    #[arg(required = true, value_name = "NAME")]
    names: Vec<String>,
    /// Print the manifest exactly as it is (an index stays an index); one image
    #[arg(long, conflicts_with = "config")]
    raw: bool,
    /// Print the image's config blob; one image
    #[arg(long)]
    config: bool,
    /// Do not list the repository's tags (docker:// only)
    #[arg(long)]
    no_tags: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    platform: PlatformArgs,
    /// `json` (the default), or a Go template rendered for each image (`{{.Id}}`, `{{json .Config}}`,
    /// `{{index .Config.Labels "k"}}`, `table ...`; podman's keys)
    #[arg(short, long, default_value = "json")]
    format: String,
}

/// Refused before anything is read.
#[derive(Debug)]
struct OneImageOnly(&'static str);

impl std::fmt::Display for OneImageOnly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} takes one image", self.0)
    }
}

impl std::error::Error for OneImageOnly {}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    // A bad template is refused before any image is read (exit 125, as podman's).
    let template = if template::is_json(&a.format) { None } else { Some(Template::parse(&a.format)?) };
    let platform = a.platform.platform()?;
    let settings = a.registry.settings(ctx)?;
    let part = match (a.raw, a.config) {
        (true, _) => Some(InspectPart::Raw),
        (false, true) => Some(InspectPart::Config),
        (false, false) if a.names.iter().any(|n| n.starts_with("docker://")) => {
            Some(InspectPart::Facts { tags: !a.no_tags })
        }
        (false, false) => None,
    };
    if let Some(part) = part {
        // skopeo's views: one image, local (`--raw`, `--config`) or from a registry.
        let [name] = a.names.as_slice() else {
            return Err(OneImageOnly(if a.raw {
                "--raw"
            } else if a.config {
                "--config"
            } else {
                "docker://"
            })
            .into());
        };
        match ctx.runtime.block_on(ops::inspect(&settings, name, platform, part))? {
            Inspected::Raw(bytes) | Inspected::Config(bytes) => ctx.printer.document(&bytes)?,
            Inspected::Facts(i) => match &template {
                None => ctx.printer.json(&i)?,
                Some(t) => ctx.printer.rendered(&t.render(&serde_json::to_value(&i)?)?)?,
            },
        }
        return Ok(());
    }
    // podman's: every name looked up; what was found is printed, then the first failure is the error.
    let mut found = Vec::new();
    let mut failed = None;
    // Counting sizes reads every layer through: only when the output shows them.
    let sizes = match &template {
        Some(t) if !t.mentions("Size") && !t.mentions("VirtualSize") => Sizes::Skip,
        _ => Sizes::Count,
    };
    for result in ctx.runtime.block_on(ops::image_data(&settings, &a.names, platform, sizes)) {
        match result {
            Ok(data) => found.push(data),
            Err(e) if failed.is_none() => failed = Some(e),
            Err(e) => ctx.printer.error(&e.to_string()),
        }
    }
    match &template {
        None => ctx.printer.json(&found)?,
        Some(t) => {
            let rows = found.iter().map(serde_json::to_value).collect::<std::result::Result<Vec<_>, _>>()?;
            ctx.printer.rendered(&t.render_rows(&rows, None)?)?;
        }
    }
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
