//! `signedIdentity`: which docker reference a signature may claim for an image, as containers/image's
//! `signature/policy_reference_match.go` decides it (`matchExact`, `matchRepoDigestOrExact` — the default —
//! `matchRepository`, `exactReference`, `exactRepository`, `remapIdentity`).

use std::fmt;

use crate::reference::{Reference, is_valid_domain};

/// One `signedIdentity` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityRule {
    MatchExact,
    MatchRepoDigestOrExact,
    MatchRepository,
    /// The reference as written (validated: it has a tag or a digest).
    ExactReference(String),
    /// The repository as written (validated).
    ExactRepository(String),
    /// `prefix` of the image's name replaced by `signed_prefix` before `matchRepoDigestOrExact`.
    RemapIdentity {
        prefix: String,
        signed_prefix: String,
    },
}

impl fmt::Display for IdentityRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentityRule::MatchExact => f.write_str("matchExact"),
            IdentityRule::MatchRepoDigestOrExact => f.write_str("matchRepoDigestOrExact"),
            IdentityRule::MatchRepository => f.write_str("matchRepository"),
            IdentityRule::ExactReference(r) => write!(f, "exactReference {r:?}"),
            IdentityRule::ExactRepository(r) => write!(f, "exactRepository {r:?}"),
            IdentityRule::RemapIdentity { prefix, signed_prefix } => {
                write!(f, "remapIdentity {prefix:?} → {signed_prefix:?}")
            }
        }
    }
}

fn name_only(r: &Reference) -> bool {
    r.tag().is_none() && r.digest().is_none()
}

/// `matchRepoDigestOrExactReferenceValues`.
fn repo_digest_or_exact(intended: &Reference, signature: &Reference) -> bool {
    if name_only(signature) {
        return false;
    }
    if intended.tag().is_some() {
        signature.to_string() == intended.to_string()
    } else if intended.digest().is_some() {
        signature.name() == intended.name()
    } else {
        false
    }
}

impl IdentityRule {
    /// True when a signature claiming `signed` is accepted for an image whose own reference is `image`
    /// (`None`: the image has none, e.g. a `dir:`; then only `exactReference`/`exactRepository` can match).
    pub fn matches(&self, image: Option<&Reference>, signed: &str) -> bool {
        let Ok(signature) = Reference::parse_normalized(signed) else { return false };
        match self {
            IdentityRule::ExactReference(r) => {
                let Ok(intended) = Reference::parse_normalized(r) else { return false };
                !name_only(&intended) && !name_only(&signature) && signature.to_string() == intended.to_string()
            }
            IdentityRule::ExactRepository(r) => {
                let Ok(intended) = Reference::parse_normalized(r) else { return false };
                signature.name() == intended.name()
            }
            _ => {
                let Some(intended) = image else { return false };
                match self {
                    IdentityRule::MatchExact => {
                        !name_only(intended) && !name_only(&signature) && signature.to_string() == intended.to_string()
                    }
                    IdentityRule::MatchRepoDigestOrExact => repo_digest_or_exact(intended, &signature),
                    IdentityRule::MatchRepository => signature.name() == intended.name(),
                    IdentityRule::RemapIdentity { prefix, signed_prefix } => {
                        match remap(intended, prefix, signed_prefix) {
                            Some(remapped) => repo_digest_or_exact(&remapped, &signature),
                            None => false,
                        }
                    }
                    IdentityRule::ExactReference(_) | IdentityRule::ExactRepository(_) => false,
                }
            }
        }
    }

    /// `newPRMExactReference`: the reference must parse and have a tag or a digest.
    pub fn exact_reference(s: &str) -> Result<IdentityRule, String> {
        let r = Reference::parse_normalized(s).map_err(|e| format!("Invalid format of dockerReference {s:?}: {e}"))?;
        if name_only(&r) {
            return Err(format!("dockerReference {s:?} contains neither a tag nor digest"));
        }
        Ok(IdentityRule::ExactReference(s.to_owned()))
    }

    /// `newPRMExactRepository`.
    pub fn exact_repository(s: &str) -> Result<IdentityRule, String> {
        Reference::parse_normalized(s).map_err(|e| format!("Invalid format of dockerRepository {s:?}: {e}"))?;
        Ok(IdentityRule::ExactRepository(s.to_owned()))
    }

    /// `newPRMRemapIdentity`: both prefixes a `host[:port]` or a name starting with one.
    pub fn remap_identity(prefix: &str, signed_prefix: &str) -> Result<IdentityRule, String> {
        for p in [prefix, signed_prefix] {
            if !valid_remap_prefix(p) {
                return Err(format!("prefix {p:?} is not valid"));
            }
        }
        Ok(IdentityRule::RemapIdentity { prefix: prefix.to_owned(), signed_prefix: signed_prefix.to_owned() })
    }
}

/// `validateIdentityRemappingPrefix`: a domain alone, or a repository name that starts with a domain part.
fn valid_remap_prefix(s: &str) -> bool {
    if is_valid_domain(s) {
        return true;
    }
    let Some((first, _)) = s.split_once('/') else { return false };
    is_valid_domain(first) && Reference::parse_normalized(s).is_ok_and(|r| name_only(&r))
}

/// `remapReferencePrefix`: `None` when the rewritten reference does not parse.
fn remap(intended: &Reference, prefix: &str, signed_prefix: &str) -> Option<Reference> {
    let name = intended.name();
    let matches = name == prefix || (name.starts_with(prefix) && name.as_bytes().get(prefix.len()) == Some(&b'/'));
    if !matches {
        return Some(intended.clone());
    }
    let rewritten = intended.to_string().replacen(prefix, signed_prefix, 1);
    Reference::parse_qualified(&rewritten).ok()
}
