//! `hoist images`: the local store's images, as `podman images` lists them (REPOSITORY, TAG, IMAGE ID,
//! CREATED, SIZE; `--digests`, `-q`, `--format json`).

use hoist_core::ops::{self, Listed};
use hoist_core::store::Image;

use super::common::human_size;
use super::{Invocation, Result};
use crate::printer::OutputFormat;

#[derive(clap::Args)]
pub struct Args {
    /// Show the manifest digests
    #[arg(long)]
    digests: bool,
    /// Print only the image IDs
    #[arg(short, long)]
    quiet: bool,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
}

/// One row of the listing.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct Row {
    id: String,
    digest: String,
    names: Vec<String>,
    created: Option<String>,
    size: u64,
    media_type: String,
}

fn row(listed: &Listed) -> Row {
    let d = &listed.image.descriptor;
    Row {
        id: listed.id.hex().to_owned(),
        digest: d.digest.to_string(),
        names: listed.image.names.iter().map(|n| n.to_string()).collect(),
        created: listed.created.clone(),
        size: listed.size,
        media_type: d.media_type.clone(),
    }
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let rows: Vec<(Row, Image)> = ops::images(&ctx.settings)?.into_iter().map(|l| (row(&l), l.image)).collect();
    if a.format == OutputFormat::Json {
        ctx.printer.json(&rows.iter().map(|(r, _)| r).collect::<Vec<_>>())?;
        return Ok(());
    }
    if a.quiet {
        for (r, _) in &rows {
            ctx.printer.line(&r.id[..12])?;
        }
        return Ok(());
    }
    let mut table = vec![{
        let mut h = vec!["REPOSITORY".to_owned(), "TAG".to_owned()];
        if a.digests {
            h.push("DIGEST".to_owned());
        }
        h.extend(["IMAGE ID", "CREATED", "SIZE"].map(String::from));
        h
    }];
    for (r, image) in &rows {
        let names: Vec<(String, String)> = if image.names.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            image
                .names
                .iter()
                .map(|n| (n.name(), n.tag().map(str::to_owned).unwrap_or_else(|| "<none>".into())))
                .collect()
        };
        for (repo, tag) in names {
            let mut line = vec![repo, tag];
            if a.digests {
                line.push(r.digest.clone());
            }
            line.push(r.id[..12].to_owned());
            line.push(r.created.as_deref().map(ago).unwrap_or_else(|| "unknown".into()));
            line.push(human_size(r.size));
            table.push(line);
        }
    }
    let widths: Vec<usize> =
        (0..table[0].len()).map(|c| table.iter().map(|row| row[c].len()).max().unwrap_or(0)).collect();
    for line in table {
        let cells: Vec<String> = line.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        ctx.printer.line(cells.join("  ").trim_end())?;
    }
    Ok(())
}

/// `3 days ago`, as podman shows CREATED, from an RFC 3339 time.
fn ago(rfc3339: &str) -> String {
    let Some(then) = parse_rfc3339(rfc3339) else { return rfc3339.to_owned() };
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let s = (now - then).max(0);
    let (n, unit) = match s {
        0..60 => return "Less than a minute ago".into(),
        60..3600 => (s / 60, "minute"),
        3600..86400 => (s / 3600, "hour"),
        86400..604800 => (s / 86400, "day"),
        604800..2592000 => (s / 604800, "week"),
        2592000..31536000 => (s / 2592000, "month"),
        _ => (s / 31536000, "year"),
    };
    if n == 1 { format!("1 {unit} ago") } else { format!("{n} {unit}s ago") }
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
fn parse_rfc3339(s: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let rest = s.get(19..)?;
    let rest = rest.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset = match rest {
        "Z" | "z" | "" => 0,
        o => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let oh: i64 = o.get(1..3)?.parse().ok()?;
            let om: i64 = o.get(4..6)?.parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (mo + if mo > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + h * 3600 + mi * 60 + sec - offset)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339() {
        assert_eq!(super::parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(super::parse_rfc3339("2024-02-29T12:00:00.123456789Z"), Some(1709208000));
        assert_eq!(super::parse_rfc3339("2024-02-29T13:00:00+01:00"), Some(1709208000));
        assert_eq!(super::parse_rfc3339("garbage"), None);
    }
}
