//! `hoist resolve NAME`: how an image name resolves — candidates in order, the registries.conf entry that
//! applies to each, and the endpoints a pull would contact (mirrors, then the primary; insecure; blocked).

use hoist_core::config::{ResolutionKind, ShortNameMode};

use super::{Invocation, Result};
use crate::printer::OutputFormat;

#[derive(clap::Args)]
pub struct Args {
    /// Image name, short (alpine) or fully qualified (quay.io/org/app:tag)
    name: String,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let config = ctx.load_config()?;
    let r = config.resolve(&a.name)?;
    if a.format == OutputFormat::Json {
        ctx.printer.json(&r)?;
        return Ok(());
    }
    let origin = r.origin.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    let how = match r.kind {
        ResolutionKind::Qualified => "fully qualified name".to_owned(),
        ResolutionKind::Alias => format!("alias from {origin}"),
        ResolutionKind::Search => format!("short name, unqualified-search-registries from {origin}"),
    };
    let p = &ctx.printer;
    p.line(format!("{}: {how}", a.name))?;
    if r.kind == ResolutionKind::Search && r.candidates.len() > 1 {
        let mode = match r.short_name_mode {
            ShortNameMode::Enforcing => "enforcing: podman asks which one on a terminal and fails without one",
            ShortNameMode::Permissive => "permissive: podman asks on a terminal, else tries them in order",
            ShortNameMode::Disabled => "disabled: tried in order",
        };
        p.line(format!("short-name-mode: {mode}"))?;
    }
    for (i, c) in r.candidates.iter().enumerate() {
        p.line(format!("{}. {}", i + 1, c.reference))?;
        match (&c.registry_prefix, &c.registry_origin) {
            (Some(prefix), Some(origin)) => {
                p.line(format!("   registry entry: prefix {prefix:?} ({})", origin.display()))?
            }
            _ => p.line("   registry entry: none (defaults: TLS, not blocked)")?,
        }
        if c.blocked {
            p.line("   BLOCKED: pulls from this registry are refused")?;
            continue;
        }
        for s in &c.sources {
            let what = if s.mirror { "mirror" } else { "primary" };
            let insecure = if s.insecure { ", insecure (TLS not verified, HTTP allowed)" } else { "" };
            p.line(format!("   {what}: {}{insecure}", s.reference))?;
        }
    }
    Ok(())
}
