//! The files of an archive or a directory, read safely: a tar walked once into an index of its entries (each
//! checked), then read by offset; a directory read without following links out of it.
//!
//! A tar is untrusted input. Refused while walking, each with the entry's name: absolute paths and `..`,
//! an entry twice, devices, FIFOs and sparse files, more than [`MAX_ENTRIES`] entries, and entries whose
//! declared size runs past the end of the file (a truncated or lying header). Links are kept as links and
//! resolved only when read: a symbolic link is followed inside the archive (relative to its directory; at most
//! [`MAX_LINK_DEPTH`] hops), a hard link names an archive path; either pointing outside the archive, at
//! nothing, or at a directory is refused. Nothing is ever extracted, so no entry can write anywhere.
//!
//! What it is not: knowing what the files mean (`docker`, `oci`).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::ArchiveError;

/// The most entries a tar may have.
pub const MAX_ENTRIES: usize = 100_000;
/// How many links may be followed to reach a file.
pub const MAX_LINK_DEPTH: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    File {
        offset: u64,
        size: u64,
    },
    Dir,
    /// A symbolic link: its target, already resolved against its directory (an archive path).
    Symlink(String),
    /// A hard link to this archive path.
    HardLink(String),
}

/// A tar file's entries, by normalised path.
#[derive(Debug)]
pub struct TarIndex {
    file: Arc<File>,
    shown: String,
    entries: HashMap<String, Kind>,
    /// Regular files and links, in archive order.
    order: Vec<String>,
}

/// Why a path in an archive (an entry's name, a link's target, a path asked for) is refused; the text is the
/// fact alone ("an absolute path"), for the caller to put after the path it names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("an absolute path")]
    Absolute,
    #[error("a path with \"..\"")]
    DotDot,
    #[error("an empty path")]
    Empty,
    /// A symbolic link to an absolute path.
    #[error("a link to the absolute path {target:?}")]
    LinkAbsolute { target: String },
    /// A symbolic link whose `..` climb above the archive's root.
    #[error("a link to {target:?}, outside the archive")]
    LinkOutside { target: String },
    /// A symbolic link to the archive's root itself.
    #[error("a link to {target:?}, the archive's root")]
    LinkToRoot { target: String },
    /// An entry's name or a link's target (`what`) that is not UTF-8.
    #[error("{what} is not UTF-8")]
    NotUtf8 { what: &'static str },
}

/// `path` as an archive path: `./` and empty components dropped; absolute paths and `..` refused.
pub fn normalize(path: &str) -> Result<String, PathError> {
    if path.starts_with('/') {
        return Err(PathError::Absolute);
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(PathError::DotDot),
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(PathError::Empty);
    }
    Ok(parts.join("/"))
}

/// A symbolic link's target (as stored in the entry at `link`) as an archive path, or why it leaves the archive.
fn resolve_link_target(link: &str, target: &str) -> Result<String, PathError> {
    if target.starts_with('/') {
        return Err(PathError::LinkAbsolute { target: target.to_owned() });
    }
    let mut parts: Vec<&str> = link.split('/').collect();
    parts.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(PathError::LinkOutside { target: target.to_owned() });
                }
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(PathError::LinkToRoot { target: target.to_owned() });
    }
    Ok(parts.join("/"))
}

fn utf8(bytes: &[u8], what: &'static str) -> Result<String, PathError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| PathError::NotUtf8 { what })
}

impl TarIndex {
    /// Walks the uncompressed tar in `file` (named `shown` in errors) and indexes its entries.
    pub fn read(file: File, shown: &str) -> Result<TarIndex, ArchiveError> {
        let bad = |m: String| ArchiveError::Invalid(format!("{shown}: {m}"));
        let len = file.metadata().map_err(|e| ArchiveError::io(shown, e))?.len();
        let mut entries: HashMap<String, Kind> = HashMap::new();
        let mut order = Vec::new();
        {
            use std::io::Seek;
            (&file).rewind().map_err(|e| ArchiveError::io(shown, e))?;
            let mut archive = tar::Archive::new(&file);
            let walk = archive.entries_with_seek().map_err(|e| bad(format!("not a tar archive: {e}")))?;
            for (n, entry) in walk.enumerate() {
                let entry = entry.map_err(|e| bad(format!("not a valid tar archive: {e}")))?;
                if n >= MAX_ENTRIES {
                    return Err(bad(format!("more than {MAX_ENTRIES} entries")));
                }
                let raw = utf8(&entry.path_bytes(), "an entry's name").map_err(|e| bad(e.to_string()))?;
                let ty = entry.header().entry_type();
                if ty.is_dir() && raw.split('/').all(|p| p.is_empty() || p == ".") {
                    continue; // the root itself (`./`), as `tar -C DIR -cf - .` writes it
                }
                let path = normalize(&raw).map_err(|m| bad(format!("entry {raw:?}: {m} is refused")))?;
                let kind = if ty.is_file() || ty == tar::EntryType::Continuous {
                    let (offset, size) = (entry.raw_file_position(), entry.size());
                    match offset.checked_add(size) {
                        Some(end) if end <= len => {}
                        _ => {
                            return Err(bad(format!(
                                "entry {path:?} declares {size} bytes, but the archive ends {} bytes into them \
                                 (truncated, or a header that lies about its size)",
                                len.saturating_sub(offset)
                            )));
                        }
                    }
                    Kind::File { offset, size }
                } else if ty.is_dir() {
                    Kind::Dir
                } else if ty.is_symlink() || ty.is_hard_link() {
                    let target = entry
                        .link_name_bytes()
                        .ok_or_else(|| bad(format!("entry {path:?}: a link without a target")))?;
                    let target = utf8(&target, "a link's target").map_err(|e| bad(e.to_string()))?;
                    if ty.is_symlink() {
                        Kind::Symlink(
                            resolve_link_target(&path, &target)
                                .map_err(|m| bad(format!("entry {path:?}: {m} is refused")))?,
                        )
                    } else {
                        Kind::HardLink(
                            normalize(&target)
                                .map_err(|m| bad(format!("entry {path:?}: a hard link to {m} is refused")))?,
                        )
                    }
                } else if ty.is_pax_global_extensions() {
                    continue;
                } else {
                    return Err(bad(format!(
                        "entry {path:?} is a {}; an image archive holds only files, directories and links",
                        kind_name(ty)
                    )));
                };
                if let Some(old) = entries.get(&path) {
                    // tar and podman write a directory's entry once; anything else twice is ambiguous.
                    if !(*old == Kind::Dir && kind == Kind::Dir) {
                        return Err(bad(format!("entry {path:?} appears twice")));
                    }
                }
                if kind != Kind::Dir {
                    order.push(path.clone());
                }
                entries.insert(path, kind);
            }
        }
        Ok(TarIndex { file: Arc::new(file), shown: shown.to_owned(), entries, order })
    }

    /// The regular files and links, in archive order.
    pub fn paths(&self) -> &[String] {
        &self.order
    }

    pub fn contains(&self, path: &str) -> bool {
        normalize(path).is_ok_and(|p| self.entries.contains_key(&p))
    }

    /// The regular file `path` names after following links: its final path, offset and size.
    pub fn resolve(&self, path: &str) -> Result<(String, u64, u64), ArchiveError> {
        let bad = |m: String| ArchiveError::Invalid(format!("{}: {m}", self.shown));
        let start = normalize(path).map_err(|m| bad(format!("{path:?}: {m} is refused")))?;
        let mut at = start.clone();
        for _ in 0..=MAX_LINK_DEPTH {
            match self.entries.get(&at) {
                None if at == start => return Err(bad(format!("{path:?} is missing"))),
                None => return Err(bad(format!("{path:?} is a link to {at:?}, which is missing"))),
                Some(Kind::Dir) => return Err(bad(format!("{path:?} is a directory, not a file"))),
                Some(Kind::File { offset, size }) => return Ok((at, *offset, *size)),
                Some(Kind::Symlink(t) | Kind::HardLink(t)) => at = t.clone(),
            }
        }
        Err(bad(format!("{path:?}: more than {MAX_LINK_DEPTH} links to follow (a loop?)")))
    }

    /// A reader of the file `path` names, and its size.
    pub fn open(&self, path: &str) -> Result<(EntryReader, u64), ArchiveError> {
        let (_, offset, size) = self.resolve(path)?;
        Ok((EntryReader { file: self.file.clone(), pos: offset, end: offset + size }, size))
    }

    pub fn shown(&self) -> &str {
        &self.shown
    }
}

fn kind_name(ty: tar::EntryType) -> &'static str {
    match ty {
        tar::EntryType::Char => "character device",
        tar::EntryType::Block => "block device",
        tar::EntryType::Fifo => "FIFO",
        tar::EntryType::GNUSparse => "sparse file",
        _ => "special file",
    }
}

/// One tar entry's bytes, read by offset (so several can be read at once).
pub struct EntryReader {
    file: Arc<File>,
    pos: u64,
    end: u64,
}

impl Read for EntryReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (self.end - self.pos).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the archive ended inside an entry"));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// Where an archive's files are: a tar's index or a directory.
#[derive(Debug, Clone)]
pub enum Files {
    Tar(Arc<TarIndex>),
    Dir(PathBuf),
}

impl Files {
    /// How errors name `path` (`archive.tar: manifest.json`, `/dir/manifest.json`).
    pub fn shown(&self, path: &str) -> String {
        match self {
            Files::Tar(t) => format!("{}: {path}", t.shown),
            Files::Dir(d) => d.join(path).display().to_string(),
        }
    }

    /// Where the files are, for messages.
    pub fn root(&self) -> String {
        match self {
            Files::Tar(t) => t.shown.clone(),
            Files::Dir(d) => d.display().to_string(),
        }
    }

    pub fn exists(&self, path: &str) -> bool {
        match self {
            Files::Tar(t) => t.contains(path),
            Files::Dir(d) => normalize(path).is_ok_and(|p| d.join(p).symlink_metadata().is_ok()),
        }
    }

    /// The path of the file `path` names after links (in a directory, links are refused: itself).
    pub fn resolved(&self, path: &str) -> Result<String, ArchiveError> {
        match self {
            Files::Tar(t) => Ok(t.resolve(path)?.0),
            Files::Dir(_) => normalize(path).map_err(|m| ArchiveError::Invalid(format!("{}: {m}", self.shown(path)))),
        }
    }

    /// A reader of the file at `path` and its size.
    pub fn open(&self, path: &str) -> Result<(Box<dyn Read + Send>, u64), ArchiveError> {
        match self {
            Files::Tar(t) => {
                let (r, size) = t.open(path)?;
                Ok((Box::new(r), size))
            }
            Files::Dir(d) => {
                let file = open_in_dir(d, path)?;
                let size = file.metadata().map_err(|e| ArchiveError::io(&self.shown(path), e))?.len();
                Ok((Box::new(file), size))
            }
        }
    }

    /// The whole file at `path`, refused past `cap` bytes.
    pub fn read_small(&self, path: &str, cap: usize) -> Result<Vec<u8>, ArchiveError> {
        let (r, size) = self.open(path)?;
        if size > cap as u64 {
            return Err(ArchiveError::Invalid(format!(
                "{}: {size} bytes, more than the {cap} allowed",
                self.shown(path)
            )));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        r.take(cap as u64 + 1).read_to_end(&mut bytes).map_err(|e| ArchiveError::io(&self.shown(path), e))?;
        if bytes.len() as u64 != size {
            return Err(ArchiveError::Invalid(format!(
                "{}: {} bytes read where {size} were declared",
                self.shown(path),
                bytes.len()
            )));
        }
        Ok(bytes)
    }
}

/// Opens the regular file `rel` under `root` for reading, refusing links (at every level), `..`, absolute
/// paths and anything that is not a regular file; a FIFO never blocks.
pub fn open_in_dir(root: &Path, rel: &str) -> Result<File, ArchiveError> {
    let shown = root.join(rel).display().to_string();
    let rel = normalize(rel).map_err(|m| ArchiveError::Invalid(format!("{shown}: {m} is refused")))?;
    let parts: Vec<&str> = rel.split('/').collect();
    let mut at = root.to_path_buf();
    for part in &parts[..parts.len() - 1] {
        at.push(part);
        match at.symlink_metadata() {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(ArchiveError::Invalid(format!("{}: not a directory (links are refused)", at.display())));
            }
            Err(e) => return Err(ArchiveError::io(&at.display().to_string(), e)),
        }
    }
    let file =
        OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(root.join(&rel)).map_err(
            |e| match e.raw_os_error() {
                Some(libc::ELOOP) => ArchiveError::Invalid(format!("{shown}: a link (refused)")),
                _ => ArchiveError::io(&shown, e),
            },
        )?;
    let meta = file.metadata().map_err(|e| ArchiveError::io(&shown, e))?;
    if !meta.is_file() {
        return Err(ArchiveError::Invalid(format!("{shown}: not a regular file")));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn header(path: &str, ty: tar::EntryType, size: u64, link: Option<&str>) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_path(path).unwrap();
        h.set_entry_type(ty);
        h.set_size(size);
        h.set_mode(0o644);
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        h.set_cksum();
        h
    }

    /// A tar from (path, type, content, link) with raw names (no checks by the tar crate's builder).
    fn tar_of(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> File {
        let mut out = Vec::new();
        for (path, ty, data, link) in entries {
            let mut h = header("x", *ty, data.len() as u64, *link);
            // Write the name raw, so "../x" and "/x" reach the archive as a hostile tool would put them.
            let name = &mut h.as_old_mut().name;
            name.fill(0);
            name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_cksum();
            out.extend_from_slice(h.as_bytes());
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.resize(out.len() + 1024, 0);
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&out).unwrap();
        f
    }

    fn err(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> String {
        TarIndex::read(tar_of(entries), "t.tar").unwrap_err().to_string()
    }

    use tar::EntryType::{Directory, Fifo, Link, Regular, Symlink};

    #[test]
    fn indexes_and_reads_entries_and_links() {
        let t = TarIndex::read(
            tar_of(&[
                ("./a/", Directory, b"", None),
                ("./a/b.tar", Regular, b"hello", None),
                ("x/layer.tar", Symlink, b"", Some("../a/b.tar")),
                ("hard", Link, b"", Some("a/b.tar")),
            ]),
            "t.tar",
        )
        .unwrap();
        assert_eq!(t.paths(), ["a/b.tar", "x/layer.tar", "hard"]);
        for p in ["a/b.tar", "x/layer.tar", "./hard"] {
            let (mut r, size) = t.open(p).unwrap();
            let mut s = String::new();
            r.read_to_string(&mut s).unwrap();
            assert_eq!((s.as_str(), size), ("hello", 5), "{p}");
        }
        assert_eq!(t.resolve("x/layer.tar").unwrap().0, "a/b.tar");
        assert!(t.resolve("a").unwrap_err().to_string().contains("directory"));
        assert!(t.resolve("nope").unwrap_err().to_string().contains("missing"));
    }

    #[test]
    fn refuses_hostile_entries() {
        assert!(err(&[("../evil", Regular, b"x", None)]).contains("\"..\""));
        assert!(err(&[("/etc/passwd", Regular, b"x", None)]).contains("absolute"));
        assert!(err(&[("a", Regular, b"x", None), ("./a", Regular, b"y", None)]).contains("appears twice"));
        assert!(err(&[("l", Symlink, b"", Some("../../etc/passwd"))]).contains("outside the archive"));
        assert!(err(&[("l", Symlink, b"", Some("/etc/passwd"))]).contains("absolute"));
        assert!(err(&[("l", Link, b"", Some("../x"))]).contains("hard link"));
        assert!(err(&[("f", Fifo, b"", None)]).contains("FIFO"));
        let loop_ =
            TarIndex::read(tar_of(&[("a", Symlink, b"", Some("b")), ("b", Symlink, b"", Some("a"))]), "t").unwrap();
        assert!(loop_.resolve("a").unwrap_err().to_string().contains("loop"));
    }

    #[test]
    fn refuses_a_size_past_the_end() {
        let mut h = header("big", Regular, 1 << 30, None);
        h.set_cksum();
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(h.as_bytes()).unwrap();
        f.write_all(&[0u8; 2048]).unwrap();
        let e = TarIndex::read(f, "t.tar").unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
    }

    #[test]
    fn normalizes_paths() {
        assert_eq!(normalize("./a//b/./c").unwrap(), "a/b/c");
        assert_eq!(normalize("a/../b").unwrap_err(), PathError::DotDot);
        assert_eq!(PathError::DotDot.to_string(), "a path with \"..\"");
        assert_eq!(normalize("/a").unwrap_err(), PathError::Absolute);
        assert_eq!(PathError::Absolute.to_string(), "an absolute path");
        assert_eq!(normalize("./").unwrap_err(), PathError::Empty);
        assert_eq!(PathError::Empty.to_string(), "an empty path");
        assert_eq!(resolve_link_target("d/l", "../x.tar").unwrap(), "x.tar");
        assert_eq!(resolve_link_target("l", "./x").unwrap(), "x");
        let outside = resolve_link_target("l", "..").unwrap_err();
        assert_eq!(outside, PathError::LinkOutside { target: "..".into() });
        assert_eq!(outside.to_string(), "a link to \"..\", outside the archive");
        let absolute = resolve_link_target("l", "/etc/x").unwrap_err();
        assert_eq!(absolute.to_string(), "a link to the absolute path \"/etc/x\"");
        assert_eq!(resolve_link_target("d/l", "..").unwrap_err().to_string(), "a link to \"..\", the archive's root");
    }

    proptest::proptest! {
        /// Tar walking never panics, whatever the bytes (a header-shaped start makes the walk go further).
        #[test]
        fn tar_walking_gives_clean_paths_inside_the_archive(mut raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096), hdr in proptest::prelude::any::<bool>()) {
            if hdr && raw.len() >= 512 {
                let h = header("x", Regular, 3, None);
                raw[..512].copy_from_slice(h.as_bytes());
            }
            let mut f = tempfile::tempfile().unwrap();
            f.write_all(&raw).unwrap();
            // Whatever the bytes, what the index holds is safe to use: its paths are clean and relative, and
            // a file it resolves lies inside the archive.
            if let Ok(t) = TarIndex::read(f, "fuzz") {
                for p in t.paths().to_vec() {
                    proptest::prop_assert_eq!(normalize(&p), Ok(p.clone()));
                    if let Ok((_, offset, size)) = t.resolve(&p) {
                        proptest::prop_assert!(offset.checked_add(size).is_some_and(|end| end <= raw.len() as u64));
                    }
                }
            }
        }
    }

    #[test]
    fn directories_refuse_links() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("l")).unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("dl")).unwrap();
        assert!(open_in_dir(dir.path(), "f").is_ok());
        assert!(open_in_dir(dir.path(), "l").unwrap_err().to_string().contains("link"));
        assert!(open_in_dir(dir.path(), "dl/passwd").unwrap_err().to_string().contains("link"));
        assert!(open_in_dir(dir.path(), "d").unwrap_err().to_string().contains("regular"));
        let e = open_in_dir(dir.path(), "../x").unwrap_err().to_string();
        assert!(e.contains("a path with \"..\" is refused"), "{e}");
    }
}
