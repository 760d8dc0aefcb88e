//! registries.conf v2 (containers-registries.conf(5)): which registry an image comes from, how it is
//! reached, and how short names resolve — the answer to "why did it pull from there?".
//!
//! Files, as containers/image reads them:
//! 1. `$CONTAINERS_REGISTRIES_CONF`, else `$HOME/.config/containers/registries.conf` if it exists, else
//!    `/etc/containers/registries.conf` (a missing default file is an empty configuration; a missing file
//!    named by the variable is an error).
//! 2. Drop-ins `*.conf`, in lexical order, from `$CONTAINERS_REGISTRIES_CONF_DIR` if set; else from
//!    `$HOME/.config/containers/registries.conf.d` when the per-user file is used, else from
//!    `/etc/containers/registries.conf.d` and then `$HOME/.config/containers/registries.conf.d`.
//!
//! Merging: a `[[registry]]` with the same prefix replaces the earlier one, new prefixes are added;
//! `unqualified-search-registries`, `credential-helpers` and `short-name-mode` from a later file win when it
//! sets them; `[aliases]` merge key by key. Bad TOML or invalid values are one error naming the file (and the
//! line, where TOML gives it); unknown keys are warnings.
//!
//! What it is not: the registry HTTP client or the auth file reader; those consume [`Config`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::reference::{Reference, ReferenceError};

/// The reserved credential helper name meaning "the auth files" (containers-auth.json(5)).
pub const AUTH_FILE_HELPER: &str = "containers-auth.json";

/// A configuration error: one line, naming the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl ConfigError {
    fn new(path: &Path, message: impl Into<String>) -> Self {
        ConfigError { path: path.to_owned(), line: None, message: message.into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ShortNameMode {
    #[default]
    Enforcing,
    Permissive,
    Disabled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PullFromMirror {
    All,
    DigestOnly,
    TagOnly,
}

/// A `[[registry.mirror]]`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mirror {
    pub location: String,
    pub insecure: bool,
    pub pull_from_mirror: Option<PullFromMirror>,
}

/// A `[[registry]]` after validation: `prefix` defaults to `location`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Registry {
    pub prefix: String,
    /// Empty only for wildcard prefixes (`*.example.com`), meaning "the matched host itself".
    pub location: String,
    pub insecure: bool,
    pub blocked: bool,
    pub mirror_by_digest_only: bool,
    pub mirrors: Vec<Mirror>,
    /// The file this entry came from.
    pub origin: PathBuf,
}

/// An `[aliases]` entry and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Alias {
    pub value: String,
    pub origin: PathBuf,
}

/// The merged configuration.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Config {
    pub unqualified_search_registries: Vec<String>,
    pub unqualified_search_origin: Option<PathBuf>,
    pub short_name_mode: ShortNameMode,
    pub credential_helpers: Vec<String>,
    /// Sorted by prefix, one entry per prefix.
    pub registries: Vec<Registry>,
    pub aliases: BTreeMap<String, Alias>,
    /// Aliases from the short-name alias cache (used when no configured alias matches).
    pub cached_aliases: BTreeMap<String, Alias>,
    /// Every file that was read, in order.
    pub sources: Vec<PathBuf>,
    /// Unknown keys and other things worth a warning.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// Where the configuration files are.
#[derive(Debug, Clone)]
pub struct Paths {
    pub main: PathBuf,
    /// The main file was named explicitly, so its absence is an error.
    pub main_required: bool,
    pub dropin_dirs: Vec<PathBuf>,
    /// The short-name alias cache podman records choices in (`[aliases]` TOML); consulted after the
    /// configured aliases.
    pub alias_cache: Option<PathBuf>,
}

impl Paths {
    /// The paths containers tools use, from the environment.
    pub fn from_env() -> Paths {
        let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
        let user_file = home.as_ref().map(|h| h.join(".config/containers/registries.conf"));
        let user_dir = home.as_ref().map(|h| h.join(".config/containers/registries.conf.d"));
        let env_dir = std::env::var_os("CONTAINERS_REGISTRIES_CONF_DIR").filter(|v| !v.is_empty()).map(PathBuf::from);
        let (main, main_required, user_file_used) =
            match std::env::var_os("CONTAINERS_REGISTRIES_CONF").filter(|v| !v.is_empty()) {
                Some(p) => (PathBuf::from(p), true, false),
                None => match user_file.filter(|f| f.exists()) {
                    Some(f) => (f, false, true),
                    None => (PathBuf::from("/etc/containers/registries.conf"), false, false),
                },
            };
        let dropin_dirs = match env_dir {
            Some(d) => vec![d],
            None if user_file_used => user_dir.into_iter().collect(),
            None => std::iter::once(PathBuf::from("/etc/containers/registries.conf.d")).chain(user_dir).collect(),
        };
        // SAFETY: geteuid has no preconditions.
        let alias_cache = if unsafe { libc::geteuid() } == 0 {
            Some(PathBuf::from("/var/cache/containers/short-name-aliases.conf"))
        } else {
            std::env::var_os("XDG_CACHE_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".cache")))
                .map(|c| c.join("containers/short-name-aliases.conf"))
        };
        Paths { main, main_required, dropin_dirs, alias_cache }
    }
}

// ---- raw TOML ----

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

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct RawRegistry {
    prefix: Option<String>,
    location: Option<String>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    mirror_by_digest_only: bool,
    #[serde(default)]
    mirror: Vec<RawMirror>,
    pull_from_mirror: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct RawMirror {
    location: Option<String>,
    #[serde(default)]
    insecure: bool,
    pull_from_mirror: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawV1 {
    search: Option<RawV1List>,
    insecure: Option<RawV1List>,
    block: Option<RawV1List>,
}

#[derive(Deserialize, Default)]
struct RawV1List {
    #[serde(default)]
    registries: Vec<String>,
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

/// One parsed file, before merging.
struct FileConfig {
    unqualified_search_registries: Option<Vec<String>>,
    short_name_mode: Option<ShortNameMode>,
    credential_helpers: Option<Vec<String>>,
    registries: Vec<Registry>,
    aliases: BTreeMap<String, String>,
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
fn parse_location(path: &Path, input: &str) -> Result<String, ConfigError> {
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

fn parse_file(path: &Path, text: &str, dropin: bool, warnings: &mut Vec<String>) -> Result<FileConfig, ConfigError> {
    let toml_error = |e: toml::de::Error| ConfigError {
        path: path.to_owned(),
        line: e.span().map(|s| line_of(text, s.start)),
        message: e.message().trim().to_owned(),
    };
    let table: toml::Table = toml::from_str(text).map_err(toml_error)?;
    unknown_keys(&table, path, warnings);
    let raw: RawFile = toml::from_str(text).map_err(toml_error)?;

    let v1_set =
        raw.registries.as_ref().is_some_and(|v1| v1.search.is_some() || v1.insecure.is_some() || v1.block.is_some());
    let v2_set = raw.unqualified_search_registries.is_some() || !raw.registry.is_empty();
    let mut raw_registries = raw.registry;
    let mut search = raw.unqualified_search_registries;
    if v1_set {
        if dropin {
            return Err(ConfigError::new(path, "registry must be in v2 format but is in v1"));
        }
        if v2_set {
            return Err(ConfigError::new(path, "mixing sysregistry v1/v2 is not supported"));
        }
        let v1 = raw.registries.unwrap_or_default();
        let mut by_location: Vec<RawRegistry> = Vec::new();
        let list = |l: Option<RawV1List>| l.map(|l| l.registries).unwrap_or_default();
        for (loc, blocked) in
            list(v1.block).into_iter().map(|l| (l, true)).chain(list(v1.insecure).into_iter().map(|l| (l, false)))
        {
            let loc = parse_location(path, &loc)?;
            let i = match by_location.iter().position(|r| r.location.as_deref() == Some(&loc)) {
                Some(i) => i,
                None => {
                    by_location.push(RawRegistry { location: Some(loc), ..Default::default() });
                    by_location.len() - 1
                }
            };
            if blocked {
                by_location[i].blocked = true;
            } else {
                by_location[i].insecure = true;
            }
        }
        raw_registries = by_location;
        search = v1.search.map(|s| s.registries);
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
            if !is_domain(&e) {
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

fn is_domain(s: &str) -> bool {
    Reference::parse_normalized(&format!("{s}/x")).is_ok_and(|r| r.domain() == s)
}

/// Reads podman's short-name alias cache (`[aliases]` only); a missing file is empty.
fn load_alias_cache(path: &Path) -> Result<BTreeMap<String, Alias>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(ConfigError::new(path, format!("cannot read: {e}"))),
    };
    #[derive(Deserialize)]
    struct Cache {
        #[serde(default)]
        aliases: BTreeMap<String, String>,
    }
    let cache: Cache = toml::from_str(&text).map_err(|e| ConfigError {
        path: path.to_owned(),
        line: e.span().map(|s| line_of(&text, s.start)),
        message: e.message().trim().to_owned(),
    })?;
    let mut out = BTreeMap::new();
    for (name, value) in cache.aliases {
        validate_alias(&name, &value)
            .map_err(|m| ConfigError::new(path, format!("validating short-name aliases: {m}")))?;
        out.insert(name, Alias { value, origin: path.to_owned() });
    }
    Ok(out)
}

/// An alias is a short name (no domain, tag or digest) and its value a fully qualified name without tag or
/// digest.
fn validate_alias(name: &str, value: &str) -> Result<(), String> {
    let short = Reference::parse_normalized(name).map_err(|e| format!("parsing alias {name:?}: {e}"))?;
    if name.contains(['@', ':']) || short.tag().is_some() || is_qualified(name) {
        return Err(format!("invalid short name {name:?}: must not contain a registry, tag or digest"));
    }
    let full =
        Reference::parse_normalized(value).map_err(|e| format!("parsing alias {name:?} value {value:?}: {e}"))?;
    if !is_qualified(value) || full.tag().is_some() || full.digest().is_some() {
        return Err(format!(
            "invalid alias value {value:?} for {name:?}: must be a fully qualified name without tag or digest"
        ));
    }
    Ok(())
}

/// True when `name` names its registry explicitly (docker's rule for the first component).
pub fn is_qualified(name: &str) -> bool {
    match name.find('/') {
        Some(i) => {
            let first = &name[..i];
            first.contains(['.', ':']) || first == "localhost" || first.to_lowercase() != first
        }
        None => false,
    }
}

impl Config {
    /// Loads and merges the files at `paths`.
    pub fn load(paths: &Paths) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        match std::fs::read_to_string(&paths.main) {
            Ok(text) => {
                let file = parse_file(&paths.main, &text, false, &mut config.warnings)?;
                config.sources.push(paths.main.clone());
                config.merge(file, &paths.main);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !paths.main_required => {}
            Err(e) => return Err(ConfigError::new(&paths.main, format!("cannot read: {e}"))),
        }
        for dir in &paths.dropin_dirs {
            let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
                Ok(entries) => entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "conf") && p.is_file())
                    .collect(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(ConfigError::new(dir, format!("reading registries.conf.d: {e}"))),
            };
            files.sort();
            for f in files {
                let text =
                    std::fs::read_to_string(&f).map_err(|e| ConfigError::new(&f, format!("cannot read: {e}")))?;
                let file = parse_file(&f, &text, true, &mut config.warnings)?;
                config.sources.push(f.clone());
                config.merge(file, &f);
            }
        }
        if let Some(cache) = paths.alias_cache.as_deref() {
            config.cached_aliases = load_alias_cache(cache)?;
        }
        if config.credential_helpers.is_empty() {
            config.credential_helpers = vec![AUTH_FILE_HELPER.to_owned()];
        }
        config.registries.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        Ok(config)
    }

    /// Parses one file's text as the whole configuration (for tests and tools).
    pub fn from_str(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        let file = parse_file(path, text, false, &mut config.warnings)?;
        config.sources.push(path.to_owned());
        config.merge(file, path);
        if config.credential_helpers.is_empty() {
            config.credential_helpers = vec![AUTH_FILE_HELPER.to_owned()];
        }
        config.registries.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        Ok(config)
    }

    fn merge(&mut self, file: FileConfig, origin: &Path) {
        for r in file.registries {
            match self.registries.iter_mut().find(|e| e.prefix == r.prefix) {
                Some(existing) => *existing = r,
                None => self.registries.push(r),
            }
        }
        if let Some(s) = file.unqualified_search_registries {
            self.unqualified_search_registries = s;
            self.unqualified_search_origin = Some(origin.to_owned());
        }
        if let Some(h) = file.credential_helpers {
            self.credential_helpers = h;
        }
        if let Some(m) = file.short_name_mode {
            self.short_name_mode = m;
        }
        for (k, v) in file.aliases {
            self.aliases.insert(k, Alias { value: v, origin: origin.to_owned() });
        }
    }

    /// The registry entry with the longest prefix matching `name` (`domain[/path][:tag][@digest]`).
    pub fn find_registry(&self, name: &str) -> Option<&Registry> {
        self.registries.iter().filter(|r| ref_matching_prefix(name, &r.prefix).is_some()).max_by_key(|r| r.prefix.len())
    }

    /// Where an image is actually pulled from, in order: mirrors (subject to their restrictions), then the
    /// primary location, each with the reference rewritten from the prefix to that location.
    pub fn pull_sources(&self, reference: &Reference) -> Result<Vec<PullSource>, ReferenceError> {
        let name = reference.to_string();
        let Some(reg) = self.find_registry(&name) else {
            return Ok(vec![PullSource {
                reference: reference.clone(),
                location: reference.domain().to_owned(),
                insecure: false,
                mirror: false,
            }]);
        };
        let digested = reference.digest().is_some();
        let mut sources = Vec::new();
        for m in &reg.mirrors {
            let usable = if reg.mirror_by_digest_only {
                digested
            } else {
                match m.pull_from_mirror {
                    Some(PullFromMirror::DigestOnly) => digested,
                    Some(PullFromMirror::TagOnly) => !digested,
                    _ => true,
                }
            };
            if usable {
                sources.push(PullSource {
                    reference: rewrite(&name, &reg.prefix, &m.location)?,
                    location: m.location.clone(),
                    insecure: m.insecure,
                    mirror: true,
                });
            }
        }
        let primary =
            if reg.location.is_empty() { reference.clone() } else { rewrite(&name, &reg.prefix, &reg.location)? };
        let location = if reg.location.is_empty() { reference.domain().to_owned() } else { reg.location.clone() };
        sources.push(PullSource { reference: primary, location, insecure: reg.insecure, mirror: false });
        Ok(sources)
    }
}

/// One place to pull from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PullSource {
    #[serde(serialize_with = "display")]
    pub reference: Reference,
    pub location: String,
    pub insecure: bool,
    pub mirror: bool,
}

fn display<S: serde::Serializer, T: fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn rewrite(name: &str, prefix: &str, location: &str) -> Result<Reference, ReferenceError> {
    let len = ref_matching_prefix(name, prefix).ok_or(ReferenceError::InvalidFormat)?;
    Reference::parse_normalized(&format!("{location}{}", &name[len..]))
}

/// containers/image's `refMatchingPrefix`: the length of `name` covered by `prefix`, or None.
/// A prefix matches at a `/`, `:` or `@` boundary; `*.example.com` matches any subdomain's host.
pub fn ref_matching_prefix(name: &str, prefix: &str) -> Option<usize> {
    if let Some(suffix) = prefix.strip_prefix('*') {
        let index = name.find(suffix)?;
        if name[..index].contains('/') {
            return None;
        }
        let end = index + suffix.len();
        return match name.as_bytes().get(end) {
            None | Some(b':' | b'/' | b'@') => Some(end),
            _ => None,
        };
    }
    if !name.starts_with(prefix) {
        return None;
    }
    match name.as_bytes().get(prefix.len()) {
        None | Some(b':' | b'/' | b'@') => Some(prefix.len()),
        _ => None,
    }
}

#[cfg(test)]
mod tests;

/// How a name resolves: the candidates in order, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Resolution {
    pub input: String,
    /// `qualified`, `alias` or `search`.
    pub kind: &'static str,
    /// The file that decided it (alias or unqualified-search-registries origin).
    pub origin: Option<PathBuf>,
    pub short_name_mode: ShortNameMode,
    pub candidates: Vec<Candidate>,
}

/// One candidate reference with the registry entry that applies to it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Candidate {
    #[serde(serialize_with = "display")]
    pub reference: Reference,
    /// The `[[registry]]` prefix that matched, if any, and its file.
    pub registry_prefix: Option<String>,
    pub registry_origin: Option<PathBuf>,
    pub blocked: bool,
    pub sources: Vec<PullSource>,
}

/// Why a name cannot be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("{0}")]
    Reference(#[from] ReferenceError),
    #[error("short-name {0:?} did not resolve to an alias and no unqualified-search registries are defined in {1}")]
    NoSearchRegistries(String, String),
}

impl Config {
    /// Resolves `name` as podman does for a pull: a fully qualified name is its own single candidate; a short
    /// name is looked up in `[aliases]`, else tried against every `unqualified-search-registries` entry in
    /// order. A missing tag becomes `latest`.
    pub fn resolve(&self, name: &str) -> Result<Resolution, ResolveError> {
        let parsed = Reference::parse_normalized(name)?;
        let (kind, origin, refs) = if is_qualified(name) {
            ("qualified", None, vec![parsed.with_default_tag()])
        } else {
            let bare = name.split(['@']).next().unwrap_or(name);
            let bare = match bare.rfind(':') {
                Some(i) => &bare[..i],
                None => bare,
            };
            let suffix = &name[bare.len()..];
            if let Some(alias) = self.aliases.get(bare).or_else(|| self.cached_aliases.get(bare)) {
                let r = Reference::parse_normalized(&format!("{}{suffix}", alias.value))?.with_default_tag();
                ("alias", Some(alias.origin.clone()), vec![r])
            } else {
                if self.unqualified_search_registries.is_empty() {
                    let files = self.sources.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
                    return Err(ResolveError::NoSearchRegistries(
                        name.to_owned(),
                        if files.is_empty() { "any file".into() } else { files },
                    ));
                }
                let mut refs = Vec::new();
                for reg in &self.unqualified_search_registries {
                    refs.push(Reference::parse_normalized(&format!("{reg}/{name}"))?.with_default_tag());
                }
                ("search", self.unqualified_search_origin.clone(), refs)
            }
        };
        let mut candidates = Vec::new();
        for reference in refs {
            let reg = self.find_registry(&reference.to_string());
            candidates.push(Candidate {
                registry_prefix: reg.map(|r| r.prefix.clone()),
                registry_origin: reg.map(|r| r.origin.clone()),
                blocked: reg.is_some_and(|r| r.blocked),
                sources: self.pull_sources(&reference)?,
                reference,
            });
        }
        Ok(Resolution { input: name.to_owned(), kind, origin, short_name_mode: self.short_name_mode, candidates })
    }

    /// Whether pulls from `name`'s registry are blocked (checked before any network request).
    pub fn is_blocked(&self, name: &str) -> bool {
        self.find_registry(name).is_some_and(|r| r.blocked)
    }
}
