//! `hoist images`' listing, as podman's: [`images`] gives every stored image with what podman's
//! `ImageSummary` holds (ID, names, repo digests, created, labels, parent, dangling, intermediate, and podman's
//! size: the layers uncompressed, plus the config and the manifest); [`list`] keeps those an [`ImageQuery`]
//! asks for (podman's `--filter`s, `-a`, the `REPOSITORY[:TAG]` argument), sorted by its key; [`rows`] gives
//! the table's rows (one per name, podman's `<none>` rule) in the same order.
//!
//! Filters as podman 4.3 combines them: filters of one key match when any of them does, filters of different
//! keys when all do; `KEY!=VALUE` negates one. `dangling` is given one value only; `before`/`since` name a
//! stored image, whose creation time is compared.
//!
//! What it is not: the table, JSON or template the CLI renders; removing anything (`prune`, `rmi`).

use std::collections::BTreeMap;
use std::io::Read;

use super::{Error, Settings};
use crate::archive::compression::{Budget, Formats, decompress_file};
use crate::build::glob::go_match;
use crate::digest::Digest;
use crate::image::{Descriptor, ImageConfig, MAX_CONFIG_SIZE, MAX_MANIFEST_SIZE, Manifest};
use crate::reference::Reference;
use crate::store::{Image, LayerSize, Store, StoreError};

/// One image of the store (one stored manifest and its names) with what `images` shows of it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub image: Image,
    /// podman's image ID: the config digest (an index: its own digest).
    pub id: Digest,
    /// The config's `created` (else when the store named it), RFC 3339.
    pub created: Option<String>,
    /// [`Listed::created`] in seconds since the epoch (0 when unknown or unreadable, as Go's zero time is
    /// podman's "unknown").
    pub created_unix: i64,
    /// podman's SIZE: every layer uncompressed, plus the config and the manifest counted twice
    /// (containers/storage keeps the manifest under two keys, and podman counts both); an index: its
    /// manifests' sizes.
    pub size: u64,
    /// The config's labels (`None`: the config has none).
    pub labels: Option<BTreeMap<String, String>>,
    /// The stored image this one was built on: another image whose layers and history this one's start
    /// with and extend (podman's `ParentId`).
    pub parent: Option<Digest>,
    /// No name, and no image built on it (podman's `dangling`).
    pub dangling: bool,
    /// No name, but an image is built on it (podman hides these unless `-a`).
    pub intermediate: bool,
    /// `REPOSITORY@DIGEST` for each repository the image is named in, sorted (podman's `RepoDigests`).
    pub repo_digests: Vec<String>,
    /// The layers' digests as unpacked (the config's `rootfs.diff_ids`).
    diff_ids: Vec<Digest>,
    /// The config's history entries.
    history: Vec<serde_json::Value>,
}

/// A filter `images` was given, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `dangling=true|false`.
    Dangling(bool),
    /// `reference=PATTERN`: a name matches in any of podman's forms (full, without domain, last component;
    /// with and without tag), `PATTERN` read as Go's `path.Match`.
    Reference(String),
    /// `label=KEY` or `label=KEY=VALUE`.
    Label { key: String, value: Option<String> },
    /// `before=IMAGE`: created before the image named.
    Before(String),
    /// `since=IMAGE` (or `after=`): created after it.
    Since(String),
    /// `id=ID`: the full image ID (with or without `sha256:`).
    Id(String),
}

/// A filter that cannot be used, worded as podman words it.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("invalid image filter {0:?}: must be in the format \"filter=value or filter!=value\"")]
    Format(String),
    #[error("unsupported image filter {0:?}")]
    Unsupported(String),
    #[error("non-boolean value {value:?} for {key} filter")]
    NotBoolean { key: String, value: String },
    #[error("specifying {0:?} filter more than once with different values is not supported")]
    Conflicting(String),
    #[error("invalid reference filter {pattern:?}: {reason}")]
    BadPattern { pattern: String, reason: String },
    #[error("could not find local image for filter {key:?}={value:?}: {source}")]
    NoImage { key: String, value: String, source: Box<StoreError> },
    #[error("{0:?} is not a valid field for sorting. Choose from: created, id, repository, size, tag")]
    SortKey(String),
}

/// One parsed `--filter`: what it asks, and whether it was given as `KEY!=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterSpec {
    pub filter: Filter,
    pub negated: bool,
}

impl FilterSpec {
    /// Parses `KEY=VALUE` or `KEY!=VALUE` (podman's keys: `dangling`, `reference`, `label`, `before`,
    /// `since`/`after`, `id`).
    pub fn parse(s: &str) -> Result<FilterSpec, FilterError> {
        let (key, value, negated) = match s.split_once("!=") {
            Some((k, v)) => (k, v, true),
            None => match s.split_once('=') {
                Some((k, v)) => (k, v, false),
                None => return Err(FilterError::Format(s.to_owned())),
            },
        };
        let filter = match key {
            "dangling" => Filter::Dangling(
                parse_bool(value)
                    .ok_or_else(|| FilterError::NotBoolean { key: key.to_owned(), value: value.to_owned() })?,
            ),
            "reference" => {
                // A pattern Go's path.Match refuses matches nothing there; here it is said.
                go_match(value, "")
                    .map_err(|e| FilterError::BadPattern { pattern: value.to_owned(), reason: e.reason.to_owned() })?;
                Filter::Reference(value.to_owned())
            }
            "label" => match value.split_once('=') {
                Some((k, v)) => Filter::Label { key: k.to_owned(), value: Some(v.to_owned()) },
                None => Filter::Label { key: value.to_owned(), value: None },
            },
            "before" => Filter::Before(value.to_owned()),
            "since" | "after" => Filter::Since(value.to_owned()),
            "id" => Filter::Id(value.strip_prefix("sha256:").unwrap_or(value).to_owned()),
            _ => return Err(FilterError::Unsupported(key.to_owned())),
        };
        Ok(FilterSpec { filter, negated })
    }

    /// The key filters are grouped by (`after` is `since`).
    fn key(&self) -> &'static str {
        match self.filter {
            Filter::Dangling(_) => "dangling",
            Filter::Reference(_) => "reference",
            Filter::Label { .. } => "label",
            Filter::Before(_) => "before",
            Filter::Since(_) => "since",
            Filter::Id(_) => "id",
        }
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// podman's `--sort` keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortKey {
    /// Newest first (the default).
    #[default]
    Created,
    Id,
    Repository,
    Size,
    Tag,
}

impl std::str::FromStr for SortKey {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<SortKey, FilterError> {
        Ok(match s {
            "created" => SortKey::Created,
            "id" => SortKey::Id,
            "repository" => SortKey::Repository,
            "size" => SortKey::Size,
            "tag" => SortKey::Tag,
            _ => return Err(FilterError::SortKey(s.to_owned())),
        })
    }
}

/// What `images` lists: podman's flags.
#[derive(Debug, Clone, Default)]
pub struct ImageQuery {
    /// `--filter`s, parsed by [`FilterSpec::parse`].
    pub filters: Vec<FilterSpec>,
    /// The `REPOSITORY[:TAG]` argument: a `reference` filter, as podman adds it.
    pub reference: Option<String>,
    /// `-a`: intermediate images too.
    pub all: bool,
    pub sort: SortKey,
}

/// One line of the table: an image and one of its names (`<none>` when it has no tagged name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Index into the list [`rows`] was given.
    pub image: usize,
    pub repository: String,
    pub tag: String,
}

/// Every stored image, newest stored first, with its facts; sizes not yet recorded are measured (layers
/// decompressed once, within a budget) and recorded. A layer that cannot be measured counts its compressed
/// size, with a warning.
pub fn images(settings: &Settings) -> Result<Vec<Listed>, Error> {
    let store = settings.store()?;
    let mut out = Vec::new();
    for image in store.list()? {
        out.push(facts(settings, &store, image)?);
    }
    relate(&mut out);
    Ok(out)
}

/// The stored images `query` asks for, sorted by its key (ties keep [`images`]' order).
pub fn list(settings: &Settings, query: &ImageQuery) -> Result<Vec<Listed>, Error> {
    let mut filters = query.filters.clone();
    if let Some(r) = &query.reference {
        filters.push(FilterSpec::parse(&format!("reference={r}"))?);
    }
    let mut dangling: Option<(bool, bool)> = None;
    for f in &filters {
        if let Filter::Dangling(d) = f.filter {
            match dangling {
                Some(prev) if prev != (d, f.negated) => return Err(FilterError::Conflicting("dangling".into()).into()),
                _ => dangling = Some((d, f.negated)),
            }
        }
    }
    let all = images(settings)?;
    let store = settings.store()?;
    let mut times: BTreeMap<(bool, String), i64> = BTreeMap::new();
    for f in &filters {
        let (before, name) = match &f.filter {
            Filter::Before(n) => (true, n),
            Filter::Since(n) => (false, n),
            _ => continue,
        };
        let key = if before { "before" } else { "since" };
        let found = store.find(name).map_err(|source| FilterError::NoImage {
            key: key.to_owned(),
            value: name.clone(),
            source: Box::new(source),
        })?;
        let t = all.iter().find(|l| l.image.descriptor.digest == found.descriptor.digest).map_or(0, |l| l.created_unix);
        times.insert((before, name.clone()), t);
    }
    let mut groups: BTreeMap<&'static str, Vec<&FilterSpec>> = BTreeMap::new();
    for f in &filters {
        groups.entry(f.key()).or_default().push(f);
    }
    let mut kept: Vec<Listed> = all
        .into_iter()
        .filter(|l| query.all || !l.intermediate)
        .filter(|l| groups.values().all(|g| g.iter().any(|f| matches(l, f, &times) != f.negated)))
        .collect();
    sort(&mut kept, query.sort);
    Ok(kept)
}

/// Whether `l` passes `f` (not negated).
fn matches(l: &Listed, f: &FilterSpec, times: &BTreeMap<(bool, String), i64>) -> bool {
    match &f.filter {
        Filter::Dangling(d) => l.dangling == *d,
        Filter::Reference(p) => l.image.names.iter().any(|n| reference_matches(p, n)),
        Filter::Label { key, value } => l
            .labels
            .as_ref()
            .and_then(|ls| ls.get(key))
            .is_some_and(|v| value.as_ref().is_none_or(|want| want.is_empty() || want == v)),
        Filter::Before(n) => times.get(&(true, n.clone())).is_some_and(|&t| l.created_unix < t),
        Filter::Since(n) => times.get(&(false, n.clone())).is_some_and(|&t| l.created_unix > t),
        Filter::Id(id) => l.id.hex() == id,
    }
}

/// podman's reference filter: `pattern` against the name whole, without its domain, its last path component,
/// each with and without its tag or digest.
pub fn reference_matches(pattern: &str, name: &Reference) -> bool {
    let full = name.to_string();
    let trimmed = name.name();
    let path = name.path().to_owned();
    let suffix = &full[trimmed.len()..];
    let last = |s: &str| s.rsplit('/').next().unwrap_or(s).to_owned();
    let candidates =
        [full.clone(), path.clone(), last(&full), trimmed.clone(), format!("{path}{suffix}"), last(&trimmed)];
    candidates.iter().any(|c| go_match(pattern, c).unwrap_or(false))
}

/// Sorts images by `key`, as podman sorts its rows (created: newest first; the others ascending; repository
/// and tag by the image's first row). Ties are in created order, newest first.
pub fn sort(images: &mut [Listed], key: SortKey) {
    images.sort_by_key(|l| std::cmp::Reverse(l.created_unix));
    match key {
        SortKey::Created => {}
        SortKey::Id => images.sort_by(|a, b| a.id.hex().cmp(b.id.hex())),
        SortKey::Size => images.sort_by_key(|l| l.size),
        SortKey::Repository => images.sort_by_cached_key(|l| names_of(l).into_iter().next().unwrap_or_default().0),
        SortKey::Tag => images.sort_by_cached_key(|l| names_of(l).into_iter().next().unwrap_or_default().1),
    }
}

/// The table's rows of `images`: one per tagged name (an image with none: one `<none>` row, its first name's
/// repository when it has a digest-only name), sorted by `key` as podman sorts them (stable).
pub fn rows(images: &[Listed], key: SortKey) -> Vec<Row> {
    let mut rows: Vec<Row> = images
        .iter()
        .enumerate()
        .flat_map(|(i, l)| names_of(l).into_iter().map(move |(repository, tag)| Row { image: i, repository, tag }))
        .collect();
    match key {
        SortKey::Repository => rows.sort_by(|a, b| a.repository.cmp(&b.repository)),
        SortKey::Tag => rows.sort_by(|a, b| a.tag.cmp(&b.tag)),
        // The images are already in this order.
        SortKey::Created | SortKey::Id | SortKey::Size => {}
    }
    rows
}

/// `(repository, tag)` of each row of an image, podman's rule: the tagged names; else one row, `<none>`.
fn names_of(l: &Listed) -> Vec<(String, String)> {
    let tagged: Vec<(String, String)> =
        l.image.names.iter().filter_map(|n| n.tag().map(|t| (n.name(), t.to_owned()))).collect();
    if !tagged.is_empty() {
        return tagged;
    }
    match l.image.names.first() {
        Some(n) => vec![(n.name(), "<none>".to_owned())],
        None => vec![("<none>".to_owned(), "<none>".to_owned())],
    }
}

/// The facts of one stored image.
fn facts(settings: &Settings, store: &Store, image: Image) -> Result<Listed, Error> {
    let d = &image.descriptor;
    let raw = store.read_blob(&d.digest, MAX_MANIFEST_SIZE)?;
    let manifest = Manifest::parse(&raw, Some(&d.media_type))
        .map_err(|e| Error::from(crate::transport::TransportError::from(e)))?;
    let id = store.image_id(&image)?;
    let (config, size) = match &manifest {
        Manifest::Image(m) => {
            let raw_config = store.read_blob(&m.config.digest, MAX_CONFIG_SIZE)?;
            let config =
                ImageConfig::parse(&raw_config).map_err(|e| Error::from(crate::transport::TransportError::from(e)))?;
            let mut size = m.config.size + 2 * raw.len() as u64;
            for layer in &m.layers {
                size += layer_size(settings, store, layer).bytes();
            }
            (Some(config), size)
        }
        Manifest::Index(i) => (None, raw.len() as u64 + i.manifests.iter().map(|m| m.size).sum::<u64>()),
    };
    let created = config.as_ref().and_then(|c| c.created.clone()).or_else(|| image.created.clone());
    // Whole seconds, as podman keeps them (`CreatedAt` has no fraction either).
    let created_unix = created.as_deref().and_then(parse_rfc3339).map_or(0, |(secs, _)| secs);
    let labels = config
        .as_ref()
        .and_then(|c| c.config.as_ref())
        .and_then(|c| c.get("Labels"))
        .and_then(|l| serde_json::from_value::<Option<BTreeMap<String, String>>>(l.clone()).ok())
        .flatten();
    let mut repo_digests: Vec<String> = image.names.iter().map(|n| format!("{}@{}", n.name(), d.digest)).collect();
    repo_digests.sort();
    repo_digests.dedup();
    let (diff_ids, history) = match config {
        Some(c) => (c.rootfs.diff_ids, c.history),
        None => (Vec::new(), Vec::new()),
    };
    Ok(Listed {
        id,
        created,
        created_unix,
        size,
        labels,
        parent: None,
        dangling: false,
        intermediate: false,
        repo_digests,
        diff_ids,
        history,
        image,
    })
}

/// Sets each image's parent, and whether it is dangling or intermediate: podman's layer-tree rules, by
/// the configs (an image is another's parent when the other's layers and history start with all of its own
/// and go on; the closest such image, the one with most layers, is the parent).
fn relate(images: &mut [Listed]) {
    let is_parent = |p: &Listed, c: &Listed| {
        p.id != c.id
            && !p.history.is_empty()
            && p.diff_ids.len() <= c.diff_ids.len()
            && p.history.len() < c.history.len()
            && c.diff_ids.starts_with(&p.diff_ids)
            && c.history.starts_with(&p.history)
    };
    let named: Vec<bool> =
        images.iter().map(|l| images.iter().any(|o| o.id == l.id && !o.image.names.is_empty())).collect();
    for i in 0..images.len() {
        let parent = (0..images.len())
            .filter(|&p| is_parent(&images[p], &images[i]))
            .max_by_key(|&p| (images[p].history.len(), images[p].diff_ids.len()))
            .map(|p| images[p].id.clone());
        let has_child = (0..images.len()).any(|c| is_parent(&images[i], &images[c]));
        images[i].parent = parent;
        images[i].dangling = !named[i] && !has_child;
        images[i].intermediate = !named[i] && has_child;
    }
}

/// What layer `d` counts for the image's size: its record, else measured and recorded.
pub(super) fn layer_size(settings: &Settings, store: &Store, d: &Descriptor) -> LayerSize {
    if let Some(s) = store.recorded_size(&d.digest) {
        return s;
    }
    let measured = match measure(store, d) {
        Ok(n) => LayerSize::Uncompressed(n),
        Err(why) => {
            settings
                .observer
                .warning(&format!("layer {}: {why}; its size counts {} compressed bytes", d.digest, d.size));
            LayerSize::Unmeasured(d.size)
        }
    };
    // The record is a cache: a store that cannot take it (read-only) measures again next time.
    let _ = store.record_size(&d.digest, measured);
    measured
}

fn measure_budget(compressed: u64) -> Budget {
    let max = LayerSize::budget(compressed);
    Budget::bytes(max, format!("the {max}-byte limit hoist decompresses a layer to for its size"))
}

/// Decompresses layer `d` and counts its bytes.
fn measure(store: &Store, d: &Descriptor) -> Result<u64, String> {
    let file = match store.open_blob(&d.digest) {
        Ok(f) => f,
        Err(StoreError::NotFound(_)) => return Err("not in the store".to_owned()),
        Err(e) => return Err(e.to_string()),
    };
    let what = format!("layer {}", d.digest);
    let mut r = decompress_file(file, &what, measure_budget(d.size), Formats::Layers).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(n),
            Ok(k) => n += k as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

impl Listed {
    /// When it was created, as podman's JSON says it (RFC 3339, UTC, whole seconds).
    pub fn created_at(&self) -> String {
        let (date, time) = civil(self.created_unix);
        format!("{date}T{time}Z")
    }

    /// When it was created, as Go prints a time (`2025-01-01 00:00:00 +0000 UTC`): podman's `{{.CreatedAt}}`.
    pub fn created_at_go(&self) -> String {
        let (date, time) = civil(self.created_unix);
        format!("{date} {time} +0000 UTC")
    }
}

/// `(YYYY-MM-DD, HH:MM:SS)` of seconds since the epoch, UTC.
fn civil(secs: i64) -> (String, String) {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = crate::store::civil_from_days(days);
    (format!("{y:04}-{m:02}-{d:02}"), format!("{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60))
}

/// Seconds since the epoch, and nanoseconds, of an image config's `created` (`YYYY-MM-DDTHH:MM:SS[.frac]`
/// then `Z`, `±HH:MM` or nothing, read as UTC); `None` for anything else. The one reader of those times
/// (`images`' CREATED, `history`'s, the `before`/`since` filters).
pub fn parse_rfc3339(s: &str) -> Option<(i64, u32)> {
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || !matches!(s.get(10..11), Some("T" | "t")) {
        return None;
    }
    let rest = s.get(19..)?;
    let digits: String = rest.strip_prefix('.').unwrap_or("").chars().take_while(char::is_ascii_digit).collect();
    let nanos = format!("{:0<9}", digits.get(..digits.len().min(9))?).parse::<u32>().ok()?;
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
    Some((days * 86400 + h * 3600 + mi * 60 + sec - offset, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        let secs = |s| parse_rfc3339(s).map(|(s, _)| s);
        assert_eq!(secs("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(secs("2024-02-29T12:00:00.123456789Z"), Some(1709208000));
        assert_eq!(secs("2024-02-29T13:00:00+01:00"), Some(1709208000));
        assert_eq!(secs("garbage"), None);
        assert_eq!(secs("2024-13-01T00:00:00Z"), None, "no 13th month");
        assert_eq!(secs("2024-02-29 12:00:00Z"), None, "a T between date and time");
        assert_eq!(parse_rfc3339("2024-02-29T12:00:00.1234567891Z"), Some((1709208000, 123456789)));
        assert_eq!(parse_rfc3339("2024-02-29T12:00:00.5Z"), Some((1709208000, 500000000)));
    }

    #[test]
    fn filters_parse_as_podman_words_them() {
        let f = |s: &str| FilterSpec::parse(s).map_err(|e| e.to_string());
        assert_eq!(f("dangling=true").unwrap().filter, Filter::Dangling(true));
        assert!(f("dangling!=1").unwrap().negated);
        assert_eq!(f("label=a=b=c").unwrap().filter, Filter::Label { key: "a".into(), value: Some("b=c".into()) });
        assert_eq!(f("after=x").unwrap().filter, Filter::Since("x".into()));
        assert_eq!(f("dangling=maybe").unwrap_err(), r#"non-boolean value "maybe" for dangling filter"#);
        assert_eq!(f("bogus=1").unwrap_err(), r#"unsupported image filter "bogus""#);
        assert_eq!(
            f("foo").unwrap_err(),
            r#"invalid image filter "foo": must be in the format "filter=value or filter!=value""#
        );
        assert!(f("reference=[").unwrap_err().contains("invalid reference filter"));
        assert!("bogus".parse::<SortKey>().unwrap_err().to_string().contains("Choose from: created, id"));
    }

    fn listed(id: char, names: &[&str], created: i64, size: u64) -> Listed {
        let digest = Digest::parse(&format!("sha256:{}", id.to_string().repeat(64))).unwrap();
        let descriptor: Descriptor = serde_json::from_value(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest.to_string(), "size": 1
        }))
        .unwrap();
        Listed {
            image: Image {
                names: names.iter().map(|n| Reference::parse_normalized(n).unwrap()).collect(),
                descriptor,
                created: None,
            },
            id: digest,
            created: None,
            created_unix: created,
            size,
            labels: None,
            parent: None,
            dangling: names.is_empty(),
            intermediate: false,
            repo_digests: Vec::new(),
            diff_ids: Vec::new(),
            history: Vec::new(),
        }
    }

    #[test]
    fn rows_sort_as_podmans_with_ties_newest_first() {
        let images = || {
            vec![
                listed('e', &[], 100, 5),
                listed('c', &["ex.com/c:x"], 400, 1),
                listed('a', &[], 200, 3),
                listed('b', &["ex.com/one/b:1", "ex.com/two/b:2"], 300, 2),
            ]
        };
        let table = |key: SortKey| {
            let mut l = images();
            sort(&mut l, key);
            rows(&l, key)
                .iter()
                .map(|r| format!("{}:{}:{}", &l[r.image].id.hex()[..1], r.repository, r.tag))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            table(SortKey::Created),
            ["c:ex.com/c:x", "b:ex.com/one/b:1", "b:ex.com/two/b:2", "a:<none>:<none>", "e:<none>:<none>"]
        );
        assert_eq!(
            table(SortKey::Repository),
            ["a:<none>:<none>", "e:<none>:<none>", "c:ex.com/c:x", "b:ex.com/one/b:1", "b:ex.com/two/b:2"]
        );
        assert_eq!(
            table(SortKey::Tag),
            ["b:ex.com/one/b:1", "b:ex.com/two/b:2", "a:<none>:<none>", "e:<none>:<none>", "c:ex.com/c:x"]
        );
        assert_eq!(table(SortKey::Size)[0], "c:ex.com/c:x");
        assert_eq!(table(SortKey::Id)[0], "a:<none>:<none>");
    }

    #[test]
    fn reference_patterns_match_podmans_forms() {
        let n = Reference::parse_normalized("ex.com/one/b:1").unwrap();
        for yes in
            ["b", "*/b", "ex.com/one/*", "one/*", "b:1", "b:*", "*:1", "one/b:1", "ex.com/one/b", "ex.com/one/b:1"]
        {
            assert!(reference_matches(yes, &n), "{yes}");
        }
        for no in ["c", "b:2", "one", "ex.com/*", "two/b"] {
            assert!(!reference_matches(no, &n), "{no}");
        }
    }
}
