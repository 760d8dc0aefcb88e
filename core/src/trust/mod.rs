//! Image trust: which images may enter (containers-policy.json(5), [`policy`]), the signatures that prove it
//! — GPG simple signing ([`simple`], containers-signature(5)) and sigstore ([`sigstore`], cosign's format) —
//! and where signatures live ([`storage`]: containers-registries.d(5) lookaside stores, sigstore attachments,
//! the `dir:` and store layouts).
//!
//! The copy engine asks the policy about every source image before it reads a layer
//! ([`crate::copy::Options::policy`]); sources hand over their signatures untrusted
//! ([`crate::transport::ImageSource::signatures`]) and destinations keep them
//! ([`crate::transport::ImageDestination::put_signatures`]). Nothing here trusts a signature's bytes until a
//! key the policy names has verified them.

pub mod passphrase;
pub mod policy;
pub mod sigstore;
pub mod simple;
pub mod storage;

use std::collections::BTreeMap;

use crate::digest::Digest;
use crate::reference::Reference;

/// One signature as stored and moved, not yet verified: either format containers/image knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// GPG simple signing: an OpenPGP signed message whose literal data is the JSON payload
    /// (containers-signature(5)); these bytes are exactly a lookaside `signature-N` file.
    SimpleSigning(Vec<u8>),
    /// Sigstore (cosign's format): the layer's media type, its bytes (the payload) and its annotations (the
    /// base64 signature in `dev.cosignproject.cosign/signature`).
    Sigstore { media_type: String, payload: Vec<u8>, annotations: BTreeMap<String, String> },
}

/// How a source image is named for the policy: its transport's name in policy.json (`docker`,
/// `docker-archive`, `oci-archive`, `oci`, `dir`), the most specific scope (containers/image's
/// `PolicyConfigurationIdentity`), the wider scopes in order (`PolicyConfigurationNamespaces`), and the docker
/// reference a signature's `signedIdentity` is matched against (`None` when the image has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyName {
    pub transport: &'static str,
    pub identity: String,
    pub namespaces: Vec<String>,
    pub docker_reference: Option<Reference>,
}

/// Makes a signature of a manifest digest for an identity (`--sign-by`, `--sign-by-sigstore-private-key`).
pub trait Signer: Send + Sync {
    /// What `--verbose` and errors call it: "GPG key FINGERPRINT", "sigstore key PATH".
    fn describe(&self) -> String;
    /// Signs `digest` as the image `identity` (the destination's reference, or `--sign-identity`).
    fn sign(&self, digest: &Digest, identity: &Reference) -> Result<Signature, TrustError>;
}

/// Why trust failed: a policy that cannot be read, an image the policy refuses, a signature that cannot be
/// read, made or stored. One line (or two), naming the file, scope, key or signature.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error(transparent)]
    Policy(Box<policy::PolicyError>),
    #[error(transparent)]
    Simple(Box<simple::SimpleError>),
    #[error(transparent)]
    Sigstore(Box<sigstore::SigstoreError>),
    #[error(transparent)]
    Storage(Box<storage::StorageError>),
}

impl From<policy::PolicyError> for TrustError {
    fn from(e: policy::PolicyError) -> Self {
        TrustError::Policy(Box::new(e))
    }
}

impl From<simple::SimpleError> for TrustError {
    fn from(e: simple::SimpleError) -> Self {
        TrustError::Simple(Box::new(e))
    }
}

impl From<sigstore::SigstoreError> for TrustError {
    fn from(e: sigstore::SigstoreError) -> Self {
        TrustError::Sigstore(Box::new(e))
    }
}

impl From<storage::StorageError> for TrustError {
    fn from(e: storage::StorageError) -> Self {
        TrustError::Storage(Box::new(e))
    }
}

/// The JSON both signature formats sign (containers-signature(5) and cosign's simple signing payload differ only
/// in `critical.type`), as containers/image writes it: keys sorted, no spaces, `optional` members only when set.
pub(crate) fn payload_json(
    kind: &str,
    docker_reference: &str,
    manifest_digest: &Digest,
    creator: Option<&str>,
    timestamp: Option<i64>,
) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Out<'a> {
        critical: Critical<'a>,
        optional: Optional<'a>,
    }
    #[derive(serde::Serialize)]
    struct Critical<'a> {
        identity: Identity<'a>,
        image: Image,
        #[serde(rename = "type")]
        kind: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Identity<'a> {
        #[serde(rename = "docker-reference")]
        docker_reference: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Image {
        #[serde(rename = "docker-manifest-digest")]
        docker_manifest_digest: String,
    }
    #[derive(serde::Serialize)]
    struct Optional<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        creator: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        timestamp: Option<i64>,
    }
    let out = Out {
        critical: Critical {
            identity: Identity { docker_reference },
            image: Image { docker_manifest_digest: manifest_digest.to_string() },
            kind,
        },
        optional: Optional { creator, timestamp },
    };
    // Plain structs of strings and integers always serialise.
    serde_json::to_vec(&out).unwrap_or_default()
}
