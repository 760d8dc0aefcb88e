//! `hoist sync`: many images from one place to another, as skopeo's `sync` does, incremental. What to copy is
//! a list of [`SourceSpec`]s (a registry repository and a [`TagSelection`]; made from the command line, or by
//! the skopeo sync YAML parser in `config::sync_yaml`); each selected tag goes to the destination under
//! skopeo's names ([`destination_path`]). A tag whose manifest at the destination already is the source's
//! costs one HEAD at each side and moves nothing; the others go through the one copy engine (manifest last).
//!
//! What it is not: the YAML parser, or printing (per-image lines leave through the settings' observer, the
//! summary is returned).

use std::path::PathBuf;

use hoist_helper_protocol::Credentials;

/// One source repository to sync: where it is, which tags, and how to reach it. The TLS and credential
/// fields, when set, override the `--src-*` flags for this source only (skopeo's per-registry YAML keys).
#[derive(Clone, Debug)]
pub struct SourceSpec {
    /// The registry's host (and port): `quay.io`, `localhost:5000`; `docker.io` for Docker Hub.
    pub registry: String,
    /// The repository's path in the registry: `library/busybox`, `org/app`.
    pub repository: String,
    pub tags: TagSelection,
    /// `tls-verify`: `Some(false)` allows plain HTTP and unverified TLS for this source.
    pub tls_verify: Option<bool>,
    /// `cert-dir`: CA certificates (and client certificate/key) for this source.
    pub cert_dir: Option<PathBuf>,
    /// `credentials`: these for this source instead of the lookup.
    pub credentials: Option<Credentials>,
}

/// Which tags of a source repository are synced.
#[derive(Clone, Debug)]
pub enum TagSelection {
    /// Every tag the registry lists.
    All,
    /// These tags (skopeo's `images: {repo: [tags]}`, or `repo:tag` on the command line).
    Tags(Vec<String>),
    /// The listed tags this regex matches somewhere (skopeo's `images-by-tag-regex`; `regex`'s engine is
    /// linear in the tag's length, whatever the pattern).
    Regex(regex::Regex),
    /// The listed version tags meeting this requirement (`images-by-semver`, `--semver '>=2.0, <3'`).
    Semver(semver::VersionReq),
}
