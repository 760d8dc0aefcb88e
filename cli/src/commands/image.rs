//! `hoist image ...`: podman's `image` group, each subcommand the top-level command it names, with the same
//! flags and output (`image ls`/`image list` = `images`, `image rm` = `rmi`), plus `image exists`, which podman
//! has only here.

use super::{Invocation, Result};
use super::{build, exists, history, images, inspect, load, prune, pull, push, rmi, save, sign, tag, trust, untag};

#[derive(clap::Subcommand)]
pub enum ImageCommand {
    /// Build an image from a Dockerfile without RUN (hoist build)
    Build(build::Args),
    /// Exit 0 when the local store has the image, 1 when it does not; print nothing
    Exists(exists::Args),
    /// Show a local image's history, newest first (hoist history)
    History(history::Args),
    /// Show images as podman image inspect does (hoist inspect)
    Inspect(inspect::Args),
    /// List the images in the local store (hoist images)
    #[command(name = "ls", visible_alias = "list")]
    Ls(images::Args),
    /// Load the images of an archive or directory into the local store (hoist load)
    Load(load::Args),
    /// Remove dangling images (-a: every image) from the local store (hoist prune)
    Prune(prune::Args),
    /// Pull images from a registry into the local store (hoist pull)
    Pull(pull::Args),
    /// Push an image from the local store to a registry (hoist push)
    Push(push::Args),
    /// Remove images from the local store (hoist rmi)
    Rm(rmi::Args),
    /// Save images of the local store to an archive or directory (hoist save)
    Save(save::Args),
    /// Sign an image already in a registry (hoist sign)
    Sign(sign::Args),
    /// Add names to an image in the local store (hoist tag)
    Tag(tag::Args),
    /// The image trust policy (hoist trust)
    #[command(subcommand)]
    Trust(trust::Command),
    /// Take names off an image in the local store (hoist untag)
    Untag(untag::Args),
}

impl ImageCommand {
    /// `-q` of the subcommands that have it (progress hidden), as `main` reads it for the top-level ones.
    pub fn quiet(&self) -> bool {
        match self {
            ImageCommand::Build(a) => a.copy.quiet,
            ImageCommand::Pull(a) => a.copy.quiet,
            ImageCommand::Push(a) => a.copy.quiet,
            ImageCommand::Save(a) => a.quiet,
            ImageCommand::Load(a) => a.quiet,
            _ => false,
        }
    }

    pub fn run(self, ctx: &Invocation) -> Result<()> {
        match self {
            ImageCommand::Build(a) => build::run(a, ctx),
            ImageCommand::Exists(a) => exists::run(a, ctx),
            ImageCommand::History(a) => history::run(a, ctx),
            ImageCommand::Inspect(a) => inspect::run(a, ctx),
            ImageCommand::Ls(a) => images::run(a, ctx),
            ImageCommand::Load(a) => load::run(a, ctx),
            ImageCommand::Prune(a) => prune::run(a, ctx),
            ImageCommand::Pull(a) => pull::run(a, ctx),
            ImageCommand::Push(a) => push::run(a, ctx),
            ImageCommand::Rm(a) => rmi::run(a, ctx),
            ImageCommand::Save(a) => save::run(a, ctx),
            ImageCommand::Sign(a) => sign::run(a, ctx),
            ImageCommand::Tag(a) => tag::run(a, ctx),
            ImageCommand::Trust(c) => trust::run(c, ctx),
            ImageCommand::Untag(a) => untag::run(a, ctx),
        }
    }
}
