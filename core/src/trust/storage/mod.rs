//! Where signatures live: containers-registries.d(5) ([`registries_d`]: `default-docker` and per-scope
//! `docker:` entries, `lookaside`, `lookaside-staging`, the old `sigstore`/`sigstore-staging` names,
//! `use-sigstore-attachments`), lookaside stores over `file://` and `http(s)://` ([`lookaside`]:
//! `REPO@sha256=HEX/signature-N`), sigstore attachments ([`attachments`]: the `sha256-HEX.sig` tag, an OCI
//! manifest of payload layers), and the on-disk form of one signature ([`to_blob`], [`from_blob`]:
//! containers/image's `internal/signature` blob — simple signing bytes as they are, other formats after a
//! 0x00 byte, the format's name and a newline).
//!
//! Everything read here is untrusted and bounded: [`MAX_SIGNATURE_SIZE`] a signature, [`MAX_SIGNATURES`] a
//! manifest digest, [`MAX_SIGNATURES_TOTAL`] bytes for all of them. Nothing here verifies a signature: the
//! policy does ([`crate::trust::policy`]).

pub mod attachments;
pub mod lookaside;
pub mod registries_d;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::digest::Digest;
use crate::trust::Signature;

pub use registries_d::{Location, RegistriesD};

/// Where a registry image's signatures are read and written ([`Location`], from registries.d) and how long
/// a lookaside server may take to answer; what [`crate::ops::Settings`] gives registry sources and
/// destinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureStorage {
    pub location: Location,
    pub timeout: Option<std::time::Duration>,
}

impl SignatureStorage {
    /// The storage registries.d (`dir`, or the default directories) configures for `reference`.
    pub fn for_reference(
        dir: Option<&Path>,
        reference: &crate::reference::Reference,
        timeout: Option<std::time::Duration>,
    ) -> Result<SignatureStorage, StorageError> {
        Ok(SignatureStorage { location: RegistriesD::load(dir)?.location(reference)?, timeout })
    }
}

/// The largest signature read (containers/image's `iolimits.MaxSignatureBodySize`): a lookaside
/// `signature-N`, a sigstore payload, a `dir:` or store signature file.
pub const MAX_SIGNATURE_SIZE: usize = 4 * 1024 * 1024;
/// The most signatures kept or read for one manifest digest (containers/image's `maxLookasideSignatures`);
/// also the most layers a sigstore attachment manifest may have.
pub const MAX_SIGNATURES: usize = 128;
/// The most bytes all the signatures of one manifest digest may have together.
pub const MAX_SIGNATURES_TOTAL: usize = 16 * 1024 * 1024;

/// containers/image's format name of a simple signing blob.
pub const SIMPLE_SIGNING_FORMAT: &str = "simple-signing";
/// containers/image's format name of a sigstore blob (JSON: `mimeType`, `payload` in base64, `annotations`).
pub const SIGSTORE_FORMAT: &str = "sigstore-json";

/// Why signatures could not be found, read or written: which file, URL or manifest, which limit.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A registries.d file that cannot be read or parsed.
    #[error("parsing {}: {message}", path.display())]
    Config { path: PathBuf, message: String },
    /// The same scope (or `default-docker`) in two registries.d files (containers/image's words).
    #[error(
        "Error parsing signature storage configuration: {what} defined both in {:?} and {:?}",
        first.display(), second.display()
    )]
    Duplicate { what: String, first: PathBuf, second: PathBuf },
    /// A lookaside URL that is not one, or whose scheme hoist cannot read or write.
    #[error("{0}")]
    Url(String),
    /// A signature file that cannot be read or written.
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A signature server that failed or answered what is not a signature.
    #[error("reading signature from {url}: {message}")]
    Http { url: String, message: String },
    /// A signature (or all of a manifest's) larger than allowed, or too many.
    #[error("{what}: {message}")]
    Limit { what: String, message: String },
    /// A signature blob that is not in containers/image's format.
    #[error("parsing signature {what}: {message}")]
    Blob { what: String, message: String },
    /// A sigstore attachment manifest (the `sha256-HEX.sig` tag) that is not one, or cannot be written.
    #[error("sigstore attachment {reference}: {message}")]
    Attachment { reference: String, message: String },
    /// Sigstore signatures to write, and `use-sigstore-attachments` is off for the destination.
    #[error("writing sigstore attachments is disabled by configuration (use-sigstore-attachments in registries.d)")]
    AttachmentsDisabled,
}

/// containers/image's `signature.Blob`: simple signing bytes as they are (the old `dir:` and lookaside
/// format); a sigstore signature as a 0x00 byte, `sigstore-json`, a newline and its JSON.
pub fn to_blob(signature: &Signature) -> Vec<u8> {
    match signature {
        Signature::SimpleSigning(bytes) => bytes.clone(),
        Signature::Sigstore { media_type, payload, annotations } => {
            let json = SigstoreJson {
                mime_type: media_type.clone(),
                payload: Some(base64::engine::general_purpose::STANDARD.encode(payload)),
                annotations: Some(annotations.clone()),
            };
            let mut out = vec![0u8];
            out.extend_from_slice(SIGSTORE_FORMAT.as_bytes());
            out.push(b'\n');
            out.extend_from_slice(&serde_json::to_vec(&json).expect("strings and maps serialise"));
            out
        }
    }
}

/// The JSON of a sigstore blob, as containers/image writes it (`payload`: base64, as Go encodes `[]byte`).
#[derive(serde::Serialize, serde::Deserialize)]
struct SigstoreJson {
    #[serde(rename = "mimeType", default)]
    mime_type: String,
    #[serde(default)]
    payload: Option<String>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

/// containers/image's `signature.FromBlob`: `what` names the blob in errors (its file or URL). An OpenPGP
/// message's first byte is a simple signature; 0x00 starts a named format; anything else is refused.
pub fn from_blob(blob: &[u8], what: &str) -> Result<Signature, StorageError> {
    let bad = |message: String| StorageError::Blob { what: what.to_owned(), message };
    let Some(&first) = blob.first() else { return Err(bad("empty signature blob".to_owned())) };
    match first {
        // OpenPGP compressed data, one-pass signature and signature packets (old and new packet formats).
        0xA0..=0xA3 | 0xC8 | 0x90..=0x92 | 0x3d | 0xC4 | 0x88..=0x8B | 0xC2 => {
            Ok(Signature::SimpleSigning(blob.to_vec()))
        }
        0x00 => {
            let rest = &blob[1..];
            let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                return Err(bad("invalid signature format, missing newline".to_owned()));
            };
            let (format, chunk) = (&rest[..nl], &rest[nl + 1..]);
            if let Some(b) = format.iter().find(|&&b| !(32..0x7F).contains(&b)) {
                return Err(bad(format!("invalid signature format, non-ASCII byte {b:#x}")));
            }
            let format = std::str::from_utf8(format).expect("checked ASCII");
            match format {
                SIMPLE_SIGNING_FORMAT => Ok(Signature::SimpleSigning(chunk.to_vec())),
                SIGSTORE_FORMAT => {
                    let v: SigstoreJson = serde_json::from_slice(chunk).map_err(|e| bad(e.to_string()))?;
                    let payload = match v.payload {
                        Some(p) => base64::engine::general_purpose::STANDARD
                            .decode(p.as_bytes())
                            .map_err(|e| bad(format!("payload: {e}")))?,
                        None => Vec::new(),
                    };
                    Ok(Signature::Sigstore {
                        media_type: v.mime_type,
                        payload,
                        annotations: v.annotations.unwrap_or_default(),
                    })
                }
                other => Err(bad(format!("unrecognized signature format {other:?}"))),
            }
        }
        other => Err(bad(format!("unrecognized signature format, starting with binary {other:#x}"))),
    }
}

/// The bytes a signature takes against [`MAX_SIGNATURES_TOTAL`].
pub fn signature_size(signature: &Signature) -> usize {
    match signature {
        Signature::SimpleSigning(b) => b.len(),
        Signature::Sigstore { media_type, payload, annotations } => {
            media_type.len() + payload.len() + annotations.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
        }
    }
}

/// Counts signatures and their bytes as they are read, refusing more than [`MAX_SIGNATURES`] or
/// [`MAX_SIGNATURES_TOTAL`] for one manifest digest. `what` names the image in the error.
pub struct Budget {
    what: String,
    count: usize,
    bytes: usize,
}

impl Budget {
    pub fn new(what: impl Into<String>) -> Budget {
        Budget { what: what.into(), count: 0, bytes: 0 }
    }

    /// Takes one more signature of `size` bytes, or refuses it.
    pub fn take(&mut self, size: usize) -> Result<(), StorageError> {
        self.count += 1;
        self.bytes = self.bytes.saturating_add(size);
        if self.count > MAX_SIGNATURES {
            return Err(StorageError::Limit {
                what: self.what.clone(),
                message: format!("more than {MAX_SIGNATURES} signatures, assuming that's unreasonable"),
            });
        }
        if self.bytes > MAX_SIGNATURES_TOTAL {
            return Err(StorageError::Limit {
                what: self.what.clone(),
                message: format!("signatures of more than {MAX_SIGNATURES_TOTAL} bytes together"),
            });
        }
        Ok(())
    }
}

/// Reads the regular file `path` whole, at most `cap` bytes; `None` when it does not exist. A FIFO or device
/// is refused without opening it for reading (no hang), a longer file without reading past the cap.
pub fn read_file_capped(path: &Path, cap: usize, what: &'static str) -> Result<Option<Vec<u8>>, StorageError> {
    use std::io::Read;
    let io = |source| StorageError::Io { what, path: path.to_owned(), source };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    if !meta.is_file() {
        return Err(io(std::io::Error::other("not a regular file")));
    }
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let mut out = Vec::new();
    file.take(cap as u64 + 1).read_to_end(&mut out).map_err(io)?;
    if out.len() > cap {
        return Err(StorageError::Limit {
            what: path.display().to_string(),
            message: format!("larger than the {cap}-byte limit"),
        });
    }
    Ok(Some(out))
}

/// Writes `bytes` to `path` whole or not at all: a temp file in the same directory (made, with its parents,
/// when missing), fsynced, renamed over `path`, the directory fsynced. Mode 0644, as containers/image writes
/// lookaside and `dir:` signatures.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    use std::io::Write;
    let io = |source| StorageError::Io { what: "writing signature", path: path.to_owned(), source };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut temp = tempfile::Builder::new().prefix(".hoist-sig-").tempfile_in(dir).map_err(io)?;
    temp.write_all(bytes).map_err(io)?;
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(io)?;
    }
    temp.as_file().sync_all().map_err(io)?;
    temp.persist(path).map_err(|e| io(e.error))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Removes `path`; false when it was not there.
pub fn remove_file(path: &Path) -> Result<bool, StorageError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(StorageError::Io { what: "removing signature", path: path.to_owned(), source }),
    }
}

/// A digest's `ALGORITHM=HEX` and `HEX` as file names use them; refused when it could leave a directory
/// (a [`Digest`] is parsed, so this is a second guard).
pub fn digest_parts(digest: &Digest) -> Result<(&str, &str), StorageError> {
    let (alg, hex) = (digest.algorithm(), digest.hex());
    let clean = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+._-=".contains(&b));
    if !clean(alg) || !clean(hex) || alg.contains("..") || hex.contains("..") {
        return Err(StorageError::Url(format!("digest {digest} cannot name a signature file")));
    }
    Ok((alg, hex))
}

#[cfg(test)]
mod tests;
