//! Short-name resolution as podman does it for a pull: a fully qualified name is its own candidate; a short
//! name is looked up in the configured `[aliases]`, then in the alias cache, else tried against every
//! `unqualified-search-registries` entry in order. Each candidate carries the `[[registry]]` entry that
//! applies to it and its pull sources, which is what `hoist resolve` shows.
//!
//! What it is not: choosing among several candidates (podman prompts or tries them in turn, per
//! `short-name-mode`; hoist only reports the mode) or contacting any registry.

use std::path::PathBuf;

use super::{Config, PullSource, ShortNameMode, display};
use crate::reference::{Reference, ReferenceError, looks_like_domain};

/// How a name resolved. Serialised lowercase (`"qualified"`, `"alias"`, `"search"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResolutionKind {
    /// The name names its registry: it is its own single candidate.
    Qualified,
    /// A short name with an alias (configured, or from the alias cache).
    Alias,
    /// A short name tried against every `unqualified-search-registries` entry.
    Search,
}

/// How a name resolves: the candidates in order, and why.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resolution {
    pub input: String,
    pub kind: ResolutionKind,
    /// The file that decided it (alias or unqualified-search-registries origin).
    pub origin: Option<PathBuf>,
    pub short_name_mode: ShortNameMode,
    pub candidates: Vec<Candidate>,
}

/// One candidate reference with the registry entry that applies to it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
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

/// True when `name` names its registry explicitly (docker's rule for the first component,
/// [`looks_like_domain`]).
pub fn is_qualified(name: &str) -> bool {
    name.split_once('/').is_some_and(|(first, _)| looks_like_domain(first))
}

impl Config {
    /// Resolves `name` as podman does for a pull: a fully qualified name is its own single candidate; a short
    /// name is looked up in `[aliases]`, else tried against every `unqualified-search-registries` entry in
    /// order. A missing tag becomes `latest`.
    pub fn resolve(&self, name: &str) -> Result<Resolution, ResolveError> {
        let parsed = Reference::parse_normalized(name)?;
        let (kind, origin, refs) = if is_qualified(name) {
            (ResolutionKind::Qualified, None, vec![parsed.with_default_tag()])
        } else {
            let bare = name.split(['@']).next().unwrap_or(name);
            let bare = match bare.rfind(':') {
                Some(i) => &bare[..i],
                None => bare,
            };
            let suffix = &name[bare.len()..];
            if let Some(alias) = self.aliases.get(bare).or_else(|| self.cached_aliases.get(bare)) {
                let r = Reference::parse_normalized(&format!("{}{suffix}", alias.value))?.with_default_tag();
                (ResolutionKind::Alias, Some(alias.origin.clone()), vec![r])
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
                (ResolutionKind::Search, self.unqualified_search_origin.clone(), refs)
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
}
