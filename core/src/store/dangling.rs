//! Images without names: [`Store::untag_image`] (podman's `untag`, which may leave an image with no name,
//! still stored) and [`Store::prune`] (podman's `image prune`: the images without a name, or with `all` every
//! image, removed in one change of `index.json`, then the garbage collected).
//!
//! What it is not: removal by name or ID ([`Store::remove`]) or the collection itself ([`Store::gc`]).

use std::collections::BTreeMap;

use super::layout::{GC_LOCK, Held, INDEX_LOCK, Mode, now_rfc3339};
use super::{ANNOTATION_CREATED, GcReport, Store, StoreError, deadlock, lookup};
use crate::digest::Digest;
use crate::image::ANNOTATION_REF_NAME;
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

    /// podman's `image prune`: removes every image without a name (none of the manifests with its ID has
    /// one), or with `all` every image, in one change of `index.json` (an image named meanwhile by another
    /// process is kept: the choice is made under the index's lock), then collects garbage.
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
            let mut chosen: Vec<Digest> = Vec::new();
            for id in &ids {
                if !chosen.contains(id) && (all || lookup::names_of(&images, &ids, id).is_empty()) {
                    chosen.push(id.clone());
                }
            }
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
