//! `hoist creds list` and `hoist creds migrate`: where credentials live (never a secret), and moving them
//! into a credential helper with each copy verified before the old one is removed.

use std::path::PathBuf;

use clap::Subcommand;
use hoist_core::auth::{Auth, AuthFiles};

use super::{Invocation, Result};
use crate::printer::OutputFormat;

#[derive(Subcommand)]
pub enum Command {
    /// Move credentials into a credential helper, verifying each before the old copy is removed
    Migrate {
        /// The helper to move to: file, keyring, vault (or any docker-credential-NAME)
        #[arg(long)]
        to: String,
        /// Only from this source: a helper name, an auth file path, or `auth-file` for every auth file
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        authfile: Option<PathBuf>,
        /// Only these registries (default: all)
        registries: Vec<String>,
    },
    /// List every registry with a stored credential, its user, and where it lives (never a secret)
    List {
        #[arg(long)]
        authfile: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
}

pub fn run(command: Command, ctx: &Invocation) -> Result<()> {
    match command {
        Command::List { authfile, format } => list(authfile, format, ctx),
        Command::Migrate { to, from, authfile, registries } => {
            migrate(&to, from.as_deref(), authfile, &registries, ctx)
        }
    }
}

fn auth(authfile: Option<PathBuf>, ctx: &Invocation) -> Result<Auth> {
    let config = ctx.load_config()?;
    Ok(Auth::new(AuthFiles::discover(authfile.as_deref()), &config).with_observer(ctx.observer()))
}

fn list(authfile: Option<PathBuf>, format: OutputFormat, ctx: &Invocation) -> Result<()> {
    let entries = auth(authfile, ctx)?.list()?;
    if format == OutputFormat::Json {
        ctx.printer.json(&entries)?;
        return Ok(());
    }
    let width = entries.iter().map(|e| e.registry.len()).max().unwrap_or(8).max(8);
    let uwidth = entries.iter().map(|e| e.username.len()).max().unwrap_or(8).max(8);
    ctx.printer.line(format!("{:<width$}  {:<uwidth$}  LOCATION", "REGISTRY", "USERNAME"))?;
    for e in entries {
        ctx.printer.line(format!("{:<width$}  {:<uwidth$}  {}", e.registry, e.username, e.location))?;
    }
    Ok(())
}

fn migrate(
    to: &str,
    from: Option<&str>,
    authfile: Option<PathBuf>,
    registries: &[String],
    ctx: &Invocation,
) -> Result<()> {
    let report = auth(authfile, ctx)?.migrate(to, from, registries)?;
    for m in &report.moved {
        ctx.printer
            .line(format!("moved {} ({}) from {} to docker-credential-{}", m.registry, m.username, m.from, m.to))?;
    }
    for s in &report.skipped {
        ctx.printer.warn(&format!("skipped {s}"));
    }
    if report.moved.is_empty() && report.skipped.is_empty() {
        ctx.printer.line("nothing to move")?;
    }
    Ok(())
}
