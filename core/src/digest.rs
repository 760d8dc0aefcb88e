//! Content digests: computing them while bytes stream past, and checking them. Every blob and manifest hoist
//! moves is hashed once, on the way, and refused when its digest or size is not the one it was named by.
//!
//! The [`Digest`] type itself (parsing, the algorithms distribution knows) lives in [`crate::reference`],
//! since references carry digests; it is re-exported here.

use sha2::digest::DynDigest;
use sha2::{Sha256, Sha384, Sha512};

pub use crate::reference::Digest;

/// Why bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("digest mismatch: expected {expected}, got {actual}")]
    Digest { expected: Digest, actual: Digest },
    #[error("size mismatch for {digest}: expected {expected} bytes, got {actual}")]
    Size { digest: Digest, expected: u64, actual: u64 },
    /// The blob is named by a digest whose algorithm hoist cannot compute ([`Digest::is_supported`]).
    #[error(
        "cannot verify {digest}: digest algorithm {:?} is not supported (only sha256, sha384 and sha512 are)",
        digest.algorithm()
    )]
    Unsupported { digest: Digest },
}

impl Digest {
    /// The sha256 digest of `bytes`.
    pub fn sha256(bytes: &[u8]) -> Digest {
        let mut h = Hasher::sha256();
        h.update(bytes);
        h.finish()
    }
}

/// A running hash for one algorithm, fed as bytes arrive.
pub struct Hasher {
    algorithm: &'static str,
    inner: Box<dyn DynDigest + Send + Sync>,
    len: u64,
}

impl Hasher {
    pub fn sha256() -> Hasher {
        Hasher { algorithm: "sha256", inner: Box::new(Sha256::default()), len: 0 }
    }

    /// A hasher for `digest`'s algorithm (sha256, sha384 or sha512; [`Digest::parse`] admits no other).
    pub fn for_digest(digest: &Digest) -> Hasher {
        let (algorithm, inner): (&'static str, Box<dyn DynDigest + Send + Sync>) = match digest.algorithm() {
            "sha384" => ("sha384", Box::new(Sha384::default())),
            "sha512" => ("sha512", Box::new(Sha512::default())),
            _ => ("sha256", Box::new(Sha256::default())),
        };
        Hasher { algorithm, inner, len: 0 }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.inner.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// How many bytes were hashed.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn finish(self) -> Digest {
        let hex = hex::encode(self.inner.finalize());
        Digest::parse(&format!("{}:{hex}", self.algorithm)).expect("a hash is a valid digest")
    }
}

/// Hashes what is written through it to `inner`.
pub struct HashingWriter<W> {
    pub inner: W,
    pub hasher: Hasher,
}

impl<W: std::io::Write> std::io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Checks bytes against the digest (and, when known, the size) they were named by.
pub struct Verifier {
    expected: Digest,
    size: Option<u64>,
    hasher: Hasher,
}

impl Verifier {
    pub fn new(expected: &Digest, size: Option<u64>) -> Verifier {
        Verifier { expected: expected.clone(), size, hasher: Hasher::for_digest(expected) }
    }

    /// Feeds bytes; fails as soon as more arrived than the expected size, and at once when the expected
    /// digest's algorithm is not one hoist can compute.
    pub fn update(&mut self, bytes: &[u8]) -> Result<(), VerifyError> {
        if !self.expected.is_supported() {
            return Err(VerifyError::Unsupported { digest: self.expected.clone() });
        }
        self.hasher.update(bytes);
        match self.size {
            Some(expected) if self.hasher.len() > expected => {
                Err(VerifyError::Size { digest: self.expected.clone(), expected, actual: self.hasher.len() })
            }
            _ => Ok(()),
        }
    }

    /// How many bytes were fed.
    pub fn len(&self) -> u64 {
        self.hasher.len()
    }

    /// The digest the bytes should hash to.
    pub fn expected(&self) -> &Digest {
        &self.expected
    }

    pub fn is_empty(&self) -> bool {
        self.hasher.is_empty()
    }

    /// Ok when every byte arrived and their digest is the expected one.
    pub fn finish(self) -> Result<(), VerifyError> {
        if !self.expected.is_supported() {
            return Err(VerifyError::Unsupported { digest: self.expected });
        }
        let actual_len = self.hasher.len();
        if let Some(expected) = self.size.filter(|&s| s != actual_len) {
            return Err(VerifyError::Size { digest: self.expected, expected, actual: actual_len });
        }
        let actual = self.hasher.finish();
        if actual != self.expected {
            return Err(VerifyError::Digest { expected: self.expected, actual });
        }
        Ok(())
    }
}

/// Checks whole bytes at once (manifests, configs).
pub fn verify(bytes: &[u8], expected: &Digest, size: Option<u64>) -> Result<(), VerifyError> {
    let mut v = Verifier::new(expected, size);
    v.update(bytes)?;
    v.finish()
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A descriptor's digest ([`Digest::parse_any`]): any algorithm the OCI grammar admits, for
/// `#[serde(deserialize_with)]`.
pub fn deserialize_any<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
    let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
    Digest::parse_any(&s).map_err(|e| serde::de::Error::custom(format!("digest {:?}: {e}", excerpt(&s))))
}

/// At most 80 characters of `s` (a digest quoted in an error can be as long as the document).
fn excerpt(s: &str) -> String {
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Digest::parse(&s).map_err(|e| serde::de::Error::custom(format!("digest {:?}: {e}", excerpt(&s))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn hashes_and_verifies() {
        assert_eq!(Digest::sha256(b"").to_string(), EMPTY);
        let d = Digest::sha256(b"hello");
        assert!(verify(b"hello", &d, Some(5)).is_ok());
        assert!(matches!(verify(b"hellO", &d, Some(5)), Err(VerifyError::Digest { .. })));
        assert!(matches!(verify(b"hello", &d, Some(4)), Err(VerifyError::Size { actual: 5, .. })));
        assert!(matches!(verify(b"hell", &d, Some(5)), Err(VerifyError::Size { actual: 4, .. })));
        let mut v = Verifier::new(&d, Some(3));
        assert!(v.update(b"hello").is_err(), "fails as soon as the size is passed");
        let sha512 = Digest::parse(&format!("sha512:{}", "0".repeat(128))).unwrap();
        let mut h = Hasher::for_digest(&sha512);
        h.update(b"x");
        assert_eq!(h.finish().algorithm(), "sha512");
    }

    #[test]
    fn unsupported_algorithms_parse_in_descriptors_but_never_verify() {
        for s in [
            "sha256+b64:c86f7763873b6c0aae22d963bab59b4f5debbed6685761b5951584f6efb0633b",
            "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
            "sha256+b64u.unknownlength:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564=",
        ] {
            assert!(Digest::parse(s).is_err(), "{s}: not in a reference");
            let d = Digest::parse_any(s).unwrap();
            assert_eq!(d.to_string(), s);
            assert!(!d.is_supported());
            let err = verify(b"x", &d, Some(1)).unwrap_err();
            assert!(matches!(err, VerifyError::Unsupported { .. }), "{s}: {err}");
            assert!(err.to_string().contains("is not supported"), "{err}");
            assert!(Verifier::new(&d, None).finish().is_err(), "nothing fed is no proof either");
        }
        for bad in ["SHA256:ab", "sha256+foo+-b:ab", ":ab", "sha256", "x:", "a..b:ab", "x:a/b", "x:a.b"] {
            assert!(Digest::parse_any(bad).is_err(), "{bad}");
        }
        let upper = format!("sha256:{}", "A".repeat(64));
        assert!(Digest::parse_any(&upper).is_err(), "a known algorithm stays strict");
        assert!(Digest::parse_any(EMPTY).unwrap().is_supported());
    }

    #[test]
    fn serde_round_trip() {
        let d: Digest = serde_json::from_str(&format!("\"{EMPTY}\"")).unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{EMPTY}\""));
        assert!(serde_json::from_str::<Digest>("\"sha256:zz\"").is_err());
    }
}
