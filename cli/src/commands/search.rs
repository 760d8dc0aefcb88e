//! `hoist search TERM`: podman's `search` — Docker Hub through its search API, other registries through
//! their catalogs (hoist-core's `ops::search` decides which registries, asks them and cuts the answer; a
//! registry that fails is a warning, an error only when all failed). Output as podman's: a NAME/DESCRIPTION
//! table (with `--compatible` also STARS, OFFICIAL, AUTOMATED), `--list-tags` as NAME/TAG, `--format json`
//! (podman's keys) or a Go template over `.Index .Name .Description .Stars .Official .Automated .Tag`.
//! Nothing is printed when nothing was found.

use hoist_core::ops::{self, SearchFilter, SearchOptions, SearchResult};
use serde_json::Value;

use super::common::RegistryArgs;
use super::{Invocation, Result};
use crate::template::{self, Template};

#[derive(clap::Args)]
pub struct Args {
    /// What to search for: TERM in every unqualified-search registry, or REGISTRY/TERM in one
    term: String,
    /// Results per registry (tags with --list-tags); default 25
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// List the tags of the repository REGISTRY/REPOSITORY
    #[arg(long)]
    list_tags: bool,
    /// Keep results by stars=N, is-official[=BOOL], is-automated[=BOOL] (repeatable)
    #[arg(long, short = 'f', value_name = "FILTER")]
    filter: Vec<String>,
    /// Show descriptions whole
    #[arg(long)]
    no_trunc: bool,
    /// Also show STARS, OFFICIAL and AUTOMATED, as docker search does
    #[arg(long)]
    compatible: bool,
    /// json, or a Go template ('table {{.Name}}\t{{.Stars}}') over .Index .Name .Description .Stars .Official .Automated .Tag
    #[arg(long)]
    format: Option<String>,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// The fields a template may name, for the `table` heading.
const FIELDS: [&str; 7] = ["Index", "Name", "Description", "Stars", "Official", "Automated", "Tag"];

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct TagsEntry {
    name: String,
    tags: Vec<String>,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let options = SearchOptions {
        limit: a.limit,
        list_tags: a.list_tags,
        filter: SearchFilter::parse(&a.filter)?,
        no_trunc: a.no_trunc,
    };
    let settings = a.registry.settings(ctx)?;
    let results = ctx.runtime.block_on(ops::search(&settings, &a.term, &options))?;
    if results.is_empty() {
        return Ok(());
    }
    let json = a.format.as_deref().is_some_and(template::is_json);
    if a.list_tags {
        if json {
            let mut entries: Vec<TagsEntry> = Vec::new();
            for r in results {
                match entries.iter_mut().find(|e| e.name == r.name) {
                    Some(e) => e.tags.push(r.tag),
                    None => entries.push(TagsEntry { name: r.name, tags: vec![r.tag] }),
                }
            }
            ctx.printer.json(&entries)?;
            return Ok(());
        }
        return render("table {{.Name}}\t{{.Tag}}\n", &results, ctx);
    }
    match a.format.as_deref() {
        Some(_) if json => ctx.printer.json(&results)?,
        Some(format) => render(format, &results, ctx)?,
        None if a.compatible => {
            render("table {{.Name}}\t{{.Description}}\t{{.Stars}}\t{{.Official}}\t{{.Automated}}\n", &results, ctx)?
        }
        None => render("table {{.Name}}\t{{.Description}}\n", &results, ctx)?,
    }
    Ok(())
}

/// `results` through the template `format`; a `table` one aligned under its heading (podman's column names).
fn render(format: &str, results: &[SearchResult], ctx: &Invocation) -> Result<()> {
    let t = Template::parse(format)?;
    let rows: Vec<Value> = results.iter().map(serde_json::to_value).collect::<std::result::Result<_, _>>()?;
    let headers = template::headers(&FIELDS, &[]);
    let text = t.render_rows(&rows, Some(&headers))?;
    ctx.printer.rendered(&text)?;
    Ok(())
}
