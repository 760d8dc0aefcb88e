//! `hoist generate-man DIR` (hidden; `make install` runs it): a man page for hoist and each subcommand.

use std::path::{Path, PathBuf};

use clap::CommandFactory;

use super::Result;

#[derive(clap::Args)]
pub struct Args {
    dir: PathBuf,
}

pub fn run<C: CommandFactory>(a: Args) -> Result<()> {
    std::fs::create_dir_all(&a.dir)?;
    write_man(&C::command(), "hoist", &a.dir)
}

fn write_man(cmd: &clap::Command, name: &str, dir: &Path) -> Result<()> {
    let cmd = cmd.clone().name(name.to_owned());
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    std::fs::write(dir.join(format!("{name}.1")), buf)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_man(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(())
}
