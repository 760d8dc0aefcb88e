//! The docker-credential-helpers protocol, as spoken by the Go helpers 0.6.4.
//!
//! A credential helper is a program `docker-credential-NAME` that docker, podman, skopeo, buildah and hoist run
//! with one verb (`store`, `get`, `erase`, `list`, `version`) and a small stdin/stdout exchange. This crate is
//! that protocol and nothing else:
//!
//! - [`Store`]: the four operations a backend implements (file, Secret Service, encrypted vault, ...).
//! - [`serve`]: everything a helper binary does around its backend: arguments, stdin, output, exit codes.
//!   A helper's `main` is a call to it.
//! - [`client`]: the other side, running any helper (ours or the Go ones) from a program such as hoist.
//! - [`server`]: how registry keys are matched (exact first, then a documented normalised form).
//! - [`docker_hub`]: Docker Hub's names in one table, shared by helpers and hoist.
//! - [`tty`]: asking a person on the terminal (echo off for secrets), for helpers and clients alike.
//!
//! What it is not: a credential store. It never touches disk or the network, and it never prints a secret
//! except as the answer to `get`.

pub mod client;
mod creds;
pub mod docker_hub;
mod error;
mod serve;
pub mod server;
pub mod tty;
mod wire;

pub use creds::{Credentials, Secret};
pub use error::Error;
#[doc(hidden)]
pub use serve::run_verb;
pub use serve::{HelperInfo, MAX_INPUT, serve};

use std::collections::BTreeMap;

/// The text every helper prints (on stdout, exit 1) when `get` finds nothing. Clients recognise it.
pub const NOT_FOUND: &str = "credentials not found in native keychain";

/// Username that marks the secret as an identity (refresh) token rather than a password.
pub const IDENTITY_TOKEN_USERNAME: &str = "<token>";

/// A credential store, the only thing a helper backend implements.
///
/// Keys are the `ServerURL` strings exactly as clients send them. A backend decides how it matches keys on
/// `get` and `erase`; [`server::lookup`] implements the matching every hoist helper documents.
pub trait Store {
    /// Stores or replaces the credential for `creds.server_url`. Never called with an empty server or username.
    fn add(&self, creds: &Credentials) -> Result<(), Error>;
    /// The username and secret stored for `server_url`, or [`Error::NotFound`].
    fn get(&self, server_url: &str) -> Result<(String, Secret), Error>;
    /// Removes the credential for `server_url`. Removing a missing entry succeeds.
    fn erase(&self, server_url: &str) -> Result<(), Error>;
    /// Every stored server key with its username.
    fn list(&self) -> Result<BTreeMap<String, String>, Error>;
}
