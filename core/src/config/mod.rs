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
//! This module is the merged model ([`Config`] and its parts), [`ConfigError`], and the entry points
//! [`Config::load`] and [`Config::from_str`]. The work is in its submodules, one concern each:
//! - `paths`: where the files are ([`Paths::from_env`], drop-in directory listing).
//! - `schema`: one file's TOML — raw structs, unknown-key warnings, validation.
//! - `v1`: the v1 format (`[registries.search]` ...) converted to v2.
//! - `merge`: folding parsed files into a [`Config`], in order.
//! - `alias_cache`: podman's short-name alias cache, and the rule every alias must satisfy.
//! - `mirrors`: which `[[registry]]` applies to a name and where its image is pulled from.
//! - `short_names`: [`Config::resolve`], a name to its candidate references.
//!
//! What it is not: the registry HTTP client or the auth file reader; those consume [`Config`]. Nor the
//! reference grammar, which is [`crate::reference`]'s.

mod alias_cache;
mod merge;
mod mirrors;
mod paths;
mod schema;
mod short_names;
mod v1;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use mirrors::{PullSource, ref_matching_prefix};
pub use paths::Paths;
pub use short_names::{Candidate, Resolution, ResolutionKind, ResolveError, is_qualified};

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

impl Config {
    /// Loads and merges the files at `paths`.
    pub fn load(paths: &Paths) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        match std::fs::read_to_string(&paths.main) {
            Ok(text) => config.add_file(&paths.main, &text, false)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !paths.main_required => {}
            Err(e) => return Err(ConfigError::new(&paths.main, format!("cannot read: {e}"))),
        }
        for dir in &paths.dropin_dirs {
            for f in paths::dropin_files(dir)? {
                let text =
                    std::fs::read_to_string(&f).map_err(|e| ConfigError::new(&f, format!("cannot read: {e}")))?;
                config.add_file(&f, &text, true)?;
            }
        }
        if let Some(cache) = paths.alias_cache.as_deref() {
            config.cached_aliases = alias_cache::load(cache)?;
        }
        config.finish();
        Ok(config)
    }

    /// Parses one file's text as the whole configuration (for tests and tools).
    pub fn from_str(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        config.add_file(path, text, false)?;
        config.finish();
        Ok(config)
    }
}

/// Serialises a value as its `Display` text (references in JSON output).
fn display<S: serde::Serializer, T: fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

#[cfg(test)]
mod tests;
