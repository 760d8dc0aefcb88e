//! Release tags the way release engineers use them, on a registry (by digest, no blob moves) or in the local
//! store: a version tag `2.1.3` (or `v2.1.3`) also points `2.1` and `2` (and `latest` when asked) at the same
//! manifest — but a short tag is never moved back to an older version than the one it points at now (a
//! `2.1.5` already behind `2.1` keeps it), and a pre-release (`2.2.0-rc.1`) never moves short tags. Also:
//! sorting and filtering a tag list by semver requirement (`>=2.0, <3`).
//!
//! What it is not: the copy engine (promotion to another registry goes through [`crate::copy`]).

use std::collections::BTreeMap;

use semver::{Version, VersionReq};

use crate::digest::Digest;
use crate::image::media_type;
use crate::reference::Reference;
use crate::registry::{RegistryClient, RegistryError};
use crate::store::{Store, StoreError};

/// Why a release-tag operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("{0:?} is not a version tag (MAJOR.MINOR.PATCH, optionally with a v before it and a -pre-release)")]
    NotAVersion(String),
    #[error("invalid version requirement {0:?}: {1}")]
    Requirement(String, String),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Other(String),
}

/// A version tag: its semver and whether it was written with a leading `v`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionTag {
    pub version: Version,
    pub v: bool,
}

impl VersionTag {
    /// `2.1.3`, `v2.1.3`, `2.2.0-rc.1` (no build metadata: tags cannot hold `+`).
    pub fn parse(tag: &str) -> Option<VersionTag> {
        let (v, rest) = match tag.strip_prefix('v') {
            Some(r) => (true, r),
            None => (false, tag),
        };
        let version = Version::parse(rest).ok()?;
        version.build.is_empty().then_some(VersionTag { version, v })
    }

    pub fn is_prerelease(&self) -> bool {
        !self.version.pre.is_empty()
    }

    /// The short tags this version also points: `2.1`, `2` (with the same `v`), and `latest` when asked.
    /// None for a pre-release.
    pub fn short_tags(&self, latest: bool) -> Vec<String> {
        if self.is_prerelease() {
            return Vec::new();
        }
        let p = if self.v { "v" } else { "" };
        let mut out =
            vec![format!("{p}{}.{}", self.version.major, self.version.minor), format!("{p}{}", self.version.major)];
        if latest {
            out.push("latest".to_owned());
        }
        out
    }

    /// The versions a short tag `short` of this version's family stands for: `2.1` → every `2.1.x`, `2` →
    /// every `2.x.y`, `latest` → every version (pre-releases never).
    fn covers(short: &str, other: &VersionTag, mine: &VersionTag) -> bool {
        if other.is_prerelease() || other.v != mine.v {
            return false;
        }
        let (a, b) = (&other.version, &mine.version);
        match short.trim_start_matches('v').split('.').count() {
            _ if short == "latest" => true,
            2 => a.major == b.major && a.minor == b.minor,
            1 => a.major == b.major,
            _ => false,
        }
    }
}

/// What happened to one tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// It did not exist and now names the version's manifest.
    Created,
    /// It named `from` and now names the version's manifest.
    Moved { from: Digest },
    /// It already named the version's manifest.
    Unchanged,
    /// It stays where it is: at `at`, a newer version than this one.
    Kept { at: String },
}

/// One tag's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub tag: String,
    pub action: Action,
}

/// The result of a semver fan-out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FanOut {
    /// The manifest the version tag names.
    pub digest: Digest,
    pub prerelease: bool,
    pub outcomes: Vec<Outcome>,
}

/// Decides what to do with short tag `short`, which names `current` (if it exists), given the version tags
/// of the repository and what they name (`digest_of`): kept when one of the versions it stands for, newer
/// than `mine`, names `current`.
fn decide(
    short: &str,
    current: Option<&Digest>,
    mine: &VersionTag,
    target: &Digest,
    versions: &[(String, VersionTag)],
    digest_of: &mut dyn FnMut(&str) -> Option<Digest>,
) -> Action {
    let Some(current) = current else { return Action::Created };
    if current == target {
        return Action::Unchanged;
    }
    let mut newer: Vec<&(String, VersionTag)> =
        versions.iter().filter(|(_, v)| VersionTag::covers(short, v, mine) && v.version > mine.version).collect();
    newer.sort_by(|a, b| b.1.version.cmp(&a.1.version));
    for (tag, _) in newer {
        if digest_of(tag).as_ref() == Some(current) {
            return Action::Kept { at: tag.clone() };
        }
    }
    Action::Moved { from: current.clone() }
}

fn version_tags(tags: &[String]) -> Vec<(String, VersionTag)> {
    tags.iter().filter_map(|t| VersionTag::parse(t).map(|v| (t.clone(), v))).collect()
}

/// `tag --semver` on a registry: `repo:tag` (a version tag) also points its short tags at the same manifest,
/// each by a manifest PUT of the same bytes (no blob moves), unless [`Action::Kept`].
pub async fn semver_remote(
    client: &RegistryClient,
    repo: &str,
    tag: &str,
    latest: bool,
) -> Result<FanOut, ReleaseError> {
    let mine = VersionTag::parse(tag).ok_or_else(|| ReleaseError::NotAVersion(tag.to_owned()))?;
    let manifest = client.get_manifest(repo, tag, media_type::MANIFEST_ACCEPT).await?;
    let mut fan = FanOut { digest: manifest.digest.clone(), prerelease: mine.is_prerelease(), outcomes: Vec::new() };
    let shorts = mine.short_tags(latest);
    if shorts.is_empty() {
        return Ok(fan);
    }
    let versions = version_tags(&client.list_tags(repo).await?);
    let mut heads: BTreeMap<String, Option<Digest>> = BTreeMap::new();
    for short in shorts {
        let current = head(client, repo, &short, &mut heads).await?;
        // Digests of the newer versions this short tag stands for, fetched only when needed.
        let mut needed = Vec::new();
        if current.as_ref().is_some_and(|c| *c != manifest.digest) {
            for (t, v) in &versions {
                if VersionTag::covers(&short, v, &mine) && v.version > mine.version {
                    needed.push(t.clone());
                }
            }
        }
        for t in &needed {
            head(client, repo, t, &mut heads).await?;
        }
        let action = decide(&short, current.as_ref(), &mine, &manifest.digest, &versions, &mut |t| {
            heads.get(t).cloned().flatten()
        });
        if matches!(action, Action::Created | Action::Moved { .. }) {
            client.put_manifest(repo, &short, &manifest.raw, &manifest.media_type).await?;
            heads.insert(short.clone(), Some(manifest.digest.clone()));
        }
        fan.outcomes.push(Outcome { tag: short, action });
    }
    Ok(fan)
}

async fn head(
    client: &RegistryClient,
    repo: &str,
    tag: &str,
    cache: &mut BTreeMap<String, Option<Digest>>,
) -> Result<Option<Digest>, ReleaseError> {
    if let Some(d) = cache.get(tag) {
        return Ok(d.clone());
    }
    let d = client.head_manifest(repo, tag, media_type::MANIFEST_ACCEPT).await?.map(|h| h.digest);
    cache.insert(tag.to_owned(), d.clone());
    Ok(d)
}

/// `tag --semver` in the local store: the image named `name` (a version tag) also gets its short names in the
/// same repository, under the same rules.
pub fn semver_local(store: &Store, name: &Reference, latest: bool) -> Result<FanOut, ReleaseError> {
    let tag = name.tag().ok_or_else(|| ReleaseError::Other(format!("{name}: give a version tag")))?;
    let mine = VersionTag::parse(tag).ok_or_else(|| ReleaseError::NotAVersion(tag.to_owned()))?;
    let image = store.find(&name.to_string())?;
    let target = image.descriptor.digest.clone();
    let mut fan = FanOut { digest: target.clone(), prerelease: mine.is_prerelease(), outcomes: Vec::new() };
    let images = store.list()?;
    // Every stored name in this repository, with the manifest it names.
    let mut named: BTreeMap<String, Digest> = BTreeMap::new();
    for img in &images {
        for n in &img.names {
            if n.name() == name.name()
                && let Some(t) = n.tag()
            {
                named.insert(t.to_owned(), img.descriptor.digest.clone());
            }
        }
    }
    let tags: Vec<String> = named.keys().cloned().collect();
    let versions = version_tags(&tags);
    for short in mine.short_tags(latest) {
        let current = named.get(&short).cloned();
        let action = decide(&short, current.as_ref(), &mine, &target, &versions, &mut |t| named.get(t).cloned());
        if matches!(action, Action::Created | Action::Moved { .. }) {
            let r = Reference::parse_normalized(&format!("{}:{short}", name.name()))
                .map_err(|e| ReleaseError::Other(e.to_string()))?;
            store.tag(&r, &image.descriptor)?;
            named.insert(short.clone(), target.clone());
        }
        fan.outcomes.push(Outcome { tag: short, action });
    }
    Ok(fan)
}

/// The version tags of `tags` that meet `requirement` (`>=2.0, <3`; `None`: every version), sorted by
/// semver precedence, oldest first. Tags that are not full versions are left out.
pub fn filter_versions(tags: &[String], requirement: Option<&str>) -> Result<Vec<String>, ReleaseError> {
    let req = match requirement.map(str::trim).filter(|r| !r.is_empty() && *r != "*") {
        Some(r) => Some(VersionReq::parse(r).map_err(|e| ReleaseError::Requirement(r.to_owned(), e.to_string()))?),
        None => None,
    };
    let mut versions: Vec<(String, VersionTag)> =
        version_tags(tags).into_iter().filter(|(_, v)| req.as_ref().is_none_or(|r| r.matches(&v.version))).collect();
    versions.sort_by(|a, b| a.1.version.cmp(&b.1.version).then(a.0.cmp(&b.0)));
    Ok(versions.into_iter().map(|(t, _)| t).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char) -> Digest {
        Digest::parse(&format!("sha256:{}", c.to_string().repeat(64))).unwrap()
    }

    #[test]
    fn version_tags_and_their_short_tags() {
        let v = VersionTag::parse("2.1.3").unwrap();
        assert_eq!(v.short_tags(false), ["2.1", "2"]);
        assert_eq!(v.short_tags(true), ["2.1", "2", "latest"]);
        assert_eq!(VersionTag::parse("v1.0.0").unwrap().short_tags(false), ["v1.0", "v1"]);
        assert!(VersionTag::parse("2.2.0-rc.1").unwrap().short_tags(true).is_empty(), "pre-releases move nothing");
        for bad in ["2.1", "latest", "2.1.3+build", "02.1.3", "x2.1.3"] {
            assert!(VersionTag::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn short_tags_never_move_backwards() {
        let tags: Vec<String> =
            ["2.1.3", "2.1.5", "2.3.0", "3.0.0", "2.4.0-rc.1", "2.1", "2"].map(String::from).to_vec();
        let versions = version_tags(&tags);
        let heads: BTreeMap<&str, Digest> =
            [("2.1.5", d('5')), ("2.3.0", d('3')), ("3.0.0", d('9')), ("2.1.3", d('1')), ("2.4.0-rc.1", d('e'))].into();
        let mut of = |t: &str| heads.get(t).cloned();
        let mine = VersionTag::parse("2.1.3").unwrap();
        // 2.1 points at 2.1.5: kept. 2 points at 2.3.0: kept. latest at 3.0.0: kept.
        assert_eq!(
            decide("2.1", Some(&d('5')), &mine, &d('1'), &versions, &mut of),
            Action::Kept { at: "2.1.5".into() }
        );
        assert_eq!(decide("2", Some(&d('3')), &mine, &d('1'), &versions, &mut of), Action::Kept { at: "2.3.0".into() });
        assert_eq!(
            decide("latest", Some(&d('9')), &mine, &d('1'), &versions, &mut of),
            Action::Kept { at: "3.0.0".into() }
        );
        // A short tag at something no newer version names is moved; missing ones are created.
        assert_eq!(decide("2.1", Some(&d('0')), &mine, &d('1'), &versions, &mut of), Action::Moved { from: d('0') });
        assert_eq!(decide("2.1", None, &mine, &d('1'), &versions, &mut of), Action::Created);
        assert_eq!(decide("2.1", Some(&d('1')), &mine, &d('1'), &versions, &mut of), Action::Unchanged);
        // A pre-release that is "newer" never holds a short tag back.
        let mine = VersionTag::parse("2.3.1").unwrap();
        assert_eq!(decide("2", Some(&d('e')), &mine, &d('2'), &versions, &mut of), Action::Moved { from: d('e') });
    }

    #[test]
    fn filtering_and_sorting() {
        let tags: Vec<String> = ["latest", "1.9.0", "2.10.0", "2.2.0", "2.2.0-rc.1", "3.0.0", "2.1", "v2.5.0", "2.0.0"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            filter_versions(&tags, None).unwrap(),
            ["1.9.0", "2.0.0", "2.2.0-rc.1", "2.2.0", "v2.5.0", "2.10.0", "3.0.0"]
        );
        assert_eq!(filter_versions(&tags, Some(">=2.0, <3")).unwrap(), ["2.0.0", "2.2.0", "v2.5.0", "2.10.0"]);
        assert!(filter_versions(&tags, Some(">=>2")).is_err());
    }
}
