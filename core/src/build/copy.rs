//! `COPY` and `ADD`: one layer each. Sources land as docker's trailing-slash rules say, owned (unless
//! `--chown`) by 0:0 when from the context, by their own owner when from an image or stage (as BuildKit),
//! with their modes unless `--chmod`; missing parents are created 0755 (owned as `--chown` says);
//! the existing parents go into the layer with their own metadata. Sources come from the build context, an
//! earlier stage or an image (`--from`); the bytes of files out of an image go through a spool on disk.
//! `ADD` unpacks local tar archives (`unpack`).
//!
//! A copy runs in steps: [`CopyArgs`] (the words and flags, expanded), the sources (wildcards matched),
//! the [`Destination`], a [`LayerDraft`] of entries, the file bytes out of a source image, the checks that
//! nothing turns a directory into a file, then the layer is written and applied ([`Stage::commit_layer`]).
//!
//! What it is not: writing tar bytes (`layer`) or the build context's rules (`context`).

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use super::args;
use super::context::{Context, Item, ItemKind};
use super::dockerfile::Instruction;
use super::glob::{Pattern, Slashes, clean, has_wildcard};
use super::layer::{self, Content, Entry, EntryKind, Spool};
use super::refusal::Refusal;
use super::stage::{Build, Stage};
use super::state::{self, Clock, ImageState};
use super::tree::{Kind, Node, Origin, Tree, ancestors};
use super::users::Owner;
use super::{BuildError, at, is_remote, refuse_url, stage_ref};
use crate::image::Platform;

/// A layer being assembled: entries by path, and which of them take their bytes from a source image.
#[derive(Default)]
pub(super) struct LayerDraft {
    pub entries: BTreeMap<String, Entry>,
    /// Bytes to read out of a source tree: entry path → source key.
    from_tree: Vec<(String, String)>,
}

/// Where a COPY reads from.
enum From {
    Context,
    /// An earlier stage's or an image's filesystem, shared with the build (not a copy of it).
    Image(Rc<ImageState>),
}

/// One source of a COPY or ADD.
enum Source {
    Ctx(Item),
    Tree { key: String, node: Node },
}

impl Source {
    fn is_dir(&self) -> bool {
        match self {
            Source::Ctx(i) => i.kind == ItemKind::Dir,
            Source::Tree { node, .. } => node.is_dir(),
        }
    }

    fn base_name(&self) -> String {
        let p = match self {
            Source::Ctx(i) => &i.rel,
            Source::Tree { key, .. } => key,
        };
        p.rsplit('/').next().unwrap_or("").to_owned()
    }
}

/// A COPY's or ADD's words and flags, expanded.
struct CopyArgs {
    /// `COPY` or `ADD`.
    keyword: &'static str,
    add: bool,
    line: usize,
    /// The sources as written (expanded, wildcards not yet matched).
    srcs: Vec<String>,
    /// The destination as written (expanded).
    dest: String,
    owner: Option<Owner>,
    chmod: Option<u32>,
    from: From,
}

/// Where sources land.
struct Destination {
    /// The key of the destination (a directory when `is_dir`), symlinks in the image followed.
    key: String,
    /// Sources go inside it (it ends with `/`, is an existing directory, or there are several sources).
    is_dir: bool,
}

/// `a` and `b` joined as keys (`""` is the root).
fn join(base: &str, rel: &str) -> String {
    match (base.is_empty(), rel.is_empty()) {
        (true, _) => rel.to_owned(),
        (false, true) => base.to_owned(),
        (false, false) => format!("{base}/{rel}"),
    }
}

impl Stage<'_> {
    /// `COPY` (or `ADD` when `add`): one layer.
    pub(super) fn copy(&mut self, build: &mut Build, ins: &Instruction, add: bool) -> Result<(), BuildError> {
        let args = self.copy_args(build, ins, add)?;
        let sources = self.sources(build, &args)?;
        let dest = self.destination(&args, sources.len())?;
        let mut draft = self.draft(build, &args, &sources, &dest)?;
        if let From::Image(image) = &args.from {
            fill_from_image(build, image, &mut draft)?;
        }
        self.check_kinds(&args, &draft)?;
        let own = args.owner.unwrap_or_default();
        self.add_ancestors(&mut draft, own, &build.clock)?;
        let written = self.commit_layer(build, draft)?;
        let what = match sources.as_slice() {
            [one] if one.is_dir() => "dir",
            [_] => "file",
            _ => "multi",
        };
        let created_by =
            format!("/bin/sh -c #(nop) {} {what}:{} in {} ", args.keyword, written.diff_id.hex(), args.dest);
        self.history(build, created_by, false);
        Ok(())
    }

    /// The words (sources and destination) and the flags, expanded; `ADD` of a URL refused.
    fn copy_args(&self, build: &mut Build, ins: &Instruction, add: bool) -> Result<CopyArgs, BuildError> {
        let line = ins.line;
        let keyword = ins.keyword.as_str();
        let words = match ins.json() {
            Some(list) => list,
            None => self.words(ins),
        };
        let mut words = words.iter().map(|w| self.expand(w, line)).collect::<Result<Vec<_>, _>>()?;
        if words.len() < 2 {
            return at(line, Refusal::CopyArguments { keyword });
        }
        let dest = words.pop().expect("two words or more");
        if add && let Some(url) = words.iter().find(|s| is_remote(s)) {
            return Err(refuse_url(line, url));
        }
        let flag = |name: &'static str| -> Result<Option<String>, BuildError> {
            match ins.flag(name) {
                None => Ok(None),
                Some(f) => match &f.value {
                    Some(v) => self.expand(v, line).map(Some),
                    None => at(line, Refusal::FlagNeedsValue { keyword, flag: name }),
                },
            }
        };
        let owner = match flag("chown")? {
            Some(spec) => Some(self.owner(build, &spec)?),
            None => None,
        };
        let chmod = match flag("chmod")? {
            Some(m) => Some(
                args::parse_mode(&m)
                    .map_err(|problem| BuildError::At { line, refusal: Refusal::Chmod { keyword, problem } })?,
            ),
            None => None,
        };
        let from = match flag("from")? {
            None => From::Context,
            Some(f) => match stage_ref(&build.plan.stages, &f).filter(|&i| i < self.plan.index) {
                Some(i) => {
                    let built = build.done.get(i).cloned().flatten();
                    From::Image(built.ok_or(BuildError::StageNotBuilt { stage: f })?)
                }
                None => From::Image(image_of(build, &f, &self.platform)?),
            },
        };
        Ok(CopyArgs { keyword, add, line, srcs: words, dest, owner, chmod, from })
    }

    /// The sources, each wildcard matched.
    fn sources(&self, build: &Build, args: &CopyArgs) -> Result<Vec<Source>, BuildError> {
        let mut sources = Vec::new();
        for src in &args.srcs {
            match &args.from {
                From::Context => sources.extend(build.context.sources(src)?.into_iter().map(Source::Ctx)),
                From::Image(image) => sources.extend(tree_sources(&image.tree, src)?),
            }
        }
        Ok(sources)
    }

    /// Where `count` sources land, by docker's rules: inside a directory when the destination ends with
    /// `/`, is one, or there are several sources (then it must be one).
    fn destination(&self, args: &CopyArgs, count: usize) -> Result<Destination, BuildError> {
        let raw = &args.dest;
        let ends_slash = raw.ends_with('/') || raw == "." || raw.ends_with("/.");
        let path = if raw.starts_with('/') {
            raw.clone()
        } else {
            let wd = self.config().working_dir();
            format!("{}/{raw}", if wd.is_empty() { "/" } else { wd })
        };
        let tree = &self.image.tree;
        let mut key = tree.resolve(&path, false)?;
        let exists_dir =
            tree.resolve(&path, true).ok().is_some_and(|k| k.is_empty() || tree.get(&k).is_some_and(Node::is_dir));
        if count > 1 && !ends_slash && !exists_dir {
            return at(args.line, Refusal::DestinationNotDirectory { keyword: args.keyword });
        }
        let is_dir = ends_slash || exists_dir || count > 1;
        if is_dir {
            key = tree.resolve(&path, true)?;
        }
        Ok(Destination { key, is_dir })
    }

    /// The entries the sources make (file bytes out of an image still to be read).
    fn draft(
        &self,
        build: &Build,
        args: &CopyArgs,
        sources: &[Source],
        dest: &Destination,
    ) -> Result<LayerDraft, BuildError> {
        let own = args.owner.unwrap_or_default();
        let clock = &build.clock;
        let mut draft = LayerDraft::default();
        for s in sources {
            if s.is_dir() {
                if !dest.key.is_empty() {
                    self.dir_entry(&mut draft, &dest.key, own, None, clock);
                }
                match s {
                    Source::Ctx(item) => {
                        for it in build.context.walk(&item.rel)? {
                            let rel = it.rel.strip_prefix(&item.rel).unwrap_or(&it.rel).trim_start_matches('/');
                            draft
                                .entries
                                .insert(join(&dest.key, rel), ctx_entry(build.context, &it, own, args.chmod, clock));
                        }
                    }
                    Source::Tree { key, .. } => {
                        let From::Image(image) = &args.from else { unreachable!("tree sources come from an image") };
                        for (k, node) in image.tree.under(key) {
                            let rel = k.strip_prefix(key.as_str()).unwrap_or(k).trim_start_matches('/');
                            draft.add_from_tree(join(&dest.key, rel), k, node, args.owner, args.chmod, clock);
                        }
                    }
                }
                continue;
            }
            let target = if dest.is_dir { join(&dest.key, &s.base_name()) } else { dest.key.clone() };
            if target.is_empty() {
                return at(args.line, Refusal::CopyOntoRoot { keyword: args.keyword });
            }
            match s {
                Source::Ctx(item) => {
                    if args.add
                        && item.kind == ItemKind::File
                        && super::unpack::is_archive(&build.context.host(&item.rel))?
                    {
                        self.extract(&mut draft, build, item, &dest.key, args.owner, args.chmod)?;
                        continue;
                    }
                    draft.entries.insert(target, ctx_entry(build.context, item, own, args.chmod, clock));
                }
                Source::Tree { key, node } => draft.add_from_tree(target, key, node, args.owner, args.chmod, clock),
            }
        }
        Ok(draft)
    }

    /// Refuses a path that exists as a directory becoming a file, and the other way round.
    fn check_kinds(&self, args: &CopyArgs, draft: &LayerDraft) -> Result<(), BuildError> {
        for (key, e) in &draft.entries {
            if let Some(n) = self.image.tree.get(key)
                && n.is_dir() != matches!(e.kind, EntryKind::Dir)
                && !matches!(n.kind, Kind::Symlink(_))
            {
                return at(args.line, Refusal::DirectoryMismatch { keyword: args.keyword, path: key.clone() });
            }
        }
        Ok(())
    }

    /// A directory entry at `key`: the existing one's metadata when there is one, else a new one (0755,
    /// owned by `owner`; `mode` overrides).
    pub(super) fn dir_entry(&self, draft: &mut LayerDraft, key: &str, owner: Owner, mode: Option<u32>, clock: &Clock) {
        let e = match self.image.tree.get(key).filter(|n| n.is_dir()) {
            Some(n) => Entry {
                kind: EntryKind::Dir,
                mode: n.mode,
                uid: n.uid,
                gid: n.gid,
                mtime: clock.mtime(n.mtime),
                size: 0,
            },
            None => Entry {
                kind: EntryKind::Dir,
                mode: mode.unwrap_or(0o755),
                uid: owner.uid,
                gid: owner.gid,
                mtime: clock.secs,
                size: 0,
            },
        };
        draft.entries.insert(key.to_owned(), e);
    }

    /// Every parent directory of the entries: existing ones with their metadata, missing ones created.
    pub(super) fn add_ancestors(&self, draft: &mut LayerDraft, owner: Owner, clock: &Clock) -> Result<(), BuildError> {
        let keys: Vec<String> = draft.entries.keys().cloned().collect();
        for key in keys {
            for a in ancestors(&key) {
                if draft.entries.contains_key(&a) {
                    continue;
                }
                if let Some(n) = self.image.tree.get(&a)
                    && !n.is_dir()
                {
                    return Err(BuildError::NotADirectory { path: format!("/{a}") });
                }
                self.dir_entry(draft, &a, owner, None, clock);
            }
        }
        Ok(())
    }

    /// Writes the layer and applies it to this stage: its entries into the tree, its diff ID into the
    /// config, its descriptor into the image's and the build's layers.
    pub(super) fn commit_layer(
        &mut self,
        build: &mut Build,
        mut draft: LayerDraft,
    ) -> Result<layer::Written, BuildError> {
        let written = layer::write(build.store, &draft.entries)?;
        let blob = written.descriptor.digest.clone();
        for (key, e) in std::mem::take(&mut draft.entries) {
            let kind = match &e.kind {
                EntryKind::Dir => Kind::Dir,
                EntryKind::File(_) => Kind::File,
                EntryKind::Symlink(t) => Kind::Symlink(t.clone()),
            };
            // A hard link's bytes are its target's entry.
            let stored = written.hard_links.get(&key).cloned().unwrap_or_else(|| key.clone());
            let origin =
                if kind == Kind::File { Origin::Layer { blob: blob.clone(), path: stored } } else { Origin::None };
            self.image
                .tree
                .insert(key, Node { kind, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime, size: e.size, origin });
        }
        self.image.config.push_diff_id(written.diff_id.to_string());
        self.image.layers.push(written.descriptor.clone());
        build.new_layers.push(written.descriptor.clone());
        Ok(written)
    }
}

impl LayerDraft {
    /// The entry for `node` of a source image at `target` (its bytes are read later); devices and FIFOs are
    /// left out.
    fn add_from_tree(
        &mut self,
        target: String,
        key: &str,
        node: &Node,
        chown: Option<Owner>,
        chmod: Option<u32>,
        clock: &Clock,
    ) {
        if let Some(e) = tree_entry(node, chown, chmod, clock) {
            if matches!(e.kind, EntryKind::File(_)) {
                self.from_tree.push((target.clone(), key.to_owned()));
            }
            self.entries.insert(target, e);
        }
    }
}

/// The bytes of the draft's files out of the source image, through a spool on disk (never all in memory).
fn fill_from_image(build: &Build, image: &ImageState, draft: &mut LayerDraft) -> Result<(), BuildError> {
    if draft.from_tree.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = draft.from_tree.iter().map(|(_, k)| k.clone()).collect();
    let mut spool = spool(build)?;
    let got = image.tree.read_spooled(build.store, &keys, &mut spool)?;
    for (target, key) in std::mem::take(&mut draft.from_tree) {
        if let (Some(e), Some((content, size))) = (draft.entries.get_mut(&target), got.get(&key)) {
            e.size = *size;
            e.kind = EntryKind::File(content.clone());
        }
    }
    Ok(())
}

/// A spool for file bytes, in the store's temp directory (same filesystem as its blobs).
pub(super) fn spool(build: &Build) -> Result<Spool, BuildError> {
    let dir = build.store.temp_dir();
    Spool::new(&dir).map_err(|source| BuildError::Io { path: dir, source })
}

/// The filesystem of image `name` for `COPY --from=name`, fetched once per build and platform.
fn image_of(build: &mut Build, name: &str, platform: &Platform) -> Result<Rc<ImageState>, BuildError> {
    if let Some(s) = build.images.get(name) {
        return Ok(s.clone());
    }
    let base =
        build.bases.base(name, platform).map_err(|source| BuildError::FromImage { name: name.to_owned(), source })?;
    let image = Rc::new(state::load_image(build.store, &base, platform, build.progress)?);
    build.images.insert(name.to_owned(), image.clone());
    Ok(image)
}

/// The sources `src` names in an image's filesystem (wildcards matched against its paths).
fn tree_sources(t: &Tree, src: &str) -> Result<Vec<Source>, BuildError> {
    let key = clean(&format!("/{src}")).trim_start_matches('/').to_owned();
    if !has_wildcard(&key) {
        let resolved = t.resolve(&key, true)?;
        if resolved.is_empty() {
            return Ok(vec![Source::Tree {
                key: String::new(),
                node: Node { kind: Kind::Dir, mode: 0o755, uid: 0, gid: 0, mtime: 0, size: 0, origin: Origin::None },
            }]);
        }
        return match t.get(&resolved) {
            Some(n) => Ok(vec![Source::Tree { key: resolved, node: n.clone() }]),
            None => Err(BuildError::SourceNotFound {
                source_path: src.to_owned(),
                what: "no such file or directory in the source image",
            }),
        };
    }
    let pattern = Pattern::new(&key, false, Slashes::Stop)?;
    let depth = key.split('/').count();
    let mut out = Vec::new();
    for k in t.keys() {
        if k.split('/').count() == depth && pattern.matches(k) {
            let resolved = t.resolve(k, true)?;
            if let Some(n) = t.get(&resolved) {
                out.push(Source::Tree { key: resolved, node: n.clone() });
            }
        }
    }
    if out.is_empty() {
        return Err(BuildError::SourceNotFound {
            source_path: src.to_owned(),
            what: "no source files were specified (nothing matches)",
        });
    }
    Ok(out)
}

fn ctx_entry(ctx: &Context, it: &Item, own: Owner, chmod: Option<u32>, clock: &Clock) -> Entry {
    let (kind, mode, size) = match &it.kind {
        ItemKind::Dir => (EntryKind::Dir, chmod.unwrap_or(it.mode), 0),
        ItemKind::File => (EntryKind::File(Content::Host(ctx.host(&it.rel))), chmod.unwrap_or(it.mode), it.size),
        ItemKind::Symlink(t) => (EntryKind::Symlink(t.clone()), 0o777, 0),
    };
    Entry { kind, mode, uid: own.uid, gid: own.gid, mtime: clock.mtime(it.mtime), size }
}

/// The entry for a node of a source image (its bytes are filled in later); `None` for devices and FIFOs. It
/// keeps the node's owner unless `--chown` (BuildKit's `COPY --from`; podman's gives 0:0).
fn tree_entry(n: &Node, chown: Option<Owner>, chmod: Option<u32>, clock: &Clock) -> Option<Entry> {
    let (kind, mode) = match &n.kind {
        Kind::Dir => (EntryKind::Dir, chmod.unwrap_or(n.mode)),
        Kind::File => (EntryKind::File(Content::Bytes(Arc::new(Vec::new()))), chmod.unwrap_or(n.mode)),
        Kind::Symlink(t) => (EntryKind::Symlink(t.clone()), 0o777),
        Kind::Special => return None,
    };
    let own = chown.unwrap_or(Owner { uid: n.uid, gid: n.gid });
    Some(Entry { kind, mode, uid: own.uid, gid: own.gid, mtime: clock.mtime(n.mtime), size: n.size })
}
