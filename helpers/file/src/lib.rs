//! The backend of docker-credential-file: credentials in one JSON file that only its owner can read.
//!
//! What it guarantees (docs/helpers/file.md has the user-facing version):
//! - The file is 0600 and its directory 0700 when we create them; a store readable by group or others, or
//!   owned by another user, is refused rather than used (as ssh refuses such keys).
//! - Every change holds an exclusive lock on `FILE.lock`, reads, modifies, writes a temp file in the same
//!   directory, fsyncs it, renames it over the store and fsyncs the directory. Readers take no lock: a rename
//!   is atomic, so they see the old or the new file, never a half-written one. A writer killed at any moment
//!   leaves at most a stale temp file, removed by the next writer.
//! - Keys match exactly first, then by `hoist_helper_protocol::server::normalize`; `store` replaces every
//!   key of the same registry, `erase` removes them all.
//!
//! What it is not: encryption at rest. Secrets are plain text in a private file, as in auth.json.

pub mod private_file;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hoist_helper_protocol::{Credentials, Error, Secret, Store, server};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub use private_file::PrivateFile;

/// The file format version this code reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Environment variable naming the store file; overrides the XDG location.
pub const ENV_FILE: &str = "HOIST_CREDENTIALS_FILE";

/// A credential store in one JSON file.
#[derive(Debug, Clone)]
pub struct FileStore {
    file: PrivateFile,
}

/// The credential map both hoist file formats hold: docker-credential-file's JSON file as it is, and
/// docker-credential-vault's plaintext before encryption:
/// `{"version":1,"credentials":{"SERVER":{"username":"..","secret":".."}}}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contents {
    pub version: u32,
    pub credentials: BTreeMap<String, Entry>,
}

#[derive(Serialize, Deserialize, Clone)]
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
}

impl FileStore {
    /// The store at `$HOIST_CREDENTIALS_FILE`, else `$XDG_CONFIG_HOME/hoist/credentials.json`, else
    /// `$HOME/.config/hoist/credentials.json`.
    pub fn from_env() -> Result<Self, Error> {
        Ok(FileStore::at(default_path()?))
    }

    pub fn at(path: impl Into<PathBuf>) -> Self {
        FileStore { file: PrivateFile::new(path, "credential store") }
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Reads the store; a missing file is an empty store.
    fn load(&self) -> Result<Contents, Error> {
        let Some(raw) = self.file.read()? else { return Ok(Contents::default()) };
        let data: Contents = serde_json::from_slice(&raw).map_err(|e| {
            // Position only: serde's own text may quote the file's content, which holds secrets.
            self.file.fail(format_args!(
                "is not a valid credential store (JSON {} at line {} column {}); fix or remove it",
                match e.classify() {
                    serde_json::error::Category::Data => "of the wrong shape",
                    serde_json::error::Category::Eof => "cut short",
                    _ => "syntax error",
                },
                e.line(),
                e.column()
            ))
        })?;
        if data.version != FORMAT_VERSION {
            return Err(self.file.fail(format_args!(
                "has format version {}, this docker-credential-file reads version {FORMAT_VERSION}",
                data.version
            )));
        }
        Ok(data)
    }

    /// Runs `change` on the store under the exclusive lock and writes the result atomically if it returns true.
    fn modify(&self, change: impl FnOnce(&mut Contents) -> bool) -> Result<(), Error> {
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

impl Store for FileStore {
    fn add(&self, creds: &Credentials) -> Result<(), Error> {
        self.modify(|data| {
            data.put(creds);
            true
        })
    }

    fn get(&self, server_url: &str) -> Result<(String, Secret), Error> {
        let data = self.load()?;
        let entry = data.get(server_url).ok_or(Error::NotFound)?;
        Ok((entry.username.clone(), entry.secret.clone()))
    }

    fn erase(&self, server_url: &str) -> Result<(), Error> {
        if !self.file.exists() {
            return self.load().map(drop); // still refuse an unsafe directory, but write nothing
        }
        self.modify(|data| data.remove(server_url))
    }

    fn list(&self) -> Result<BTreeMap<String, String>, Error> {
        Ok(self.load()?.usernames())
    }
}

fn default_path() -> Result<PathBuf, Error> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(p) = var(ENV_FILE) {
        return Ok(p);
    }
    let config = match var("XDG_CONFIG_HOME").filter(|p| p.is_absolute()) {
        Some(p) => p,
        None => var("HOME")
            .map(|h| h.join(".config"))
            .ok_or_else(|| Error::backend(format!("neither {ENV_FILE}, XDG_CONFIG_HOME nor HOME is set")))?,
    };
    Ok(config.join("hoist").join("credentials.json"))
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    fn store() -> (tempfile::TempDir, FileStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = FileStore::at(dir.path().join("sub/credentials.json"));
        (dir, s)
    }

    #[test]
    fn round_trip_and_modes() {
        let (_d, s) = store();
        s.add(&Credentials::new("https://index.docker.io/v1/", "u", "p")).unwrap();
        assert_eq!(fs::metadata(s.path()).unwrap().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(s.file.dir()).unwrap().mode() & 0o777, 0o700);
        let (u, p) = s.get("docker.io").unwrap();
        assert_eq!((u.as_str(), p.expose()), ("u", "p"));
        s.add(&Credentials::new("docker.io", "v", "q")).unwrap();
        assert_eq!(s.list().unwrap(), BTreeMap::from([("docker.io".into(), "v".into())]));
        s.erase("https://index.docker.io/v1/").unwrap();
        assert_eq!(s.get("docker.io"), Err(Error::NotFound));
        let leftovers: Vec<_> = fs::read_dir(s.file.dir()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers.len(), 2, "{leftovers:?}"); // the store and its lock file
    }

    #[test]
    fn refuses_open_permissions_and_bad_files() {
        let (_d, s) = store();
        s.add(&Credentials::new("r", "u", "secret-canary")).unwrap();
        fs::set_permissions(s.path(), fs::Permissions::from_mode(0o644)).unwrap();
        let e = s.get("r").unwrap_err().to_string();
        assert!(e.contains("too open") && e.contains("chmod 600"), "{e}");
        fs::set_permissions(s.path(), fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(s.path(), r#"{"version":1,"credentials":{"r":{"username":"u","secret":5}}}"#).unwrap();
        let e = s.list().unwrap_err().to_string();
        assert!(e.contains("wrong shape") && !e.contains("integer"), "{e}");
        fs::write(s.path(), r#"{"version":1,"credentials":{"r":{"username":"u","secret":"secret-canary"}}"#).unwrap();
        let e = s.list().unwrap_err().to_string();
        assert!(e.contains("cut short") && !e.contains("canary"), "{e}");
        fs::write(s.path(), r#"{"version":2,"credentials":{}}"#).unwrap();
        assert!(s.list().unwrap_err().to_string().contains("version 2"));
    }
}
