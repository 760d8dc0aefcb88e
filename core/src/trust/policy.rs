//! containers-policy.json(5): where the policy is, its requirements parsed exactly, the scopes a source
//! image matches (most specific first, per transport, as containers/image), and the evaluation every source
//! image goes through before the copy engine reads a layer.
//!
//! (Skeleton: the API the other parts call; filled in by the policy part of issue 19.)

use std::path::{Path, PathBuf};

use crate::image::RawManifest;
use crate::trust::{PolicyName, Signature};

/// A parsed policy file (or skopeo's `--insecure-policy`: accept anything).
#[derive(Debug, Clone)]
pub struct Policy {
    /// The file it was read from; `None` for [`Policy::insecure_accept_anything`].
    pub path: Option<PathBuf>,
    /// (enforce part, for the copy engine's tests: a fixed verdict; to be folded into the parsed policy.)
    fixed: Fixed,
}

/// A verdict fixed without a file: [`Policy::reject_all`], and in tests one manifest refused.
#[derive(Debug, Clone, Default)]
enum Fixed {
    #[default]
    None,
    RejectAll,
    #[cfg(test)]
    RejectDigest(crate::digest::Digest),
}

/// What the policy says of one image: the scope that matched, each requirement's outcome and, for signature
/// requirements, each signature's (which key, identity or digest refused it). `hoist trust check` prints it;
/// the copy engine needs only [`Evaluation::into_result`].
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The transport and scope whose requirements applied (`docker` `quay.io/org`, or the default).
    pub transport: String,
    pub scope: Option<String>,
    pub allowed: bool,
}

impl Policy {
    /// Reads the policy at `path`, else `$HOME/.config/containers/policy.json`, else
    /// `/etc/containers/policy.json`; an invalid file is an error naming it and the entry.
    pub fn load(path: Option<&Path>) -> Result<Policy, PolicyError> {
        let _ = path;
        Err(PolicyError::NotImplemented)
    }

    /// `--insecure-policy`: every image accepted, nothing read.
    pub fn insecure_accept_anything() -> Policy {
        Policy { path: None, fixed: Fixed::None }
    }

    /// `{"default":[{"type":"reject"}]}` without a file: every image refused.
    pub fn reject_all() -> Policy {
        Policy { path: None, fixed: Fixed::RejectAll }
    }

    /// A policy refusing only the manifest `digest` (the copy engine's tests: which manifests are judged).
    #[cfg(test)]
    pub(crate) fn reject_digest(digest: crate::digest::Digest) -> Policy {
        Policy { path: None, fixed: Fixed::RejectDigest(digest) }
    }

    /// True when the requirements for `name` need its signatures (so a source fetches them only then).
    pub fn needs_signatures(&self, name: &PolicyName) -> bool {
        let _ = name;
        false
    }

    /// Evaluates every requirement of the scope `name` matches against the manifest and its signatures.
    pub fn evaluate(&self, name: &PolicyName, manifest: &RawManifest, signatures: &[Signature]) -> Evaluation {
        let _ = (name, manifest, signatures);
        let allowed = match &self.fixed {
            Fixed::None => true,
            Fixed::RejectAll => false,
            #[cfg(test)]
            Fixed::RejectDigest(d) => manifest.digest != *d,
        };
        Evaluation { transport: name.transport.to_string(), scope: None, allowed }
    }
}

impl Evaluation {
    /// `Ok` when allowed, else the refusal in containers/image's words ("Source image rejected: ...").
    pub fn into_result(self) -> Result<(), PolicyError> {
        if self.allowed { Ok(()) } else { Err(PolicyError::NotImplemented) }
    }
}

/// Why a policy could not be read or refused an image.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("image trust policies are not implemented yet")]
    NotImplemented,
}
