//! Files the user names for hoist to write — an archive (`save -o`, `copy … oci-archive:`/`docker-archive:`)
//! or a small record (`--digestfile`): what the name means, decided before any work, and the small record
//! written without hanging or replacing what is not hoist's.
//!
//! A regular file, or a name not there yet in an existing directory, gets a temp file beside it renamed over it
//! (nothing half-written is ever visible); a symlink is followed, so the rename happens at the file it names; a
//! device (`/dev/null`, `/dev/stdout`) or a FIFO is written through, never replaced; a directory, a missing
//! parent directory, a dangling symlink's missing parent, a socket or a symlink loop is an error at once.

use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::ArchiveError;

/// What writing to a path the user named means.
#[derive(Debug)]
pub enum Target {
    /// A regular file or a new one (symlinks resolved): a temp file in its directory, renamed over it.
    File(PathBuf),
    /// A device or a FIFO (symlinks resolved): opened for writing and written through.
    Through(PathBuf),
}

/// The directory `path` is in (`.` for a bare name).
pub fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// What writing to `target` means (see the module's doc); refusals name why, the caller adds the path.
pub fn resolve(target: &Path) -> io::Result<Target> {
    let mut path = target.to_owned();
    for _ in 0..40 {
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let dir = parent_of(&path);
                return match std::fs::metadata(dir) {
                    Ok(m) if m.is_dir() => Ok(Target::File(path)),
                    Ok(_) => Err(io::Error::new(
                        io::ErrorKind::NotADirectory,
                        format!("{} is not a directory", dir.display()),
                    )),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("directory {} does not exist", dir.display()),
                    )),
                    Err(e) => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        let ty = meta.file_type();
        if ty.is_symlink() {
            let link = std::fs::read_link(&path)?;
            path = if link.is_absolute() { link } else { parent_of(&path).join(link) };
            continue;
        }
        if ty.is_file() {
            return Ok(Target::File(path));
        }
        if ty.is_dir() {
            return Err(io::Error::new(io::ErrorKind::IsADirectory, "is a directory: give the name of a file"));
        }
        if ty.is_socket() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "is a socket: give the name of a file"));
        }
        return Ok(Target::Through(path));
    }
    Err(io::Error::new(io::ErrorKind::InvalidInput, "too many levels of symbolic links"))
}

/// A small record (a digest, an ID: a few bytes) to write to a file the user named, opened before the work
/// whose result it records: a name that cannot be written is refused before anything moves. A FIFO or device
/// is opened at once, non-blocking, so a FIFO nobody reads is refused at once rather than waited on without
/// end; a regular file is replaced whole at [`SmallFile::write`] (synced, then renamed), so it holds the old
/// bytes or the new, never part.
#[derive(Debug)]
pub struct SmallFile {
    shown: String,
    target: Opened,
}

#[derive(Debug)]
enum Opened {
    File(PathBuf),
    Through(std::fs::File),
}

impl SmallFile {
    /// Resolves `target` (see the module's doc) and opens it when it is a FIFO or a device.
    pub fn open(target: &Path) -> Result<SmallFile, ArchiveError> {
        let shown = target.display().to_string();
        let io = |e| ArchiveError::io(&shown, e);
        let target = match resolve(target).map_err(io)? {
            Target::File(path) => Opened::File(path),
            Target::Through(path) => {
                let opened = std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(&path);
                Opened::Through(opened.map_err(|e| match e.raw_os_error() {
                    Some(libc::ENXIO) => io(io::Error::new(io::ErrorKind::BrokenPipe, "a FIFO nobody reads")),
                    _ => io(e),
                })?)
            }
        };
        Ok(SmallFile { shown, target })
    }

    /// Writes `bytes` as the whole record.
    pub fn write(self, bytes: &[u8]) -> Result<(), ArchiveError> {
        let io = |e| ArchiveError::io(&self.shown, e);
        match self.target {
            Opened::File(path) => {
                let mut temp = tempfile::Builder::new().prefix(".hoist-").tempfile_in(parent_of(&path)).map_err(io)?;
                temp.write_all(bytes).map_err(io)?;
                {
                    use std::os::unix::fs::PermissionsExt;
                    let mode = std::fs::Permissions::from_mode(super::tar_out::new_file_mode());
                    temp.as_file().set_permissions(mode).map_err(io)?;
                }
                temp.as_file().sync_all().map_err(io)?;
                temp.persist(&path).map_err(|e| io(e.error))?;
                Ok(())
            }
            Opened::Through(mut file) => file.write_all(bytes).map_err(io),
        }
    }
}

/// Checks, before any work, a directory the user names for hoist to fill (`sync --dest dir`, `oci:DIR`,
/// `dir:DIR`): one that is there (a symlink followed) or not yet there (made with its parents, as skopeo makes
/// it); anything else there — a file, a FIFO, a device, a dangling symlink — is refused in one line, never
/// replaced.
pub fn check_dir(target: &Path) -> Result<(), ArchiveError> {
    let refused = |why: &str| ArchiveError::io(&target.display().to_string(), io::Error::other(why.to_owned()));
    match std::fs::symlink_metadata(target) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ArchiveError::io(&target.display().to_string(), e)),
        Ok(_) => match std::fs::metadata(target) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(refused("is not a directory (hoist writes a directory there)")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(refused("is a symlink to nothing (hoist writes a directory there)"))
            }
            Err(e) => Err(ArchiveError::io(&target.display().to_string(), e)),
        },
    }
}
