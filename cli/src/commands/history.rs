//! `hoist history IMAGE`: a local image's history, newest first, as `podman history` shows it (ID, CREATED,
//! CREATED BY, SIZE, COMMENT; `--no-trunc`, `-q`, `-H/--human`, `--format json` or a Go template over the
//! rows' fields `ID`, `Created`, `CreatedBy`, `Size`, `Comment`, `CreatedAt`, `CreatedSince`). The rows are
//! the library's (`hoist_core::ops::history`); this file only shapes them.

use hoist_core::ops::{self, HistoryEntry, Sizes};
use serde_json::{Value, json};

use super::common::{PlatformArgs, human_size};
use super::{Invocation, Result};
use crate::template::{self, Template};

/// podman's default: `table {{.ID}}\t{{.Created}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}`.
const DEFAULT_FORMAT: &str = "table {{.ID}}\t{{.Created}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";

#[derive(clap::Args)]
pub struct Args {
    /// Image: a name or ID in the local store
    image: String,
    /// Show times as "2 days ago" (the default); -H=false shows them in RFC 3339
    #[arg(
        short = 'H',
        long,
        default_value_t = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    human: bool,
    /// Do not truncate IDs and commands
    #[arg(long)]
    no_trunc: bool,
    /// Print only the IDs
    #[arg(short, long)]
    quiet: bool,
    /// `json`, or a Go template over each row (`{{.ID}} {{.CreatedBy}}`, `table ...`)
    #[arg(long)]
    format: Option<String>,
    #[command(flatten)]
    platform: PlatformArgs,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let format = match (&a.format, a.quiet) {
        (Some(f), _) => f.as_str(),
        (None, true) => "{{.ID}}",
        (None, false) => DEFAULT_FORMAT,
    };
    let template = if template::is_json(format) { None } else { Some(Template::parse(format)?) };
    let platform = a.platform.platform()?;
    // Counting sizes reads every layer through: only when the output shows them.
    let sizes = match &template {
        Some(t) if !t.mentions("Size") => Sizes::Skip,
        _ => Sizes::Count,
    };
    let entries = ctx.runtime.block_on(ops::history(&ctx.settings, &a.image, platform, sizes))?;
    let now = now();
    let Some(t) = template else {
        let rows: Vec<Value> = entries.iter().map(json_row).collect();
        ctx.printer.json(&rows)?;
        return Ok(());
    };
    let rows: Vec<Value> = entries.iter().map(|e| row(e, a.human, a.no_trunc, now)).collect();
    let headers = template::headers(&["ID", "Created", "CreatedBy", "Size", "Comment"], &[]);
    ctx.printer.rendered(&t.render_rows(&rows, Some(&headers))?)?;
    Ok(())
}

/// The row a template sees (podman's `historyReporter` fields).
fn row(e: &HistoryEntry, human: bool, no_trunc: bool, now: i64) -> Value {
    let id = match &e.id {
        Some(d) if no_trunc => d.hex().to_owned(),
        Some(d) => d.hex().chars().take(12).collect(),
        None => "<missing>".to_owned(),
    };
    let created = e.created.as_deref();
    let since = created.map_or_else(String::new, |c| ago(c, now));
    let created_shown = match created {
        Some(c) if human => ago(c, now),
        Some(c) => to_seconds(c),
        None => String::new(),
    };
    let created_by = if !no_trunc && e.created_by.chars().count() > 45 {
        format!("{}...", e.created_by.chars().take(42).collect::<String>())
    } else {
        e.created_by.clone()
    };
    json!({
        "ID": id,
        "Created": created_shown,
        "CreatedBy": created_by,
        "Size": e.size.map(human_size).unwrap_or_default(),
        "Comment": e.comment,
        "CreatedAt": created.map(go_time).unwrap_or_default(),
        "CreatedSince": since,
    })
}

/// A row of `--format json`, with podman's keys (`id`, `created`, `CreatedBy`, `size`, `comment`, and
/// `Created` in seconds); an empty `comment` is left out, as podman's.
fn json_row(e: &HistoryEntry) -> Value {
    let mut row = json!({
        "id": e.id.as_ref().map_or_else(|| "<missing>".to_owned(), |d| d.hex().to_owned()),
        "created": e.created,
        "CreatedBy": e.created_by,
        "size": e.size,
        "Created": e.created.as_deref().map(to_seconds),
    });
    if !e.comment.is_empty() {
        row["comment"] = Value::String(e.comment.clone());
    }
    row
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// go-units' `HumanDuration` + " ago", as podman's CREATED: `Less than a second ago`, `20 seconds ago`,
/// `About a minute ago`, `3 hours ago`, `2 weeks ago`; the text as given when it is not RFC 3339.
fn ago(rfc3339: &str, now: i64) -> String {
    let Some(then) = parse_rfc3339(rfc3339) else { return rfc3339.to_owned() };
    let d = super::images::human_duration((now - then).max(0));
    format!("{d} ago")
}

/// `2024-01-02T03:04:05.123Z` → `2024-01-02T03:04:05Z` (podman's `-H=false` and JSON `Created`).
fn to_seconds(rfc3339: &str) -> String {
    match (rfc3339.get(..19), rfc3339.ends_with(['Z', 'z'])) {
        (Some(head), true) if parse_rfc3339(rfc3339).is_some() => format!("{head}Z"),
        _ => rfc3339.to_owned(),
    }
}

/// Go's `time.Time.String()` to the second for a UTC time: `2024-01-02 03:04:05 +0000 UTC`.
fn go_time(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..19), rfc3339.ends_with(['Z', 'z'])) {
        (Some(date), Some(time), true) if parse_rfc3339(rfc3339).is_some() => format!("{date} {time} +0000 UTC"),
        _ => rfc3339.to_owned(),
    }
}

/// Seconds since the epoch of an RFC 3339 time (the library's one reader of config times).
fn parse_rfc3339(s: &str) -> Option<i64> {
    ops::parse_rfc3339(s).map(|(secs, _)| secs)
}

#[cfg(test)]
mod tests {
    use super::{ago, go_time, to_seconds};

    #[test]
    fn times_as_podman_shows_them() {
        let t = "2024-02-29T12:00:00.123456789Z";
        let then = 1709208000;
        assert_eq!(ago(t, then), "Less than a second ago");
        assert_eq!(ago(t, then + 20), "20 seconds ago");
        assert_eq!(ago(t, then + 90), "About a minute ago");
        assert_eq!(ago(t, then + 3 * 3600), "3 hours ago");
        assert_eq!(ago(t, then + 3 * 86400), "3 days ago");
        assert_eq!(ago(t, then + 21 * 86400), "3 weeks ago");
        assert_eq!(ago(t, then + 3 * 365 * 86400), "3 years ago");
        assert_eq!(ago("garbage", then), "garbage");
        assert_eq!(to_seconds(t), "2024-02-29T12:00:00Z");
        assert_eq!(go_time(t), "2024-02-29 12:00:00 +0000 UTC");
    }
}
