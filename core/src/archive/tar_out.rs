//! Writing a tar as a stream, in the style containers/image writes archives: ustar headers, files 0444,
//! directories 0755, owner 0:0, mtime 0, ending with two zero blocks.
//!
//! An archive goes to a file (a temp file beside the target, renamed over it by [`TarOut::finish`], so a failed
//! save leaves nothing behind) or to a stream (stdout). A target that is not a regular file — a device such as
//! /dev/null, a FIFO — is written through as a stream, never replaced; a symlink is followed, so the temp file
//! and the rename happen at the file it names ([`TarOut::to_file`]). A file can take an entry whose name and size are known
//! only after its bytes ([`TarOut::begin_entry`] / [`TarOut::end_entry`]: the header is written over its
//! reserved block), which a docker-archive needs for a layer decompressed on the way.
//!
//! What it is not: reading (`files`).

use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use hoist_fs::write_behind::WriteBehindFile;
use tempfile::NamedTempFile;

const BLOCK: u64 = 512;

enum Sink {
    File { w: BufWriter<WriteBehindFile>, temp: NamedTempFile, target: PathBuf, _tracked: crate::cleanup::Tracked },
    Stream(Box<dyn Write + Send>),
}

/// A tar being written.
pub struct TarOut {
    sink: Sink,
    pos: u64,
}

/// Where an entry whose header is written last begins.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    header_at: u64,
}

fn header(path: &str, ty: tar::EntryType, size: u64, mode: u32, link: Option<&str>) -> io::Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_path(path)?;
    h.set_entry_type(ty);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    // Go's archive/tar (podman, skopeo) writes zero device numbers as octal, not as empty fields.
    h.set_device_major(0)?;
    h.set_device_minor(0)?;
    if let Some(l) = link {
        h.set_link_name(l)?;
    }
    go_cksum(&mut h);
    Ok(h)
}

/// The header checksum as Go's archive/tar writes it (six octal digits, NUL, space), so hoist's archives are
/// byte for byte the ones podman writes.
fn go_cksum(h: &mut tar::Header) {
    h.as_old_mut().cksum = *b"        ";
    let sum: u32 = h.as_bytes().iter().map(|&b| u32::from(b)).sum();
    h.as_old_mut().cksum.copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// The mode a file created with 0666 gets under this process's umask (Go's `os.Create`, which podman and
/// skopeo write archives and blobs with); 0644 when the umask cannot be read. Read from /proc, since
/// `umask(2)` can only be read by setting it, which would race with other threads.
pub fn new_file_mode() -> u32 {
    let umask = std::fs::read_to_string("/proc/self/status").ok().and_then(|s| {
        s.lines().find_map(|l| l.strip_prefix("Umask:")).and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
    });
    0o666 & !umask.unwrap_or(0o022)
}

/// How an output path is written.
#[derive(Debug)]
enum Output {
    /// A regular file or a new one (symlinks resolved): temp file and rename.
    Replace(PathBuf),
    /// A device, FIFO or other non-regular file, opened for writing.
    Through(std::fs::File),
}

/// What writing an archive to `target` means (see [`TarOut::to_file`] and [`super::output`]).
fn output_of(target: &Path) -> io::Result<Output> {
    match super::output::resolve(target)? {
        super::output::Target::File(path) => Ok(Output::Replace(path)),
        // A device or a FIFO: written through, never replaced. Opening a FIFO waits for its reader.
        super::output::Target::Through(path) => {
            std::fs::OpenOptions::new().write(true).open(&path).map(Output::Through)
        }
    }
}

impl TarOut {
    /// A tar written to `target`. Checked before anything is written: a directory, a missing parent directory
    /// or a symlink loop is an error at once. A regular file (or a missing one) gets the archive by temp file
    /// in its directory, renamed over it by [`TarOut::finish`]; anything else (a device, a FIFO) is opened
    /// for writing and written through as a stream. A symlink is followed to what it names.
    pub fn to_file(target: &Path) -> io::Result<TarOut> {
        match output_of(target)? {
            Output::Through(file) => Ok(TarOut::to_stream(Box::new(file))),
            Output::Replace(target) => {
                let dir = super::output::parent_of(&target);
                let (temp, tracked) = crate::cleanup::temp_file(tempfile::Builder::new().prefix(".hoist-save-"), dir)?;
                let w = BufWriter::with_capacity(1 << 20, WriteBehindFile::new(temp.as_file().try_clone()?));
                Ok(TarOut { sink: Sink::File { w, temp, target, _tracked: tracked }, pos: 0 })
            }
        }
    }

    /// A tar written to a stream as it goes.
    pub fn to_stream(w: Box<dyn Write + Send>) -> TarOut {
        TarOut { sink: Sink::Stream(Box::new(BufWriter::with_capacity(1 << 20, w))), pos: 0 }
    }

    /// True when entries may be written before their header is known.
    pub fn seekable(&self) -> bool {
        matches!(self.sink, Sink::File { .. })
    }

    fn w(&mut self) -> &mut dyn Write {
        match &mut self.sink {
            Sink::File { w, .. } => w,
            Sink::Stream(w) => w,
        }
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.w().write_all(bytes)?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    fn pad(&mut self) -> io::Result<()> {
        let rem = self.pos % BLOCK;
        if rem != 0 {
            self.put(&[0u8; BLOCK as usize][..(BLOCK - rem) as usize])?;
        }
        Ok(())
    }

    pub fn dir(&mut self, path: &str) -> io::Result<()> {
        let h = header(path, tar::EntryType::Directory, 0, 0o755, None)?;
        self.put(h.as_bytes())
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> io::Result<()> {
        let h = header(path, tar::EntryType::Symlink, 0, 0, Some(target))?;
        self.put(h.as_bytes())
    }

    pub fn bytes(&mut self, path: &str, data: &[u8]) -> io::Result<()> {
        self.file(path, data.len() as u64, data)
    }

    /// A file of exactly `size` bytes read from `data`; fewer or more is an error (the archive is then bad).
    pub fn file(&mut self, path: &str, size: u64, data: impl Read) -> io::Result<()> {
        let h = header(path, tar::EntryType::Regular, size, 0o444, None)?;
        self.put(h.as_bytes())?;
        let start = self.pos;
        let mut limited = data.take(size + 1);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = limited.read(&mut buf)?;
            if n == 0 {
                break;
            }
            if self.pos - start + n as u64 > size {
                return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{path}: more than {size} bytes")));
            }
            self.put(&buf[..n])?;
        }
        if self.pos - start != size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{path}: {} bytes where {size} were expected", self.pos - start),
            ));
        }
        self.pad()
    }

    /// Reserves a header block for an entry whose name and size come after its bytes ([`TarOut::write`] them,
    /// then [`TarOut::end_entry`] or [`TarOut::rollback`]). Only on a file.
    pub fn begin_entry(&mut self) -> io::Result<Mark> {
        if !self.seekable() {
            return Err(io::Error::other("an entry of unknown size needs a file, not a stream"));
        }
        let mark = Mark { header_at: self.pos };
        self.put(&[0u8; BLOCK as usize])?;
        Ok(mark)
    }

    /// Bytes of the entry begun last.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.put(bytes)
    }

    /// Ends the entry begun at `mark`: pads it and writes its header with `path` and the size written.
    pub fn end_entry(&mut self, mark: Mark, path: &str) -> io::Result<u64> {
        let size = self.pos - mark.header_at - BLOCK;
        self.pad()?;
        let h = header(path, tar::EntryType::Regular, size, 0o444, None)?;
        match &mut self.sink {
            Sink::File { w, .. } => {
                w.flush()?;
                w.get_ref().get_ref().write_all_at(h.as_bytes(), mark.header_at)?;
            }
            Sink::Stream(_) => unreachable!("begin_entry refuses streams"),
        }
        Ok(size)
    }

    /// Forgets everything written since `mark` (an entry that turned out to be a duplicate).
    pub fn rollback(&mut self, mark: Mark) -> io::Result<()> {
        match &mut self.sink {
            Sink::File { w, .. } => {
                w.flush()?;
                w.get_ref().get_ref().set_len(mark.header_at)?;
                use std::io::Seek;
                w.get_mut().seek(io::SeekFrom::Start(mark.header_at))?;
                self.pos = mark.header_at;
                Ok(())
            }
            Sink::Stream(_) => unreachable!("begin_entry refuses streams"),
        }
    }

    /// Ends the archive: two zero blocks, flushed; a file gets the mode a new file gets ([`new_file_mode`], as
    /// podman and skopeo leave an archive: it holds no secret), is synced and renamed over its target.
    pub fn finish(mut self) -> io::Result<()> {
        self.put(&[0u8; 2 * BLOCK as usize])?;
        match self.sink {
            Sink::File { mut w, temp, target, _tracked } => {
                w.flush()?;
                let file = w.get_ref().get_ref();
                file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(new_file_mode()))?;
                file.sync_all()?;
                drop(w);
                temp.persist(&target).map_err(|e| e.error)?;
                Ok(())
            }
            Sink::Stream(mut w) => w.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_tar_others_read() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.tar");
        let mut t = TarOut::to_file(&target).unwrap();
        t.dir("blobs/").unwrap();
        t.bytes("a.json", b"{}").unwrap();
        let m = t.begin_entry().unwrap();
        t.write(b"late name").unwrap();
        assert_eq!(t.end_entry(m, "b.tar").unwrap(), 9);
        let m = t.begin_entry().unwrap();
        t.write(b"duplicate").unwrap();
        t.rollback(m).unwrap();
        t.symlink("x/layer.tar", "../b.tar").unwrap();
        assert!(t.file("short", 5, &b"abc"[..]).is_err());
        drop(t);
        assert!(!target.exists(), "an unfinished archive leaves nothing");

        let mut t = TarOut::to_file(&target).unwrap();
        t.bytes("a.json", b"{}").unwrap();
        let m = t.begin_entry().unwrap();
        t.write(b"late name").unwrap();
        t.end_entry(m, "b.tar").unwrap();
        let m = t.begin_entry().unwrap();
        t.write(b"dup").unwrap();
        t.rollback(m).unwrap();
        t.symlink("x/layer.tar", "../b.tar").unwrap();
        t.finish().unwrap();
        let mut archive = tar::Archive::new(std::fs::File::open(&target).unwrap());
        let names: Vec<(String, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.path().unwrap().display().to_string(), e.size())
            })
            .collect();
        assert_eq!(names, [("a.json".into(), 2), ("b.tar".into(), 9), ("x/layer.tar".into(), 0)]);
        let index = super::super::files::TarIndex::read(std::fs::File::open(&target).unwrap(), "out.tar").unwrap();
        let mut s = String::new();
        index.open("x/layer.tar").unwrap().0.read_to_string(&mut s).unwrap();
        assert_eq!(s, "late name");
    }
}
