//! The auth file codec: containers-auth.json(5), docker's config.json and the legacy `~/.dockercfg`, read,
//! looked up as containers/image does, and edited without losing anything we don't understand.
//!
//! An [`AuthFile`] keeps the whole JSON document, so a rewrite keeps unknown top-level keys, `credHelpers`,
//! `credsStore` and every field of an `auths` entry (`email`, ...) other than the credential it replaces.
//! Credentials are `{"auth": base64("user:password")}` or, for an identity (refresh) token,
//! `{"identitytoken": "..."}` (username [`IDENTITY_TOKEN_USERNAME`] in the protocol's terms).
//!
//! What it is not: discovery. Which files are searched, in which order, and which one `login` writes are the
//! caller's policy (hoist-core's `AuthFiles`). Errors name the file and, for an entry, its key; they never
//! quote the file's content.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use hoist_helper_protocol::{Credentials, IDENTITY_TOKEN_USERNAME, Secret, docker_hub};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::private_file::{FileError, LockNotice, PrivateFile};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// An auth file that cannot be read, parsed, decoded or written. Displays as `PATH: message`; never holds a
/// secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct AuthFileError {
    pub path: PathBuf,
    pub message: String,
}

impl From<FileError> for AuthFileError {
    fn from(e: FileError) -> Self {
        AuthFileError { path: e.path, message: e.message }
    }
}

/// One parsed auth file.
#[derive(Debug, Clone, Default)]
pub struct AuthFile {
    pub path: PathBuf,
    /// `~/.dockercfg`: the whole file is the `auths` map (and its keys are URLs or hosts).
    pub legacy: bool,
    /// The whole document, so a rewrite keeps every field we don't use.
    doc: Map<String, Value>,
}

/// Where a credential was found in a file.
pub enum Found {
    /// An `auths` entry: the credential itself, under that key.
    Entry { key: String, creds: Credentials },
    /// `credHelpers` (or `credsStore`, when asked to honour it) names a helper for this registry.
    Helper(String),
}

impl AuthFile {
    /// An empty document for `path` (what a missing file reads as).
    pub fn new(path: impl Into<PathBuf>, legacy: bool) -> AuthFile {
        AuthFile { path: path.into(), legacy, doc: Map::new() }
    }

    /// Reads `path` whatever its permissions (docker's config.json is often 0644); a missing or blank file
    /// is empty.
    pub fn read(path: &Path, legacy: bool) -> Result<AuthFile, AuthFileError> {
        match std::fs::read(path) {
            Ok(raw) => AuthFile::parse(path, legacy, &Zeroizing::new(raw)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AuthFile::new(path, legacy)),
            Err(e) => Err(AuthFileError { path: path.to_owned(), message: format!("cannot read: {e}") }),
        }
    }

    /// Parses the content `raw` of the file at `path`: blank is empty; otherwise a JSON object whose `auths`
    /// and `credHelpers` are objects and `credsStore` a string. A legacy file is the `auths` map itself.
    pub fn parse(path: &Path, legacy: bool, raw: &[u8]) -> Result<AuthFile, AuthFileError> {
        let bad = |m: String| AuthFileError { path: path.to_owned(), message: m };
        if raw.iter().all(u8::is_ascii_whitespace) {
            return Ok(AuthFile::new(path, legacy));
        }
        // Position only: serde's own text may quote the file's content, which holds secrets.
        let value: Value = serde_json::from_slice(raw).map_err(|e| {
            bad(format!("is not valid JSON (line {} column {}); fix or remove it", e.line(), e.column()))
        })?;
        let Value::Object(mut doc) = value else { return Err(bad("is not a JSON object".into())) };
        if legacy {
            doc = Map::from_iter([("auths".to_owned(), Value::Object(doc))]);
        }
        // `null` is an empty map (Go decodes it as a nil map, and skopeo accepts it): drop it so edits add one.
        for field in ["auths", "credHelpers", "credsStore"] {
            if doc.get(field).is_some_and(Value::is_null) {
                doc.remove(field);
            }
        }
        for field in ["auths", "credHelpers"] {
            if doc.get(field).is_some_and(|v| !v.is_object()) {
                return Err(bad(format!("`{field}` is not an object")));
            }
        }
        if doc.get("credsStore").is_some_and(|v| !v.is_string()) {
            return Err(bad("`credsStore` is not a string".into()));
        }
        Ok(AuthFile { path: path.to_owned(), legacy, doc })
    }

    fn auths(&self) -> Option<&Map<String, Value>> {
        self.doc.get("auths").and_then(Value::as_object)
    }

    /// `credHelpers`: registry → helper name.
    pub fn cred_helpers(&self) -> BTreeMap<String, String> {
        self.doc
            .get("credHelpers")
            .and_then(Value::as_object)
            .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned()))).collect())
            .unwrap_or_default()
    }

    /// `credsStore`, when set and not empty.
    pub fn creds_store(&self) -> Option<String> {
        self.doc.get("credsStore").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
    }

    /// Every `auths` key (for listing).
    pub fn auth_keys(&self) -> Vec<String> {
        self.auths().map(|a| a.keys().cloned().collect()).unwrap_or_default()
    }

    /// Looks `key` (`host[:port][/namespace...]`) up as containers/image does: `credHelpers[registry]` first,
    /// then (if `honour_creds_store`, as docker does) `credsStore`, then `auths` under the most specific key
    /// (`quay.io/org/repo`, `quay.io/org`, `quay.io`), then any `auths` key that normalises to the registry
    /// (`https://index.docker.io/v1/` is docker.io).
    pub fn find(&self, key: &str, honour_creds_store: bool) -> Result<Option<Found>, AuthFileError> {
        let registry = key.split('/').next().unwrap_or(key);
        if let Some(helper) = self.cred_helpers().get(registry) {
            return Ok(Some(Found::Helper(helper.clone())));
        }
        if honour_creds_store && let Some(store) = self.creds_store() {
            return Ok(Some(Found::Helper(store)));
        }
        let Some(auths) = self.auths() else { return Ok(None) };
        let mut candidate = key;
        loop {
            if let Some(v) = auths.get(candidate)
                && let Some(creds) = self.decode(candidate, registry, v)?
            {
                return Ok(Some(Found::Entry { key: candidate.to_owned(), creds }));
            }
            match candidate.rfind('/') {
                Some(i) => candidate = &candidate[..i],
                None => break,
            }
        }
        let wanted = normalize_registry(registry);
        for (k, v) in auths {
            if normalize_key(k, self.legacy) == wanted
                && let Some(creds) = self.decode(k, registry, v)?
            {
                return Ok(Some(Found::Entry { key: k.clone(), creds }));
            }
        }
        Ok(None)
    }

    /// Every `auths` entry that holds a credential, with `server_url` the key as written (for copying a whole
    /// file). Entries with neither `auth` nor `identitytoken` are skipped; a malformed `auth` is an error.
    pub fn credentials(&self) -> Result<Vec<Credentials>, AuthFileError> {
        let Some(auths) = self.auths() else { return Ok(Vec::new()) };
        auths.iter().filter_map(|(k, v)| self.decode(k, k, v).transpose()).collect()
    }

    /// `{"auth": base64("user:password")}` and/or `{"identitytoken": ...}`; both empty means no credential.
    fn decode(&self, key: &str, server_url: &str, v: &Value) -> Result<Option<Credentials>, AuthFileError> {
        let bad = |m: &str| AuthFileError { path: self.path.clone(), message: format!("entry {key:?}: {m}") };
        let auth = v.get("auth").and_then(Value::as_str).unwrap_or("");
        let token = v.get("identitytoken").and_then(Value::as_str).unwrap_or("");
        if !token.is_empty() {
            return Ok(Some(Credentials::new(server_url, IDENTITY_TOKEN_USERNAME, token)));
        }
        if auth.is_empty() {
            return Ok(None);
        }
        let decoded = Zeroizing::new(B64.decode(auth.trim()).map_err(|_| bad("`auth` is not base64"))?);
        let text = std::str::from_utf8(&decoded).map_err(|_| bad("`auth` is not UTF-8"))?;
        let (user, pass) = text.split_once(':').ok_or_else(|| bad("`auth` is not user:password"))?;
        Ok(Some(Credentials {
            server_url: server_url.to_owned(),
            username: user.to_owned(),
            secret: Secret::from(pass),
        }))
    }

    /// The username stored under `key` in `auths` (no secret), for listings.
    pub fn username_of(&self, key: &str) -> Option<String> {
        let v = self.auths()?.get(key)?;
        if v.get("identitytoken").and_then(Value::as_str).is_some_and(|t| !t.is_empty()) {
            return Some(IDENTITY_TOKEN_USERNAME.to_owned());
        }
        let decoded = Zeroizing::new(B64.decode(v.get("auth")?.as_str()?.trim()).ok()?);
        let text = std::str::from_utf8(&decoded).ok()?;
        Some(text.split_once(':')?.0.to_owned())
    }

    /// Stores `creds` under `key` exactly as written: `identitytoken` for an identity token, else `auth`. An
    /// existing entry keeps its other fields (docker writes `email` and friends).
    pub fn set_auth(&mut self, key: &str, creds: &Credentials) {
        let entry = if creds.is_identity_token() {
            serde_json::json!({ "identitytoken": creds.secret.expose() })
        } else {
            let plain = Zeroizing::new(format!("{}:{}", creds.username, creds.secret.expose()));
            serde_json::json!({ "auth": B64.encode(plain.as_bytes()) })
        };
        let auths = self.doc.entry("auths").or_insert_with(|| Value::Object(Map::new()));
        if let Some(a) = auths.as_object_mut() {
            match a.get_mut(key).and_then(Value::as_object_mut) {
                Some(existing) => {
                    existing.remove("auth");
                    existing.remove("identitytoken");
                    if let Value::Object(new) = entry {
                        existing.extend(new);
                    }
                }
                None => {
                    a.insert(key.to_owned(), entry);
                }
            }
        }
    }

    /// Removes `key` (and, for a registry key, its normalised spellings). True when something was removed.
    pub fn remove_auth(&mut self, key: &str) -> bool {
        let legacy = self.legacy;
        let Some(auths) = self.doc.get_mut("auths").and_then(Value::as_object_mut) else { return false };
        let mut removed = auths.remove(key).is_some();
        if !key.contains('/') {
            let wanted = normalize_registry(key);
            let spellings: Vec<String> = auths.keys().filter(|k| normalize_key(k, legacy) == wanted).cloned().collect();
            for k in spellings {
                removed |= auths.remove(&k).is_some();
            }
        }
        removed
    }

    /// Names `helper` for `registry` in `credHelpers`.
    pub fn set_cred_helper(&mut self, registry: &str, helper: &str) {
        let helpers = self.doc.entry("credHelpers").or_insert_with(|| Value::Object(Map::new()));
        if let Some(h) = helpers.as_object_mut() {
            h.insert(registry.to_owned(), Value::String(helper.to_owned()));
        }
    }

    /// Empties `auths`; true when it held something.
    pub fn clear_auths(&mut self) -> bool {
        match self.doc.get_mut("auths").and_then(Value::as_object_mut) {
            Some(a) if !a.is_empty() => {
                a.clear();
                true
            }
            _ => false,
        }
    }

    /// Edits the (non-legacy) file at `path` under its lock: read it whatever its permissions, run `change`,
    /// and if it returns true write the document atomically (pretty JSON and a newline, 0600). `notice` hears
    /// when the edit has waited a second for the lock.
    pub fn edit<T, E: From<AuthFileError>>(
        path: &Path,
        notice: &LockNotice,
        change: impl FnOnce(&mut AuthFile) -> Result<(T, bool), E>,
    ) -> Result<T, E> {
        AuthFile::edit_with(path, false, notice, change)
    }

    /// [`AuthFile::edit`] for a file that must be private: one readable by group or others, or owned by
    /// someone else, is refused as a [`PrivateFile`] refuses it.
    pub fn edit_private<T, E: From<AuthFileError>>(
        path: &Path,
        notice: &LockNotice,
        change: impl FnOnce(&mut AuthFile) -> Result<(T, bool), E>,
    ) -> Result<T, E> {
        AuthFile::edit_with(path, true, notice, change)
    }

    fn edit_with<T, E: From<AuthFileError>>(
        path: &Path,
        private: bool,
        notice: &LockNotice,
        change: impl FnOnce(&mut AuthFile) -> Result<(T, bool), E>,
    ) -> Result<T, E> {
        let file = PrivateFile::new(path, "auth file").with_lock_notice(notice.clone());
        let lock = file.lock().map_err(AuthFileError::from)?;
        let mut current = if private {
            match file.read().map_err(AuthFileError::from)? {
                Some(raw) => AuthFile::parse(path, false, &raw)?,
                None => AuthFile::new(path, false),
            }
        } else {
            AuthFile::read(path, false)?
        };
        let (result, changed) = change(&mut current)?;
        if changed {
            let mut bytes = Zeroizing::new(Vec::new());
            serde_json::to_writer_pretty(&mut *bytes, &current.doc).expect("a JSON map serialises");
            bytes.push(b'\n');
            file.write(&lock, &bytes).map_err(AuthFileError::from)?;
        }
        Ok(result)
    }
}

/// containers/image's `normalizeRegistry`: Docker Hub's names are one.
fn normalize_registry(registry: &str) -> &str {
    docker_hub::containers_auth_canonical(registry)
}

/// containers/image's `normalizeAuthFileKey`: a key written as a URL (`https://host/v1/`) or in the legacy
/// file is reduced to its host.
fn normalize_key(key: &str, legacy: bool) -> &str {
    let stripped = key.strip_prefix("http://").or_else(|| key.strip_prefix("https://"));
    let host = match stripped {
        Some(s) => s.split('/').next().unwrap_or(s),
        None if legacy => key.split('/').next().unwrap_or(key),
        None => key,
    };
    normalize_registry(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(json: &str) -> AuthFile {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("auth.json");
        std::fs::write(&p, json).unwrap();
        AuthFile::read(&p, false).unwrap()
    }

    fn entry(f: &AuthFile, key: &str) -> Option<(String, String, String)> {
        match f.find(key, false).unwrap()? {
            Found::Entry { key, creds } => Some((key, creds.username.clone(), creds.secret.expose().to_owned())),
            Found::Helper(h) => Some(("helper".into(), h, String::new())),
        }
    }

    #[test]
    fn lookup_order() {
        // "u:p" = dTpw, "org:o" = b3JnOm8=, "hub:h" = aHViOmg=
        let f = file(
            r#"{"auths":{"quay.io":{"auth":"dTpw"},"quay.io/org":{"auth":"b3JnOm8="},
                "https://index.docker.io/v1/":{"auth":"aHViOmg="},"tok.io":{"auth":"","identitytoken":"refresh"}},
                "credHelpers":{"helped.io":"file"},"credsStore":"desktop","other":{"kept":true}}"#,
        );
        assert_eq!(entry(&f, "quay.io/org/repo").unwrap(), ("quay.io/org".into(), "org".into(), "o".into()));
        assert_eq!(entry(&f, "quay.io/other").unwrap(), ("quay.io".into(), "u".into(), "p".into()));
        assert_eq!(entry(&f, "docker.io").unwrap(), ("https://index.docker.io/v1/".into(), "hub".into(), "h".into()));
        assert_eq!(entry(&f, "docker.io/library/alpine").unwrap().1, "hub");
        assert_eq!(entry(&f, "tok.io").unwrap(), ("tok.io".into(), "<token>".into(), "refresh".into()));
        assert_eq!(entry(&f, "helped.io/x").unwrap(), ("helper".into(), "file".into(), String::new()));
        assert!(entry(&f, "none.io").is_none());
        assert!(
            matches!(f.find("none.io", true).unwrap(), Some(Found::Helper(h)) if h == "desktop"),
            "docker honours credsStore"
        );
    }

    #[test]
    fn edits_keep_everything_else() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("containers/auth.json");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(
            &p,
            r#"{"auths":{"a.io":{"auth":"dTpw","email":"x@y"}},"credHelpers":{"h.io":"pass"},"future":[1,2]}"#,
        )
        .unwrap();
        AuthFile::edit(&p, &LockNotice::default(), |f| {
            f.set_auth("a.io", &Credentials::new("a.io", "v", "q"));
            f.set_auth("b.io/ns", &Credentials::new("b.io", "<token>", "t"));
            Ok::<_, AuthFileError>(((), true))
        })
        .unwrap();
        let raw = std::fs::read_to_string(&p).unwrap();
        assert!(raw.ends_with("}\n"), "pretty JSON and a newline: {raw}");
        let v: Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(v["future"], serde_json::json!([1, 2]));
        assert_eq!(v["credHelpers"]["h.io"], "pass");
        assert_eq!(v["auths"]["a.io"]["email"], "x@y");
        assert_eq!(v["auths"]["a.io"]["auth"], "djpx");
        assert_eq!(v["auths"]["b.io/ns"]["identitytoken"], "t");
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
        let removed = AuthFile::edit(&p, &LockNotice::default(), |f| {
            let r = f.remove_auth("a.io");
            Ok::<_, AuthFileError>((r, r))
        })
        .unwrap();
        assert!(removed);
    }

    #[test]
    fn bad_files_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("auth.json");
        std::fs::write(&p, r#"{"auths":{"a.io":{"auth":"dTpw"}"#).unwrap();
        let e = AuthFile::read(&p, false).unwrap_err();
        assert_eq!(e.path, p);
        let e = e.to_string();
        assert!(e.contains(&p.display().to_string()) && e.contains("not valid JSON") && !e.contains("dTpw"), "{e}");
        std::fs::write(&p, r#"{"auths":{"a.io":{"auth":"!!!"}}}"#).unwrap();
        let f = AuthFile::read(&p, false).unwrap();
        let e = f.find("a.io", false).err().unwrap().to_string();
        assert!(e.contains("not base64"), "{e}");
        std::fs::write(&p, r#"{"auths":[]}"#).unwrap();
        assert!(AuthFile::read(&p, false).is_err());
    }

    #[test]
    fn null_maps_are_empty_and_edits_fill_them() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("auth.json");
        std::fs::write(&p, r#"{"auths": null, "credHelpers": null, "credsStore": null, "kept": 1}"#).unwrap();
        let f = AuthFile::read(&p, false).unwrap();
        assert!(f.find("a.io", true).unwrap().is_none() && f.auth_keys().is_empty());
        AuthFile::edit(&p, &LockNotice::default(), |f| {
            f.set_auth("a.io", &Credentials::new("a.io", "u", "p"));
            Ok::<_, AuthFileError>(((), true))
        })
        .unwrap();
        let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(v["auths"]["a.io"]["auth"], "dTpw");
        assert_eq!(v["kept"], 1);
    }

    #[test]
    fn legacy_dockercfg() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".dockercfg");
        std::fs::write(&p, r#"{"https://legacy.io/v1/":{"auth":"dTpw","email":"e"}}"#).unwrap();
        let f = AuthFile::read(&p, true).unwrap();
        assert_eq!(entry(&f, "legacy.io").unwrap().1, "u");
    }

    #[test]
    fn private_edits_refuse_open_files_and_lock_errors_are_typed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("auth.json");
        std::fs::write(&p, r#"{"auths":{}}"#).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = AuthFile::edit_private(&p, &LockNotice::default(), |_| Ok::<_, AuthFileError>(((), true))).unwrap_err();
        assert_eq!(e.path, p);
        assert!(e.message.starts_with("permissions 0644 are too open"), "{e}");
        AuthFile::edit(&p, &LockNotice::default(), |_| Ok::<_, AuthFileError>(((), true))).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = AuthFile::edit(&p, &LockNotice::default(), |_| Ok::<_, AuthFileError>(((), false))).unwrap_err();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(e.message.starts_with("directory ") && !e.message.contains("auth file"), "{e}");
    }

    #[test]
    fn credentials_lists_every_entry_as_written() {
        let f = file(
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw","email":"e"},"t.io":{"identitytoken":"r"},
                "empty.io":{"auth":""},"odd.io":"not an entry"}}"#,
        );
        let all: Vec<_> = f
            .credentials()
            .unwrap()
            .into_iter()
            .map(|c| (c.server_url.clone(), c.username.clone(), c.secret.expose().to_owned()))
            .collect();
        assert_eq!(
            all,
            [
                ("https://index.docker.io/v1/".into(), "u".into(), "p".into()),
                ("t.io".into(), "<token>".into(), "r".into())
            ]
        );
        assert!(file(r#"{"auths":{"a.io":{"auth":"dTpw"},"b.io":{"auth":"!!!"}}}"#).credentials().is_err());
    }
}
