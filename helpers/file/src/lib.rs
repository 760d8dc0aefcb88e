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

use std::collections::BTreeMap;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use hoist_helper_protocol::{Credentials, Error, Secret, Store, server};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The file format version this code reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Environment variable naming the store file; overrides the XDG location.
pub const ENV_FILE: &str = "HOIST_CREDENTIALS_FILE";

/// A credential store in one JSON file.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

/// The file's content: `{"version":1,"credentials":{"SERVER":{"username":"..","secret":".."}}}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreFile {
    version: u32,
    credentials: BTreeMap<String, Entry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    username: String,
    secret: Secret,
}

impl Default for StoreFile {
    fn default() -> Self {
        StoreFile { version: FORMAT_VERSION, credentials: BTreeMap::new() }
    }
}

impl FileStore {
    /// The store at `$HOIST_CREDENTIALS_FILE`, else `$XDG_CONFIG_HOME/hoist/credentials.json`, else
    /// `$HOME/.config/hoist/credentials.json`.
    pub fn from_env() -> Result<Self, Error> {
        Ok(FileStore::at(default_path()?))
    }

    pub fn at(path: impl Into<PathBuf>) -> Self {
        FileStore { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fail(&self, what: impl std::fmt::Display) -> Error {
        Error::backend(format!("credential store {}: {what}", self.path.display()))
    }

    fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    }

    /// Reads the store; a missing file is an empty store.
    fn load(&self) -> Result<StoreFile, Error> {
        self.check_dir()?;
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(StoreFile::default()),
            Err(e) => return Err(self.fail(format_args!("cannot open: {e}"))),
        };
        let meta = file.metadata().map_err(|e| self.fail(format_args!("cannot stat: {e}")))?;
        if !meta.is_file() {
            return Err(self.fail("is not a regular file"));
        }
        check_private(&meta, "file", &self.path)?;
        let mut raw = Zeroizing::new(Vec::new());
        file.read_to_end(&mut raw).map_err(|e| self.fail(format_args!("cannot read: {e}")))?;
        let data: StoreFile = serde_json::from_slice(&raw).map_err(|e| {
            // Position only: serde's own text may quote the file's content, which holds secrets.
            self.fail(format_args!(
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
            return Err(self.fail(format_args!(
                "has format version {}, this docker-credential-file reads version {FORMAT_VERSION}",
                data.version
            )));
        }
        Ok(data)
    }

    /// Refuses a directory that others could use to swap the file under us.
    fn check_dir(&self) -> Result<(), Error> {
        let dir = self.dir();
        let meta = match fs::metadata(dir) {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(self.fail(format_args!("cannot stat directory {}: {e}", dir.display())));
            }
        };
        let uid = euid();
        if meta.uid() != uid && meta.uid() != 0 {
            return Err(self.fail(format_args!(
                "directory {} is owned by uid {}, not by you (uid {uid})",
                dir.display(),
                meta.uid()
            )));
        }
        let sticky = meta.mode() & 0o1000 != 0;
        if meta.mode() & 0o022 != 0 && !sticky {
            return Err(self.fail(format_args!(
                "directory {} is writable by group or others (mode {:04o}); run: chmod 700 {}",
                dir.display(),
                meta.mode() & 0o7777,
                dir.display()
            )));
        }
        Ok(())
    }

    /// Runs `change` on the store under the exclusive lock and writes the result atomically if it returns true.
    fn modify(&self, change: impl FnOnce(&mut StoreFile) -> bool) -> Result<(), Error> {
        let dir = self.dir().to_path_buf();
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| self.fail(format_args!("cannot create directory {}: {e}", dir.display())))?;
        let lock_path = sibling(&self.path, ".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| self.fail(format_args!("cannot open lock file {}: {e}", lock_path.display())))?;
        lock.lock().map_err(|e| self.fail(format_args!("cannot lock {}: {e}", lock_path.display())))?;
        self.remove_stale_temps();
        let mut data = self.load()?;
        if change(&mut data) {
            self.save(&data)?;
        }
        drop(lock); // unlocks
        Ok(())
    }

    fn temp_prefix(&self) -> String {
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        format!(".{name}.")
    }

    /// Temp files left by a writer that was killed. Only called under the lock, when no writer is active.
    fn remove_stale_temps(&self) {
        let prefix = self.temp_prefix();
        let Ok(entries) = fs::read_dir(self.dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&prefix) && name.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    fn save(&self, data: &StoreFile) -> Result<(), Error> {
        let mut bytes = Zeroizing::new(Vec::new());
        serde_json::to_writer_pretty(&mut *bytes, data).map_err(|e| self.fail(format_args!("cannot encode: {e}")))?;
        bytes.push(b'\n');
        let dir = self.dir();
        let mut tmp = tempfile::Builder::new()
            .prefix(&self.temp_prefix())
            .suffix(".tmp")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .tempfile_in(dir)
            .map_err(|e| self.fail(format_args!("cannot create a temporary file in {}: {e}", dir.display())))?;
        tmp.write_all(&bytes)
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| self.fail(format_args!("cannot write: {e}")))?;
        tmp.persist(&self.path).map_err(|e| self.fail(format_args!("cannot replace: {}", e.error)))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| self.fail(format_args!("cannot sync directory {}: {e}", dir.display())))?;
        Ok(())
    }
}

impl Store for FileStore {
    fn add(&self, creds: &Credentials) -> Result<(), Error> {
        self.modify(|data| {
            let old: Vec<String> =
                server::same_registry(data.credentials.keys().map(String::as_str), &creds.server_url)
                    .into_iter()
                    .map(str::to_owned)
                    .collect();
            for key in old {
                data.credentials.remove(&key);
            }
            data.credentials.insert(
                creds.server_url.clone(),
                Entry { username: creds.username.clone(), secret: creds.secret.clone() },
            );
            true
        })
    }

    fn get(&self, server_url: &str) -> Result<(String, Secret), Error> {
        let data = self.load()?;
        let key = server::lookup(data.credentials.keys().map(String::as_str), server_url).ok_or(Error::NotFound)?;
        let entry = &data.credentials[key];
        Ok((entry.username.clone(), entry.secret.clone()))
    }

    fn erase(&self, server_url: &str) -> Result<(), Error> {
        if !self.path.exists() {
            return self.load().map(drop); // still refuse an unsafe directory, but write nothing
        }
        self.modify(|data| {
            let keys: Vec<String> = server::same_registry(data.credentials.keys().map(String::as_str), server_url)
                .into_iter()
                .map(str::to_owned)
                .collect();
            for key in &keys {
                data.credentials.remove(key);
            }
            !keys.is_empty()
        })
    }

    fn list(&self) -> Result<BTreeMap<String, String>, Error> {
        Ok(self.load()?.credentials.into_iter().map(|(k, e)| (k, e.username.clone())).collect())
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

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn check_private(meta: &fs::Metadata, what: &str, path: &Path) -> Result<(), Error> {
    let uid = euid();
    if meta.uid() != uid {
        return Err(Error::backend(format!(
            "credential store {}: the {what} is owned by uid {}, not by you (uid {uid}); refusing to use it",
            path.display(),
            meta.uid()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(Error::backend(format!(
            "credential store {}: permissions {:04o} are too open (group or others have access); run: chmod 600 {}",
            path.display(),
            meta.mode() & 0o7777,
            path.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

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
        assert_eq!(fs::metadata(s.dir()).unwrap().mode() & 0o777, 0o700);
        let (u, p) = s.get("docker.io").unwrap();
        assert_eq!((u.as_str(), p.expose()), ("u", "p"));
        s.add(&Credentials::new("docker.io", "v", "q")).unwrap();
        assert_eq!(s.list().unwrap(), BTreeMap::from([("docker.io".into(), "v".into())]));
        s.erase("https://index.docker.io/v1/").unwrap();
        assert_eq!(s.get("docker.io"), Err(Error::NotFound));
        let leftovers: Vec<_> = fs::read_dir(s.dir()).unwrap().map(|e| e.unwrap().file_name()).collect();
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
