//! hoist-core: the library behind `hoist`, a daemonless image tool with podman's image commands.
//!
//! Modules are named for what they are; dependencies point one way
//! (registry → auth → config → reference, everything may use observe):
//! - [`reference`]: image references, exactly as distribution/reference parses them.
//! - [`config`]: registries.conf v2 (containers-registries.conf(5)) and short-name resolution.
//! - [`auth`]: auth files, `credHelpers`/`credsStore`, the registries.conf `credential-helpers` list.
//! - [`registry`]: the registry HTTP client (endpoints, TLS, challenges, Basic/Bearer, tokens, typed errors).
//! - [`digest`]: hashing while bytes stream, and refusing bytes that are not what they were named by.
//! - [`image`]: manifests, indexes, configs and descriptors parsed from raw bytes; media types; platforms.
//! - [`store`]: the local image store, an OCI image layout shared safely by concurrent hoist processes.
//! - [`stream`]: [`stream::ByteStream`], bytes as they arrive, the one stream type.
//! - [`transport`]: image sources and destinations (registry, store, archives, directories) behind two traits,
//!   and [`transport::name::ImageName`], every `TRANSPORT:NAME` hoist accepts, parsed and opened in one place.
//! - [`archive`]: docker-archive, oci-archive, oci-dir and docker-dir read safely (untrusted input) and written.
//! - [`copy`]: the copy engine every pull, push and copy goes through.
//! - [`build`]: images from Dockerfiles without RUN: parser, `.dockerignore`, layers from the build context.
//! - [`release`]: semver tags on a registry or in the store (`2.1.3` also moves `2.1` and `2`, never backwards).
//! - [`catalog`]: what `images` and `inspect` show, computed from manifest and config.
//! - [`sync_file`]: skopeo sync's YAML file (`hoist sync --src yaml`): what to mirror, from where.
//! - [`observe`]: how the library reports progress and warnings without printing.
//! - [`cleanup`]: the temp files in flight, removed when a signal stops the process.
//! - [`trust`]: containers-policy.json(5), GPG and sigstore signatures, where signatures live.
//! - [`ops`]: the workflows (pull by short name, push, promote, save, load, copy by name, a build's bases),
//!   each one call taking one explicit [`ops::Settings`].
//!
//! The `hoist` command line is a separate package (`cli/`) over this library; the library never
//! prints and never parses argv.

pub mod archive;
pub mod auth;
pub mod build;
pub mod catalog;
pub mod cleanup;
pub mod config;
pub mod copy;
pub mod digest;
pub mod image;
pub mod observe;
pub mod ops;
pub mod reference;
pub mod registry;
pub mod release;
pub mod store;
pub mod stream;
pub mod sync_file;
pub mod transport;
pub mod trust;
