//! The backend of docker-credential-file: credentials in one JSON file that only its owner can read.
//!
//! The file itself (format, locking, atomic replacement, refusals) is hoist-fs's `credentials::CredentialFile`
//! on a `PrivateFile`; this crate is the [`Store`] over it and where the file is by default.
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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hoist_fs::LockNotice;
use hoist_fs::credentials::CredentialFile;
use hoist_helper_protocol::{Credentials, Error, Secret, Store};

/// Environment variable naming the store file; overrides the XDG location.
pub const ENV_FILE: &str = "HOIST_CREDENTIALS_FILE";

/// A credential store in one JSON file (hoist-fs's [`CredentialFile`]).
#[derive(Debug, Clone)]
pub struct FileStore {
    file: CredentialFile,
}

impl FileStore {
    /// The store at [`default_path`].
    pub fn from_env() -> Result<Self, Error> {
        Ok(FileStore::at(default_path()?))
    }

    pub fn at(path: impl Into<PathBuf>) -> Self {
        FileStore { file: CredentialFile::at(path) }
    }

    /// Tells `notice` when a change has waited a second for the file's lock (the helper prints it).
    pub fn with_lock_notice(self, notice: LockNotice) -> Self {
        FileStore { file: self.file.with_lock_notice(notice) }
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

impl Store for FileStore {
    fn add(&self, creds: &Credentials) -> Result<(), Error> {
        Ok(self.file.modify(|data| {
            data.put(creds);
            true
        })?)
    }

    fn get(&self, server_url: &str) -> Result<(String, Secret), Error> {
        let data = self.file.load()?;
        let entry = data.get(server_url).ok_or(Error::NotFound)?;
        Ok((entry.username.clone(), entry.secret.clone()))
    }

    fn erase(&self, server_url: &str) -> Result<(), Error> {
        if !self.file.exists() {
            return Ok(self.file.load().map(drop)?); // still refuse an unsafe directory, but write nothing
        }
        Ok(self.file.modify(|data| data.remove(server_url))?)
    }

    fn list(&self) -> Result<BTreeMap<String, String>, Error> {
        Ok(self.file.load()?.usernames())
    }
}

/// `$HOIST_CREDENTIALS_FILE`, else `$XDG_CONFIG_HOME/hoist/credentials.json`, else
/// `$HOME/.config/hoist/credentials.json`.
pub fn default_path() -> Result<PathBuf, Error> {
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
