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
        Policy { path: None }
    }

    /// True when the requirements for `name` need its signatures (so a source fetches them only then).
    pub fn needs_signatures(&self, name: &PolicyName) -> bool {
        let _ = name;
        false
    }

    /// Evaluates every requirement of the scope `name` matches against the manifest and its signatures.
    pub fn evaluate(&self, name: &PolicyName, manifest: &RawManifest, signatures: &[Signature]) -> Evaluation {
        let _ = (name, manifest, signatures);
        Evaluation { transport: name.transport.to_string(), scope: None, allowed: true }
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
