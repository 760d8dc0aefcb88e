//! One registries.conf file: its TOML shape (the raw structs and the keys containers/image knows), the
//! warnings for unknown keys, and the validation that turns it into a [`FileConfig`] — containers/image's
//! `postProcessRegistries`, with its error texts.
//!
//! What it is not: finding files (`paths`), merging several (`merge`), or the v1 tables, which `v1`
//! converts into the same raw `[[registry]]` entries before validation.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::alias_cache::validate_alias;
use super::v1::{self, RawV1};
use super::{ConfigError, Mirror, PullFromMirror, Registry, ShortNameMode};
use crate::reference::is_qualifying_domain;

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct RawFile {
    unqualified_search_registries: Option<Vec<String>>,
    short_name_mode: Option<String>,
    credential_helpers: Option<Vec<String>>,
    #[serde(default)]
    registry: Vec<RawRegistry>,
    aliases: Option<BTreeMap<String, String>>,
    /// The v1 format (`[registries.search]` ...).
    registries: Option<RawV1>,
}

/// A `[[registry]]` as written (also what `v1` converts to).
#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub(super) struct RawRegistry {
    pub(super) prefix: Option<String>,
    pub(super) location: Option<String>,
    #[serde(default)]
    pub(super) insecure: bool,
    #[serde(default)]
    pub(super) blocked: bool,
    #[serde(default)]
    pub(super) mirror_by_digest_only: bool,
    #[serde(default)]
    pub(super) mirror: Vec<RawMirror>,
    pub(super) pull_from_mirror: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub(super) struct RawMirror {
    location: Option<String>,
    #[serde(default)]
    insecure: bool,
    pull_from_mirror: Option<String>,
}

const TOP_KEYS: &[&str] = &[
    "unqualified-search-registries",
    "short-name-mode",
    "credential-helpers",
    "registry",
    "aliases",
    "registries",
    "additional-layer-store-auth-helper",
];
const REGISTRY_KEYS: &[&str] =
    &["prefix", "location", "insecure", "blocked", "mirror-by-digest-only", "mirror", "pull-from-mirror"];
const MIRROR_KEYS: &[&str] = &["location", "insecure", "pull-from-mirror"];

/// One parsed and validated file, before merging. `None` means "not set in this file".
pub(super) struct FileConfig {
    pub(super) unqualified_search_registries: Option<Vec<String>>,
    pub(super) short_name_mode: Option<ShortNameMode>,
    pub(super) credential_helpers: Option<Vec<String>>,
    /// One entry per prefix (the first in the file wins).
    pub(super) registries: Vec<Registry>,
    pub(super) aliases: BTreeMap<String, String>,
}

/// A TOML syntax or type error in `text` (the contents of `path`), with its line when TOML gives a span.
pub(super) fn toml_error(path: &Path, text: &str, e: toml::de::Error) -> ConfigError {
    ConfigError {
        path: path.to_owned(),
        line: e.span().map(|s| line_of(text, s.start)),
        message: e.message().trim().to_owned(),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

fn unknown_keys(table: &toml::Table, path: &Path, warnings: &mut Vec<String>) {
    let mut warn = |key: &str| warnings.push(format!("{}: unknown key {key:?} ignored", path.display()));
    for (k, v) in table {
        if !TOP_KEYS.contains(&k.as_str()) {
            warn(k);
        }
        if k == "registry" {
            for reg in v.as_array().into_iter().flatten().filter_map(|r| r.as_table()) {
                for (rk, rv) in reg {
                    if !REGISTRY_KEYS.contains(&rk.as_str()) {
                        warn(&format!("registry.{rk}"));
                    }
                    if rk == "mirror" {
                        for m in rv.as_array().into_iter().flatten().filter_map(|m| m.as_table()) {
                            for mk in m.keys().filter(|mk| !MIRROR_KEYS.contains(&mk.as_str())) {
                                warn(&format!("registry.mirror.{mk}"));
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `parseLocation`: trailing slashes removed; URI schemes refused.
pub(super) fn parse_location(path: &Path, input: &str) -> Result<String, ConfigError> {
    let trimmed = input.trim_end_matches('/');
    if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        return Err(ConfigError::new(path, format!("invalid location '{input}': URI schemes are not supported")));
    }
    Ok(trimmed.to_owned())
}

fn parse_pull_from_mirror(path: &Path, value: &str, location: &str) -> Result<PullFromMirror, ConfigError> {
    match value {
        "all" => Ok(PullFromMirror::All),
        "digest-only" => Ok(PullFromMirror::DigestOnly),
        "tag-only" => Ok(PullFromMirror::TagOnly),
        other => {
            Err(ConfigError::new(path, format!("unsupported pull-from-mirror value {other:?} for mirror {location:?}")))
        }
    }
}

/// Parses and validates `text`, the contents of `path` (a drop-in when `dropin`); unknown keys go to
/// `warnings`.
pub(super) fn parse_file(
    path: &Path,
    text: &str,
    dropin: bool,
    warnings: &mut Vec<String>,
) -> Result<FileConfig, ConfigError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| toml_error(path, text, e))?;
    unknown_keys(&table, path, warnings);
    let raw: RawFile = toml::from_str(text).map_err(|e| toml_error(path, text, e))?;

    let v2_set = raw.unqualified_search_registries.is_some() || !raw.registry.is_empty();
    let mut raw_registries = raw.registry;
    let mut search = raw.unqualified_search_registries;
    if let Some(v1) = raw.registries.filter(RawV1::is_set) {
        (raw_registries, search) = v1::to_v2(path, v1, dropin, v2_set)?;
    }

    let mut registries = Vec::new();
    for r in raw_registries {
        let location = parse_location(path, r.location.as_deref().unwrap_or(""))?;
        let prefix = match r.prefix.as_deref() {
            None | Some("") => {
                if location.is_empty() {
                    return Err(ConfigError::new(path, "invalid condition: both location and prefix are unset"));
                }
                location.clone()
            }
            Some(p) => {
                let p = parse_location(path, p)?;
                if !p.starts_with("*.") && location.is_empty() {
                    return Err(ConfigError::new(
                        path,
                        "invalid condition: location is unset and prefix is not in the format: *.example.com",
                    ));
                }
                p
            }
        };
        if prefix.starts_with("*.") && prefix.contains(['/', '@', ':']) {
            return Err(ConfigError::new(
                path,
                format!(
                    "Wildcarded prefix should be in the format: *.example.com. Current prefix {prefix:?} is incorrectly formatted"
                ),
            ));
        }
        if r.pull_from_mirror.is_some() {
            return Err(ConfigError::new(
                path,
                format!("pull-from-mirror must not be set for a non-mirror registry {prefix:?}"),
            ));
        }
        let mut mirrors = Vec::new();
        for m in r.mirror {
            let loc = parse_location(path, m.location.as_deref().unwrap_or(""))?;
            if loc.is_empty() {
                return Err(ConfigError::new(path, "invalid condition: mirror location is unset"));
            }
            let pull = match m.pull_from_mirror.as_deref() {
                None | Some("") => None,
                Some(v) => {
                    if r.mirror_by_digest_only {
                        return Err(ConfigError::new(
                            path,
                            format!(
                                "cannot set mirror usage mirror-by-digest-only for the registry ({prefix:?}) and pull-from-mirror for per-mirror ({loc:?}) at the same time"
                            ),
                        ));
                    }
                    Some(parse_pull_from_mirror(path, v, &loc)?)
                }
            };
            mirrors.push(Mirror { location: loc, insecure: m.insecure, pull_from_mirror: pull });
        }
        registries.push(Registry {
            prefix,
            location,
            insecure: r.insecure,
            blocked: r.blocked,
            mirror_by_digest_only: r.mirror_by_digest_only,
            mirrors,
            origin: path.to_owned(),
        });
    }
    // Conflicting settings for the same location within one file.
    for a in &registries {
        for b in registries.iter().filter(|b| !a.location.is_empty() && b.location == a.location) {
            if a.insecure != b.insecure {
                return Err(ConfigError::new(
                    path,
                    format!("registry '{}' is defined multiple times with conflicting 'insecure' setting", a.location),
                ));
            }
            if a.blocked != b.blocked {
                return Err(ConfigError::new(
                    path,
                    format!("registry '{}' is defined multiple times with conflicting 'blocked' setting", a.location),
                ));
            }
        }
    }
    if let Some(search) = &mut search {
        for entry in search.iter_mut() {
            let e = parse_location(path, entry)?;
            // Each entry is prefixed to short names, so it must stay their registry (see the rule's doc).
            if !is_qualifying_domain(&e) {
                return Err(ConfigError::new(path, format!("Invalid unqualified-search-registries entry {e:?}")));
            }
            *entry = e;
        }
    }
    let short_name_mode = match raw.short_name_mode.as_deref() {
        None | Some("") => None,
        Some("enforcing") => Some(ShortNameMode::Enforcing),
        Some("permissive") => Some(ShortNameMode::Permissive),
        Some("disabled") => Some(ShortNameMode::Disabled),
        Some(other) => return Err(ConfigError::new(path, format!("invalid short-name mode: {other:?}"))),
    };
    let aliases = raw.aliases.unwrap_or_default();
    for (name, value) in &aliases {
        validate_alias(name, value)
            .map_err(|m| ConfigError::new(path, format!("validating short-name aliases: {m}")))?;
    }
    // Within one file, the first entry of a prefix wins (later duplicates are ignored, as c/image does).
    let mut unique: Vec<Registry> = Vec::new();
    for r in registries {
        if !unique.iter().any(|u| u.prefix == r.prefix) {
            unique.push(r);
        }
    }
    Ok(FileConfig {
        unqualified_search_registries: search,
        short_name_mode,
        credential_helpers: raw.credential_helpers,
        registries: unique,
        aliases,
    })
}
