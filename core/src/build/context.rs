//! The build context: the directory `COPY` and `ADD` read from, seen through `.dockerignore` as docker sends
//! it to a builder: an excluded path does not exist for the build, a source never leaves the context (`..`
//! stops at its root, and so does a symlink), wildcards match with Go's `filepath.Match` one path component
//! at a time.
//!
//! What it is not: deciding where sources land in the image (`stage`).

use std::fs::Metadata;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::BuildError;
use super::dockerignore::DockerIgnore;
use super::glob::{Pattern, Slashes, clean, has_wildcard};

/// How many symlinks one source may pass through.
const MAX_HOPS: usize = 40;

/// A path of the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Relative to the context root, `/`-separated; `""` for the root itself.
    pub rel: String,
    pub kind: ItemKind,
    pub mode: u32,
    pub mtime: u64,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemKind {
    Dir,
    File,
    Symlink(String),
}

pub struct Context {
    root: PathBuf,
    ignore: DockerIgnore,
}

fn io(path: &Path, source: std::io::Error) -> BuildError {
    BuildError::Io { path: path.to_owned(), source }
}

fn item(rel: String, m: &Metadata, path: &Path) -> Result<Item, BuildError> {
    let ft = m.file_type();
    let kind = if ft.is_dir() {
        ItemKind::Dir
    } else if ft.is_file() {
        ItemKind::File
    } else if ft.is_symlink() {
        let target = std::fs::read_link(path).map_err(|e| io(path, e))?;
        ItemKind::Symlink(
            target
                .to_str()
                .ok_or_else(|| BuildError::Uncopyable { path: path.to_owned(), what: "the link target is not UTF-8" })?
                .to_owned(),
        )
    } else {
        return Err(BuildError::Uncopyable {
            path: path.to_owned(),
            what: "a device, socket or FIFO cannot be copied into an image",
        });
    };
    Ok(Item {
        rel,
        size: if kind == ItemKind::File { m.len() } else { 0 },
        kind,
        mode: m.permissions().mode() & 0o7777,
        mtime: m.mtime().max(0) as u64,
    })
}

impl Context {
    pub fn new(root: &Path, ignore: DockerIgnore) -> Result<Context, BuildError> {
        let root = std::fs::canonicalize(root).map_err(|e| io(root, e))?;
        if !root.is_dir() {
            return Err(BuildError::Uncopyable { path: root.to_owned(), what: "the build context is not a directory" });
        }
        Ok(Context { root, ignore })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The host path of `rel`.
    pub fn host(&self, rel: &str) -> PathBuf {
        if rel.is_empty() { self.root.clone() } else { self.root.join(rel) }
    }

    fn excluded(&self, rel: &str) -> bool {
        !rel.is_empty() && self.ignore.is_excluded(rel)
    }

    /// `rel` as a key: cleaned, relative, never above the root.
    fn key(src: &str) -> String {
        clean(&format!("/{src}")).trim_start_matches('/').to_owned()
    }

    /// The item `rel` names without following a final symlink, if it exists and is not excluded.
    fn lstat(&self, rel: &str) -> Result<Option<Item>, BuildError> {
        if self.excluded(rel) {
            return Ok(None);
        }
        let path = self.host(rel);
        match std::fs::symlink_metadata(&path) {
            Ok(m) => Ok(Some(item(rel.to_owned(), &m, &path)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path, e)),
        }
    }

    /// `rel` with the symlinks in it followed, inside the context (an absolute target starts at its root).
    fn follow(&self, rel: &str) -> Result<String, BuildError> {
        let mut todo: Vec<String> = rel.split('/').filter(|p| !p.is_empty()).rev().map(str::to_owned).collect();
        let mut done: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(part) = todo.pop() {
            if part == "." {
                continue;
            }
            if part == ".." {
                done.pop();
                continue;
            }
            done.push(part);
            let key = done.join("/");
            if let Some(Item { kind: ItemKind::Symlink(target), .. }) = self.lstat(&key)? {
                hops += 1;
                if hops > MAX_HOPS {
                    return Err(BuildError::TooManyLinks { path: rel.to_owned() });
                }
                done.pop();
                if target.starts_with('/') {
                    done.clear();
                }
                todo.extend(target.split('/').filter(|p| !p.is_empty()).rev().map(str::to_owned));
            }
        }
        Ok(done.join("/"))
    }

    /// The sources `src` names: one path (symlinks followed), or every path a wildcard matches. Excluded
    /// paths do not exist. An error when nothing matches.
    pub fn sources(&self, src: &str) -> Result<Vec<Item>, BuildError> {
        let key = Context::key(src);
        if !has_wildcard(&key) {
            let followed = self.follow(&key)?;
            return match self.stat(&followed)? {
                Some(mut it) if !self.excluded(&key) => {
                    it.rel = followed;
                    Ok(vec![it])
                }
                _ => Err(BuildError::SourceNotFound {
                    source_path: src.to_owned(),
                    what: "file not found in build context or excluded by .dockerignore",
                }),
            };
        }
        let pattern = Pattern::new(&key, false, Slashes::Stop)?;
        let depth = key.split('/').count();
        let mut found = Vec::new();
        self.glob("", depth, &pattern, &mut found)?;
        if found.is_empty() {
            return Err(BuildError::SourceNotFound {
                source_path: src.to_owned(),
                what: "no source files were specified (nothing matches)",
            });
        }
        Ok(found)
    }

    /// The item at `rel` (already followed), with a symlink at the end followed.
    fn stat(&self, rel: &str) -> Result<Option<Item>, BuildError> {
        let path = self.host(rel);
        match std::fs::metadata(&path) {
            Ok(m) => Ok(Some(item(rel.to_owned(), &m, &path)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path, e)),
        }
    }

    fn glob(&self, dir: &str, depth: usize, pattern: &Pattern, found: &mut Vec<Item>) -> Result<(), BuildError> {
        for name in self.names(dir)? {
            let rel = if dir.is_empty() { name } else { format!("{dir}/{name}") };
            let Some(it) = self.lstat(&rel)? else { continue };
            let here = rel.split('/').count();
            if here == depth {
                if pattern.matches(&rel) {
                    // A matched symlink is followed, as a named source is.
                    let followed = self.follow(&rel)?;
                    if let Some(mut t) = self.stat(&followed)? {
                        t.rel = followed;
                        found.push(t);
                    }
                }
            } else if it.kind == ItemKind::Dir {
                self.glob(&rel, depth, pattern, found)?;
            }
        }
        Ok(())
    }

    /// The names in directory `rel`, sorted.
    fn names(&self, rel: &str) -> Result<Vec<String>, BuildError> {
        let path = self.host(rel);
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&path).map_err(|e| io(&path, e))? {
            let entry = entry.map_err(|e| io(&path, e))?;
            let name = entry.file_name();
            let name = name
                .to_str()
                .ok_or_else(|| BuildError::Uncopyable { path: entry.path(), what: "a file name that is not UTF-8" })?;
            names.push(name.to_owned());
        }
        names.sort();
        Ok(names)
    }

    /// Everything under directory `rel` (not `rel` itself), parents before children, excluded paths left
    /// out (a directory holding an exception is kept, with just what the exception includes).
    pub fn walk(&self, rel: &str) -> Result<Vec<Item>, BuildError> {
        let mut out = Vec::new();
        self.walk_into(rel, &mut out)?;
        Ok(out)
    }

    fn walk_into(&self, dir: &str, out: &mut Vec<Item>) -> Result<(), BuildError> {
        for name in self.names(dir)? {
            let rel = if dir.is_empty() { name } else { format!("{dir}/{name}") };
            let path = self.host(&rel);
            let m = std::fs::symlink_metadata(&path).map_err(|e| io(&path, e))?;
            let excluded = self.excluded(&rel);
            if m.is_dir() {
                if excluded && !self.ignore.has_exceptions() {
                    continue;
                }
                let at = out.len();
                out.push(item(rel.clone(), &m, &path)?);
                self.walk_into(&rel, out)?;
                if excluded && out.len() == at + 1 {
                    out.pop(); // nothing below it was included again
                }
                continue;
            }
            if !excluded {
                out.push(item(rel, &m, &path)?);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(ignore: &str) -> (tempfile::TempDir, Context) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        for d in ["src/sub", "docs", "node_modules/x"] {
            std::fs::create_dir_all(p.join(d)).unwrap();
        }
        for f in
            ["a.txt", "b.txt", "src/main.rs", "src/sub/x.rs", "docs/keep.md", "docs/drop.md", "node_modules/x/i.js"]
        {
            std::fs::write(p.join(f), f).unwrap();
        }
        std::os::unix::fs::symlink("src/main.rs", p.join("link")).unwrap();
        std::os::unix::fs::symlink("../../etc/passwd", p.join("escape")).unwrap();
        let c = Context::new(p, super::super::dockerignore::parse(ignore).unwrap()).unwrap();
        (dir, c)
    }

    fn rels(items: &[Item]) -> Vec<&str> {
        items.iter().map(|i| i.rel.as_str()).collect()
    }

    #[test]
    fn sources_wildcards_links_and_ignores() {
        let (_d, c) = ctx("node_modules\ndocs\n!docs/keep.md\nb.txt\n");
        assert_eq!(rels(&c.sources("a.txt").unwrap()), ["a.txt"]);
        assert_eq!(rels(&c.sources("./src/../a.txt").unwrap()), ["a.txt"]);
        assert_eq!(rels(&c.sources("../../a.txt").unwrap()), ["a.txt"], "never above the root");
        assert!(c.sources("b.txt").is_err(), "excluded");
        assert_eq!(rels(&c.sources("*.txt").unwrap()), ["a.txt"]);
        assert_eq!(rels(&c.sources("src/*").unwrap()), ["src/main.rs", "src/sub"]);
        assert_eq!(c.sources("link").unwrap()[0].rel, "src/main.rs", "a named symlink is followed");
        assert!(c.sources("escape").is_err(), "a link out of the context stays inside it (and finds nothing)");
        assert!(c.sources("nope*").is_err());
        let all = c.walk("").unwrap();
        let names = rels(&all);
        assert!(names.contains(&"docs") && names.contains(&"docs/keep.md"), "{names:?}");
        assert!(!names.contains(&"docs/drop.md") && !names.iter().any(|n| n.starts_with("node_modules")));
        assert!(names.contains(&"link"), "symlinks inside a directory stay symlinks");
        assert!(matches!(all.iter().find(|i| i.rel == "link").unwrap().kind, ItemKind::Symlink(_)));
    }
}
