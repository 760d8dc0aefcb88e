//! `hoist completion SHELL`: a completion script for bash, zsh, fish, elvish or powershell on stdout.

use clap::CommandFactory;

use super::{Invocation, Result};

#[derive(clap::Args)]
pub struct Args {
    shell: clap_complete::Shell,
}

pub fn run<C: CommandFactory>(a: Args, ctx: &Invocation) -> Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut C::command(), "hoist", &mut script);
    ctx.printer.raw(&script)?;
    Ok(())
}
