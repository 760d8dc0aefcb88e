//! The portable backend (macOS Keychain, Windows Credential Manager) over `keyring-core`.
//!
//! Used where there is no Secret Service. Each server is one keyring entry (service
//! `docker-credential-keyring`, user = the server key) whose secret is `{"username":..,"secret":..}`; an
//! index entry lists the server keys for `list`, updated under a lock file so concurrent stores don't lose
//! each other. These entries are hoist's own: they do not interoperate with docker-credential-osxkeychain or
//! -wincred. Tested on Linux against keyring-core's mock store only (docs/helpers/keyring.md).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::sync::Arc;

use hoist_helper_protocol::{Credentials, Error, Secret, Store, server};
use keyring_core::{CredentialStore, Entry};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

const SERVICE: &str = "docker-credential-keyring";
const INDEX_USER: &str = "hoist:index";

pub struct OsKeyringStore {
    store: Arc<CredentialStore>,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    username: String,
    secret: Secret,
}

fn fail(what: &str, e: keyring_core::Error) -> Error {
    // keyring-core errors can carry raw secret bytes (BadEncoding, BadDataFormat): never print those.
    let reason = match &e {
        keyring_core::Error::NoStorageAccess(_) => "the keyring is locked or access was denied".to_owned(),
        keyring_core::Error::PlatformFailure(p) => format!("platform error: {p}"),
        keyring_core::Error::BadEncoding(_) | keyring_core::Error::BadDataFormat(..) => {
            "an entry is corrupt".to_owned()
        }
        keyring_core::Error::NoDefaultStore => "no keyring is available on this system".to_owned(),
        _ => "keyring error".to_owned(),
    };
    Error::backend(format!("{what}: {reason}"))
}

impl OsKeyringStore {
    /// The platform's native keyring (the default store that the `keyring` crate sets).
    #[cfg(any(not(target_os = "linux"), hoist_native_keyring))]
    pub fn new() -> Result<Self, Error> {
        if keyring::Entry::store_status().is_err() {
            return Err(Error::backend("no native keyring is available on this system"));
        }
        let store =
            keyring_core::get_default_store().ok_or_else(|| Error::backend("no native keyring is available"))?;
        Ok(OsKeyringStore { store })
    }

    pub fn with_store(store: Arc<CredentialStore>) -> Self {
        OsKeyringStore { store }
    }

    fn entry(&self, user: &str) -> Result<Entry, Error> {
        Entry::new_in_store(&self.store, SERVICE, user).map_err(|e| fail("opening a keyring entry", e))
    }

    fn index(&self) -> Result<BTreeSet<String>, Error> {
        match self.entry(INDEX_USER)?.get_password() {
            Ok(text) => serde_json::from_str(&text).map_err(|_| Error::backend("the keyring's index entry is corrupt")),
            Err(keyring_core::Error::NoEntry) => Ok(BTreeSet::new()),
            Err(e) => Err(fail("reading the index", e)),
        }
    }

    fn save_index(&self, index: &BTreeSet<String>) -> Result<(), Error> {
        let text = serde_json::to_string(index).map_err(|_| Error::backend("cannot encode the index"))?;
        self.entry(INDEX_USER)?.set_password(&text).map_err(|e| fail("writing the index", e))
    }

    /// Serialises read-modify-write of the index across processes of this user.
    fn lock(&self) -> Result<File, Error> {
        let user = std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_default();
        let path = std::env::temp_dir().join(format!("docker-credential-keyring-{user}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::backend(format!("cannot open lock file {}: {e}", path.display())))?;
        file.lock().map_err(|e| Error::backend(format!("cannot lock {}: {e}", path.display())))?;
        Ok(file)
    }

    fn read(&self, key: &str) -> Result<Option<Stored>, Error> {
        match self.entry(key)?.get_password() {
            Ok(text) => {
                let text = Zeroizing::new(text);
                serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|_| Error::backend(format!("the keyring entry for {key} is corrupt")))
            }
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(fail("reading a credential", e)),
        }
    }
}

impl Store for OsKeyringStore {
    fn add(&self, creds: &Credentials) -> Result<(), Error> {
        let _lock = self.lock()?;
        let stored = Stored { username: creds.username.clone(), secret: creds.secret.clone() };
        let text = Zeroizing::new(serde_json::to_string(&stored).map_err(|_| Error::backend("cannot encode"))?);
        self.entry(&creds.server_url)?.set_password(&text).map_err(|e| fail("storing the credential", e))?;
        let mut index = self.index()?;
        let replaced: Vec<String> = server::same_registry(index.iter().map(String::as_str), &creds.server_url)
            .into_iter()
            .map(str::to_owned)
            .collect();
        for key in replaced.iter().filter(|k| **k != creds.server_url) {
            match self.entry(key)?.delete_credential() {
                Ok(()) | Err(keyring_core::Error::NoEntry) => {}
                Err(e) => return Err(fail("removing a replaced credential", e)),
            }
            index.remove(key);
        }
        index.insert(creds.server_url.clone());
        self.save_index(&index)
    }

    fn get(&self, server_url: &str) -> Result<(String, Secret), Error> {
        if let Some(s) = self.read(server_url)? {
            return Ok((s.username, s.secret));
        }
        let index = self.index()?;
        let key = server::lookup(index.iter().map(String::as_str), server_url).ok_or(Error::NotFound)?;
        let s = self.read(key)?.ok_or(Error::NotFound)?;
        Ok((s.username, s.secret))
    }

    fn erase(&self, server_url: &str) -> Result<(), Error> {
        let _lock = self.lock()?;
        let mut index = self.index()?;
        let mut keys: Vec<String> = server::same_registry(index.iter().map(String::as_str), server_url)
            .into_iter()
            .map(str::to_owned)
            .collect();
        keys.push(server_url.to_owned());
        for key in &keys {
            match self.entry(key)?.delete_credential() {
                Ok(()) | Err(keyring_core::Error::NoEntry) => {}
                Err(e) => return Err(fail("removing the credential", e)),
            }
            index.remove(key);
        }
        self.save_index(&index)
    }

    fn list(&self) -> Result<BTreeMap<String, String>, Error> {
        let mut out = BTreeMap::new();
        for key in self.index()? {
            if let Some(s) = self.read(&key)? {
                out.insert(key, s.username);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> OsKeyringStore {
        OsKeyringStore::with_store(keyring_core::mock::Store::new().unwrap())
    }

    #[test]
    fn round_trip_on_the_mock_store() {
        let s = store();
        assert_eq!(s.get("r.example"), Err(Error::NotFound));
        s.add(&Credentials::new("https://index.docker.io/v1/", "u", "p")).unwrap();
        let (u, p) = s.get("docker.io").unwrap();
        assert_eq!((u.as_str(), p.expose()), ("u", "p"));
        s.add(&Credentials::new("docker.io", "<token>", "t")).unwrap();
        assert_eq!(s.list().unwrap(), BTreeMap::from([("docker.io".to_owned(), "<token>".to_owned())]));
        assert_eq!(s.get("https://index.docker.io/v1/").unwrap().1.expose(), "t");
        s.add(&Credentials::new("q.example:5000", "a", "b")).unwrap();
        s.erase("index.docker.io").unwrap();
        assert_eq!(s.get("docker.io"), Err(Error::NotFound));
        assert_eq!(s.list().unwrap(), BTreeMap::from([("q.example:5000".to_owned(), "a".to_owned())]));
        s.erase("never.example").unwrap();
    }

    #[test]
    fn errors_never_carry_secret_bytes() {
        let e = fail("reading", keyring_core::Error::BadEncoding(b"Canary-Secret".to_vec()));
        assert!(!e.to_string().contains("Canary"), "{e}");
    }
}
