//! `hoist list-tags REPO`: a registry repository's tags, following the registry's pagination, as
//! `skopeo list-tags` prints them (`{"Repository": ..., "Tags": [...]}`), or one per line with `--format text`.
//! `--semver [REQ]` keeps only version tags (`2.1.3`, `v2.1.3`, `2.2.0-rc.1`), sorted by semver precedence,
//! and only those meeting REQ when given (`'>=2.0, <3'`).

use hoist_core::reference::Reference;

use super::common::RegistryArgs;
use super::{Invocation, Result, fail};
use crate::printer::OutputFormat;

#[derive(clap::Args)]
pub struct Args {
    /// Repository: [docker://]REGISTRY/REPO (no tag)
    repository: String,
    #[command(flatten)]
    registry: RegistryArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Json)]
    format: OutputFormat,
    /// Ask the registry for pages of N tags (all pages are still read and listed)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    page_size: Option<u32>,
    /// Only version tags, sorted by semver; with REQ, only those meeting it ('>=2.0, <3')
    #[arg(long, value_name = "REQ", num_args = 0..=1, default_missing_value = "*")]
    semver: Option<String>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct Listing {
    repository: String,
    tags: Vec<String>,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let name = a.repository.strip_prefix("docker://").unwrap_or(&a.repository);
    let reference = Reference::parse_normalized(name)?;
    if reference.tag().is_some() || reference.digest().is_some() {
        return fail(format!("{name}: list-tags takes a repository without a tag or digest"));
    }
    let settings = a.registry.settings(ctx)?;
    let page = a.page_size.map(|n| n as usize);
    let mut tags = ctx.runtime.block_on(settings.list_tags(&reference, page))?;
    if let Some(req) = &a.semver {
        tags = hoist_core::release::filter_versions(&tags, Some(req))?;
    }
    if a.format == OutputFormat::Text {
        for t in &tags {
            ctx.printer.line(t)?;
        }
        return Ok(());
    }
    ctx.printer.json(&Listing { repository: reference.name(), tags })?;
    Ok(())
}
