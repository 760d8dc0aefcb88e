//! A file only its owner can read, replaced atomically under an exclusive lock.
//!
//! Shared by docker-credential-file (a JSON store), docker-credential-vault (an encrypted one) and hoist's
//! auth file edits:
//! - the directory is created 0700 and the file written 0600;
//! - a file with group/other permission bits, or owned by another user, and a directory writable by group or
//!   others (without the sticky bit) or owned by another non-root user, are refused, as ssh refuses such keys;
//! - writers hold an exclusive lock on `FILE.lock`, write a temp file in the same directory, fsync it, rename
//!   it over the file and fsync the directory, so readers (who take no lock) see the old or the new file, and a
//!   writer killed at any moment leaves at most a stale temp file, which the next writer removes;
//! - a writer waits at most [`lock_wait`] (10 s, `HOIST_LOCK_TIMEOUT` seconds) for the lock; after a second it
//!   says so once to the file's [`LockNotice`] (given with [`PrivateFile::with_lock_notice`]: the helpers print
//!   it on stderr, hoist-core hands it to its observer as a warning), and at the end it fails naming the lock
//!   file;
//! - nothing here ever blocks on an odd file: every open is non-blocking and anything that is not a regular
//!   file (a FIFO, a device, a directory) is refused as "is not a regular file";
//! - a path that is a symbolic link owned by you is followed, and the lock, the temp file and the rename all
//!   happen beside the target, so a linked store is written through, never replaced by a regular file; a link
//!   owned by someone else (planted in a sticky directory) is refused.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

/// The environment variable that sets how long a writer waits for the lock, in seconds.
pub const LOCK_TIMEOUT_ENV: &str = "HOIST_LOCK_TIMEOUT";

/// How long a writer waits for the lock: `HOIST_LOCK_TIMEOUT` seconds, else 10 s.
pub fn lock_wait() -> Duration {
    std::env::var(LOCK_TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(10), Duration::from_secs)
}

/// After this long without the lock, the wait is announced.
const LOCK_NOTICE_AFTER: Duration = Duration::from_secs(1);

/// Who hears the one line saying a writer is waiting for a lock (`waiting for the lock PATH (another process
/// is writing)`), said once per wait after a second. A program prints it on stderr; a library passes it on
/// (hoist-core: to its observer, as a warning); this crate never prints. The default tells no one.
#[derive(Clone, Default)]
pub struct LockNotice(Option<Arc<Tell>>);

/// What a [`LockNotice`] calls with the line.
type Tell = dyn Fn(&str) + Send + Sync;

impl LockNotice {
    /// A notice that calls `tell` with the line.
    pub fn new(tell: impl Fn(&str) + Send + Sync + 'static) -> Self {
        LockNotice(Some(Arc::new(tell)))
    }

    fn tell(&self, line: &str) {
        if let Some(tell) = &self.0 {
            tell(line);
        }
    }
}

impl std::fmt::Debug for LockNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "LockNotice(..)" } else { "LockNotice(none)" })
    }
}

/// Opens `path` without blocking (a FIFO would otherwise wait for a writer for ever).
fn open_nonblocking(options: &mut OpenOptions, path: &Path) -> std::io::Result<File> {
    options.custom_flags(libc::O_NONBLOCK).open(path)
}

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
    /// How long a writer waits for the lock; `None`: [`lock_wait`].
    wait: Option<Duration>,
    /// Who hears that a writer waits.
    notice: LockNotice,
}

/// Proof that the caller holds the exclusive write lock; unlocks on drop. It carries the path the lock was
/// taken for (a link's target), so the write goes exactly there.
pub struct WriteLock {
    _file: File,
    target: PrivateFile,
}

impl PrivateFile {
    pub fn new(path: impl Into<PathBuf>, what: &'static str) -> Self {
        PrivateFile { path: path.into(), what, wait: None, notice: LockNotice::default() }
    }

    /// Tells `notice` when a writer has waited a second for the lock.
    pub fn with_lock_notice(mut self, notice: LockNotice) -> Self {
        self.notice = notice;
        self
    }

    /// Waits at most `wait` for the write lock (instead of [`lock_wait`]).
    pub fn with_lock_wait(mut self, wait: Duration) -> Self {
        self.wait = Some(wait);
        self
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
        self.path.exists() || fs::symlink_metadata(&self.path).is_ok()
    }

    /// The file this path leads to: itself, or — for a symbolic link owned by you — the link's target
    /// (followed up to 40 times), so reads, locks and writes all happen at the real file.
    fn resolved(&self) -> Result<PrivateFile, FileError> {
        let mut path = self.path.clone();
        for _ in 0..40 {
            match fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() => {
                    if m.uid() != euid() {
                        return Err(self.fail(format_args!(
                            "{} is a symbolic link owned by uid {}, not by you; refusing to follow it",
                            path.display(),
                            m.uid()
                        )));
                    }
                    let target =
                        fs::read_link(&path).map_err(|e| self.fail(format_args!("cannot read the link: {e}")))?;
                    path = match path.parent() {
                        Some(dir) if target.is_relative() => dir.join(target),
                        _ => target,
                    };
                }
                _ => return Ok(PrivateFile { path, ..self.clone() }),
            }
        }
        Err(self.fail("too many levels of symbolic links"))
    }

    /// The file's bytes (wiped on drop), or `None` when it does not exist. Refuses unsafe files and directories.
    pub fn read(&self) -> Result<Option<Zeroizing<Vec<u8>>>, FileError> {
        self.resolved()?.read_here()
    }

    fn read_here(&self) -> Result<Option<Zeroizing<Vec<u8>>>, FileError> {
        self.check_dir()?;
        let mut file = match open_nonblocking(OpenOptions::new().read(true), &self.path) {
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
        self.resolved()?.lock_here()
    }

    fn lock_here(&self) -> Result<WriteLock, FileError> {
        let dir = self.dir().to_path_buf();
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| self.fail(format_args!("cannot create directory {}: {e}", dir.display())))?;
        self.check_dir()?;
        let lock_path = self.sibling(".lock");
        let not_regular = || self.fail(format_args!("lock file {} is not a regular file", lock_path.display()));
        if fs::symlink_metadata(&lock_path).is_ok_and(|m| !m.is_file()) {
            return Err(not_regular());
        }
        let file =
            open_nonblocking(OpenOptions::new().create(true).truncate(false).write(true).mode(0o600), &lock_path)
                .map_err(|e| match e.raw_os_error() {
                    Some(libc::ENXIO) => not_regular(), // a FIFO with no reader
                    _ => self.fail(format_args!("cannot open lock file {}: {e}", lock_path.display())),
                })?;
        match file.metadata() {
            Ok(m) if m.is_file() => {}
            _ => return Err(not_regular()),
        }
        self.wait_for(&file, &lock_path)?;
        self.remove_stale_temps();
        Ok(WriteLock { _file: file, target: self.clone() })
    }

    /// Takes the exclusive lock on `file`, waiting at most [`lock_wait`].
    fn wait_for(&self, file: &File, lock_path: &Path) -> Result<(), FileError> {
        let (start, limit) = (Instant::now(), self.wait.unwrap_or_else(lock_wait));
        let mut announced = false;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(()),
                Err(fs::TryLockError::WouldBlock) => {}
                Err(fs::TryLockError::Error(e)) => {
                    return Err(self.fail(format_args!("cannot lock {}: {e}", lock_path.display())));
                }
            }
            let waited = start.elapsed();
            if waited >= limit {
                return Err(self.fail(format_args!(
                    "gave up after {:.1} s waiting for the lock {}: another process holds it (set {LOCK_TIMEOUT_ENV} \
                     to wait longer)",
                    limit.as_secs_f64(),
                    lock_path.display()
                )));
            }
            if !announced && waited >= LOCK_NOTICE_AFTER {
                announced = true;
                self.notice.tell(&format!("waiting for the lock {} (another process is writing)", lock_path.display()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Replaces the file with `bytes`: temp file (0600) in the same directory, fsync, rename, fsync directory.
    /// The file replaced is the one the lock was taken for (a link's target).
    pub fn write(&self, lock: &WriteLock, bytes: &[u8]) -> Result<(), FileError> {
        lock.target.write_here(bytes)
    }

    fn write_here(&self, bytes: &[u8]) -> Result<(), FileError> {
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

    fn mkfifo(path: &Path) {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    #[test]
    fn a_fifo_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let f = PrivateFile::new(dir.path().join("store.json"), "credential store");
        mkfifo(f.path());
        let started = Instant::now();
        assert!(f.read().unwrap_err().message().contains("is not a regular file"));
        let g = PrivateFile::new(dir.path().join("other.json"), "credential store");
        mkfifo(&dir.path().join("other.json.lock"));
        let e = g.lock().err().expect("a FIFO lock file is refused");
        assert!(e.message().contains("is not a regular file") && e.message().contains("other.json.lock"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(2), "no wait on a FIFO");
    }

    #[test]
    fn a_linked_store_is_written_through_to_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("real");
        fs::create_dir(&real_dir).unwrap();
        fs::set_permissions(&real_dir, fs::Permissions::from_mode(0o700)).unwrap();
        let target = real_dir.join("store.json");
        let link = dir.path().join("store.json");
        std::os::unix::fs::symlink("real/store.json", &link).unwrap();
        let f = PrivateFile::new(&link, "credential store");
        for round in [b"one".as_slice(), b"two"] {
            let lock = f.lock().unwrap();
            f.write(&lock, round).unwrap();
        }
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link is still a link");
        assert_eq!(fs::read(&target).unwrap(), b"two");
        assert_eq!(f.read().unwrap().unwrap().as_slice(), b"two");
        assert!(real_dir.join("store.json.lock").exists() && !dir.path().join("store.json.lock").exists());
    }

    #[test]
    fn a_held_lock_is_waited_for_then_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.json");
        let holder = PrivateFile::new(&path, "credential store");
        let held = holder.lock().unwrap();
        let told = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let notice = LockNotice::new({
            let told = told.clone();
            move |line| told.lock().unwrap().push(line.to_owned())
        });
        let waiter = PrivateFile::new(&path, "credential store").with_lock_wait(Duration::from_millis(1300));
        let started = Instant::now();
        let e = waiter.clone().with_lock_notice(notice).lock().err().expect("the lock is held");
        assert!(started.elapsed() >= Duration::from_millis(1300));
        let told = told.lock().unwrap();
        assert!(told.len() == 1 && told[0].starts_with("waiting for the lock ") && told[0].contains("store.json.lock"));
        assert!(e.message().contains("gave up") && e.message().contains("store.json.lock"), "{e}");
        drop(held);
        assert!(waiter.lock().is_ok(), "free again");
    }
}
