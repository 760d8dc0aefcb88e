//! A file only its owner can read, replaced atomically under an exclusive lock.
//!
//! Shared by docker-credential-file (a JSON store), docker-credential-vault (an encrypted one) and hoist's
//! auth file edits:
//! - the directory is created 0700 and the file written 0600;
//! - a file with group/other permission bits, or owned by another user, and a directory writable by group or
//!   others (without the sticky bit) or owned by another non-root user, are refused, as ssh refuses such keys;
//! - writers hold an exclusive lock on `FILE.lock`, write a temp file in the same directory, fsync it, rename
//!   it over the file and fsync the directory, so readers (who take no lock) see the old or the new file, and a
//!   writer killed at any moment leaves at most a stale temp file, which the next writer removes.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// Something went wrong with a [`PrivateFile`]. Displays as one line, `WHAT PATH: message`
/// (`credential store /home/u/.config/hoist/credentials.json: cannot read: ...`); the message never holds the
/// file's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {}: {message}", path.display())]
pub struct FileError {
    /// What the file is, for people: `credential store`, `vault`, `auth file`.
    pub what: &'static str,
    pub path: PathBuf,
    /// What happened, without the file's name (`permissions 0644 are too open ...`).
    pub message: String,
}

impl FileError {
    /// The message without the `WHAT PATH: ` prefix, for callers that name the file their own way.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A helper reports a file error as a backend error with the same one-line text.
impl From<FileError> for hoist_helper_protocol::Error {
    fn from(e: FileError) -> Self {
        hoist_helper_protocol::Error::backend(e.to_string())
    }
}

/// A private file at a path, named for messages (`credential store`, `vault`).
#[derive(Debug, Clone)]
pub struct PrivateFile {
    path: PathBuf,
    what: &'static str,
}

/// Proof that the caller holds the exclusive write lock; unlocks on drop.
pub struct WriteLock {
    _file: File,
}

impl PrivateFile {
    pub fn new(path: impl Into<PathBuf>, what: &'static str) -> Self {
        PrivateFile { path: path.into(), what }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// An error about this file: displays as `WHAT PATH: message`.
    pub fn fail(&self, message: impl std::fmt::Display) -> FileError {
        FileError { what: self.what, path: self.path.clone(), message: message.to_string() }
    }

    pub fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    }

    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// The file's bytes (wiped on drop), or `None` when it does not exist. Refuses unsafe files and directories.
    pub fn read(&self) -> Result<Option<Zeroizing<Vec<u8>>>, FileError> {
        self.check_dir()?;
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.fail(format_args!("cannot open: {e}"))),
        };
        let meta = file.metadata().map_err(|e| self.fail(format_args!("cannot stat: {e}")))?;
        if !meta.is_file() {
            return Err(self.fail("is not a regular file"));
        }
        self.check_private(&meta)?;
        let mut raw = Zeroizing::new(Vec::new());
        file.read_to_end(&mut raw).map_err(|e| self.fail(format_args!("cannot read: {e}")))?;
        Ok(Some(raw))
    }

    /// Creates the directory (0700) if needed and takes the exclusive write lock, then removes temp files that
    /// killed writers left behind (no writer can be active while we hold the lock).
    pub fn lock(&self) -> Result<WriteLock, FileError> {
        let dir = self.dir().to_path_buf();
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| self.fail(format_args!("cannot create directory {}: {e}", dir.display())))?;
        self.check_dir()?;
        let lock_path = self.sibling(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| self.fail(format_args!("cannot open lock file {}: {e}", lock_path.display())))?;
        file.lock().map_err(|e| self.fail(format_args!("cannot lock {}: {e}", lock_path.display())))?;
        self.remove_stale_temps();
        Ok(WriteLock { _file: file })
    }

    /// Replaces the file with `bytes`: temp file (0600) in the same directory, fsync, rename, fsync directory.
    pub fn write(&self, _lock: &WriteLock, bytes: &[u8]) -> Result<(), FileError> {
        let dir = self.dir();
        let mut tmp = tempfile::Builder::new()
            .prefix(&self.temp_prefix())
            .suffix(".tmp")
            .permissions(fs::Permissions::from_mode(0o600))
            .tempfile_in(dir)
            .map_err(|e| self.fail(format_args!("cannot create a temporary file in {}: {e}", dir.display())))?;
        tmp.write_all(bytes)
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| self.fail(format_args!("cannot write: {e}")))?;
        tmp.persist(&self.path).map_err(|e| self.fail(format_args!("cannot replace: {}", e.error)))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| self.fail(format_args!("cannot sync directory {}: {e}", dir.display())))
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut s = self.path.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    }

    fn temp_prefix(&self) -> String {
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        format!(".{name}.")
    }

    fn remove_stale_temps(&self) {
        let prefix = self.temp_prefix();
        let Ok(entries) = fs::read_dir(self.dir()) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&prefix) && name.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Refuses a directory that others could use to swap the file under us.
    fn check_dir(&self) -> Result<(), FileError> {
        let dir = self.dir();
        let meta = match fs::metadata(dir) {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(self.fail(format_args!("cannot stat directory {}: {e}", dir.display()))),
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

    fn check_private(&self, meta: &fs::Metadata) -> Result<(), FileError> {
        let uid = euid();
        if meta.uid() != uid {
            return Err(self.fail(format_args!(
                "the file is owned by uid {}, not by you (uid {uid}); refusing to use it",
                meta.uid()
            )));
        }
        if meta.mode() & 0o077 != 0 {
            return Err(self.fail(format_args!(
                "permissions {:04o} are too open (group or others have access); run: chmod 600 {}",
                meta.mode() & 0o7777,
                self.path.display()
            )));
        }
        Ok(())
    }
}

/// The effective user id of this process.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn errors_name_the_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let f = PrivateFile::new(dir.path().join("store.json"), "credential store");
        let lock = f.lock().unwrap();
        f.write(&lock, b"secret-canary").unwrap();
        drop(lock);
        fs::set_permissions(f.path(), fs::Permissions::from_mode(0o640)).unwrap();
        let e = f.read().unwrap_err();
        let prefix = format!("credential store {}: ", f.path().display());
        assert_eq!(e.to_string(), format!("{prefix}{}", e.message()));
        assert!(e.message().starts_with("permissions 0640 are too open") && !e.message().contains("canary"), "{e}");
        let backend = hoist_helper_protocol::Error::from(e.clone());
        assert_eq!(backend, hoist_helper_protocol::Error::Backend(e.to_string()));
    }
}
