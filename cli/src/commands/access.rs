//! `hoist access REPO`: which actions (pull, push, delete, `*`) the registry grants the credentials hoist
//! would use on a repository, found without changing anything: from the token's `access` claim on a token
//! registry, else by harmless probes. Text, or `--format json`.

use hoist_core::registry::access::{ACTIONS, Auth, Found};

use super::common::{RegistryArgs, registry_reference};
use super::{Invocation, Result, fail};
use crate::printer::OutputFormat;

#[derive(clap::Args)]
pub struct Args {
    /// Repository: [docker://]REGISTRY/REPO (no tag)
    repository: String,
    #[command(flatten)]
    registry: RegistryArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct Report {
    repository: String,
    user: Option<String>,
    auth: &'static str,
    found_by: &'static str,
    actions: std::collections::BTreeMap<&'static str, bool>,
    notes: Vec<String>,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let name = a.repository.strip_prefix("docker://").unwrap_or(&a.repository);
    if name.rsplit('/').next().is_some_and(|last| last.contains(':')) || name.contains('@') {
        return fail(format!("{name}: access takes a repository without a tag or digest"));
    }
    let reference = registry_reference(name)?;
    let settings = a.registry.settings(ctx)?;
    let creds = settings.creds()?;
    let (user, access) = ctx.runtime.block_on(async {
        let user = creds.for_reference(&reference).await?.map(|c| c.username);
        let client = settings.registry_client(&reference).await?;
        Ok::<_, super::Error>((user, client.access(reference.path()).await?))
    })?;
    let report = Report {
        repository: reference.name(),
        user,
        auth: match access.auth {
            Auth::Token => "token",
            Auth::Basic => "basic",
            Auth::None => "none",
        },
        found_by: match access.found {
            Found::TokenClaim => "token access claim",
            Found::Probe => "probes",
        },
        actions: ACTIONS.iter().map(|x| (*x, access.granted.contains(*x))).collect(),
        notes: access.notes,
    };
    if a.format == OutputFormat::Json {
        ctx.printer.json(&report)?;
        return Ok(());
    }
    ctx.printer.line(format!("Repository: {}", report.repository))?;
    ctx.printer.line(format!("User:       {}", report.user.as_deref().unwrap_or("(anonymous)")))?;
    ctx.printer.line(format!("Auth:       {} (found by {})", report.auth, report.found_by))?;
    for x in ACTIONS {
        ctx.printer.line(format!("{:<7} {}", format!("{x}:"), if report.actions[x] { "yes" } else { "no" }))?;
    }
    for n in &report.notes {
        ctx.printer.line(format!("Note: {n}"))?;
    }
    Ok(())
}
