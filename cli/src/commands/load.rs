//! `hoist load [-i PATH] [-q]`: every image of an archive or directory (a file, or stdin) into the local store,
//! as `podman load`: gzip or zstd outer compression removed, the format told from the content, all images or
//! none. Prints `Loaded image: NAME` for each name, or `Loaded image: sha256:ID` for an image without one.

use std::io::IsTerminal;
use std::path::PathBuf;

use hoist_core::archive::Input;

use super::common::{PolicyArgs, SignatureStorageArgs};
use super::{Invocation, Result, fail};

#[derive(clap::Args)]
pub struct Args {
    /// Read from this archive or directory (default: stdin)
    #[arg(short, long, value_name = "PATH")]
    input: Option<PathBuf>,
    /// Print no progress
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    policy: PolicyArgs,
    #[command(flatten)]
    signature_storage: SignatureStorageArgs,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let input = match a.input {
        Some(p) => Input::Path(p),
        None if std::io::stdin().is_terminal() => {
            return fail("cannot read from terminal, use command-line redirection or the --input flag");
        }
        None => Input::Stream(Box::new(std::io::stdin()), "stdin".to_owned()),
    };
    let settings = a.policy.apply(ctx.settings.clone());
    let progress = ctx.printer.copy_progress();
    let settings = a.signature_storage.apply(settings);
    let loaded = ctx.runtime.block_on(hoist_core::ops::load(&settings, input, progress))?;
    for image in loaded {
        if image.names.is_empty() {
            ctx.printer.line(format!("Loaded image: {}", image.id))?;
        }
        for name in &image.names {
            ctx.printer.line(format!("Loaded image: {name}"))?;
        }
    }
    Ok(())
}
