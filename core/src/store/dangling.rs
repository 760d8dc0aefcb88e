//! Images without names: [`Store::untag_image`] (podman's `untag`, which may leave an image with no name,
//! still stored) and [`Store::prune`] (podman's `image prune`: the dangling images — no name, and no image
//! built on them — or with `all` every image, removed in one change of `index.json`, then the garbage
//! collected).
//!
//! What it is not: removal by name or ID ([`Store::remove`]) or the collection itself ([`Store::gc`]).

use std::collections::BTreeMap;

use super::layout::{GC_LOCK, Held, INDEX_LOCK, Mode, now_rfc3339};
use super::{ANNOTATION_CREATED, GcReport, Store, StoreError, deadlock, lookup};
use crate::digest::Digest;
use crate::image::{ANNOTATION_REF_NAME, Descriptor, ImageConfig, MAX_CONFIG_SIZE, Manifest, media_type};
use crate::reference::Reference;

/// What [`Store::prune`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    /// The IDs ([`Store::image_id`]) of the images removed, newest first.
    pub ids: Vec<Digest>,
    /// What the garbage collection that followed freed.
    pub gc: GcReport,
}

impl Store {
    /// podman's `untag`: takes `names` (each given in full, normalised as the caller decided) off the image
    /// `name_or_id` finds (a name, short name or ID, as [`Store::find`]); `None` takes every name off. A name
    /// the image does not have is refused (`NAME: tag not known`) before any name goes. The image stays: when
    /// no name is left, one entry without a name keeps it (a `<none>` image, until `prune` or `rmi`). Returns
    /// the names taken off, in the image's order.
    pub fn untag_image(&self, name_or_id: &str, names: Option<&[Reference]>) -> Result<Vec<Reference>, StoreError> {
        let _gc = self.lock(GC_LOCK, Mode::Shared)?;
        let _ix = self.lock(INDEX_LOCK, Mode::Exclusive)?;
        let mut index = self.read_index()?;
        let images = lookup::images(&index);
        let (i, _) = self.resolve(&images, name_or_id)?;
        let ids = self.ids(&images);
        let id = ids[i].clone();
        let has = lookup::names_of(&images, &ids, &id);
        let gone: Vec<Reference> = match names {
            None => has.clone(),
            Some(names) => {
                let mut gone = Vec::new();
                for n in names {
                    let n = n.clone().with_default_tag();
                    if !has.contains(&n) {
                        return Err(StoreError::NotFound(format!("{n}: tag not known")));
                    }
                    if !gone.contains(&n) {
                        gone.push(n);
                    }
                }
                gone
            }
        };
        if gone.is_empty() {
            return Ok(gone);
        }
        let gone_str: Vec<String> = gone.iter().map(Reference::to_string).collect();
        let digests: Vec<&Digest> =
            images.iter().zip(&ids).filter(|(_, d)| **d == id).map(|(img, _)| &img.descriptor.digest).collect();
        index.manifests.retain(|d| d.annotation(ANNOTATION_REF_NAME).is_none_or(|n| !gone_str.iter().any(|g| g == n)));
        if !index.manifests.iter().any(|d| digests.contains(&&d.digest)) {
            let mut entry = images[i].descriptor.clone();
            let created = images[i].created.clone().unwrap_or_else(now_rfc3339);
            entry.annotations.get_or_insert_with(BTreeMap::new).insert(ANNOTATION_CREATED.to_owned(), created);
            index.manifests.push(entry);
        }
        self.write_index(&index)?;
        Ok(gone)
    }

    /// podman's `image prune`: removes the dangling images — without a name (none of the manifests with its
    /// ID has one) and no image built on them ([`is_child`], podman's parent test: such a parent is an
    /// intermediate image, kept while its child is) — until none is left, or with `all` every image, in one
    /// change of `index.json` (an image named meanwhile by another process is kept: the choice is made under
    /// the index's lock), then collects garbage.
    pub fn prune(&self, all: bool) -> Result<Pruned, StoreError> {
        if Held::any(&self.key) {
            return Err(deadlock());
        }
        let ids = {
            let _gc = self.lock(GC_LOCK, Mode::Shared)?;
            let _ix = self.lock(INDEX_LOCK, Mode::Exclusive)?;
            let mut index = self.read_index()?;
            let images = lookup::images(&index);
            let ids = self.ids(&images);
            let mut distinct: Vec<(Digest, usize)> = Vec::new();
            for (i, id) in ids.iter().enumerate() {
                if !distinct.iter().any(|(d, _)| d == id) {
                    distinct.push((id.clone(), i));
                }
            }
            let chosen: Vec<Digest> = if all {
                distinct.into_iter().map(|(id, _)| id).collect()
            } else {
                let lineages: Vec<Option<Lineage>> =
                    distinct.iter().map(|(_, i)| self.lineage(&images[*i].descriptor)).collect();
                let nameless: Vec<bool> =
                    distinct.iter().map(|(id, _)| lookup::names_of(&images, &ids, id).is_empty()).collect();
                // As podman, pruned until nothing more goes: a nameless parent whose only children were
                // dangling goes in the next round.
                let mut gone = vec![false; distinct.len()];
                loop {
                    let round: Vec<usize> = (0..distinct.len())
                        .filter(|&p| nameless[p] && !gone[p])
                        .filter(|&p| {
                            let Some(parent) = &lineages[p] else { return true };
                            !(0..distinct.len()).any(|c| {
                                c != p && !gone[c] && lineages[c].as_ref().is_some_and(|child| is_child(parent, child))
                            })
                        })
                        .collect();
                    if round.is_empty() {
                        break;
                    }
                    for p in round {
                        gone[p] = true;
                    }
                }
                distinct.into_iter().zip(gone).filter(|(_, g)| *g).map(|((id, _), _)| id).collect()
            };
            let digests: Vec<&Digest> = images
                .iter()
                .zip(&ids)
                .filter(|(_, d)| chosen.contains(d))
                .map(|(img, _)| &img.descriptor.digest)
                .collect();
            if !digests.is_empty() {
                // Entries other tools wrote with a bare tag (no name of hoist's) go with their image.
                index.manifests.retain(|d| !digests.contains(&&d.digest));
                self.write_index(&index)?;
            }
            chosen
        };
        let gc = self.gc()?;
        self.keep_index_reserve();
        Ok(Pruned { ids, gc })
    }
}

/// What podman's layer tree knows of an image: its layers (diff_ids) and history.
struct Lineage {
    diff_ids: Vec<Digest>,
    history: Vec<serde_json::Value>,
}

impl Store {
    /// The lineage of the image manifest `d`; `None` for an index (which is no one's parent or child, as in
    /// podman) or a manifest or config that cannot be read.
    fn lineage(&self, d: &Descriptor) -> Option<Lineage> {
        if !media_type::is_image_manifest(&d.media_type) {
            return None;
        }
        let Ok((_, Manifest::Image(m))) = self.read_manifest(d) else { return None };
        let raw = self.read_blob(&m.config.digest, MAX_CONFIG_SIZE).ok()?;
        let config = ImageConfig::parse(&raw).ok()?;
        Some(Lineage { diff_ids: config.rootfs.diff_ids, history: config.history })
    }
}

/// podman's parent test (libimage's layer tree, `areParentAndChild`): `child` has `parent`'s layers and at
/// most one more (the same top layer, or `parent`'s top layer as its parent; an image without layers has only
/// images without layers as children), and `parent`'s history plus exactly one entry, the shared entries
/// alike in `created`, `created_by`, `author`, `comment` and `empty_layer`.
fn is_child(parent: &Lineage, child: &Lineage) -> bool {
    let (p, c) = (&parent.diff_ids, &child.diff_ids);
    let layers = if p.is_empty() { c.is_empty() } else { c.len() - p.len().min(c.len()) <= 1 && c.starts_with(p) };
    layers
        && child.history.len() == parent.history.len() + 1
        && parent.history.iter().zip(&child.history).all(|(a, b)| same_history(a, b))
}

/// Two history entries alike as containers/common compares them (a missing field is Go's zero value).
fn same_history(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    let text = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_owned();
    let created = |v: &serde_json::Value| v.get("created").and_then(|x| x.as_str()).map(str::to_owned);
    let empty = |v: &serde_json::Value| v.get("empty_layer").and_then(|x| x.as_bool()).unwrap_or(false);
    created(a) == created(b)
        && ["created_by", "author", "comment"].iter().all(|k| text(a, k) == text(b, k))
        && empty(a) == empty(b)
}
