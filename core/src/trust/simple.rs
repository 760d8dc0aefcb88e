//! GPG simple signing (containers-signature(5)): the "atomic container signature" payload, parsed as
//! strictly as containers/image's `signature/simple.go`; verification only against the keys a policy names
//! (never the user's keyring: the keys go into a throwaway GnuPG home, made for one call and removed after);
//! and signing through the user's GnuPG as skopeo's `--sign-by` does.
//!
//! Everything gpg reads here is untrusted: signatures, payloads and key data are capped, gpg's own output
//! (status lines, messages, the extracted literal data) is capped, and every gpg child has a deadline.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::digest::Digest;
use crate::reference::Reference;
use crate::trust::{Signature, Signer, TrustError};

/// The payload's `critical.type`.
pub const SIGNATURE_TYPE: &str = "atomic container signature";
/// The largest signature (an OpenPGP message) accepted: containers/image's `MaxSignatureBodySize`.
pub const MAX_SIGNATURE_SIZE: usize = 4 << 20;
/// The largest payload (the signed literal data) accepted; real ones are a few hundred bytes.
pub const MAX_PAYLOAD_SIZE: usize = 1 << 20;
/// The largest key file accepted, and the most key data one verification imports in all.
pub const MAX_KEY_SIZE: usize = 1 << 20;
pub const MAX_KEYS_TOTAL: usize = 8 << 20;
/// How long one gpg child may run when verifying (import, verify) and when signing (the user's agent may
/// have to start, or a pinentry may ask).
pub const VERIFY_TIMEOUT: Duration = Duration::from_secs(30);
pub const SIGN_TIMEOUT: Duration = Duration::from_secs(120);
/// The most gpg may write on its status fd and its stderr that is kept.
const MAX_STATUS_OUTPUT: usize = 1 << 20;
const MAX_STDERR: usize = 64 << 10;

/// What a verified simple signature says: the manifest digest and the docker reference it was signed for,
/// and which key signed it (the primary key's fingerprint, as containers/image reports it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub manifest_digest: Digest,
    pub docker_reference: String,
    pub key_fingerprint: String,
}

/// Why a simple signature could not be read, verified or made.
#[derive(Debug, thiserror::Error)]
pub enum SimpleError {
    /// The payload is not a containers-signature(5) document.
    #[error("invalid signature payload: {0}")]
    Payload(String),
    #[error("{what} is {size} bytes, more than the {limit} accepted")]
    TooLarge { what: &'static str, size: usize, limit: usize },
    #[error("GPG simple signing needs the gpg program, which was not found: install the package `gnupg`")]
    GpgMissing,
    #[error("could not run gpg to {action}: {source}")]
    Spawn { action: &'static str, source: std::io::Error },
    #[error("gpg did not {action} within {} s; it was stopped", timeout.as_secs())]
    Timeout { action: &'static str, timeout: Duration },
    #[error("gpg could not {action}: {message}")]
    Gpg { action: &'static str, message: String },
    #[error("no public key could be read from the key data given (keyPath, keyPaths or keyData)")]
    NoKeys,
    /// The signature did not verify against the given keys (bad, by another key, expired, several, ...).
    #[error("invalid GPG signature: {0}")]
    Invalid(String),
    #[error("signature by key {0} is not accepted")]
    KeyNotAccepted(String),
    #[error("GPG signing: {context}: {source}")]
    Io { context: String, source: std::io::Error },
}

// ---- the payload ----------------------------------------------------------------------------------------

/// A containers-signature(5) payload: what a simple signature claims, untrusted until its OpenPGP
/// signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    pub manifest_digest: Digest,
    pub docker_reference: String,
    /// `optional.creator`: who made it ("atomic 5.23.1" from containers/image, "hoist 0.x" from hoist).
    pub creator: Option<String>,
    /// `optional.timestamp`: seconds since the epoch.
    pub timestamp: Option<i64>,
}

impl Payload {
    /// What hoist signs: `digest` as `identity`, created by "hoist VERSION" now (containers/image writes
    /// "atomic VERSION" and `time.Now().Unix()`).
    pub fn new(manifest_digest: &Digest, identity: &Reference) -> Payload {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        Payload {
            manifest_digest: manifest_digest.clone(),
            docker_reference: identity.to_string(),
            creator: Some(format!("hoist {}", env!("CARGO_PKG_VERSION"))),
            timestamp: Some(i64::try_from(now).unwrap_or(i64::MAX)),
        }
    }

    /// The JSON containers/image's `MarshalJSON` writes: keys sorted, no spaces.
    pub fn to_json(&self) -> Vec<u8> {
        crate::trust::payload_json(
            SIGNATURE_TYPE,
            &self.docker_reference,
            &self.manifest_digest,
            self.creator.as_deref(),
            self.timestamp,
        )
    }

    /// Parses `bytes` as containers/image's `untrustedSignature.strictUnmarshalJSON`: exactly `critical` and
    /// `optional` at the top; `critical` exactly `type` (which must be "atomic container signature"),
    /// `image` (exactly `docker-manifest-digest`, a valid digest) and `identity` (exactly
    /// `docker-reference`); `optional` any keys, of which `creator` must be a string and `timestamp` an
    /// integer. A duplicated key anywhere in these objects, a missing or unknown critical key, or data after
    /// the object is refused.
    pub fn parse(bytes: &[u8]) -> Result<Payload, SimpleError> {
        if bytes.len() > MAX_PAYLOAD_SIZE {
            return Err(SimpleError::TooLarge {
                what: "the signature payload",
                size: bytes.len(),
                limit: MAX_PAYLOAD_SIZE,
            });
        }
        let bad = |m: String| SimpleError::Payload(m);
        let top: Json = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        let [critical, optional] = exact_fields(top, ["critical", "optional"]).map_err(bad)?;

        let mut creator = None;
        let mut timestamp = None;
        for (key, value) in object(optional).map_err(bad)? {
            match key.as_str() {
                "creator" => creator = Some(string(value, "optional.creator").map_err(bad)?),
                "timestamp" => {
                    let t = match value {
                        // Go decodes null into a float64 as "no change": zero.
                        Json::Null => 0.0,
                        Json::Number(n) => {
                            n.as_f64().ok_or_else(|| bad("Field optional.timestamp is not a number".into()))?
                        }
                        other => {
                            return Err(bad(format!("Field optional.timestamp is {}, not a number", other.kind())));
                        }
                    };
                    // As Go's `float64(int64(t)) != t`: an integer that fits an int64.
                    if !(t.is_finite() && t.fract() == 0.0 && t >= -(2f64.powi(63)) && t < 2f64.powi(63)) {
                        return Err(bad("Field optional.timestamp is not an integer".into()));
                    }
                    timestamp = Some(t as i64);
                }
                _ => {}
            }
        }

        let [kind, image, identity] = exact_fields(critical, ["type", "image", "identity"]).map_err(bad)?;
        let kind = string(kind, "critical.type").map_err(bad)?;
        if kind != SIGNATURE_TYPE {
            return Err(bad(format!("Unrecognized signature type {}", escape(&kind))));
        }
        let [digest] = exact_fields(image, ["docker-manifest-digest"]).map_err(bad)?;
        let digest = string(digest, "critical.image.docker-manifest-digest").map_err(bad)?;
        let manifest_digest = Digest::parse(&digest)
            .map_err(|e| bad(format!("invalid docker-manifest-digest value {}: {e}", escape(&digest))))?;
        let [reference] = exact_fields(identity, ["docker-reference"]).map_err(bad)?;
        let docker_reference = string(reference, "critical.identity.docker-reference").map_err(bad)?;
        Ok(Payload { manifest_digest, docker_reference, creator, timestamp })
    }
}

/// A JSON value that keeps every key of an object in order, duplicates included, so they can be refused.
enum Json {
    Null,
    Bool,
    Number(serde_json::Number),
    String(String),
    Array,
    Object(Vec<(String, Json)>),
}

impl Json {
    fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array => "an array",
            Json::Object(_) => "an object",
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Json;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Json, E> {
                Ok(Json::Bool)
            }
            fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
                Ok(Json::Number(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
                Ok(Json::Number(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
                serde_json::Number::from_f64(v).map(Json::Number).ok_or_else(|| E::custom("a number out of range"))
            }
            fn visit_str<E>(self, v: &str) -> Result<Json, E> {
                Ok(Json::String(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Json, E> {
                Ok(Json::String(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                while seq.next_element::<Json>()?.is_some() {}
                Ok(Json::Array)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut entries = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Json>()? {
                    entries.push((k, v));
                }
                Ok(Json::Object(entries))
            }
        }
        d.deserialize_any(V)
    }
}

/// An object's entries, a duplicated key refused (containers/image's `ParanoidUnmarshalJSONObject`).
fn object(value: Json) -> Result<Vec<(String, Json)>, String> {
    let Json::Object(entries) = value else {
        return Err(format!("JSON object expected, got {}", value.kind()));
    };
    for (i, (key, _)) in entries.iter().enumerate() {
        if entries[..i].iter().any(|(k, _)| k == key) {
            return Err(format!("Duplicate key {}", escape(key)));
        }
    }
    Ok(entries)
}

/// Exactly the keys `names`, each once, nothing else (`ParanoidUnmarshalJSONObjectExactFields`).
fn exact_fields<const N: usize>(value: Json, names: [&str; N]) -> Result<[Json; N], String> {
    let mut found: [Option<Json>; N] = std::array::from_fn(|_| None);
    for (key, v) in object(value)? {
        let i = names.iter().position(|n| *n == key).ok_or_else(|| format!("Unknown key {}", escape(&key)))?;
        found[i] = Some(v);
    }
    let mut out = Vec::with_capacity(N);
    for (i, v) in found.into_iter().enumerate() {
        out.push(v.ok_or_else(|| format!("Key {:?} missing in a JSON object", names[i]))?);
    }
    Ok(out.try_into().unwrap_or_else(|_| unreachable!("N values")))
}

/// A string field; null reads as "" as Go's decoder does.
fn string(value: Json, field: &str) -> Result<String, String> {
    match value {
        Json::String(s) => Ok(s),
        Json::Null => Ok(String::new()),
        other => Err(format!("Field {field} is {}, not a string", other.kind())),
    }
}

/// Untrusted text quoted for a one-line message, control characters escaped, long text cut.
fn escape(s: &str) -> String {
    let mut out: String = s.chars().take(200).collect::<String>().escape_debug().collect::<String>();
    out.insert(0, '"');
    out.push('"');
    if s.chars().count() > 200 {
        out.push('…');
    }
    out
}

// ---- verification ---------------------------------------------------------------------------------------

/// Verifies `signature` (an OpenPGP signed message) against the public keys `keys` (each a key file's
/// bytes, binary or ASCII-armored, as `keyPath`, `keyPaths`, `keyData` give them) and nothing else, and
/// returns what its payload says. The caller (the policy) still checks the digest and the identity.
pub fn verify(signature: &[u8], keys: &[Vec<u8>]) -> Result<Verified, SimpleError> {
    Gpg::default().verify(signature, keys)
}

/// How gpg is run: the program and the deadline of each child (tests use fakes).
struct Gpg {
    program: PathBuf,
    timeout: Duration,
}

impl Default for Gpg {
    fn default() -> Gpg {
        Gpg { program: PathBuf::from("gpg"), timeout: VERIFY_TIMEOUT }
    }
}

impl Gpg {
    fn verify(&self, signature: &[u8], keys: &[Vec<u8>]) -> Result<Verified, SimpleError> {
        if signature.len() > MAX_SIGNATURE_SIZE {
            return Err(SimpleError::TooLarge {
                what: "the signature",
                size: signature.len(),
                limit: MAX_SIGNATURE_SIZE,
            });
        }
        let mut total = 0usize;
        for key in keys {
            if key.len() > MAX_KEY_SIZE {
                return Err(SimpleError::TooLarge { what: "a key file", size: key.len(), limit: MAX_KEY_SIZE });
            }
            total += key.len();
        }
        if total > MAX_KEYS_TOTAL {
            return Err(SimpleError::TooLarge { what: "the key data", size: total, limit: MAX_KEYS_TOTAL });
        }
        if keys.is_empty() {
            return Err(SimpleError::NoKeys);
        }

        let home = throwaway_home()?;
        let dir = home.path();
        let io = |context: &str| {
            let context = context.to_owned();
            move |source| SimpleError::Io { context, source }
        };
        let mut key_files = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let path = dir.join(format!("key-{i}"));
            std::fs::write(&path, key).map_err(io("writing a key into the temporary GnuPG home"))?;
            key_files.push(path);
        }
        let message = dir.join("message");
        std::fs::write(&message, signature).map_err(io("writing the signature into the temporary GnuPG home"))?;
        let output = dir.join("payload");

        // Import every key; the fingerprints gpg reports are the only keys accepted.
        let mut import = self.command(dir);
        import.arg("--import").args(&key_files);
        let imported = run(import, None, self.timeout, "import the policy's public keys")?;
        let accepted: Vec<String> = imported
            .status_lines()
            .filter_map(|fields| match fields.as_slice() {
                ["IMPORT_OK", _, fpr, ..] => Some(fpr.to_string()),
                _ => None,
            })
            .collect();
        if accepted.is_empty() {
            return Err(SimpleError::NoKeys);
        }

        let mut cmd = self.command(dir);
        cmd.arg("--max-output").arg(MAX_PAYLOAD_SIZE.to_string());
        cmd.arg("--output").arg(&output).arg("--verify").arg(&message);
        let verified = run(cmd, None, self.timeout, "verify the signature")?;
        let fingerprint = check_verify_status(&verified)?;
        if !accepted.contains(&fingerprint) {
            return Err(SimpleError::KeyNotAccepted(fingerprint));
        }
        let payload = read_capped(&output, MAX_PAYLOAD_SIZE, "the signature payload")?;
        let payload = Payload::parse(&payload)?;
        Ok(Verified {
            manifest_digest: payload.manifest_digest,
            docker_reference: payload.docker_reference,
            key_fingerprint: fingerprint,
        })
    }

    /// gpg in the throwaway `home`, with nothing from the user: no options file, no agent, no key servers.
    fn command(&self, home: &Path) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.env_remove("GNUPGHOME")
            .arg("--homedir")
            .arg(home)
            .args(["--no-options", "--batch", "--no-tty", "--no-autostart", "--no-auto-key-retrieve"])
            .args(["--no-auto-key-locate", "--status-fd", "1"]);
        cmd
    }
}

/// A fresh GnuPG home, mode 0700, removed when dropped.
fn throwaway_home() -> Result<tempfile::TempDir, SimpleError> {
    let io = |source| SimpleError::Io { context: "creating a temporary GnuPG home".into(), source };
    let home = tempfile::Builder::new().prefix("hoist-gpg-").tempdir().map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    }
    Ok(home)
}

/// gpg's verdict on one signed message, as gpgme's checks in containers/image: exactly one signature, good
/// and valid, nothing bad, expired or revoked, gpg content; the primary key's fingerprint from VALIDSIG.
fn check_verify_status(run: &Run) -> Result<String, SimpleError> {
    let mut sigs = 0;
    let mut good = false;
    let mut valid = None;
    for fields in run.status_lines() {
        match fields.first().copied() {
            Some("NEWSIG") => sigs += 1,
            Some("GOODSIG") => good = true,
            Some("VALIDSIG") => {
                // VALIDSIG <fpr> <date> <ts> <expire> <version> <reserved> <pk-algo> <hash-algo> <class> <primary-fpr>
                let primary = fields.get(10).or(fields.get(1)).map(|s| s.to_string());
                valid = primary;
            }
            Some(bad @ ("BADSIG" | "ERRSIG" | "EXPSIG" | "EXPKEYSIG" | "REVKEYSIG" | "TRUST_NEVER")) => {
                let why = match bad {
                    "BADSIG" => "the signature does not match its data (corrupted or altered)",
                    "ERRSIG" => "it cannot be checked: not made by any of the accepted keys, or unreadable",
                    "EXPSIG" => "the signature has expired",
                    "EXPKEYSIG" => "it was made by an expired key",
                    "REVKEYSIG" => "it was made by a revoked key",
                    _ => "the signing key is marked as never trusted",
                };
                return Err(SimpleError::Invalid(why.into()));
            }
            _ => {}
        }
    }
    if sigs > 1 {
        return Err(SimpleError::Invalid(format!("expected exactly one signature, found {sigs}")));
    }
    match (sigs, good, valid, run.status.success()) {
        (1, true, Some(fpr), true) if is_fingerprint(&fpr) => Ok(fpr),
        _ => Err(SimpleError::Invalid(format!("gpg did not accept it: {}", run.message()))),
    }
}

fn is_fingerprint(s: &str) -> bool {
    matches!(s.len(), 32 | 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Reads at most `limit` bytes of `path`; more is an error.
fn read_capped(path: &Path, limit: usize, what: &'static str) -> Result<Vec<u8>, SimpleError> {
    let io = |source| SimpleError::Io { context: format!("reading {what} gpg wrote"), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() > limit {
        return Err(SimpleError::TooLarge { what, size: bytes.len(), limit });
    }
    Ok(bytes)
}

// ---- running gpg ----------------------------------------------------------------------------------------

/// What one gpg child left: its exit status, its status-fd lines (stdout) and its messages, both capped.
struct Run {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Run {
    /// Each `[GNUPG:] KEYWORD ARGS...` line, split on spaces.
    fn status_lines(&self) -> impl Iterator<Item = Vec<&str>> {
        self.stdout
            .split(|&b| b == b'\n')
            .filter_map(|line| std::str::from_utf8(line).ok())
            .filter_map(|line| line.strip_prefix("[GNUPG:] "))
            .map(|rest| rest.split(' ').collect())
    }

    /// gpg's last message line, for an error: printable, one line, short.
    fn message(&self) -> String {
        let text = String::from_utf8_lossy(&self.stderr);
        let line = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
        let line = line.strip_prefix("gpg: ").unwrap_or(line);
        let mut out: String = line.chars().filter(|c| !c.is_control()).take(200).collect();
        if out.is_empty() {
            out = format!("it exited with {}", self.status);
        }
        out
    }
}

/// Runs `cmd` with `stdin` written to it (or nothing), its output captured with caps, killed when it has not
/// finished within `timeout`. A gpg that is not installed is [`SimpleError::GpgMissing`].
fn run(mut cmd: Command, stdin: Option<&[u8]>, timeout: Duration, action: &'static str) -> Result<Run, SimpleError> {
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => SimpleError::GpgMissing,
        _ => SimpleError::Spawn { action, source },
    })?;
    let writer = match (stdin, child.stdin.take()) {
        (Some(bytes), Some(mut pipe)) => {
            let bytes = zeroize::Zeroizing::new(bytes.to_vec());
            // A child that does not read is fine: the write fails or the kill below ends it.
            Some(std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            }))
        }
        _ => None,
    };
    let out = child.stdout.take().map(|p| std::thread::spawn(move || drain_capped(p, MAX_STATUS_OUTPUT)));
    let err = child.stderr.take().map(|p| std::thread::spawn(move || drain_capped(p, MAX_STDERR)));

    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(source) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SimpleError::Spawn { action, source });
            }
        }
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    let stdout = out.and_then(|t| t.join().ok()).unwrap_or_default();
    let stderr = err.and_then(|t| t.join().ok()).unwrap_or_default();
    match status {
        Some(status) => Ok(Run { status, stdout, stderr }),
        None => Err(SimpleError::Timeout { action, timeout }),
    }
}

/// Reads a pipe to its end, keeping at most `cap` bytes (the rest is read and dropped, so the child never
/// blocks on a full pipe).
fn drain_capped(mut pipe: impl Read, cap: usize) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

// ---- signing --------------------------------------------------------------------------------------------

/// `--sign-by FINGERPRINT`: signs with the user's GnuPG (`$GNUPGHOME`), the passphrase from
/// `--sign-passphrase-file` when given (never in argv or a child's environment).
pub struct GpgSigner {
    pub fingerprint: String,
    pub passphrase: Option<zeroize::Zeroizing<String>>,
}

impl GpgSigner {
    /// Signs `payload` as containers/image's gpgme mechanism: a binary (not armored) OpenPGP message with
    /// the payload as its literal data, by `--local-user FINGERPRINT`.
    pub fn sign_payload(&self, payload: &Payload) -> Result<Vec<u8>, SimpleError> {
        self.sign_with(OsStr::new("gpg"), payload)
    }

    fn sign_with(&self, program: &OsStr, payload: &Payload) -> Result<Vec<u8>, SimpleError> {
        let fpr = self.fingerprint.trim();
        if fpr.is_empty() {
            return Err(SimpleError::Gpg { action: "sign", message: "no key given to sign with".into() });
        }
        // The payload and the signature go through files in a private temporary directory; the passphrase
        // through gpg's stdin (`--passphrase-fd 0`).
        let dir = throwaway_home()?;
        let input = dir.path().join("payload");
        let output = dir.path().join("signature");
        std::fs::write(&input, payload.to_json())
            .map_err(|source| SimpleError::Io { context: "writing the payload to sign".into(), source })?;
        let mut cmd = Command::new(program);
        cmd.args(["--batch", "--no-armor", "--status-fd", "1", "--local-user", fpr]);
        let secret = self.passphrase.as_ref().map(|p| {
            let mut bytes = zeroize::Zeroizing::new(Vec::with_capacity(p.len() + 1));
            bytes.extend_from_slice(p.as_bytes());
            bytes.push(b'\n');
            bytes
        });
        if secret.is_some() {
            cmd.args(["--pinentry-mode", "loopback", "--passphrase-fd", "0"]);
        }
        cmd.arg("--output").arg(&output).arg("--sign").arg(&input);
        let action = "sign";
        let signed = run(cmd, secret.as_ref().map(|s| s.as_slice()), SIGN_TIMEOUT, action)?;
        let created = signed.status_lines().any(|f| f.first() == Some(&"SIG_CREATED"));
        if !signed.status.success() || !created {
            return Err(SimpleError::Gpg { action, message: format!("with key {fpr}: {}", signed.message()) });
        }
        read_capped(&output, MAX_SIGNATURE_SIZE, "the signature")
    }
}

impl Signer for GpgSigner {
    fn describe(&self) -> String {
        format!("GPG key {}", self.fingerprint)
    }

    fn sign(&self, digest: &Digest, identity: &Reference) -> Result<Signature, TrustError> {
        let payload = Payload::new(digest, identity);
        Ok(Signature::SimpleSigning(self.sign_payload(&payload)?))
    }
}

#[cfg(test)]
mod tests;
