//! The files hoist and its credential helpers share, in one small crate with no async runtime and no network
//! client, so a helper that links it still starts in about a millisecond.
//!
//! - [`private_file`]: a file only its owner can read, replaced atomically under an exclusive lock
//!   ([`PrivateFile`]), with a typed [`FileError`] whose text names the file.
//! - [`credentials`]: the credential map hoist's own stores hold (`{"version":1,"credentials":{...}}`):
//!   docker-credential-file's JSON file as it is, docker-credential-vault's plaintext before encryption.
//! - [`auth_json`]: the containers-auth.json(5) / docker config.json document codec: read, look up and edit an
//!   auth file without losing anything in it we don't understand.
//! - [`write_behind`]: starting writeback early for large files that are fsynced when whole.
//!
//! What it is not: policy. Where the files are (XDG paths, `REGISTRY_AUTH_FILE`, the containers search order),
//! which helper is run and when, and what a caller prints are decided by hoist-core and the helpers. It
//! never prints, never runs a program and never puts a secret in an error message.

pub mod auth_json;
pub mod credentials;
pub mod private_file;
pub mod write_behind;

pub use private_file::{FileError, LockNotice, PrivateFile, WriteLock};
