//! `hoist tag IMAGE NEW...`: more names for an image in the local store (no bytes move).

use super::common::open_store;
use super::{Context, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Image in the local store: a name, a short name or an ID
    image: String,
    /// New names: [REGISTRY/]REPO[:TAG] (docker.io and :latest when left out, as podman)
    #[arg(required = true)]
    names: Vec<String>,
}

pub fn run(a: Args, _ctx: &Context) -> Result<()> {
    let store = open_store()?;
    let image = store.find(&a.image)?;
    let mut names = Vec::new();
    for n in &a.names {
        let r = hoist_core::reference::Reference::parse_normalized(n)?;
        if r.digest().is_some() {
            return super::fail(format!("{n}: a tag name cannot hold a digest"));
        }
        names.push(r.with_default_tag());
    }
    for name in &names {
        store.tag(name, &image.descriptor)?;
    }
    Ok(())
}
