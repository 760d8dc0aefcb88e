//! docker-credential-vault: a credential store encrypted at rest, for servers and CI machines.
//!
//! - [`format`]: the file (argon2id-derived key, AES-256-GCM with the header as associated data, a fresh
//!   random nonce on every write).
//! - [`vault`]: the vault as a [`hoist_helper_protocol::Store`], writes locked and atomic (shared with
//!   hoist-fs's `PrivateFile`; the plaintext is hoist-fs's credential map).
//! - [`passphrase`]: where a passphrase comes from; never a blocking read without a terminal.
//! - [`agent`]: the unlocked session, a private per-user agent holding the key in memory.
//! - [`cli`]: init, unlock, lock, status, rekey, export, import.

pub mod agent;
pub mod cli;
pub mod format;
pub mod passphrase;
pub mod vault;

pub use vault::Vault;
