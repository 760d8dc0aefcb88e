//! `ADD`'s local archives: telling a tar (plain, gzip, bzip2, xz or zstd, by content) from any other file,
//! and unpacking one into a layer draft. Decompression goes through `archive::compression` with `load`'s
//! bomb rule; file bytes through a spool on disk.
//!
//! What it is not: the archive formats of `load` and `save` (`archive`).

use std::collections::HashMap;
use std::io::Read;

use super::context::Item;
use super::copy::{LayerDraft, spool};
use super::layer::{Content, Entry, EntryKind};
use super::stage::{Build, Stage};
use super::tree;
use super::users::Owner;
use super::{BuildError, excerpt};
use crate::archive::compression::{self, Formats};

impl Stage<'_> {
    /// `ADD archive dest`: the archive's entries under `dest`, owned as the archive says or by `--chown` (as
    /// BuildKit; podman gives them 0:0; a missing `dest` is owned by 0:0 or `--chown`). The
    /// files' bytes go through a spool on disk, decompressed with the bomb guard `load` uses, so memory stays
    /// flat whatever their size. What a layer cannot hold (devices, FIFOs, hard links to what the archive
    /// did not give before them) is left out with a warning naming it.
    pub(super) fn extract(
        &self,
        draft: &mut LayerDraft,
        build: &Build,
        item: &Item,
        dest: &str,
        chown: Option<Owner>,
        chmod: Option<u32>,
    ) -> Result<(), BuildError> {
        let own = chown.unwrap_or_default();
        let path = build.context.host(&item.rel);
        let fail = |e: &dyn std::fmt::Display| BuildError::Unpack { archive: item.rel.clone(), message: e.to_string() };
        let file = std::fs::File::open(&path).map_err(|e| fail(&e))?;
        let mut spool = spool(build)?;
        // What `load` allows a spooled stream: the spool's free space less a reserve (the bomb rule).
        let budget = compression::Budget::free_space(&build.store.temp_dir()).map_err(|e| fail(&e))?;
        let reader = compression::decompress_file(file, &item.rel, budget, Formats::Archives).map_err(|e| fail(&e))?;
        let mut ar = tar::Archive::new(reader);
        let clock = &build.clock;
        let mut files: HashMap<String, (Content, u64)> = HashMap::new();
        let mut left_out = LeftOut::default();
        let join = |rel: &str| if dest.is_empty() { rel.to_owned() } else { format!("{dest}/{rel}") };
        if !dest.is_empty() {
            self.dir_entry(draft, dest, own, None, clock);
        }
        for (n, entry) in ar.entries().map_err(|e| fail(&e))?.enumerate() {
            if n == crate::archive::files::MAX_ENTRIES {
                return Err(fail(&format!("more than {} entries", crate::archive::files::MAX_ENTRIES)));
            }
            let mut entry = entry.map_err(|e| fail(&e))?;
            let raw = entry.path().map_err(|e| fail(&e))?.to_string_lossy().into_owned();
            let h = entry.header().clone();
            let mode = h.mode().unwrap_or(0o644) & 0o7777;
            let mtime = clock.mtime(h.mtime().unwrap_or(0));
            let Some(key) = tree::entry_key(&raw) else {
                // The archive's root: the destination directory's mode and mtime, when it is new.
                if h.entry_type() == tar::EntryType::Directory
                    && let Some(e) = draft.entries.get_mut(dest)
                    && self.image.tree.get(dest).is_none()
                {
                    e.mode = chmod.unwrap_or(mode);
                    e.mtime = mtime;
                }
                continue;
            };
            let target = join(&key);
            let owner = chown.unwrap_or(Owner { uid: h.uid().unwrap_or(0), gid: h.gid().unwrap_or(0) });
            let base = Entry {
                kind: EntryKind::Dir,
                mode: chmod.unwrap_or(mode),
                uid: owner.uid,
                gid: owner.gid,
                mtime,
                size: 0,
            };
            let e = match h.entry_type() {
                tar::EntryType::Directory => base,
                tar::EntryType::Symlink => {
                    let t = entry.link_name().map_err(|e| fail(&e))?.map(|l| l.to_string_lossy().into_owned());
                    Entry { kind: EntryKind::Symlink(t.unwrap_or_default()), mode: 0o777, ..base }
                }
                tar::EntryType::Link => {
                    let t = entry.link_name().map_err(|e| fail(&e))?.map(|l| l.to_string_lossy().into_owned());
                    let t = t.unwrap_or_default();
                    let Some((content, size)) = tree::entry_key(&t).and_then(|k| files.get(&k).cloned()) else {
                        left_out
                            .add(format!("{raw} (a hard link to {t}, which is not a file before it in the archive)"));
                        continue;
                    };
                    Entry { kind: EntryKind::File(content), size, ..base }
                }
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let (content, size) = spool.append(&mut entry).map_err(|e| fail(&e))?;
                    files.insert(key.clone(), (content.clone(), size));
                    Entry { kind: EntryKind::File(content), size, ..base }
                }
                other => {
                    let what = match other {
                        tar::EntryType::Char => "a character device".to_owned(),
                        tar::EntryType::Block => "a block device".to_owned(),
                        tar::EntryType::Fifo => "a FIFO".to_owned(),
                        o => format!("tar entry type {:?}", o.as_byte() as char),
                    };
                    left_out.add(format!("{raw} ({what})"));
                    continue;
                }
            };
            draft.entries.insert(target, e);
        }
        left_out.warn(build.progress, &item.rel);
        Ok(())
    }
}

/// The entries of an archive `ADD` leaves out: the first few by name, then how many more.
#[derive(Default)]
struct LeftOut {
    named: Vec<String>,
    more: usize,
}

impl LeftOut {
    const NAMED: usize = 10;

    fn add(&mut self, what: String) {
        if self.named.len() < Self::NAMED {
            self.named.push(what);
        } else {
            self.more += 1;
        }
    }

    fn warn(&self, progress: &dyn crate::observe::Observer, archive: &str) {
        for what in &self.named {
            progress.warning(&format!(
                "ADD {}: left out {} (a layer of hoist build holds files, directories and symlinks)",
                excerpt(archive),
                excerpt(what)
            ));
        }
        if self.more > 0 {
            progress.warning(&format!("ADD {}: left out {} more entries", excerpt(archive), self.more));
        }
    }
}

/// True when the file's bytes (decompressed if gzip, bzip2, xz or zstd) start with a tar header.
pub(super) fn is_archive(path: &std::path::Path) -> Result<bool, BuildError> {
    let file = std::fs::File::open(path).map_err(|source| BuildError::Io { path: path.to_owned(), source })?;
    // Only the first block is read: no budget smaller than the default applies.
    let budget = compression::Budget::default();
    let mut r = match compression::decompress_file(file, &path.display().to_string(), budget, Formats::Archives) {
        Ok(r) => r,
        Err(e) => {
            return match e.get_ref().and_then(|i| i.downcast_ref::<compression::XzTooLarge>()) {
                Some(refusal) => Err(BuildError::XzTooLarge(refusal.clone())),
                None => Ok(false),
            };
        }
    };
    let mut block = [0u8; 512];
    let mut got = 0;
    while got < 512 {
        match r.read(&mut block[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(_) => return Ok(false),
        }
    }
    Ok(got == 512 && looks_like_tar(&block))
}

/// A tar header block: its checksum is right (ustar, GNU and v7 headers alike) and it names something.
fn looks_like_tar(b: &[u8; 512]) -> bool {
    if b[0] == 0 {
        return false;
    }
    let field = String::from_utf8_lossy(&b[148..156]);
    let Ok(want) = u32::from_str_radix(field.trim_matches(|c: char| c == '\0' || c == ' '), 8) else { return false };
    let sum: u32 = b.iter().enumerate().map(|(i, &x)| if (148..156).contains(&i) { 32 } else { x as u32 }).sum();
    sum == want
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_headers_by_their_checksum() {
        let mut block = [0u8; 512];
        assert!(!looks_like_tar(&block));
        let mut h = tar::Header::new_ustar();
        h.set_path("a").unwrap();
        h.set_size(0);
        h.set_cksum();
        block.copy_from_slice(h.as_bytes());
        assert!(looks_like_tar(&block));
        block[0] = b'b';
        assert!(!looks_like_tar(&block), "a wrong checksum is not a tar");
    }
}
