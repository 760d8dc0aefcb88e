//! `hoist images`: the local store's images, as `podman images` lists them: the table (REPOSITORY, TAG,
//! [DIGEST,] IMAGE ID, CREATED, SIZE; podman's column layout), `-q` (each ID once), `--format json` (podman's
//! keys), with podman's `--filter`, `-a`, `--sort`, `-n`, `--no-trunc`, `--digests` and a `REPOSITORY[:TAG]`
//! argument. Which images match and in what order is the library's (`ops::list_images`, `ops::rows`); this
//! file maps flags and renders.
//!
//! Go templates (`--format '{{.ID}}'`, `table ...`) plug in at one place, [`render_template`]: each row is
//! rendered from [`template_object`] (podman's template fields).

use hoist_core::ops::{self, FilterSpec, ImageQuery, Listed, Row, SortKey};

use super::common::human_size;
use super::{Invocation, Result};
use crate::template::{self, Template};

#[derive(clap::Args)]
pub struct Args {
    /// Show all images, intermediate ones (unnamed images other images are built on) too
    #[arg(short, long)]
    all: bool,
    /// Show the manifest digests
    #[arg(long)]
    digests: bool,
    /// Filter the images: dangling=BOOL, reference=PATTERN, label=KEY[=VALUE], before=IMAGE, since=IMAGE,
    /// id=ID; KEY!=VALUE negates (filters of one key: any matches; of different keys: all match)
    #[arg(short, long = "filter", value_name = "FILTER")]
    filters: Vec<String>,
    /// Output: the table (default), json (podman's keys)
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Do not print the heading
    #[arg(short, long = "noheading")]
    noheading: bool,
    /// Do not truncate the image IDs
    #[arg(long)]
    no_trunc: bool,
    /// Print only the image IDs, each once
    #[arg(short, long)]
    quiet: bool,
    /// Sort by created (newest first), id, repository, size or tag
    #[arg(long, default_value = "created", value_name = "KEY")]
    sort: String,
    /// Only images with this name (REPOSITORY[:TAG], a reference filter pattern)
    #[arg(value_name = "REPOSITORY[:TAG]")]
    image: Option<String>,
}

/// What `--format` asks for.
enum Output<'a> {
    Table,
    Json,
    Template(&'a str),
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let sort: SortKey = a.sort.parse().map_err(ops::Error::from)?;
    let filters = a.filters.iter().map(|f| FilterSpec::parse(f)).collect::<std::result::Result<Vec<_>, _>>();
    let query =
        ImageQuery { filters: filters.map_err(ops::Error::from)?, reference: a.image.clone(), all: a.all, sort };
    let output = match a.format.as_deref() {
        None | Some("text") | Some("table") => Output::Table,
        Some(f) if template::is_json(f) => Output::Json,
        Some(t) => Output::Template(t),
    };
    let images = ops::list_images(&ctx.settings, &query)?;
    let rows = ops::rows(&images, sort);
    if a.quiet {
        let mut seen = std::collections::BTreeSet::new();
        for r in &rows {
            let id = id_text(&images[r.image], a.no_trunc);
            if seen.insert(id.clone()) {
                ctx.printer.line(&id)?;
            }
        }
        return Ok(());
    }
    match output {
        Output::Json => ctx.printer.json(&images.iter().map(json_object).collect::<Vec<_>>())?,
        Output::Template(t) => render_template(t, &images, &rows, &a, ctx)?,
        Output::Table => {
            let mut table = Vec::new();
            if !a.noheading {
                let mut h = vec!["REPOSITORY", "TAG"];
                if a.digests {
                    h.push("DIGEST");
                }
                h.extend(["IMAGE ID", "CREATED", "SIZE"]);
                table.push(h.into_iter().map(String::from).collect());
            }
            for r in &rows {
                let l = &images[r.image];
                let mut line = vec![r.repository.clone(), r.tag.clone()];
                if a.digests {
                    line.push(l.image.descriptor.digest.to_string());
                }
                line.extend([id_text(l, a.no_trunc), created_since(l), human_size(l.size)]);
                table.push(line);
            }
            for line in tabulate(&table) {
                ctx.printer.line(&line)?;
            }
        }
    }
    Ok(())
}

/// A Go template given to `--format`, as podman renders it: parsed once (a bad one: one line, exit 125); each
/// of `rows` rendered from [`template_object`], one line each, in `rows`' order; with a `table` prefix the
/// cells are aligned and a heading row comes first (podman's column names: `ID` → IMAGE ID, `Repository` →
/// REPOSITORY, `Tag` → TAG, `Digest` → DIGEST, `CreatedSince`/`Created` → CREATED, `CreatedAt` → CREATED AT,
/// `Size` → SIZE) unless `-n`; without it no heading (podman turns `-n` on for any `--format`).
fn render_template(format: &str, images: &[Listed], rows: &[Row], a: &Args, ctx: &Invocation) -> Result<()> {
    let t = Template::parse(format)?;
    let objects: Vec<serde_json::Value> =
        rows.iter().map(|r| template_object(&images[r.image], r, a.no_trunc)).collect();
    let headers = template::headers(
        &["ID", "Repository", "Tag", "Digest", "CreatedSince", "Created", "CreatedAt", "Size"],
        &[("ID", "IMAGE ID"), ("CreatedSince", "CREATED"), ("Created", "CREATED")],
    );
    let text = t.render_rows(&objects, (!a.noheading).then_some(&headers))?;
    ctx.printer.rendered(&text)?;
    Ok(())
}

/// The ID as the table and `-q` show it: 12 hex digits, or `sha256:` and all of them with `--no-trunc`.
fn id_text(l: &Listed, no_trunc: bool) -> String {
    if no_trunc { l.id.to_string() } else { l.id.hex()[..12].to_owned() }
}

/// podman's CREATED: `23 months ago`.
fn created_since(l: &Listed) -> String {
    if l.created.is_none() {
        return "unknown".to_owned();
    }
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    format!("{} ago", human_duration((now - l.created_unix).max(0)))
}

/// go-units' `HumanDuration`, which podman's CREATED uses, of `s` seconds.
pub(crate) fn human_duration(s: i64) -> String {
    let hours = (s as f64 / 3600.0 + 0.5) as i64;
    match s {
        ..1 => "Less than a second".into(),
        1 => "1 second".into(),
        2..60 => format!("{s} seconds"),
        60..120 => "About a minute".into(),
        120..3600 => format!("{} minutes", s / 60),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", s / 3600 / 24 / 365),
    }
}

/// Go's tabwriter as podman sets it up (minimum width 12, padding 2): every column but the last is as wide
/// as its widest cell plus two, and at least 12.
fn tabulate(table: &[Vec<String>]) -> Vec<String> {
    let columns = table.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| table.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count() + 2).max().unwrap_or(0).max(12))
        .collect();
    table
        .iter()
        .map(|row| {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<w$}", w = widths[i]));
                }
            }
            line
        })
        .collect()
}

/// One image as `podman images --format json` prints it (podman's keys, in its order). Unlike podman,
/// `Names` is there when empty (`[]`), and an image appears once (podman repeats an image once per name).
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct JsonImage {
    #[serde(rename = "Id")]
    id: String,
    parent_id: String,
    /// Always `null`, as podman prints it.
    repo_tags: Option<Vec<String>>,
    repo_digests: Vec<String>,
    size: u64,
    shared_size: u64,
    virtual_size: u64,
    labels: Option<std::collections::BTreeMap<String, String>>,
    containers: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    dangling: bool,
    names: Vec<String>,
    digest: String,
    /// The names, newest first (podman keeps the names an image had; hoist the ones it has).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    history: Vec<String>,
    created: i64,
    created_at: String,
}

fn json_object(l: &Listed) -> JsonImage {
    let names: Vec<String> = l.image.names.iter().map(|n| n.to_string()).collect();
    JsonImage {
        id: l.id.hex().to_owned(),
        parent_id: l.parent.as_ref().map(|p| p.hex().to_owned()).unwrap_or_default(),
        repo_tags: None,
        repo_digests: l.repo_digests.clone(),
        size: l.size,
        shared_size: 0,
        virtual_size: l.size,
        labels: l.labels.clone(),
        containers: 0,
        dangling: l.dangling,
        history: names.iter().rev().cloned().collect(),
        names,
        digest: l.image.descriptor.digest.to_string(),
        created: l.created_unix,
        created_at: l.created_at(),
    }
}

/// What a Go template sees for one row, podman's fields: the JSON object's keys, then the row's
/// `ID` (as the table shows it), `Repository`, `Tag`, and the values podman's templates print where they
/// differ from its JSON (`Size` "104 kB", `Created` and `CreatedSince` "2 years ago", `CreatedAt`
/// "2025-01-01 00:00:00 +0000 UTC").
pub(crate) fn template_object(l: &Listed, r: &Row, no_trunc: bool) -> serde_json::Value {
    let mut v = serde_json::to_value(json_object(l)).expect("plain data serialises");
    let o = v.as_object_mut().expect("an object");
    o.insert("ID".into(), id_text(l, no_trunc).into());
    o.insert("Repository".into(), r.repository.clone().into());
    o.insert("Tag".into(), r.tag.clone().into());
    o.insert("Size".into(), human_size(l.size).into());
    o.insert("Created".into(), created_since(l).into());
    o.insert("CreatedSince".into(), created_since(l).into());
    o.insert("CreatedAt".into(), l.created_at_go().into());
    o.insert("Dangling".into(), l.dangling.into());
    o.insert("ReadOnly".into(), false.into());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_go_units() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(59), "59 seconds");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(3599), "59 minutes");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(47 * 3600), "47 hours");
        assert_eq!(human_duration(13 * 86400), "13 days");
        assert_eq!(human_duration(59 * 86400), "8 weeks");
        assert_eq!(human_duration(708 * 86400), "23 months");
        assert_eq!(human_duration(731 * 86400), "2 years");
    }

    #[test]
    fn columns_as_podmans_tabwriter() {
        let t = |rows: &[&[&str]]| {
            tabulate(&rows.iter().map(|r| r.iter().map(|s| s.to_string()).collect()).collect::<Vec<_>>())
        };
        assert_eq!(
            t(&[&["REPOSITORY", "TAG", "SIZE"], &["localhost/tmp/imgexp/lay", "latest", "104 kB"]]),
            ["REPOSITORY                TAG         SIZE", "localhost/tmp/imgexp/lay  latest      104 kB"]
        );
    }
}
