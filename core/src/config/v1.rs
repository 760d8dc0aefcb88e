//! The v1 registries.conf format (`[registries.search]`, `[registries.insecure]`, `[registries.block]`),
//! converted to v2 as containers/image does: the search list becomes `unqualified-search-registries`, and
//! each insecure or blocked location one `[[registry]]` entry.
//!
//! What it is not: validation. The converted entries go through the same checks as v2 ones (`schema`).
//! v1 is accepted only in the main file and never alongside v2 keys.

use std::path::Path;

use serde::Deserialize;

use super::ConfigError;
use super::schema::{RawRegistry, parse_location};

/// The v1 `[registries]` table.
#[derive(Deserialize, Default)]
pub(super) struct RawV1 {
    search: Option<RawV1List>,
    insecure: Option<RawV1List>,
    block: Option<RawV1List>,
}

#[derive(Deserialize, Default)]
struct RawV1List {
    #[serde(default)]
    registries: Vec<String>,
}

impl RawV1 {
    /// Whether any v1 list is present (a `[registries]` table without them is not v1, and is ignored).
    pub(super) fn is_set(&self) -> bool {
        self.search.is_some() || self.insecure.is_some() || self.block.is_some()
    }
}

/// `v1`, from `path`, as v2 `[[registry]]` entries and an `unqualified-search-registries` list. Refused in a
/// drop-in and when the file also sets v2 keys (`v2_set`).
pub(super) fn to_v2(
    path: &Path,
    v1: RawV1,
    dropin: bool,
    v2_set: bool,
) -> Result<(Vec<RawRegistry>, Option<Vec<String>>), ConfigError> {
    if dropin {
        return Err(ConfigError::new(path, "registry must be in v2 format but is in v1"));
    }
    if v2_set {
        return Err(ConfigError::new(path, "mixing sysregistry v1/v2 is not supported"));
    }
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
    Ok((by_location, v1.search.map(|s| s.registries)))
}
