//! The vault as a credential store: read, decrypt, change, encrypt under a fresh nonce, write atomically.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hoist_fs::{LockNotice, PrivateFile, WriteLock};
use hoist_helper_protocol::{Credentials, Error, Secret, Store};
use zeroize::Zeroizing;

use crate::agent;
use crate::format::{self, Header, Key};
use crate::passphrase::{self, Purpose};

pub const ENV_FILE: &str = "HOIST_VAULT_FILE";
/// The plaintext is hoist-fs's credential map (docker-credential-file's file format), this version of it.
pub const CONTENT_VERSION: u32 = hoist_fs::credentials::FORMAT_VERSION;

pub use hoist_fs::credentials::{Contents, Entry};

/// A vault file at a path.
#[derive(Debug, Clone)]
pub struct Vault {
    file: PrivateFile,
}

/// Where a key may come from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum KeyFrom {
    /// An unlocked session first, then the passphrase sources: every protocol verb.
    SessionOrPassphrase,
    /// The passphrase only: `unlock`, `rekey`, `export` ask for it again even when unlocked.
    Passphrase,
}

/// An opened vault: its header, key and decrypted contents.
pub struct Opened {
    pub header: Header,
    pub key: Key,
    pub contents: Contents,
}

impl Vault {
    /// The vault at `$HOIST_VAULT_FILE`, else `$XDG_DATA_HOME/hoist/vault`, else `~/.local/share/hoist/vault`.
    pub fn from_env() -> Result<Self, Error> {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(p) = var(ENV_FILE) {
            return Ok(Vault::at(p));
        }
        let data = match var("XDG_DATA_HOME").filter(|p| p.is_absolute()) {
            Some(p) => p,
            None => var("HOME")
                .map(|h| h.join(".local/share"))
                .ok_or_else(|| Error::backend(format!("neither {ENV_FILE}, XDG_DATA_HOME nor HOME is set")))?,
        };
        Ok(Vault::at(data.join("hoist").join("vault")))
    }

    pub fn at(path: impl Into<PathBuf>) -> Self {
        Vault { file: PrivateFile::new(path, "vault") }
    }

    /// Tells `notice` when a change has waited a second for the vault's lock (the helper prints it).
    pub fn with_lock_notice(self, notice: LockNotice) -> Self {
        Vault { file: self.file.with_lock_notice(notice) }
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }

    pub fn fail(&self, message: impl std::fmt::Display) -> Error {
        self.file.fail(message).into()
    }

    pub fn exists(&self) -> bool {
        self.file.exists()
    }

    /// The raw file, or None when there is no vault.
    pub fn read_raw(&self) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        Ok(self.file.read()?)
    }

    pub fn header_of(&self, raw: &[u8]) -> Result<Header, Error> {
        Header::parse(raw).map(|(h, _)| h).map_err(|e| self.fail(e))
    }

    /// The key for `header`: from the unlocked session if allowed and present, else derived from a passphrase.
    pub fn key_for(&self, header: &Header, from: KeyFrom) -> Result<Key, Error> {
        let from_session =
            || agent::socket_path(self.path()).ok().and_then(|s| agent::key_from_agent(&s, &header.fingerprint()));
        if let Some(key) = (from == KeyFrom::SessionOrPassphrase).then(from_session).flatten() {
            return Ok(key);
        }
        let pass = passphrase::obtain(Purpose::Unlock)?;
        header.derive_key(pass.as_bytes()).map_err(|e| self.fail(e))
    }

    pub fn decrypt(&self, raw: &[u8], key: &Key) -> Result<Contents, Error> {
        let plain = format::open(raw, key).map_err(|e| self.fail(e))?;
        let contents: Contents = serde_json::from_slice(&plain)
            .map_err(|_| self.fail("decrypted, but the content is not a credential map"))?;
        if contents.version != CONTENT_VERSION {
            return Err(self
                .fail(format_args!("holds content version {}; this build reads {CONTENT_VERSION}", contents.version)));
        }
        Ok(contents)
    }

    /// Opens the vault, or None when there is none.
    pub fn open(&self, from: KeyFrom) -> Result<Option<Opened>, Error> {
        let Some(raw) = self.read_raw()? else { return Ok(None) };
        let header = self.header_of(&raw)?;
        let key = self.key_for(&header, from)?;
        let contents = self.decrypt(&raw, &key)?;
        Ok(Some(Opened { header, key, contents }))
    }

    /// Encrypts `contents` under a fresh nonce and replaces the file. The caller holds the write lock.
    pub fn write(&self, lock: &WriteLock, header: &Header, key: &Key, contents: &Contents) -> Result<(), Error> {
        let mut plain = Zeroizing::new(Vec::new());
        serde_json::to_writer(&mut *plain, contents).map_err(|e| self.fail(format_args!("cannot encode: {e}")))?;
        let sealed = format::seal(header, key, &plain).map_err(|e| self.fail(e))?;
        Ok(self.file.write(lock, &sealed)?)
    }

    pub fn lock(&self) -> Result<WriteLock, Error> {
        Ok(self.file.lock()?)
    }

    /// Changes the contents under the write lock; `change` returns whether anything changed.
    pub fn modify(&self, from: KeyFrom, change: impl FnOnce(&mut Contents) -> bool) -> Result<(), Error> {
        let lock = self.lock()?;
        let Some(mut opened) = self.open(from)? else {
            return Err(self.fail("does not exist; create it with `docker-credential-vault init`"));
        };
        if change(&mut opened.contents) {
            self.write(&lock, &opened.header, &opened.key, &opened.contents)?;
        }
        Ok(())
    }
}

impl Store for Vault {
    fn add(&self, creds: &Credentials) -> Result<(), Error> {
        self.modify(KeyFrom::SessionOrPassphrase, |c| {
            c.put(creds);
            true
        })
    }

    fn get(&self, server_url: &str) -> Result<(String, Secret), Error> {
        let Some(opened) = self.open(KeyFrom::SessionOrPassphrase)? else { return Err(Error::NotFound) };
        let entry = opened.contents.get(server_url).ok_or(Error::NotFound)?;
        Ok((entry.username.clone(), entry.secret.clone()))
    }

    fn erase(&self, server_url: &str) -> Result<(), Error> {
        if !self.exists() {
            return self.read_raw().map(drop);
        }
        self.modify(KeyFrom::SessionOrPassphrase, |c| c.remove(server_url))
    }

    fn list(&self) -> Result<BTreeMap<String, String>, Error> {
        Ok(self.open(KeyFrom::SessionOrPassphrase)?.map(|o| o.contents.usernames()).unwrap_or_default())
    }
}
