//! containers-policy.json(5): where the policy is, its requirements parsed exactly, the scopes a source
//! image matches (most specific first, per transport, as containers/image), and the evaluation every source
//! image goes through before the copy engine reads a layer.
//!
//! (Skeleton: filled in by the policy part of issue 19.)

/// Why a policy could not be read or refused an image.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("image trust policies are not implemented yet")]
    NotImplemented,
}
