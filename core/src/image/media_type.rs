//! The media types of manifests, indexes, configs and layers that hoist reads and writes: OCI image spec v1
//! and Docker's image manifest v2 schema 2, plus schema 1's, which are only recognised to be refused.
//!
//! What it is not: a registry of artifact types. Any other media type is carried through untouched; these
//! constants and predicates are only what the image model and the copy engine decide things by.

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const OCI_LAYER_NONDISTRIBUTABLE: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
pub const OCI_LAYER_NONDISTRIBUTABLE_GZIP: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
pub const OCI_LAYER_NONDISTRIBUTABLE_ZSTD: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
/// The empty JSON object `{}` OCI artifacts use as their config.
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// An uncompressed Docker layer (docker-archive layers, as containers/image names them).
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_FOREIGN_LAYER: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
pub const DOCKER_FOREIGN_LAYER_UNCOMPRESSED: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar";
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// What a client sends in `Accept` when it fetches a manifest: the two image manifests and the two indexes.
/// Schema 1 is not asked for, so a registry that can convert serves schema 2 instead.
pub const MANIFEST_ACCEPT: &[&str] = &[OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

/// The media type proper: parameters (`; charset=utf-8`) and surrounding blanks removed, lowercased.
pub fn essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// An index of manifests: OCI's image index or Docker's manifest list.
pub fn is_index(media_type: &str) -> bool {
    matches!(media_type, OCI_INDEX | DOCKER_LIST)
}

/// A manifest of one image: OCI's or Docker's schema 2 (schema 1 is not one hoist reads).
pub fn is_image_manifest(media_type: &str) -> bool {
    matches!(media_type, OCI_MANIFEST | DOCKER_MANIFEST)
}

/// Docker's deprecated schema 1, signed or not.
pub fn is_schema1(media_type: &str) -> bool {
    matches!(media_type, DOCKER_SCHEMA1 | DOCKER_SCHEMA1_SIGNED)
}

/// A layer that must not be copied between registries: Docker's foreign layers and OCI's non-distributable
/// ones. Their descriptors stay in the manifest (with their `urls`); their bytes are not moved.
pub fn is_foreign_layer(media_type: &str) -> bool {
    matches!(
        media_type,
        DOCKER_FOREIGN_LAYER
            | DOCKER_FOREIGN_LAYER_UNCOMPRESSED
            | OCI_LAYER_NONDISTRIBUTABLE
            | OCI_LAYER_NONDISTRIBUTABLE_GZIP
            | OCI_LAYER_NONDISTRIBUTABLE_ZSTD
    )
}

/// The gzip media type for an uncompressed layer's (OCI or Docker), `None` for anything else.
pub fn gzip_of(media_type: &str) -> Option<&'static str> {
    match media_type {
        OCI_LAYER => Some(OCI_LAYER_GZIP),
        DOCKER_LAYER => Some(DOCKER_LAYER_GZIP),
        _ => None,
    }
}

/// A manifest-like document hoist can parse: an image manifest or an index.
pub fn is_manifest(media_type: &str) -> bool {
    is_image_manifest(media_type) || is_index(media_type)
}
