//! Test harness: starts the real programs hoist's tests talk to, each on a free loopback port in a temp dir,
//! and stops exactly the processes it started when the guard is dropped (also when a test panics).
//!
//! - [`registry::Registry`]: distribution's `docker-registry serve`, optionally TLS and htpasswd.
//! - [`secret_service::SecretService`]: a private D-Bus session bus plus gnome-keyring-daemon (unlocked).
//! - [`pass::PassStore`]: a temp GNUPGHOME with a passphrase-less key and a pass store.
//! - [`hoist::HoistWorld`]: hoist with its own HOME, registries.conf, store and no terminal.
//! - [`hostile::Hostile`]: a server that stalls, drips, floods or loops, to attack hoist's client.
//! - [`docker::Docker`]: a private Docker engine (own socket, data root, daemon.json) and Debian's client.
//! - [`podman::Containers`]: podman/skopeo configuration kept in a temp dir.
//! - [`image`]: OCI image layouts (multi-layer, multi-platform) built without network.
//! - [`layers`]: the build comparisons' base image, and layouts and layer tars read back as compared.
//! - [`fake_registry::FakeRegistry`]: a loopback registry that misbehaves on purpose (429, 500, cut or wrong bytes).
//! - [`token_issuer`]: the JWT issuer a registry with `auth: token` trusts.
//! - [`conformance`]: the table of protocol cases every helper runs against docker-credential-secretservice.
//!
//! A missing program fails the test with the Debian package that installs it; nothing is skipped.

pub mod badinput;
pub mod conformance;
pub mod docker;
pub mod fake_registry;
pub mod helpers;
pub mod hoist;
pub mod hostile;
pub mod image;
pub mod layers;
pub mod pass;
pub mod podman;
pub mod process;
pub mod registry;
pub mod secret_service;
pub mod tmpfs;
pub mod token_issuer;

pub use process::{Proc, Run, Subject, bin, require, run};
