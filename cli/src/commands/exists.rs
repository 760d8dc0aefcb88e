//! `hoist image exists IMAGE` (and `hoist exists`): podman's — exit 0 when the local store has the image (a
//! name, short name or ID), 1 when it does not, nothing printed; 125 (with the error) when the name does not
//! parse or the store cannot be read.

use hoist_core::ops;

use super::{ExitWith, Invocation, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Image: a name, short name or ID
    image: String,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    if ops::exists(&ctx.settings, &a.image)? {
        return Ok(());
    }
    Err(ExitWith::silent(1))
}
