//! Finding images in the store: grouping `index.json`'s entries into images, and resolving what a user typed
//! (a full or short name, a digest reference, an image ID or a prefix of one) to one of them.
//!
//! What it is not: short-name resolution against registries (that is `config::short_names`, for pulls); a
//! short name here only matches images already stored.

use super::{ANNOTATION_CREATED, Image, Store, StoreError};
use crate::digest::Digest;
use crate::image::{ANNOTATION_REF_NAME, Descriptor, Index};
use crate::reference::{Reference, looks_like_domain};

/// How an input matched an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Matched {
    /// By this stored name.
    Name(Reference),
    /// By ID, ID prefix, or a digest reference that is not itself a stored name.
    Id,
}

/// The images of an index: entries grouped by manifest digest, newest first (by [`ANNOTATION_CREATED`],
/// then by position, later entries being newer).
pub(super) fn images(index: &Index) -> Vec<Image> {
    let mut groups: Vec<(Image, usize)> = Vec::new();
    for (pos, d) in index.manifests.iter().enumerate() {
        let at = match groups.iter().position(|(img, _)| img.descriptor.digest == d.digest) {
            Some(at) => at,
            None => {
                groups.push((Image { names: Vec::new(), descriptor: strip(d), created: None }, pos));
                groups.len() - 1
            }
        };
        let (image, last) = &mut groups[at];
        *last = pos;
        if let Some(name) = d.annotation(ANNOTATION_REF_NAME).and_then(stored_name)
            && !image.names.contains(&name)
        {
            image.names.push(name);
        }
        if let Some(c) = d.annotation(ANNOTATION_CREATED)
            && image.created.as_deref().is_none_or(|old| c > old)
        {
            image.created = Some(c.to_owned());
        }
    }
    groups.sort_by(|(a, a_pos), (b, b_pos)| b.created.cmp(&a.created).then(b_pos.cmp(a_pos)));
    groups.into_iter().map(|(img, _)| img).collect()
}

/// The descriptor without the store's own annotations.
fn strip(d: &Descriptor) -> Descriptor {
    let mut d = d.clone();
    if let Some(a) = d.annotations.as_mut() {
        a.remove(ANNOTATION_REF_NAME);
        a.remove(ANNOTATION_CREATED);
        if a.is_empty() {
            d.annotations = None;
        }
    }
    d
}

/// A `ref.name` annotation that is a full name with a tag or digest, as hoist writes them. (Other tools
/// write bare tags such as `latest` there; those entries are images without names.)
pub(super) fn stored_name(s: &str) -> Option<Reference> {
    Reference::parse_normalized(s).ok().filter(|r| r.to_string() == s && (r.tag().is_some() || r.digest().is_some()))
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn not_known(input: &str) -> StoreError {
    StoreError::NotFound(format!("{input}: image not known"))
}

/// A name typed without a registry (`alpine`, `library/alpine:3`, `user/app@sha256:...`).
fn is_short(input: &str) -> bool {
    match input.split_once('/') {
        Some((first, _)) => !looks_like_domain(first),
        None => true,
    }
}

/// The repository path of a short name as typed (`alpine` for `alpine:3.19`).
fn typed_path(input: &str) -> &str {
    let no_digest = input.split_once('@').map_or(input, |(n, _)| n);
    no_digest.rsplit_once(':').map_or(no_digest, |(n, _)| n)
}

impl Store {
    /// Which of `images` `input` names; see [`Store::find`].
    pub(super) fn resolve(&self, images: &[Image], input: &str) -> Result<(usize, Matched), StoreError> {
        if input.is_empty() {
            return Err(StoreError::InvalidName { input: String::new(), message: "empty".to_owned() });
        }
        if let Some(hex) = input.strip_prefix("sha256:") {
            return self.by_id(images, hex, input);
        }
        if is_hex(input) && input.len() == 64 {
            return self.by_id(images, input, input);
        }
        match Reference::parse_normalized(input) {
            Ok(r) => {
                if let Some(found) = by_name(images, input, &r)? {
                    return Ok(found);
                }
            }
            Err(e) if !is_hex(input) => {
                return Err(StoreError::InvalidName { input: input.to_owned(), message: e.to_string() });
            }
            Err(_) => {}
        }
        if is_hex(input) && input.len() >= 3 {
            return self.by_id(images, input, input);
        }
        Err(not_known(input))
    }

    /// The image whose manifest digest or config digest (sha256) starts with `hex`. An image ID is one image:
    /// several manifests with the ID (a pull and a load of the same config) are not ambiguous; the one whose
    /// manifest digest matched is chosen, else a named one, else the newest.
    fn by_id(&self, images: &[Image], hex: &str, input: &str) -> Result<(usize, Matched), StoreError> {
        if !is_hex(hex) || !(3..=64).contains(&hex.len()) {
            return Err(StoreError::InvalidName {
                input: input.to_owned(),
                message: "an image ID is 3 to 64 lowercase hex digits".to_owned(),
            });
        }
        let ids = self.ids(images);
        let hit = |d: &Digest| d.algorithm() == "sha256" && d.hex().starts_with(hex);
        let found: Vec<usize> =
            (0..images.len()).filter(|&i| hit(&images[i].descriptor.digest) || hit(&ids[i])).collect();
        let mut distinct: Vec<&Digest> = Vec::new();
        for &i in &found {
            if !distinct.contains(&&ids[i]) {
                distinct.push(&ids[i]);
            }
        }
        match distinct.as_slice() {
            [] => Err(not_known(input)),
            [_] => {
                let best = found
                    .iter()
                    .copied()
                    .find(|&i| hit(&images[i].descriptor.digest))
                    .or_else(|| found.iter().copied().find(|&i| !images[i].names.is_empty()))
                    .unwrap_or(found[0]);
                Ok((best, Matched::Id))
            }
            _ => Err(StoreError::Ambiguous {
                prefix: input.to_owned(),
                candidates: distinct
                    .iter()
                    .map(|id| {
                        let names: Vec<String> = names_of(images, &ids, id).iter().map(Reference::to_string).collect();
                        if names.is_empty() { id.to_string() } else { format!("{id} ({})", names.join(" ")) }
                    })
                    .collect(),
            }),
        }
    }

    /// Each image's ID ([`Store::image_id`]; its manifest digest when the manifest cannot be read).
    pub(super) fn ids(&self, images: &[Image]) -> Vec<Digest> {
        images.iter().map(|image| self.image_id(image).unwrap_or_else(|_| image.descriptor.digest.clone())).collect()
    }
}

/// Every name of the image `id` (`ids` being [`Store::ids`] of `images`), over all its manifests, in order.
pub(super) fn names_of(images: &[Image], ids: &[Digest], id: &Digest) -> Vec<Reference> {
    let mut names: Vec<Reference> = Vec::new();
    for (image, _) in images.iter().zip(ids).filter(|(_, i)| *i == id) {
        for n in &image.names {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
    }
    names
}

/// The image named `r` (parsed from `input`), if any: the stored name itself; else, for a digest reference,
/// the image with that manifest digest and a name in the same repository; else, for a short name,
/// `localhost/NAME`, then stored names whose path is the typed path or ends in `/` and it (several → ambiguous).
fn by_name(images: &[Image], input: &str, r: &Reference) -> Result<Option<(usize, Matched)>, StoreError> {
    let r = r.clone().with_default_tag();
    if let Some(i) = images.iter().position(|img| img.names.contains(&r)) {
        return Ok(Some((i, Matched::Name(r))));
    }
    if let Some(digest) = r.digest()
        && let Some(i) = images
            .iter()
            .position(|img| img.descriptor.digest == *digest && img.names.iter().any(|n| n.name() == r.name()))
    {
        return Ok(Some((i, Matched::Id)));
    }
    if !is_short(input) {
        return Ok(None);
    }
    if let Ok(local) = Reference::parse_normalized(&format!("localhost/{input}")).map(Reference::with_default_tag)
        && let Some(i) = images.iter().position(|img| img.names.contains(&local))
    {
        return Ok(Some((i, Matched::Name(local))));
    }
    let path = typed_path(input);
    let path_matches = |n: &Reference| n.path() == path || n.path().ends_with(&format!("/{path}"));
    if let Some(digest) = r.digest() {
        let hits: Vec<usize> = (0..images.len())
            .filter(|&i| images[i].descriptor.digest == *digest && images[i].names.iter().any(path_matches))
            .collect();
        return match hits.as_slice() {
            [] => Ok(None),
            [i] => Ok(Some((*i, Matched::Id))),
            _ => Err(StoreError::Ambiguous {
                prefix: input.to_owned(),
                candidates: hits.iter().flat_map(|&i| images[i].names.iter().map(Reference::to_string)).collect(),
            }),
        };
    }
    let hits: Vec<(usize, &Reference)> = images
        .iter()
        .enumerate()
        .flat_map(|(i, img)| img.names.iter().map(move |n| (i, n)))
        .filter(|(_, n)| path_matches(n) && n.tag() == r.tag() && n.digest().is_none())
        .collect();
    match hits.as_slice() {
        [] => Ok(None),
        [(i, n)] => Ok(Some((*i, Matched::Name((*n).clone())))),
        _ => Err(StoreError::Ambiguous {
            prefix: input.to_owned(),
            candidates: hits.iter().map(|(_, n)| n.to_string()).collect(),
        }),
    }
}
