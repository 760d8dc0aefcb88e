//! Sigstore signatures with keys (cosign's format): the simple-signing JSON payload cosign signs, ECDSA
//! P-256/SHA-256 verification against PKIX public keys, cosign's encrypted private keys (scrypt +
//! nacl/secretbox over PKCS#8), key generation (`generate-sigstore-key`) and signing. Fulcio/Rekor (keyless)
//! is refused with a clear message.
//!
//! (Skeleton: filled in by the sigstore part of issue 19.)

use std::path::Path;

use crate::digest::Digest;
use crate::reference::Reference;
use crate::trust::{Signature, Signer, TrustError};

/// The media type of a sigstore signature's layer (cosign's simple signing payload).
pub const PAYLOAD_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation holding the base64 ECDSA signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// What a verified sigstore signature says: the manifest digest and docker reference in its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub manifest_digest: Digest,
    pub docker_reference: String,
}

/// Why a sigstore key or signature could not be read, verified or made.
#[derive(Debug, thiserror::Error)]
pub enum SigstoreError {
    #[error("sigstore signatures are not implemented yet")]
    NotImplemented,
}

/// Verifies a [`Signature::Sigstore`]'s payload and annotation against the PEM public keys `keys` (each a key
/// file's bytes, as `keyPath`, `keyPaths`, `keyData` give them); any one key verifying is enough.
pub fn verify(signature: &Signature, keys: &[Vec<u8>]) -> Result<Verified, SigstoreError> {
    let _ = (signature, keys);
    Err(SigstoreError::NotImplemented)
}

/// `--sign-by-sigstore-private-key PATH`: a cosign private key, decrypted with the passphrase once.
pub struct KeySigner {
    path: std::path::PathBuf,
}

impl KeySigner {
    /// Reads and decrypts the private key at `path` (cosign's `ENCRYPTED SIGSTORE PRIVATE KEY` or
    /// `ENCRYPTED COSIGN PRIVATE KEY` PEM) with `passphrase`.
    pub fn open(path: &Path, passphrase: &zeroize::Zeroizing<String>) -> Result<KeySigner, SigstoreError> {
        let _ = passphrase;
        let _ = path.to_path_buf();
        Err(SigstoreError::NotImplemented)
    }
}

impl Signer for KeySigner {
    fn describe(&self) -> String {
        format!("sigstore key {}", self.path.display())
    }

    fn sign(&self, digest: &Digest, identity: &Reference) -> Result<Signature, TrustError> {
        let _ = (digest, identity);
        Err(SigstoreError::NotImplemented.into())
    }
}
