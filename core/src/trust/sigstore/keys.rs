//! Sigstore keys as cosign writes them: PEM (the first block, as Go's `pem.Decode`), PKIX public keys
//! (`PUBLIC KEY`), and private keys encrypted as go-securesystemslib's `encrypted` package does — PEM
//! `ENCRYPTED SIGSTORE PRIVATE KEY` or `ENCRYPTED COSIGN PRIVATE KEY` around the JSON
//! `{"kdf":{"name":"scrypt","params":{"N":..,"r":8,"p":1},"salt":B64},"cipher":{"name":"nacl/secretbox",
//! "nonce":B64},"ciphertext":B64}` whose plaintext is the PKCS#8 key. Only ECDSA P-256 keys are used (the
//! one scheme cosign's signature spec requires); others are refused by name.
//!
//! A hostile key file cannot ask for much: the file is capped ([`MAX_KEY_FILE_BYTES`]) and scrypt runs only
//! with the three parameter sets go-securesystemslib accepts (N = 2^15, 2^16 or 2^17, r = 8, p = 1: at most
//! 128 MiB and well under a second), as it does.

use base64::Engine;
use crypto_secretbox::aead::{AeadInPlace, KeyInit};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};
use p256::elliptic_curve::Generate;
use p256::pkcs8::der::Decode;
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, ObjectIdentifier};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::SigstoreError;

/// The PEM label cosign wrote before 2.0, which skopeo and containers/image still write (every cosign and
/// containers/image version reads it).
pub const COSIGN_PRIVATE_KEY_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// The PEM label cosign writes since 2.0.
pub const SIGSTORE_PRIVATE_KEY_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// A public key file's PEM label (PKIX `SubjectPublicKeyInfo`).
pub const PUBLIC_KEY_LABEL: &str = "PUBLIC KEY";
/// Any key file hoist reads, public or private: cosign's are under 1 KiB.
pub const MAX_KEY_FILE_BYTES: usize = 64 << 10;

/// scrypt's `log2(N)` for new keys: go-securesystemslib's "standard" parameters (N = 65536, r = 8, p = 1),
/// what `cosign generate-key-pair` and `skopeo generate-sigstore-key` write.
const NEW_KEY_LOG_N: u8 = 16;
/// The parameter sets go-securesystemslib's `CheckParams` accepts (legacy, standard, OWASP); any other is
/// refused before scrypt runs, so a key file cannot ask for gibibytes or hours.
const ACCEPTED_SCRYPT: [(u64, u32, u32); 3] = [(1 << 15, 8, 1), (1 << 16, 8, 1), (1 << 17, 8, 1)];
const SALT_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;
const MAX_SALT_BYTES: usize = 1024;

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// Go's `base64.StdEncoding`: padded, and (unlike the crate's `STANDARD`) lenient about trailing bits.
const GO_STD: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// Decodes standard padded base64 as Go's `base64.StdEncoding` does (line breaks ignored, as Go's decoder
/// skips `\r` and `\n`).
pub(super) fn base64_decode(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    if s.contains(['\r', '\n']) {
        let joined: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        GO_STD.decode(joined)
    } else {
        GO_STD.decode(s)
    }
}

pub(super) fn base64_encode(bytes: &[u8]) -> String {
    GO_STD.encode(bytes)
}

/// One PEM block: its label and decoded bytes.
pub struct Pem {
    pub label: String,
    pub der: Zeroizing<Vec<u8>>,
}

/// The first PEM block in `data`, as Go's `pem.Decode` finds it (text before it is skipped, blocks after it
/// ignored). Headers (`Proc-Type: ...`, OpenSSL's old encryption) are refused: cosign never writes them.
pub fn pem_decode(data: &[u8]) -> Result<Pem, String> {
    let mut lines = data.split(|b| *b == b'\n').map(|l| l.trim_ascii_end());
    let label = loop {
        let Some(line) = lines.next() else {
            return Err("no PEM block found (expected \"-----BEGIN ...-----\")".to_owned());
        };
        if let Some(rest) = line.strip_prefix(b"-----BEGIN ").and_then(|r| r.strip_suffix(b"-----")) {
            break String::from_utf8(rest.to_vec()).map_err(|_| "the PEM label is not text".to_owned())?;
        }
    };
    let end = format!("-----END {label}-----");
    let mut body = Zeroizing::new(Vec::new());
    for line in lines {
        if line == end.as_bytes() {
            let der = Zeroizing::new(
                base64_decode(std::str::from_utf8(&body).map_err(|_| "PEM body is not base64".to_owned())?)
                    .map_err(|e| format!("PEM body is not base64: {e}"))?,
            );
            return Ok(Pem { label, der });
        }
        if line.contains(&b':') {
            return Err(format!("PEM headers in the {label} block are not supported"));
        }
        body.extend(line.iter().filter(|b| !b.is_ascii_whitespace()));
    }
    Err(format!("the {label} PEM block has no \"{end}\" line"))
}

/// `data` as one PEM block, lines of 64 characters, as Go's `pem.EncodeToMemory`.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64_encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Names an algorithm hoist does not use, for the refusal.
fn algorithm_name(oid: ObjectIdentifier, params: Option<ObjectIdentifier>) -> String {
    match (oid.to_string().as_str(), params.map(|p| p.to_string())) {
        ("1.2.840.10045.2.1", Some(p)) if p == "1.3.132.0.34" => "an ECDSA P-384 key".to_owned(),
        ("1.2.840.10045.2.1", Some(p)) if p == "1.3.132.0.35" => "an ECDSA P-521 key".to_owned(),
        ("1.2.840.10045.2.1", p) => format!("an ECDSA key on curve {}", p.unwrap_or_else(|| "(none)".into())),
        ("1.2.840.113549.1.1.1", _) => "an RSA key".to_owned(),
        ("1.3.101.112", _) => "an Ed25519 key".to_owned(),
        (other, _) => format!("a key of algorithm {other}"),
    }
}

/// A PEM public key file's key (`PUBLIC KEY`, PKIX), which must be ECDSA P-256.
pub fn parse_public_key(data: &[u8]) -> Result<p256::ecdsa::VerifyingKey, String> {
    if data.len() > MAX_KEY_FILE_BYTES {
        return Err(format!("{} bytes is over the {MAX_KEY_FILE_BYTES}-byte limit for a key", data.len()));
    }
    let pem = pem_decode(data)?;
    match pem.label.as_str() {
        PUBLIC_KEY_LABEL => {}
        "RSA PUBLIC KEY" => return Err("an RSA key: hoist verifies only ECDSA P-256 sigstore keys".to_owned()),
        other => return Err(format!("a {other:?} PEM block, not a \"PUBLIC KEY\"")),
    }
    let spki =
        p256::pkcs8::SubjectPublicKeyInfoRef::from_der(&pem.der).map_err(|e| format!("not a PKIX public key: {e}"))?;
    let params = spki.algorithm.parameters_oid().ok();
    if spki.algorithm.oid != OID_EC_PUBLIC_KEY || params != Some(OID_P256) {
        let name = algorithm_name(spki.algorithm.oid, params);
        return Err(format!("{name}: hoist verifies only ECDSA P-256 sigstore keys"));
    }
    let key = p256::PublicKey::from_public_key_der(&pem.der).map_err(|e| format!("invalid P-256 public key: {e}"))?;
    Ok(p256::ecdsa::VerifyingKey::from(key))
}

/// A public key as cosign writes it (PEM `PUBLIC KEY`).
pub fn public_key_pem(key: &p256::ecdsa::VerifyingKey) -> String {
    let der = p256::PublicKey::from(key).to_public_key_der().map(|d| d.as_bytes().to_vec()).unwrap_or_default();
    pem_encode(PUBLIC_KEY_LABEL, &der)
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// A cosign private key file, read and checked but not yet decrypted.
pub struct EncryptedKey {
    pub label: String,
    log_n: u8,
    r: u32,
    p: u32,
    salt: Vec<u8>,
    nonce: [u8; NONCE_BYTES],
    ciphertext: Vec<u8>,
}

impl EncryptedKey {
    /// Reads a cosign private key file: the PEM label, the JSON, the KDF and cipher names, the scrypt
    /// parameters (one of the accepted sets), the salt and nonce sizes. Nothing expensive runs here.
    pub fn parse(data: &[u8]) -> Result<EncryptedKey, String> {
        if data.len() > MAX_KEY_FILE_BYTES {
            return Err(format!("{} bytes is over the {MAX_KEY_FILE_BYTES}-byte limit for a key file", data.len()));
        }
        let pem = pem_decode(data)?;
        if pem.label != SIGSTORE_PRIVATE_KEY_LABEL && pem.label != COSIGN_PRIVATE_KEY_LABEL {
            return Err(format!(
                "a {:?} PEM block, not a cosign private key (\"{SIGSTORE_PRIVATE_KEY_LABEL}\" or \
                 \"{COSIGN_PRIVATE_KEY_LABEL}\")",
                pem.label
            ));
        }
        let env: Envelope =
            serde_json::from_slice(&pem.der).map_err(|e| format!("the encrypted key's JSON is invalid: {e}"))?;
        if env.kdf.name != "scrypt" {
            return Err(format!("unknown key derivation {:?} (cosign uses \"scrypt\")", env.kdf.name));
        }
        if env.cipher.name != "nacl/secretbox" {
            return Err(format!("unknown cipher {:?} (cosign uses \"nacl/secretbox\")", env.cipher.name));
        }
        let ScryptParams { n, r, p } = env.kdf.params;
        if !ACCEPTED_SCRYPT.contains(&(n, r, p)) {
            return Err(format!(
                "unsupported scrypt parameters N={n} r={r} p={p} (accepted: N=32768, 65536 or 131072 with r=8 p=1)"
            ));
        }
        let salt = base64_decode(&env.kdf.salt).map_err(|e| format!("the salt is not base64: {e}"))?;
        if salt.len() > MAX_SALT_BYTES {
            return Err(format!("a {}-byte salt is over the {MAX_SALT_BYTES}-byte limit", salt.len()));
        }
        let nonce = base64_decode(&env.cipher.nonce).map_err(|e| format!("the nonce is not base64: {e}"))?;
        let nonce: [u8; NONCE_BYTES] =
            nonce.try_into().map_err(|n: Vec<u8>| format!("a {}-byte nonce (want {NONCE_BYTES})", n.len()))?;
        let ciphertext = base64_decode(&env.ciphertext).map_err(|e| format!("the ciphertext is not base64: {e}"))?;
        Ok(EncryptedKey { label: pem.label, log_n: n.trailing_zeros() as u8, r, p, salt, nonce, ciphertext })
    }

    /// scrypt of `passphrase` with the file's salt and parameters: the secretbox key.
    pub fn derive(&self, passphrase: &[u8]) -> Result<Zeroizing<[u8; 32]>, String> {
        derive(passphrase, &self.salt, self.log_n, self.r, self.p)
    }

    /// Opens the box with a derived key and reads the PKCS#8 key inside, which must be ECDSA P-256.
    pub fn open(&self, key: &[u8; 32]) -> Result<p256::ecdsa::SigningKey, String> {
        let cipher = XSalsa20Poly1305::new(key.into());
        let mut plain = Zeroizing::new(self.ciphertext.clone());
        cipher
            .decrypt_in_place(Nonce::from_slice(&self.nonce), b"", &mut *plain)
            .map_err(|_| "cannot decrypt the private key: wrong passphrase, or the file is damaged".to_owned())?;
        let info = p256::pkcs8::PrivateKeyInfoRef::from_der(&plain)
            .map_err(|e| format!("the decrypted key is not PKCS#8: {e}"))?;
        let params = info.algorithm.parameters_oid().ok();
        if info.algorithm.oid != OID_EC_PUBLIC_KEY || params != Some(OID_P256) {
            let name = algorithm_name(info.algorithm.oid, params);
            return Err(format!("{name}: hoist signs only with ECDSA P-256 sigstore keys"));
        }
        let secret = p256::SecretKey::from_pkcs8_der(&plain).map_err(|e| format!("invalid P-256 private key: {e}"))?;
        Ok(p256::ecdsa::SigningKey::from(secret))
    }

    /// [`derive`](Self::derive), then [`open`](Self::open).
    pub fn decrypt(&self, passphrase: &[u8]) -> Result<p256::ecdsa::SigningKey, String> {
        self.open(&*self.derive(passphrase)?)
    }
}

fn derive(passphrase: &[u8], salt: &[u8], log_n: u8, r: u32, p: u32) -> Result<Zeroizing<[u8; 32]>, String> {
    let params = scrypt::Params::new(log_n, r, p).map_err(|e| format!("scrypt parameters: {e}"))?;
    let mut out = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(passphrase, salt, &params, &mut *out).map_err(|e| format!("scrypt: {e}"))?;
    Ok(out)
}

fn random<const N: usize>() -> Result<[u8; N], SigstoreError> {
    <[u8; N]>::try_generate().map_err(|e| SigstoreError::Random(e.to_string()))
}

/// A new key pair as `cosign generate-key-pair` and `skopeo generate-sigstore-key` make one: ECDSA P-256,
/// the private key as PKCS#8 encrypted with `passphrase` (scrypt N=65536 r=8 p=1, a random 32-byte salt,
/// nacl/secretbox with a random nonce) in a PEM `ENCRYPTED COSIGN PRIVATE KEY` block (skopeo's label, read by
/// every cosign), and the public key as PEM `PUBLIC KEY`.
pub struct KeyPair {
    pub private_pem: String,
    pub public_pem: String,
}

pub fn generate_key_pair(passphrase: &[u8]) -> Result<KeyPair, SigstoreError> {
    let secret = p256::SecretKey::try_generate().map_err(|e| SigstoreError::Random(e.to_string()))?;
    let signing = p256::ecdsa::SigningKey::from(&secret);
    let pkcs8 = secret.to_pkcs8_der().map_err(|e| SigstoreError::Generate(e.to_string()))?;
    let private_pem = encrypt_private_key(pkcs8.as_bytes(), passphrase, COSIGN_PRIVATE_KEY_LABEL, NEW_KEY_LOG_N)?;
    Ok(KeyPair { private_pem, public_pem: public_key_pem(signing.verifying_key()) })
}

/// Encrypts PKCS#8 bytes as cosign's private key file with the label and scrypt `log2(N)` given (tests
/// write the other label and parameter sets with it).
pub fn encrypt_private_key(pkcs8: &[u8], passphrase: &[u8], label: &str, log_n: u8) -> Result<String, SigstoreError> {
    let salt = random::<SALT_BYTES>()?;
    let nonce = random::<NONCE_BYTES>()?;
    let (r, p) = (8, 1);
    let key = derive(passphrase, &salt, log_n, r, p).map_err(SigstoreError::Generate)?;
    let mut sealed = pkcs8.to_vec();
    XSalsa20Poly1305::new((&*key).into())
        .encrypt_in_place(Nonce::from_slice(&nonce), b"", &mut sealed)
        .map_err(|_| SigstoreError::Generate("secretbox encryption failed".to_owned()))?;
    let env = Envelope {
        kdf: Kdf {
            name: "scrypt".to_owned(),
            params: ScryptParams { n: 1 << log_n, r, p },
            salt: base64_encode(&salt),
        },
        cipher: Cipher { name: "nacl/secretbox".to_owned(), nonce: base64_encode(&nonce) },
        ciphertext: base64_encode(&sealed),
    };
    let json = serde_json::to_vec(&env).map_err(|e| SigstoreError::Generate(e.to_string()))?;
    Ok(pem_encode(label, &json))
}
