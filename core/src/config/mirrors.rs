//! Which `[[registry]]` entry applies to a name (containers/image's longest-prefix match, wildcards
//! included), whether it is blocked, and where its image is pulled from: the mirrors that may serve it, then
//! the primary location, each with the reference rewritten from the prefix to that location.
//!
//! What it is not: contacting those locations (the registry client does, in this order) or resolving short
//! names (`short_names`, which calls this for each candidate).

use super::{Config, PullFromMirror, Registry, display};
use crate::reference::{Reference, ReferenceError};

impl Config {
    /// The registry entry with the longest prefix matching `name` (`domain[/path][:tag][@digest]`).
    pub fn find_registry(&self, name: &str) -> Option<&Registry> {
        self.registries.iter().filter(|r| ref_matching_prefix(name, &r.prefix).is_some()).max_by_key(|r| r.prefix.len())
    }

    /// Whether pulls from `name`'s registry are blocked (checked before any network request).
    pub fn is_blocked(&self, name: &str) -> bool {
        self.find_registry(name).is_some_and(|r| r.blocked)
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
#[serde(rename_all = "PascalCase")]
pub struct PullSource {
    #[serde(serialize_with = "display")]
    pub reference: Reference,
    pub location: String,
    pub insecure: bool,
    pub mirror: bool,
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
