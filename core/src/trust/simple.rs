//! GPG simple signing (containers-signature(5)): the "atomic container signature" payload, verification
//! only against the keys a policy names (never the user's keyring: `gpgv` with a throwaway keyring), and
//! signing through the user's GnuPG as skopeo's `--sign-by`.
//!
//! (Skeleton: filled in by the simple-signing part of issue 19.)

use crate::digest::Digest;
use crate::reference::Reference;
use crate::trust::{Signature, Signer, TrustError};

/// What a verified simple signature says: the manifest digest and the docker reference it was signed for,
/// and which key signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub manifest_digest: Digest,
    pub docker_reference: String,
    pub key_fingerprint: String,
}

/// Why a simple signature could not be read, verified or made.
#[derive(Debug, thiserror::Error)]
pub enum SimpleError {
    #[error("GPG simple signing is not implemented yet")]
    NotImplemented,
}

/// Verifies `signature` (an OpenPGP signed message) against the public keys `keys` (each a key file's
/// bytes, binary or ASCII-armored, as `keyPath`, `keyPaths`, `keyData` give them) and nothing else.
pub fn verify(signature: &[u8], keys: &[Vec<u8>]) -> Result<Verified, SimpleError> {
    let _ = (signature, keys);
    Err(SimpleError::NotImplemented)
}

/// `--sign-by FINGERPRINT`: signs with the user's GnuPG (`$GNUPGHOME`), the passphrase from
/// `--sign-passphrase-file` when given (never in argv or a child's environment).
pub struct GpgSigner {
    pub fingerprint: String,
    pub passphrase: Option<zeroize::Zeroizing<String>>,
}

impl Signer for GpgSigner {
    fn describe(&self) -> String {
        format!("GPG key {}", self.fingerprint)
    }

    fn sign(&self, digest: &Digest, identity: &Reference) -> Result<Signature, TrustError> {
        let _ = (digest, identity);
        Err(SimpleError::NotImplemented.into())
    }
}
