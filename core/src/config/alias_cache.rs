//! podman's short-name alias cache (`short-name-aliases.conf`, an `[aliases]` table recording the choices
//! made at a prompt), read after the configured aliases; and the rule every alias, configured or cached,
//! must satisfy.
//!
//! What it is not: writing the cache (hoist never asks which candidate to use, so it records no choice),
//! or using aliases to resolve a name (`short_names`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::schema::toml_error;
use super::short_names::is_qualified;
use super::{Alias, ConfigError};
use crate::reference::Reference;

/// Reads podman's short-name alias cache (`[aliases]` only); a missing file is empty.
pub(super) fn load(path: &Path) -> Result<BTreeMap<String, Alias>, ConfigError> {
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
    let cache: Cache = toml::from_str(&text).map_err(|e| toml_error(path, &text, e))?;
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
pub(super) fn validate_alias(name: &str, value: &str) -> Result<(), String> {
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
