//! Sigstore signatures with keys (cosign's format): the simple-signing JSON payload cosign signs
//! ([`payload`]), ECDSA P-256/SHA-256 verification against PKIX public keys ([`verify`]), cosign's encrypted
//! private keys (scrypt + nacl/secretbox over PKCS#8, [`keys`]), key generation (`generate-sigstore-key`:
//! [`generate_key_pair`], [`write_key_pair`]) and signing ([`KeySigner`]). Fulcio/Rekor (keyless) is the
//! policy's to refuse; nothing here reads certificates or transparency logs.
//!
//! Everything read here is untrusted and capped: a key file at [`keys::MAX_KEY_FILE_BYTES`], a payload at
//! [`MAX_PAYLOAD_BYTES`], the signature annotation at [`MAX_SIGNATURE_ANNOTATION`]; scrypt runs only with
//! the parameter sets cosign's library accepts. A key file is read only if it is a regular file (a FIFO is
//! refused, not waited on). Private keys and passphrases are zeroized when dropped and never in an error.

pub mod keys;
pub mod payload;

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use p256::ecdsa::signature::{Signer as _, Verifier as _};
use zeroize::Zeroizing;

use crate::digest::Digest;
use crate::reference::Reference;
use crate::trust::{Signature, Signer, TrustError};

pub use keys::{KeyPair, generate_key_pair};
pub use payload::Payload;

/// The media type of a sigstore signature's layer (cosign's simple signing payload).
pub const PAYLOAD_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation holding the base64 ECDSA signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The largest payload verified: cosign's are a few hundred bytes (more with `-a` annotations).
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;
/// The largest signature annotation read (a P-256 signature is 96 base64 characters; RSA-4096 is 684).
pub const MAX_SIGNATURE_ANNOTATION: usize = 4096;

/// What a verified sigstore signature says: the manifest digest and docker reference in its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub manifest_digest: Digest,
    pub docker_reference: String,
}

/// Why a sigstore key or signature could not be read, verified or made. One line each; never a secret.
#[derive(Debug, thiserror::Error)]
pub enum SigstoreError {
    #[error("not a sigstore signature")]
    NotSigstore,
    /// A sigstore attachment that is not a signature (containers/image skips these when counting).
    #[error("unexpected media type {0:?} for a sigstore signature (want {PAYLOAD_MEDIA_TYPE})")]
    MediaType(String),
    #[error("missing {SIGNATURE_ANNOTATION} annotation")]
    MissingAnnotation,
    #[error("{what} is {size} bytes, over the limit of {limit}")]
    TooLarge { what: &'static str, size: usize, limit: usize },
    #[error("need at least one public key to verify a sigstore signature")]
    NoKeys,
    /// Any unusable key fails the whole verification, as containers/image does (fix fallback keys before
    /// they are needed).
    #[error("sigstore public key {index}: {reason}")]
    PublicKey { index: usize, reason: String },
    #[error("the {SIGNATURE_ANNOTATION} annotation is not base64: {0}")]
    SignatureBase64(String),
    #[error("cryptographic signature verification failed: not signed by {}", keys_phrase(*.keys))]
    BadSignature { keys: usize },
    #[error("invalid sigstore payload: {0}")]
    Payload(String),
    #[error("{}: {reason}", path.display())]
    PrivateKey { path: PathBuf, reason: String },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: not a regular file", path.display())]
    NotAFile { path: PathBuf },
    #[error("{}: over the {limit}-byte limit", path.display())]
    FileTooLarge { path: PathBuf, limit: usize },
    #[error("refusing to overwrite existing {}", path.display())]
    Exists { path: PathBuf },
    #[error("the image reference {0} can't be signed: it has neither a tag nor a digest")]
    NameOnly(String),
    #[error("the system's random number generator failed: {0}")]
    Random(String),
    #[error("making a sigstore key: {0}")]
    Generate(String),
}

fn keys_phrase(n: usize) -> String {
    if n == 1 { "the key".to_owned() } else { format!("any of the {n} keys") }
}

/// Verifies a [`Signature::Sigstore`]'s payload and annotation against the PEM public keys `keys` (each a key
/// file's bytes, as `keyPath`, `keyPaths`, `keyData` give them); any one key verifying is enough. Every key
/// must be a readable ECDSA P-256 key. Only after the signature verifies is the payload read (strictly);
/// the caller checks its digest and reference against the image.
pub fn verify(signature: &Signature, keys: &[Vec<u8>]) -> Result<Verified, SigstoreError> {
    let Signature::Sigstore { media_type, payload, annotations } = signature else {
        return Err(SigstoreError::NotSigstore);
    };
    if media_type != PAYLOAD_MEDIA_TYPE {
        return Err(SigstoreError::MediaType(media_type.clone()));
    }
    let encoded = annotations.get(SIGNATURE_ANNOTATION).ok_or(SigstoreError::MissingAnnotation)?;
    if encoded.len() > MAX_SIGNATURE_ANNOTATION {
        let (size, limit) = (encoded.len(), MAX_SIGNATURE_ANNOTATION);
        return Err(SigstoreError::TooLarge { what: "the signature annotation", size, limit });
    }
    if payload.len() > MAX_PAYLOAD_BYTES {
        let (size, limit) = (payload.len(), MAX_PAYLOAD_BYTES);
        return Err(SigstoreError::TooLarge { what: "the signature payload", size, limit });
    }
    if keys.is_empty() {
        return Err(SigstoreError::NoKeys);
    }
    let verifiers = keys
        .iter()
        .enumerate()
        .map(|(i, k)| keys::parse_public_key(k).map_err(|reason| SigstoreError::PublicKey { index: i + 1, reason }))
        .collect::<Result<Vec<_>, _>>()?;
    let raw = keys::base64_decode(encoded).map_err(|e| SigstoreError::SignatureBase64(e.to_string()))?;
    // A signature that is not DER fails as any wrong signature does.
    let der = p256::ecdsa::DerSignature::try_from(raw.as_slice()).ok();
    let verified = der.is_some_and(|sig| verifiers.iter().any(|v| v.verify(payload, &sig).is_ok()));
    if !verified {
        return Err(SigstoreError::BadSignature { keys: verifiers.len() });
    }
    let parsed = Payload::parse(payload).map_err(SigstoreError::Payload)?;
    Ok(Verified { manifest_digest: parsed.manifest_digest, docker_reference: parsed.docker_reference })
}

/// Reads a small regular file whole: no FIFO waited on (`O_NONBLOCK`), no device, at most `limit` bytes.
pub fn read_key_file(path: &Path, limit: usize) -> Result<Zeroizing<Vec<u8>>, SigstoreError> {
    let io = |source| SigstoreError::Io { path: path.to_owned(), source };
    let file = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path).map_err(io)?;
    if !file.metadata().map_err(io)?.is_file() {
        return Err(SigstoreError::NotAFile { path: path.to_owned() });
    }
    let mut data = Zeroizing::new(Vec::new());
    file.take(limit as u64 + 1).read_to_end(&mut data).map_err(io)?;
    if data.len() > limit {
        return Err(SigstoreError::FileTooLarge { path: path.to_owned(), limit });
    }
    Ok(data)
}

/// `--sign-by-sigstore-private-key PATH`: a cosign private key, decrypted with the passphrase once.
pub struct KeySigner {
    path: PathBuf,
    key: p256::ecdsa::SigningKey,
}

impl KeySigner {
    /// Reads and decrypts the private key at `path` (cosign's `ENCRYPTED SIGSTORE PRIVATE KEY` or
    /// `ENCRYPTED COSIGN PRIVATE KEY` PEM) with `passphrase`.
    pub fn open(path: &Path, passphrase: &zeroize::Zeroizing<String>) -> Result<KeySigner, SigstoreError> {
        let data = read_key_file(path, keys::MAX_KEY_FILE_BYTES)?;
        let bad = |reason| SigstoreError::PrivateKey { path: path.to_owned(), reason };
        let key = keys::EncryptedKey::parse(&data).map_err(bad)?.decrypt(passphrase.as_bytes()).map_err(bad)?;
        Ok(KeySigner { path: path.to_owned(), key })
    }

    /// The public key of this private key, as cosign writes it (PEM `PUBLIC KEY`).
    pub fn public_key_pem(&self) -> String {
        keys::public_key_pem(self.key.verifying_key())
    }

    /// Signs `payload`'s bytes: the base64 DER ECDSA signature cosign puts in the annotation.
    pub fn sign_bytes(&self, payload: &[u8]) -> String {
        let sig: p256::ecdsa::DerSignature = self.key.sign(payload);
        keys::base64_encode(sig.as_bytes())
    }
}

impl Signer for KeySigner {
    fn describe(&self) -> String {
        format!("sigstore key {}", self.path.display())
    }

    /// The payload containers/image writes (the full reference, as simple signing does: cosign records only
    /// the repository, so a tag rollback would pass), signed; a reference with neither tag nor digest is
    /// refused as containers/image refuses it.
    fn sign(&self, digest: &Digest, identity: &Reference) -> Result<Signature, TrustError> {
        if identity.tag().is_none() && identity.digest().is_none() {
            return Err(SigstoreError::NameOnly(identity.to_string()).into());
        }
        let payload = Payload::new(digest.clone(), identity.to_string()).to_json();
        let signature = self.sign_bytes(&payload);
        Ok(Signature::Sigstore {
            media_type: PAYLOAD_MEDIA_TYPE.to_owned(),
            payload,
            annotations: [(SIGNATURE_ANNOTATION.to_owned(), signature)].into(),
        })
    }
}

/// Where `generate-sigstore-key --output-prefix PREFIX` writes: `PREFIX.private` and `PREFIX.pub`, refused
/// when either exists (checked before asking for a passphrase, and again when writing).
pub fn key_pair_paths(prefix: &Path) -> Result<(PathBuf, PathBuf), SigstoreError> {
    let with = |suffix: &str| {
        let mut s = OsString::from(prefix.as_os_str());
        s.push(suffix);
        PathBuf::from(s)
    };
    let paths = (with(".private"), with(".pub"));
    for p in [&paths.0, &paths.1] {
        if p.symlink_metadata().is_ok() {
            return Err(SigstoreError::Exists { path: p.clone() });
        }
    }
    Ok(paths)
}

/// `generate-sigstore-key`: a new key pair written to `PREFIX.private` (mode 0600) and `PREFIX.pub` (0644),
/// each through a temp file in the same directory linked into place only if the name is still free, so an
/// existing file is never replaced and nothing is left half-written; returns the two paths.
pub fn write_key_pair(prefix: &Path, passphrase: &[u8]) -> Result<(PathBuf, PathBuf), SigstoreError> {
    let (private, public) = key_pair_paths(prefix)?;
    let pair = generate_key_pair(passphrase)?;
    let dir = match private.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let write = |path: &Path, bytes: &[u8], mode: u32| -> Result<(), SigstoreError> {
        let io = |source| SigstoreError::Io { path: path.to_owned(), source };
        let mut tmp = tempfile::Builder::new().prefix(".hoist-key-").tempfile_in(&dir).map_err(io)?;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(mode)).map_err(io)?;
        tmp.write_all(bytes).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist_noclobber(path).map_err(|e| match e.error.kind() {
            std::io::ErrorKind::AlreadyExists => SigstoreError::Exists { path: path.to_owned() },
            _ => io(e.error),
        })?;
        Ok(())
    };
    write(&private, pair.private_pem.as_bytes(), 0o600)?;
    if let Err(e) = write(&public, pair.public_pem.as_bytes(), 0o644) {
        let _ = std::fs::remove_file(&private);
        return Err(e);
    }
    Ok((private, public))
}

#[cfg(test)]
mod tests;
