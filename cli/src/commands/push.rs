//! `hoist push IMAGE [DESTINATION]`: copy an image from the local store to a registry, as `podman push`:
//! only blobs the registry lacks are sent (others are skipped or mounted), the manifest goes last, byte for
//! byte. `--digestfile` records the manifest digest.

use std::path::PathBuf;

use hoist_core::copy::{self, Options};
use hoist_core::reference::Reference;
use hoist_core::transport::registry::RegistryDestination;
use hoist_core::transport::store::StoreSource;

use super::common::{CopyFlags, RegistryArgs, open_store, push_endpoint, registry_reference};
use super::{Context, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Image in the local store: a name, a short name or an ID
    image: String,
    /// Where to push (default: the image's own name): [docker://]REGISTRY/REPO[:TAG]
    destination: Option<String>,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Write the pushed manifest's digest to this file
    #[arg(long, value_name = "FILE")]
    digestfile: Option<PathBuf>,
    #[command(flatten)]
    pub copy: CopyFlags,
}

pub fn run(a: Args, ctx: &Context) -> Result<()> {
    let config = ctx.load_config()?;
    let store = open_store()?;
    let src = StoreSource::open(store, &a.image)?;
    let destination = match &a.destination {
        Some(d) => registry_reference(d)?,
        None => match name_given(&a.image, &src.image().names) {
            Some(n) => n.clone(),
            None => return super::fail(format!("{} has no name to push to: give a destination", a.image)),
        },
    };
    let endpoint = push_endpoint(&config, &destination, &a.registry.tls());
    let creds = a.registry.creds(&config, ctx)?;
    let progress = ctx.printer.copy_progress();
    let opts = Options { jobs: a.copy.jobs, platform: None, all: true };
    let report = ctx.runtime.block_on(async {
        let dst = RegistryDestination::open(&endpoint, destination.clone(), &creds, &ctx.observer()).await?;
        Ok::<_, super::Error>(copy::copy(&src, &dst, &opts, progress.clone()).await?)
    })?;
    progress.summary(&report);
    if let Some(path) = &a.digestfile {
        std::fs::write(path, report.manifest.digest.to_string())?;
    }
    Ok(())
}

/// The stored name the user meant by `given`: the name itself (normalised, `:latest` by default), or the one
/// whose short form it is (`app:1` for `quay.io/org/app:1`); for an ID, the image's first name.
fn name_given<'a>(given: &str, names: &'a [Reference]) -> Option<&'a Reference> {
    let normalized = Reference::parse_normalized(given).ok().map(|r| r.with_default_tag().to_string());
    names
        .iter()
        .find(|n| Some(n.to_string()) == normalized)
        .or_else(|| {
            names.iter().find(|n| n.familiar_string() == given || n.to_string().ends_with(&format!("/{given}")))
        })
        .or_else(|| names.first())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_given_is_the_destination() {
        let names: Vec<Reference> = ["r.example/demo/hello:v1", "r.example/demo/copy:v2", "docker.io/library/alpine:3"]
            .iter()
            .map(|n| Reference::parse_normalized(n).unwrap())
            .collect();
        let pick = |g: &str| name_given(g, &names).unwrap().to_string();
        assert_eq!(pick("r.example/demo/copy:v2"), "r.example/demo/copy:v2");
        assert_eq!(pick("demo/copy:v2"), "r.example/demo/copy:v2");
        assert_eq!(pick("alpine:3"), "docker.io/library/alpine:3");
        assert_eq!(pick("7fa90c1ddf11"), "r.example/demo/hello:v1", "an ID: the first name");
    }
}
