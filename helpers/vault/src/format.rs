//! The vault file format (version 1). docs/helpers/vault.md describes it for users; this is the code.
//!
//! ```text
//! offset  size  field
//! 0       8     magic "HOISTVLT"
//! 8       1     format version (1)
//! 9       1     KDF id (1 = argon2id, version 0x13)
//! 10      4     argon2 memory in KiB (u32, little-endian)
//! 14      4     argon2 iterations (u32 LE)
//! 18      4     argon2 parallelism (u32 LE)
//! 22      1     salt length S (16..=64)
//! 23      S     salt (random, fresh on init and rekey)
//! 23+S    12    AES-256-GCM nonce (random, fresh on every write)
//! 35+S    rest  ciphertext of the credential map, with the 16-byte GCM tag at the end
//! ```
//!
//! The key is argon2id(passphrase, salt, params) → 32 bytes. Everything before the nonce (the header) is the
//! GCM associated data, so any change to the parameters or salt is detected like a change to the ciphertext.
//! The plaintext is JSON: `{"version":1,"credentials":{"SERVER":{"username":"..","secret":".."}}}`.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, Key as GcmKey, KeyInit, Nonce};
use argon2::{Algorithm, Argon2, Params, Version};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub const MAGIC: &[u8; 8] = b"HOISTVLT";
pub const FORMAT_VERSION: u8 = 1;
pub const KDF_ARGON2ID: u8 = 1;
pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
pub const SALT_LEN: usize = 32;

/// Limits on parameters read from a file, so a corrupted header cannot make us allocate without bound.
pub const MAX_MEMORY_KIB: u32 = 4 << 20; // 4 GiB
pub const MAX_ITERATIONS: u32 = 64;
pub const MAX_PARALLELISM: u32 = 16;

/// argon2id parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 iterations, 1 lane: about 200 ms on a 2-core machine.
    fn default() -> Self {
        KdfParams { memory_kib: 64 * 1024, iterations: 3, parallelism: 1 }
    }
}

/// KDF parameters outside what this build accepts (on init and rekey, or read from a file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    #[error("KDF parallelism {0} is outside 1..={MAX_PARALLELISM}")]
    Parallelism(u32),
    /// `min` is 8 KiB per lane, argon2's minimum.
    #[error("KDF memory {memory_kib} KiB is outside {min}..={MAX_MEMORY_KIB} KiB")]
    Memory { memory_kib: u32, min: u32 },
    #[error("KDF iterations {0} is outside 1..={MAX_ITERATIONS}")]
    Iterations(u32),
}

impl KdfParams {
    pub fn check(&self) -> Result<(), ParamsError> {
        let KdfParams { memory_kib: m, iterations: t, parallelism: p } = *self;
        if !(1..=MAX_PARALLELISM).contains(&p) {
            return Err(ParamsError::Parallelism(p));
        }
        if !(8 * p..=MAX_MEMORY_KIB).contains(&m) {
            return Err(ParamsError::Memory { memory_kib: m, min: 8 * p });
        }
        if !(1..=MAX_ITERATIONS).contains(&t) {
            return Err(ParamsError::Iterations(t));
        }
        Ok(())
    }
}

/// Everything before the nonce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub kdf: KdfParams,
    pub salt: Vec<u8>,
}

/// A 256-bit key, wiped on drop.
pub struct Key(pub(crate) Zeroizing<[u8; 32]>);

impl Key {
    pub fn from_bytes(bytes: &[u8]) -> Option<Key> {
        let arr: [u8; 32] = bytes.try_into().ok()?;
        Some(Key(Zeroizing::new(arr)))
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Why a file could not be opened. None of these reveal anything about the content.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("is not a hoist vault (bad magic)")]
    NotAVault,
    #[error("has format version {0}; this build reads version {FORMAT_VERSION}")]
    UnsupportedVersion(u8),
    #[error("names unknown KDF {0}")]
    UnsupportedKdf(u8),
    #[error("has invalid KDF parameters ({0}): corrupted vault")]
    BadParams(ParamsError),
    #[error("has invalid KDF parameters (salt length {0}): corrupted vault")]
    BadSaltLength(usize),
    #[error("is truncated: corrupted vault")]
    Truncated,
    /// Authentication failed: the key is wrong or the file was changed.
    #[error("wrong passphrase or corrupted vault")]
    WrongKeyOrCorrupt,
}

/// Why a header could not be made, a key derived or a file sealed. None of these reveal a secret.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error(transparent)]
    Params(#[from] ParamsError),
    #[error("no randomness available: {0}")]
    Randomness(getrandom::Error),
    /// argon2 refused the parameters.
    #[error("{0}")]
    KdfParams(argon2::Error),
    #[error("key derivation failed: {0}")]
    Derivation(argon2::Error),
    #[error("encryption failed")]
    Encryption,
}

impl Header {
    /// A new header with a fresh random salt.
    pub fn new(kdf: KdfParams) -> Result<Header, CryptoError> {
        kdf.check()?;
        let mut salt = vec![0u8; SALT_LEN];
        getrandom::fill(&mut salt).map_err(CryptoError::Randomness)?;
        Ok(Header { kdf, salt })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(23 + self.salt.len());
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_VERSION);
        out.push(KDF_ARGON2ID);
        out.extend_from_slice(&self.kdf.memory_kib.to_le_bytes());
        out.extend_from_slice(&self.kdf.iterations.to_le_bytes());
        out.extend_from_slice(&self.kdf.parallelism.to_le_bytes());
        out.push(self.salt.len() as u8);
        out.extend_from_slice(&self.salt);
        out
    }

    /// Parses the header at the start of `file`; returns it with its length in bytes.
    pub fn parse(file: &[u8]) -> Result<(Header, usize), FormatError> {
        if file.len() < 8 || &file[..8] != MAGIC {
            return Err(FormatError::NotAVault);
        }
        if file.len() < 23 {
            return Err(FormatError::Truncated);
        }
        if file[8] != FORMAT_VERSION {
            return Err(FormatError::UnsupportedVersion(file[8]));
        }
        if file[9] != KDF_ARGON2ID {
            return Err(FormatError::UnsupportedKdf(file[9]));
        }
        let u32_at = |i: usize| u32::from_le_bytes(file[i..i + 4].try_into().expect("4 bytes"));
        let kdf = KdfParams { memory_kib: u32_at(10), iterations: u32_at(14), parallelism: u32_at(18) };
        kdf.check().map_err(FormatError::BadParams)?;
        let salt_len = file[22] as usize;
        if !(16..=64).contains(&salt_len) {
            return Err(FormatError::BadSaltLength(salt_len));
        }
        let end = 23 + salt_len;
        if file.len() < end + NONCE_LEN + TAG_LEN {
            return Err(FormatError::Truncated);
        }
        Ok((Header { kdf, salt: file[23..end].to_vec() }, end))
    }

    /// Identifies the (salt, parameters) a key belongs to; an unlocked session hands out a key only for this.
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(self.encode()))
    }

    /// argon2id(passphrase, salt) with this header's parameters.
    pub fn derive_key(&self, passphrase: &[u8]) -> Result<Key, CryptoError> {
        let p = self.kdf;
        let params =
            Params::new(p.memory_kib, p.iterations, p.parallelism, Some(32)).map_err(CryptoError::KdfParams)?;
        let mut key = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase, &self.salt, &mut *key)
            .map_err(CryptoError::Derivation)?;
        Ok(Key(key))
    }
}

/// Encrypts `plaintext` into a whole vault file under a fresh random nonce.
pub fn seal(header: &Header, key: &Key, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let aad = header.encode();
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(CryptoError::Randomness)?;
    let cipher = Aes256Gcm::new(&GcmKey::<Aes256Gcm>::from(*key.as_bytes()));
    let ct = cipher
        .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad: &aad })
        .map_err(|_| CryptoError::Encryption)?;
    let mut out = aad;
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Decrypts a whole vault file; the plaintext is wiped on drop.
pub fn open(file: &[u8], key: &Key) -> Result<Zeroizing<Vec<u8>>, FormatError> {
    let (_, header_len) = Header::parse(file)?;
    let nonce: [u8; NONCE_LEN] = file[header_len..header_len + NONCE_LEN].try_into().expect("length checked");
    let cipher = Aes256Gcm::new(&GcmKey::<Aes256Gcm>::from(*key.as_bytes()));
    cipher
        .decrypt(&Nonce::from(nonce), Payload { msg: &file[header_len + NONCE_LEN..], aad: &file[..header_len] })
        .map(Zeroizing::new)
        .map_err(|_| FormatError::WrongKeyOrCorrupt)
}

/// The nonce of a vault file (for tests and `status`).
pub fn nonce_of(file: &[u8]) -> Option<&[u8]> {
    let (_, header_len) = Header::parse(file).ok()?;
    file.get(header_len..header_len + NONCE_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> KdfParams {
        KdfParams { memory_kib: 8, iterations: 1, parallelism: 1 }
    }

    #[test]
    fn seal_open_round_trip_and_tamper_detection() {
        let h = Header::new(fast()).unwrap();
        let key = h.derive_key(b"passphrase").unwrap();
        let file = seal(&h, &key, b"{\"hello\":1}").unwrap();
        assert_eq!(&open(&file, &key).unwrap()[..], b"{\"hello\":1}");
        let wrong = h.derive_key(b"other").unwrap();
        assert_eq!(open(&file, &wrong).unwrap_err(), FormatError::WrongKeyOrCorrupt);
        for i in 0..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x01;
            assert!(open(&bad, &key).is_err(), "flip at {i} undetected");
        }
        assert_ne!(nonce_of(&file), nonce_of(&seal(&h, &key, b"x").unwrap()));
    }

    #[test]
    fn header_limits() {
        assert!(KdfParams { memory_kib: MAX_MEMORY_KIB + 1, ..fast() }.check().is_err());
        assert!(KdfParams { iterations: 0, ..fast() }.check().is_err());
        assert!(KdfParams { parallelism: 2, memory_kib: 8, iterations: 1 }.check().is_err());
        assert!(KdfParams::default().check().is_ok());
        let h = Header::new(fast()).unwrap();
        assert_eq!(Header::parse(&[h.encode(), vec![0; 28]].concat()).unwrap(), (h.clone(), h.encode().len()));
        assert_eq!(Header::parse(b"HOISTVLX").unwrap_err(), FormatError::NotAVault);
        let mut short_salt = h.encode();
        short_salt[22] = 8;
        short_salt.extend([0; 36]);
        assert_eq!(
            Header::parse(&short_salt).unwrap_err().to_string(),
            "has invalid KDF parameters (salt length 8): corrupted vault"
        );
        let mut bad = h.encode();
        bad[10..14].copy_from_slice(&4u32.to_le_bytes());
        assert_eq!(
            Header::parse(&bad).unwrap_err().to_string(),
            "has invalid KDF parameters (KDF memory 4 KiB is outside 8..=4194304 KiB): corrupted vault"
        );
        assert_eq!(
            Header::new(KdfParams { parallelism: 17, ..fast() }).unwrap_err().to_string(),
            "KDF parallelism 17 is outside 1..=16"
        );
        assert_eq!(
            KdfParams { iterations: 65, ..fast() }.check().unwrap_err().to_string(),
            "KDF iterations 65 is outside 1..=64"
        );
    }
}
