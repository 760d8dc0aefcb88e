//! Auth files: containers-auth.json(5) and docker's config.json, read in the containers tools' order and
//! edited without losing anything we don't understand.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use hoist_file_store::PrivateFile;
use hoist_helper_protocol::{Credentials, IDENTITY_TOKEN_USERNAME, Secret};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::AuthError;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One auth file in the search list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthPath {
    pub path: PathBuf,
    /// `~/.dockercfg`: the whole file is the `auths` map.
    pub legacy: bool,
}

/// The files to consult, in order, and the one `login` writes to.
#[derive(Debug, Clone)]
pub struct AuthFiles {
    pub paths: Vec<AuthPath>,
}

impl AuthFiles {
    /// `--authfile` / `REGISTRY_AUTH_FILE` alone when given; else `$XDG_RUNTIME_DIR/containers/auth.json`
    /// (root without XDG_RUNTIME_DIR: `/run/containers/0/auth.json`), `$XDG_CONFIG_HOME/containers/auth.json`,
    /// `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, and `~/.dockercfg`.
    pub fn discover(authfile: Option<&Path>) -> AuthFiles {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let explicit = authfile.map(Path::to_path_buf).or_else(|| var("REGISTRY_AUTH_FILE"));
        if let Some(p) = explicit {
            return AuthFiles { paths: vec![AuthPath { path: p, legacy: false }] };
        }
        let home = var("HOME").unwrap_or_else(|| PathBuf::from("/"));
        let runtime = match var("XDG_RUNTIME_DIR") {
            Some(d) => d.join("containers/auth.json"),
            // SAFETY: getuid has no preconditions.
            None => PathBuf::from(format!("/run/containers/{}/auth.json", unsafe { libc::getuid() })),
        };
        let config = var("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config")).join("containers/auth.json");
        let docker =
            var("DOCKER_CONFIG").map(|d| d.join("config.json")).unwrap_or_else(|| home.join(".docker/config.json"));
        AuthFiles {
            paths: vec![
                AuthPath { path: runtime, legacy: false },
                AuthPath { path: config, legacy: false },
                AuthPath { path: docker, legacy: false },
                AuthPath { path: home.join(".dockercfg"), legacy: true },
            ],
        }
    }

    /// The file `login` and `logout` edit: the explicit one, else the first in the list.
    pub fn primary(&self) -> &Path {
        &self.paths[0].path
    }
}

/// One parsed auth file.
#[derive(Debug, Clone, Default)]
pub struct AuthFile {
    pub path: PathBuf,
    pub legacy: bool,
    /// The whole document, so a rewrite keeps every field we don't use.
    doc: Map<String, Value>,
}

/// Where a credential was found in a file.
pub enum Found {
    /// An `auths` entry: the credential itself, under that key.
    Entry { key: String, creds: Credentials },
    /// `credHelpers` names a helper for this registry.
    Helper(String),
}

impl AuthFile {
    /// Reads `path`; a missing file is empty. Bad JSON is an error naming the file.
    pub fn read(p: &AuthPath) -> Result<AuthFile, AuthError> {
        let raw = match std::fs::read(&p.path) {
            Ok(b) => Zeroizing::new(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(AuthFile { path: p.path.clone(), legacy: p.legacy, doc: Map::new() });
            }
            Err(e) => return Err(AuthError::File { path: p.path.clone(), message: format!("cannot read: {e}") }),
        };
        let bad = |m: String| AuthError::File { path: p.path.clone(), message: m };
        if raw.iter().all(u8::is_ascii_whitespace) {
            return Ok(AuthFile { path: p.path.clone(), legacy: p.legacy, doc: Map::new() });
        }
        let value: Value = serde_json::from_slice(&raw).map_err(|e| {
            bad(format!("is not valid JSON (line {} column {}); fix or remove it", e.line(), e.column()))
        })?;
        let Value::Object(mut doc) = value else { return Err(bad("is not a JSON object".into())) };
        if p.legacy {
            doc = Map::from_iter([("auths".to_owned(), Value::Object(doc))]);
        }
        for field in ["auths", "credHelpers"] {
            if doc.get(field).is_some_and(|v| !v.is_object()) {
                return Err(bad(format!("`{field}` is not an object")));
            }
        }
        if doc.get("credsStore").is_some_and(|v| !v.is_string()) {
            return Err(bad("`credsStore` is not a string".into()));
        }
        Ok(AuthFile { path: p.path.clone(), legacy: p.legacy, doc })
    }

    fn auths(&self) -> Option<&Map<String, Value>> {
        self.doc.get("auths").and_then(Value::as_object)
    }

    pub fn cred_helpers(&self) -> BTreeMap<String, String> {
        self.doc
            .get("credHelpers")
            .and_then(Value::as_object)
            .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned()))).collect())
            .unwrap_or_default()
    }

    pub fn creds_store(&self) -> Option<String> {
        self.doc.get("credsStore").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
    }

    /// Every `auths` key (for listing).
    pub fn auth_keys(&self) -> Vec<String> {
        self.auths().map(|a| a.keys().cloned().collect()).unwrap_or_default()
    }

    /// Looks `key` (`host[:port][/namespace...]`) up as containers/image does: `credHelpers[registry]` first,
    /// then `auths` under the most specific key (`quay.io/org/repo`, `quay.io/org`, `quay.io`), then any
    /// `auths` key that normalises to the registry (`https://index.docker.io/v1/` is docker.io).
    pub fn find(&self, key: &str, honour_creds_store: bool) -> Result<Option<Found>, AuthError> {
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

    /// `{"auth": base64("user:password")}` and/or `{"identitytoken": ...}`; both empty means no credential.
    fn decode(&self, key: &str, registry: &str, v: &Value) -> Result<Option<Credentials>, AuthError> {
        let bad = |m: &str| AuthError::File { path: self.path.clone(), message: format!("entry {key:?}: {m}") };
        let auth = v.get("auth").and_then(Value::as_str).unwrap_or("");
        let token = v.get("identitytoken").and_then(Value::as_str).unwrap_or("");
        if !token.is_empty() {
            return Ok(Some(Credentials::new(registry, IDENTITY_TOKEN_USERNAME, token)));
        }
        if auth.is_empty() {
            return Ok(None);
        }
        let decoded = Zeroizing::new(B64.decode(auth.trim()).map_err(|_| bad("`auth` is not base64"))?);
        let text = std::str::from_utf8(&decoded).map_err(|_| bad("`auth` is not UTF-8"))?;
        let (user, pass) = text.split_once(':').ok_or_else(|| bad("`auth` is not user:password"))?;
        Ok(Some(Credentials { server_url: registry.to_owned(), username: user.to_owned(), secret: Secret::from(pass) }))
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

    pub fn set_auth(&mut self, key: &str, creds: &Credentials) {
        let entry = if creds.is_identity_token() {
            serde_json::json!({ "identitytoken": creds.secret.expose() })
        } else {
            let plain = Zeroizing::new(format!("{}:{}", creds.username, creds.secret.expose()));
            serde_json::json!({ "auth": B64.encode(plain.as_bytes()) })
        };
        let auths = self.doc.entry("auths").or_insert_with(|| Value::Object(Map::new()));
        if let Some(a) = auths.as_object_mut() {
            // Keep other fields of an existing entry (docker writes "email" and friends).
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

    pub fn clear_auths(&mut self) -> bool {
        match self.doc.get_mut("auths").and_then(Value::as_object_mut) {
            Some(a) if !a.is_empty() => {
                a.clear();
                true
            }
            _ => false,
        }
    }

    /// Edits the file at `path` under its lock: read, `change`, write atomically (0600) if it returns true.
    pub fn edit<T>(
        path: &Path,
        change: impl FnOnce(&mut AuthFile) -> Result<(T, bool), AuthError>,
    ) -> Result<T, AuthError> {
        let file = PrivateFile::new(path, "auth file");
        let lock = file
            .lock()
            .map_err(|e| AuthError::File { path: path.to_owned(), message: strip_prefix(&e.to_string(), path) })?;
        let mut current = AuthFile::read(&AuthPath { path: path.to_owned(), legacy: false })?;
        let (result, changed) = change(&mut current)?;
        if changed {
            let bytes = Zeroizing::new(
                serde_json::to_vec_pretty(&Value::Object(current.doc.clone())).expect("a JSON map serialises"),
            );
            let mut with_newline = Zeroizing::new(bytes.to_vec());
            with_newline.push(b'\n');
            file.write(&lock, &with_newline)
                .map_err(|e| AuthError::File { path: path.to_owned(), message: strip_prefix(&e.to_string(), path) })?;
        }
        Ok(result)
    }
}

fn strip_prefix(message: &str, path: &Path) -> String {
    message.strip_prefix(&format!("auth file {}: ", path.display())).unwrap_or(message).to_owned()
}

/// containers/image's `normalizeRegistry`: docker.io's names are one.
fn normalize_registry(registry: &str) -> String {
    match registry {
        "registry-1.docker.io" | "docker.io" | "index.docker.io" => "index.docker.io".to_owned(),
        r => r.to_owned(),
    }
}

/// containers/image's `normalizeAuthFileKey`: a key written as a URL (`https://host/v1/`) or in the legacy
/// file is reduced to its host.
fn normalize_key(key: &str, legacy: bool) -> String {
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
        AuthFile::read(&AuthPath { path: p, legacy: false }).unwrap()
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
        AuthFile::edit(&p, |f| {
            f.set_auth("a.io", &Credentials::new("a.io", "v", "q"));
            f.set_auth("b.io/ns", &Credentials::new("b.io", "<token>", "t"));
            Ok(((), true))
        })
        .unwrap();
        let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(v["future"], serde_json::json!([1, 2]));
        assert_eq!(v["credHelpers"]["h.io"], "pass");
        assert_eq!(v["auths"]["a.io"]["email"], "x@y");
        assert_eq!(v["auths"]["a.io"]["auth"], "djpx");
        assert_eq!(v["auths"]["b.io/ns"]["identitytoken"], "t");
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
        let removed = AuthFile::edit(&p, |f| {
            let r = f.remove_auth("a.io");
            Ok((r, r))
        })
        .unwrap();
        assert!(removed);
    }

    #[test]
    fn bad_files_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("auth.json");
        std::fs::write(&p, r#"{"auths":{"a.io":{"auth":"dTpw"}"#).unwrap();
        let e = AuthFile::read(&AuthPath { path: p.clone(), legacy: false }).unwrap_err().to_string();
        assert!(e.contains(&p.display().to_string()) && e.contains("not valid JSON") && !e.contains("dTpw"), "{e}");
        std::fs::write(&p, r#"{"auths":{"a.io":{"auth":"!!!"}}}"#).unwrap();
        let f = AuthFile::read(&AuthPath { path: p.clone(), legacy: false }).unwrap();
        let e = f.find("a.io", false).err().unwrap().to_string();
        assert!(e.contains("not base64"), "{e}");
        std::fs::write(&p, r#"{"auths":[]}"#).unwrap();
        assert!(AuthFile::read(&AuthPath { path: p, legacy: false }).is_err());
    }

    #[test]
    fn legacy_dockercfg() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".dockercfg");
        std::fs::write(&p, r#"{"https://legacy.io/v1/":{"auth":"dTpw","email":"e"}}"#).unwrap();
        let f = AuthFile::read(&AuthPath { path: p, legacy: true }).unwrap();
        assert_eq!(entry(&f, "legacy.io").unwrap().1, "u");
    }
}
