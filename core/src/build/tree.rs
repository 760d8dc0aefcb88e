//! What an image's filesystem holds, without unpacking it: an index of every path (kind, mode, owner,
//! mtime, size) built by reading the layers' tars in order and applying their whiteouts, and where each
//! file's bytes are (which layer blob, which tar path), so a build can read `/etc/passwd` or copy files out
//! of an earlier stage by scanning only the layers that hold them.
//!
//! Paths are kept relative to the root, `/`-separated and cleaned (`etc/passwd`); the root itself is `""`.
//!
//! What it is not: a container storage driver (nothing is written to disk) or a layer writer (`layer`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

use super::BuildError;
use super::glob::clean;
use super::layer::{Content, Spool};
use crate::archive::compression::{self, Budget, Formats};
use crate::digest::Digest;
use crate::store::Store;

/// What a path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink(String),
    /// A device or FIFO: kept in the index, never copied.
    Special,
}

/// Where a file's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// No bytes (directories, links).
    None,
    /// In the tar of this (compressed) layer blob, at this entry path (cleaned).
    Layer { blob: Digest, path: String },
}

/// One path of the filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: Kind,
    /// Permission bits and set-id/sticky bits (`& 0o7777`).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub size: u64,
    pub origin: Origin,
}

impl Node {
    pub fn is_dir(&self) -> bool {
        self.kind == Kind::Dir
    }
}

/// The index of one filesystem.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    nodes: BTreeMap<String, Node>,
}

/// How many symlinks one path may pass through.
const MAX_HOPS: usize = 40;
/// What [`Tree::read_each`] calls for each file: the keys that name it, and a reader of its bytes.
type EachFile<'f> = dyn FnMut(&[String], &mut dyn Read) -> std::io::Result<()> + 'f;

/// The most paths an image's index holds (those of all its layers, whiteouts applied; about 300 bytes of
/// memory each): 1,000,000. The largest real images have a few hundred thousand files; a layer of a million
/// empty files is a few MB of gzip.
pub const MAX_PATHS: usize = 1_000_000;

/// The largest file [`Tree::read_text`] reads (`/etc/passwd`, `/etc/group`): 16 MiB.
const MAX_TEXT: u64 = 16 << 20;

/// A reader of the tar of layer `blob` of `store`: decompressed through `archive::compression` (gzip, zstd or
/// none) within the bomb rule `load` uses for what it spools, the free space of the store's filesystem less a
/// reserve. Nothing of a base layer is written while its index is made, but every byte of it is decompressed
/// to reach the next header; the free space bounds that work as it bounds `load`'s, and a layer that unpacks
/// to more than it could not be unpacked on this disk by podman either.
pub fn layer_reader(store: &Store, blob: &Digest) -> Result<Box<dyn Read + Send>, BuildError> {
    let file = store.open_blob(blob)?;
    let layer_error = |e: std::io::Error| BuildError::Layer { blob: blob.clone(), message: e.to_string() };
    let budget = Budget::free_space(&store.temp_dir()).map_err(layer_error)?;
    compression::decompress_file(file, "its contents", budget, Formats::Layers).map_err(layer_error)
}

/// A tar entry's path as the index keys it: cleaned, relative, no leading `./` or `/`; `None` for the root
/// and for paths that climb out of it.
pub fn entry_key(raw: &str) -> Option<String> {
    let c = clean(&format!("/{raw}"));
    let key = c.trim_start_matches('/');
    if key.is_empty() { None } else { Some(key.to_owned()) }
}

/// The parent directories of `key`, outermost first (`a`, `a/b` for `a/b/c`).
pub fn ancestors(key: &str) -> Vec<String> {
    let parts: Vec<&str> = key.split('/').collect();
    (1..parts.len()).map(|n| parts[..n].join("/")).collect()
}

impl Tree {
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.nodes.get(key)
    }

    pub fn insert(&mut self, key: String, node: Node) {
        // A path that was a directory and is now something else loses what was under it.
        if !node.is_dir() && self.nodes.get(&key).is_some_and(Node::is_dir) {
            self.remove_under(&key);
        }
        self.nodes.insert(key, node);
    }

    /// Removes `key` and everything under it.
    fn remove(&mut self, key: &str) {
        self.nodes.remove(key);
        self.remove_under(key);
    }

    /// Removes everything under the directory `key` (`""`: everything).
    fn remove_under(&mut self, key: &str) {
        let prefix = if key.is_empty() { String::new() } else { format!("{key}/") };
        let doomed: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.nodes.remove(&k);
        }
    }

    /// Every path under the directory `key` (`""`: everything), in order, with its node.
    pub fn under(&self, key: &str) -> Vec<(&String, &Node)> {
        let prefix = if key.is_empty() { String::new() } else { format!("{key}/") };
        self.nodes.range(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix)).collect()
    }

    /// Every path, in order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.nodes.keys()
    }

    /// The index of the layers `layers` (compressed blobs in `store`, bottom first).
    pub fn from_layers(store: &Store, layers: &[Digest]) -> Result<Tree, BuildError> {
        let mut tree = Tree::default();
        for blob in layers {
            tree.add_layer(blob, layer_reader(store, blob)?)
                .map_err(|e| BuildError::Layer { blob: blob.clone(), message: e.to_string() })?;
        }
        Ok(tree)
    }

    /// Applies one layer's tar (decompressed: [`layer_reader`]): its whiteouts first (they hide what is
    /// below), then its entries.
    pub fn add_layer(&mut self, blob: &Digest, r: impl Read) -> std::io::Result<()> {
        self.add_layer_within(blob, r, MAX_PATHS)
    }

    /// [`Tree::add_layer`], refusing an image whose layers hold more than `max_paths` paths.
    fn add_layer_within(&mut self, blob: &Digest, r: impl Read, max_paths: usize) -> std::io::Result<()> {
        let mut archive = tar::Archive::new(r);
        let mut added: Vec<(String, Node)> = Vec::new();
        let mut links: Vec<(String, String, Node)> = Vec::new();
        for entry in archive.entries()? {
            if self.nodes.len() + added.len() + links.len() >= max_paths {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("the image holds more than {max_paths} paths, the most hoist build indexes"),
                ));
            }
            let entry = entry?;
            let raw = entry.path()?.to_string_lossy().into_owned();
            let Some(key) = entry_key(&raw) else { continue };
            let (parent, name) = match key.rsplit_once('/') {
                Some((p, n)) => (p.to_owned(), n.to_owned()),
                None => (String::new(), key.clone()),
            };
            if name == ".wh..wh..opq" {
                self.remove_under(&parent);
                continue;
            }
            if let Some(hidden) = name.strip_prefix(".wh.") {
                let target = if parent.is_empty() { hidden.to_owned() } else { format!("{parent}/{hidden}") };
                self.remove(&target);
                continue;
            }
            let h = entry.header();
            let link =
                || entry.link_name().ok().flatten().map(|l| l.to_string_lossy().into_owned()).unwrap_or_default();
            let mut node = Node {
                kind: Kind::File,
                mode: h.mode().unwrap_or(0o644) & 0o7777,
                uid: h.uid().unwrap_or(0),
                gid: h.gid().unwrap_or(0),
                mtime: h.mtime().unwrap_or(0),
                size: h.size().unwrap_or(0),
                origin: Origin::None,
            };
            match h.entry_type() {
                tar::EntryType::Directory => node.kind = Kind::Dir,
                tar::EntryType::Symlink => node.kind = Kind::Symlink(link()),
                tar::EntryType::Link => {
                    if let Some(target) = entry_key(&link()) {
                        links.push((key, target, node));
                    }
                    continue;
                }
                tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                    node.origin = Origin::Layer { blob: blob.clone(), path: key.clone() };
                }
                tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => node.kind = Kind::Special,
                _ => continue, // PAX and GNU metadata entries are consumed by the reader
            }
            added.push((key, node));
        }
        for (key, node) in added {
            self.insert(key, node);
        }
        // A hard link is a file with its target's bytes.
        for (key, target, mut node) in links {
            if let Some(t) = self.nodes.get(&target).filter(|t| t.kind == Kind::File) {
                node.size = t.size;
                node.origin = t.origin.clone();
                self.insert(key, node);
            }
        }
        Ok(())
    }

    /// `path` (absolute or relative to the root) with the symlinks in it followed inside this filesystem
    /// (absolute targets start from its root; `..` never leaves it). The last component is followed too when
    /// `follow_last`. Returns the key.
    pub fn resolve(&self, path: &str, follow_last: bool) -> Result<String, BuildError> {
        let mut todo: Vec<String> =
            clean(&format!("/{path}")).split('/').filter(|p| !p.is_empty()).map(str::to_owned).collect();
        todo.reverse();
        let mut done: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(part) = todo.pop() {
            if part == ".." {
                done.pop();
                continue;
            }
            done.push(part);
            let key = done.join("/");
            let last = todo.is_empty();
            if let Some(Node { kind: Kind::Symlink(target), .. }) = self.nodes.get(&key)
                && (!last || follow_last)
            {
                hops += 1;
                if hops > MAX_HOPS {
                    return Err(BuildError::TooManyLinks { path: format!("/{path}") });
                }
                done.pop();
                if target.starts_with('/') {
                    done.clear();
                }
                for p in target.split('/').rev().filter(|p| !p.is_empty() && *p != ".") {
                    todo.push(p.to_owned());
                }
            }
        }
        Ok(done.join("/"))
    }

    /// The bytes of the files `keys`, read by scanning each layer that holds one of them once.
    pub fn read(&self, store: &Store, keys: &[String]) -> Result<HashMap<String, Vec<u8>>, BuildError> {
        let mut out = HashMap::new();
        self.read_each(store, keys, &mut |users, r| {
            let mut bytes = Vec::new();
            r.read_to_end(&mut bytes)?;
            for u in users {
                out.insert(u.clone(), bytes.clone());
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The files `keys` copied into `spool` (never held in memory): where each went, and its size.
    pub fn read_spooled(
        &self,
        store: &Store,
        keys: &[String],
        spool: &mut Spool,
    ) -> Result<HashMap<String, (Content, u64)>, BuildError> {
        let mut out = HashMap::new();
        self.read_each(store, keys, &mut |users, r| {
            let got = spool.append(r)?;
            for u in users {
                out.insert(u.clone(), got.clone());
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Calls `f` with each file of `keys` (the keys that name it, and a reader of its bytes), scanning each
    /// layer that holds one of them once. A key with no bytes (not a file of a layer) gets an empty reader.
    fn read_each(&self, store: &Store, keys: &[String], f: &mut EachFile<'_>) -> Result<(), BuildError> {
        let mut by_blob: BTreeMap<Digest, HashMap<String, Vec<String>>> = BTreeMap::new();
        for key in keys {
            match self.nodes.get(key).map(|n| &n.origin) {
                Some(Origin::Layer { blob, path }) => {
                    by_blob.entry(blob.clone()).or_default().entry(path.clone()).or_default().push(key.clone())
                }
                _ => f(std::slice::from_ref(key), &mut std::io::empty())
                    .map_err(|source| BuildError::Io { path: format!("/{key}").into(), source })?,
            }
        }
        for (blob, wanted) in by_blob {
            let what = |e: &dyn std::fmt::Display| BuildError::Layer { blob: blob.clone(), message: e.to_string() };
            let mut archive = tar::Archive::new(layer_reader(store, &blob)?);
            let mut left: HashSet<&String> = wanted.keys().collect();
            for entry in archive.entries().map_err(|e| what(&e))? {
                let mut entry = entry.map_err(|e| what(&e))?;
                let raw = entry.path().map_err(|e| what(&e))?.to_string_lossy().into_owned();
                let Some(key) = entry_key(&raw) else { continue };
                let Some(users) = wanted.get(&key) else { continue };
                f(users, &mut entry).map_err(|e| what(&e))?;
                left.remove(&key);
                if left.is_empty() {
                    break;
                }
            }
            if let Some(missing) = left.iter().next() {
                return Err(what(&format!("{missing} is not in it")));
            }
        }
        Ok(())
    }

    /// The text of the file at `key` (following symlinks), if the filesystem has it.
    pub fn read_text(&self, store: &Store, key: &str) -> Result<Option<String>, BuildError> {
        let Ok(key) = self.resolve(key, true) else { return Ok(None) };
        match self.nodes.get(&key) {
            Some(n) if n.kind == Kind::File && n.size > MAX_TEXT => {
                return Err(BuildError::FileTooLarge { path: format!("/{key}"), max: MAX_TEXT });
            }
            Some(n) if n.kind == Kind::File => {}
            _ => return Ok(None),
        }
        let mut got = self.read(store, std::slice::from_ref(&key))?;
        Ok(got.remove(&key).map(|b| String::from_utf8_lossy(&b).into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, link, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_mode(if path.ends_with('/') { 0o755 } else { 0o644 });
            h.set_uid(3);
            h.set_gid(4);
            h.set_mtime(5);
            match link {
                Some(l) if l.starts_with('>') => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    b.append_link(&mut h, path, &l[1..]).unwrap();
                }
                Some(l) => {
                    h.set_entry_type(tar::EntryType::Link);
                    h.set_size(0);
                    b.append_link(&mut h, path, l).unwrap();
                }
                None if path.ends_with('/') => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    b.append_data(&mut h, path, &[][..]).unwrap();
                }
                None => {
                    h.set_size(data.len() as u64);
                    b.append_data(&mut h, path, *data).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn layers_whiteouts_links_and_symlinks() {
        let d1 = Digest::sha256(b"1");
        let d2 = Digest::sha256(b"2");
        let mut t = Tree::default();
        let l1 = tar_of(&[
            ("./etc/", None, b""),
            ("./etc/passwd", None, b"root:x:0:0::/:/bin/sh\n"),
            ("etc/gone", None, b"x"),
            ("opaque/", None, b""),
            ("opaque/old", None, b"x"),
            ("var/", None, b""),
            ("var/run", Some(">/run"), b""),
            ("run/", None, b""),
        ]);
        t.add_layer(&d1, &l1[..]).unwrap();
        let l2 = tar_of(&[
            ("etc/.wh.gone", None, b""),
            ("opaque/", None, b""),
            ("opaque/.wh..wh..opq", None, b""),
            ("opaque/new", None, b"n"),
            ("etc/hard", Some("etc/passwd"), b""),
        ]);
        t.add_layer(&d2, &l2[..]).unwrap();
        assert!(t.get("etc/gone").is_none());
        assert!(t.get("opaque/old").is_none());
        assert!(t.get("opaque/new").is_some());
        let hard = t.get("etc/hard").unwrap();
        assert_eq!((hard.kind.clone(), hard.size), (Kind::File, 22));
        assert_eq!(hard.origin, Origin::Layer { blob: d1.clone(), path: "etc/passwd".into() });
        assert_eq!(t.get("etc").unwrap().uid, 3);
        assert_eq!(t.resolve("/var/run/x.pid", false).unwrap(), "run/x.pid");
        assert_eq!(t.resolve("/var/run", false).unwrap(), "var/run");
        assert_eq!(t.resolve("/var/run", true).unwrap(), "run");
        assert_eq!(t.resolve("/../../etc", true).unwrap(), "etc");
        assert_eq!(entry_key("./a/../../b"), Some("b".into()));
        assert_eq!(entry_key("./"), None);
        assert_eq!(ancestors("a/b/c"), ["a", "a/b"]);
        assert_eq!(t.under("opaque").len(), 1);
    }

    #[test]
    fn an_image_with_too_many_paths_is_refused() {
        let d = Digest::sha256(b"1");
        let names: Vec<String> = (0..10).map(|i| format!("f{i}")).collect();
        let layer = tar_of(&names.iter().map(|n| (n.as_str(), None, &b""[..])).collect::<Vec<_>>());
        let mut t = Tree::default();
        t.add_layer_within(&d, &layer[..], 10).unwrap();
        let e = t.add_layer_within(&d, &layer[..], 15).unwrap_err();
        assert_eq!(e.to_string(), "the image holds more than 15 paths, the most hoist build indexes");
    }
}
