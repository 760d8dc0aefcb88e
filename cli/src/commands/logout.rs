//! `hoist logout [REGISTRY] | --all`: remove the credentials from every auth file and helper that holds them.

use std::path::PathBuf;

use hoist_core::auth::{self, Auth, AuthFiles};

use super::{Invocation, Result, fail};

#[derive(clap::Args)]
pub struct Args {
    /// Registry (host[:port]) or repository namespace; default: the first unqualified-search registry
    registry: Option<String>,
    /// Path of the auth file (default: $REGISTRY_AUTH_FILE, else ${XDG_RUNTIME_DIR}/containers/auth.json)
    #[arg(long)]
    authfile: Option<PathBuf>,
    /// Remove the credentials of every registry
    #[arg(short, long)]
    all: bool,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let config = ctx.load_config()?;
    let auth = Auth::new(AuthFiles::discover(a.authfile.as_deref()), &config).with_observer(ctx.observer());
    if a.all {
        if a.registry.is_some() {
            return fail("--all takes no registry");
        }
        auth.erase_all()?;
        ctx.printer.line("Removed login credentials for all registries")?;
        return Ok(());
    }
    let key = auth::login_key(a.registry.as_deref(), &config, "log out of")?;
    auth.erase(&key)?;
    ctx.printer.line(format!("Removed login credentials for {key}"))?;
    Ok(())
}
