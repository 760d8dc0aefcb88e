//! The credential map hoist's own stores hold, and the JSON file that holds it in the clear.
//!
//! `{"version":1,"credentials":{"SERVER":{"username":"..","secret":".."}}}` is docker-credential-file's file
//! as it is on disk ([`CredentialFile`]) and docker-credential-vault's plaintext before encryption
//! ([`Contents`] alone). Keys match exactly first, then by `hoist_helper_protocol::server::normalize`;
//! [`Contents::put`] replaces every key of the same registry and [`Contents::remove`] removes them all.
//!
//! What it is not: encryption. A [`CredentialFile`] is plain text in a private file, as auth.json is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hoist_helper_protocol::{Credentials, Secret, server};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::private_file::{FileError, LockNotice, PrivateFile};

/// The format version this code reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The credential map: `{"version":1,"credentials":{"SERVER":{"username":"..","secret":".."}}}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contents {
    pub version: u32,
    pub credentials: BTreeMap<String, Entry>,
}

/// One stored credential (`Debug` redacts the secret).
#[derive(Debug, Serialize, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub username: String,
    pub secret: Secret,
}

impl Default for Contents {
    fn default() -> Self {
        Contents { version: FORMAT_VERSION, credentials: BTreeMap::new() }
    }
}

impl Contents {
    /// Stores `creds`, replacing every key of the same registry (one registry, one credential).
    pub fn put(&mut self, creds: &Credentials) {
        self.remove(&creds.server_url);
        self.credentials
            .insert(creds.server_url.clone(), Entry { username: creds.username.clone(), secret: creds.secret.clone() });
    }

    /// The entry for `server_url`: exact key first, then normalised.
    pub fn get(&self, server_url: &str) -> Option<&Entry> {
        let key = server::lookup(self.credentials.keys().map(String::as_str), server_url)?;
        self.credentials.get(key)
    }

    /// Removes every key of `server_url`'s registry; true when something was removed.
    pub fn remove(&mut self, server_url: &str) -> bool {
        let keys: Vec<String> = server::same_registry(self.credentials.keys().map(String::as_str), server_url)
            .into_iter()
            .map(str::to_owned)
            .collect();
        for key in &keys {
            self.credentials.remove(key);
        }
        !keys.is_empty()
    }

    /// Every key with its username.
    pub fn usernames(&self) -> BTreeMap<String, String> {
        self.credentials.iter().map(|(k, e)| (k.clone(), e.username.clone())).collect()
    }

    /// Parses a credential file's content `raw`, refusing other format versions and anything that is not the
    /// map. The error is what follows the file's name in a message; it names only the position of a JSON
    /// error, never the content.
    pub fn parse(raw: &[u8]) -> Result<Contents, String> {
        let data: Contents = serde_json::from_slice(raw).map_err(|e| {
            // Position only: serde's own text may quote the file's content, which holds secrets.
            format!(
                "is not a valid credential store (JSON {} at line {} column {}); fix or remove it",
                match e.classify() {
                    serde_json::error::Category::Data => "of the wrong shape",
                    serde_json::error::Category::Eof => "cut short",
                    _ => "syntax error",
                },
                e.line(),
                e.column()
            )
        })?;
        if data.version != FORMAT_VERSION {
            return Err(format!(
                "has format version {}, this docker-credential-file reads version {FORMAT_VERSION}",
                data.version
            ));
        }
        Ok(data)
    }

    /// Every entry as the protocol's credentials, `server_url` being the key as stored.
    pub fn to_credentials(&self) -> Vec<Credentials> {
        self.credentials
            .iter()
            .map(|(k, e)| Credentials { server_url: k.clone(), username: e.username.clone(), secret: e.secret.clone() })
            .collect()
    }
}

/// The credential map in a JSON file only its owner can read (a [`PrivateFile`] named `credential store`).
#[derive(Debug, Clone)]
pub struct CredentialFile {
    file: PrivateFile,
}

impl CredentialFile {
    pub fn at(path: impl Into<PathBuf>) -> Self {
        CredentialFile { file: PrivateFile::new(path, "credential store") }
    }

    /// Tells `notice` when a change has waited a second for the lock.
    pub fn with_lock_notice(self, notice: LockNotice) -> Self {
        CredentialFile { file: self.file.with_lock_notice(notice) }
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// The directory the file is in.
    pub fn dir(&self) -> &Path {
        self.file.dir()
    }

    pub fn exists(&self) -> bool {
        self.file.exists()
    }

    /// Reads the map; a missing file is an empty map. Refuses unsafe files, other format versions and
    /// anything that is not the map, naming only the position of a JSON error (never the content).
    pub fn load(&self) -> Result<Contents, FileError> {
        let Some(raw) = self.file.read()? else { return Ok(Contents::default()) };
        Contents::parse(&raw).map_err(|message| self.file.fail(message))
    }

    /// Runs `change` on the map under the exclusive lock and writes the result atomically (pretty JSON and a
    /// newline, 0600) if it returns true.
    pub fn modify(&self, change: impl FnOnce(&mut Contents) -> bool) -> Result<(), FileError> {
        let lock = self.file.lock()?;
        let mut data = self.load()?;
        if change(&mut data) {
            let mut bytes = Zeroizing::new(Vec::new());
            serde_json::to_writer_pretty(&mut *bytes, &data)
                .map_err(|e| self.file.fail(format_args!("cannot encode: {e}")))?;
            bytes.push(b'\n');
            self.file.write(&lock, &bytes)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn put_replaces_every_spelling_and_modify_writes_only_changes() {
        let dir = tempfile::tempdir().unwrap();
        let f = CredentialFile::at(dir.path().join("credentials.json"));
        assert!(f.load().unwrap().credentials.is_empty());
        f.modify(|c| {
            c.put(&Credentials::new("https://index.docker.io/v1/", "u", "p"));
            c.put(&Credentials::new("quay.io", "q", "s"));
            true
        })
        .unwrap();
        let raw = fs::read_to_string(f.path()).unwrap();
        assert!(raw.ends_with("}\n"), "{raw}");
        f.modify(|c| {
            c.put(&Credentials::new("docker.io", "v", "q"));
            true
        })
        .unwrap();
        let c = f.load().unwrap();
        assert_eq!(c.usernames(), BTreeMap::from([("docker.io".into(), "v".into()), ("quay.io".into(), "q".into())]));
        assert_eq!(c.get("registry-1.docker.io").unwrap().secret.expose(), "q");
        let all = c.to_credentials();
        assert_eq!(all.len(), 2);
        assert_eq!((all[1].server_url.as_str(), all[1].secret.expose()), ("quay.io", "s"));
        fs::remove_file(f.path()).unwrap();
        f.modify(|c| c.remove("quay.io")).unwrap();
        assert!(!f.exists(), "nothing changed, nothing written");
    }

    #[test]
    fn load_errors_never_quote_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = CredentialFile::at(dir.path().join("credentials.json"));
        f.modify(|_| true).unwrap();
        fs::write(f.path(), r#"{"version":1,"credentials":{"r":{"username":"u","secret":"secret-canary"}}"#).unwrap();
        let e = f.load().unwrap_err();
        assert_eq!(e.what, "credential store");
        assert!(e.message().starts_with("is not a valid credential store (JSON cut short"), "{e}");
        assert!(!e.to_string().contains("canary"), "{e}");
        fs::write(f.path(), r#"{"version":2,"credentials":{}}"#).unwrap();
        assert_eq!(
            f.load().unwrap_err().message(),
            "has format version 2, this docker-credential-file reads version 1"
        );
    }
}
