//! The Secret Service backend (Linux).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use hoist_fs::{LockNotice, PrivateFile, WriteLock};
use hoist_helper_protocol::{Credentials, Error, Secret, Store, server};
use secret_service::EncryptionType;
use secret_service::blocking::{Item, SecretService};
use zeroize::Zeroizing;

use crate::{TIMEOUT, with_timeout};

const SCHEMA: &str = "io.docker.Credentials";
const LABEL: &str = "Docker Credentials";

const UNLOCK_HINT: &str = "unlock it first (log in to your desktop session, or start gnome-keyring-daemon with \
                           --unlock; see docs/helpers/keyring.md); this helper never shows an unlock prompt";

/// Credentials in the default Secret Service collection, as docker-credential-secretservice keeps them.
#[derive(Debug, Clone)]
pub struct KeyringStore {
    timeout: Duration,
    /// Who hears that a writer waits for the writers' lock.
    notice: LockNotice,
}

impl Default for KeyringStore {
    fn default() -> Self {
        KeyringStore { timeout: TIMEOUT, notice: LockNotice::default() }
    }
}

impl KeyringStore {
    pub fn new() -> Result<Self, Error> {
        Ok(KeyringStore::default())
    }

    /// Tells `notice` when a writer has waited a second for the writers' lock (the helper prints it).
    pub fn with_lock_notice(self, notice: LockNotice) -> Self {
        KeyringStore { notice, ..self }
    }
}

/// One docker item: its server key, username and the item itself.
struct DockerItem<'a> {
    server: String,
    username: String,
    item: Item<'a>,
}

fn connect() -> Result<SecretService<'static>, Error> {
    let address = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").filter(|a| !a.is_empty());
    if address.is_none() {
        let runtime_bus = std::env::var_os("XDG_RUNTIME_DIR").map(|d| std::path::PathBuf::from(d).join("bus"));
        if !runtime_bus.is_some_and(|p| p.exists()) {
            return Err(Error::backend(
                "no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set and $XDG_RUNTIME_DIR/bus does not exist; \
                 run inside a desktop or `dbus-run-session`, or start a session bus (see docs/helpers/keyring.md)",
            ));
        }
    }
    let conn = zbus::blocking::connection::Builder::session()
        .and_then(|b| b.method_timeout(TIMEOUT).build())
        .map_err(|e| Error::backend(format!("cannot connect to the D-Bus session bus: {}", short(&e.to_string()))))?;
    SecretService::connect_with_existing(EncryptionType::Dh, conn).map_err(|e| ss_error("cannot open a session", e))
}

/// Maps crate errors to one line that says what to do. They carry D-Bus names and paths, never secrets.
fn ss_error(what: &str, e: secret_service::Error) -> Error {
    let text = e.to_string();
    if text.contains("ServiceUnknown")
        || text.contains("NameHasNoOwner")
        || matches!(e, secret_service::Error::Unavailable)
    {
        return Error::backend(format!(
            "no Secret Service provider on the D-Bus session bus ({what}); start one, e.g. \
             `gnome-keyring-daemon --start --components=secrets` (see docs/helpers/keyring.md)"
        ));
    }
    if matches!(e, secret_service::Error::Locked) {
        return Error::backend(format!("the keyring is locked: {UNLOCK_HINT}"));
    }
    if text.contains("NoReply") || text.contains("Timeout") || text.contains("timed out") {
        return Error::backend(format!(
            "the Secret Service did not answer ({what}); check that gnome-keyring-daemon is running and responsive"
        ));
    }
    Error::backend(format!("Secret Service error ({what}): {}", short(&text)))
}

fn short(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    line.chars().take(300).collect()
}

fn attributes<'a>(server: &'a str, username: &'a str) -> HashMap<&'a str, &'a str> {
    HashMap::from([
        ("xdg:schema", SCHEMA),
        ("label", LABEL),
        ("server", server),
        ("username", username),
        ("docker_cli", "1"),
    ])
}

/// True when a D-Bus error says the item is gone: another process deleted it between our search and our read
/// or delete. Such an item is skipped, never reported.
fn vanished(e: &secret_service::Error) -> bool {
    let text = e.to_string();
    // gnome-keyring answers for a deleted item either "Object does not exist at path ..." or, when the
    // object is half torn down, "UnknownMethod: No such interface ... on object at path ...".
    text.contains("does not exist")
        || text.contains("UnknownObject")
        || text.contains("NoSuchObject")
        || (text.contains("UnknownMethod") && text.contains("on object at path"))
}

/// Refuses text the Secret Service cannot hold: D-Bus strings never contain NUL.
fn check_text(what: &str, value: &str) -> Result<(), Error> {
    if value.contains('\0') {
        return Err(Error::backend(format!(
            "the {what} contains a NUL character, which the Secret Service cannot store"
        )));
    }
    Ok(())
}

/// Serialises the writers (store, erase) of one Secret Service, so that concurrent stores of one registry end
/// with exactly one item and a store never removes another's fresh item. There is one lock per session bus
/// (its address is hashed into the name: separate keyrings never wait for each other), in
/// `$XDG_RUNTIME_DIR/hoist/`, else in a private `hoist-UID` directory under the temp directory. A writer
/// waits at most 30 s (or `HOIST_LOCK_TIMEOUT` when that is longer): each holder needs only a few D-Bus
/// round trips, but a burst of parallel stores on a loaded machine queues behind them.
fn writer_lock(notice: &LockNotice) -> Result<WriteLock, Error> {
    use std::hash::{Hash, Hasher};
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) => std::path::PathBuf::from(d).join("hoist"),
        None => std::env::temp_dir().join(format!("hoist-{}", hoist_fs::private_file::euid())),
    };
    let mut bus = std::collections::hash_map::DefaultHasher::new();
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").unwrap_or_default().hash(&mut bus);
    let name = format!("docker-credential-keyring-{:016x}", bus.finish());
    let wait = hoist_fs::private_file::lock_wait().max(Duration::from_secs(30));
    Ok(PrivateFile::new(dir.join(name), "keyring lock").with_lock_wait(wait).with_lock_notice(notice.clone()).lock()?)
}

/// Every unlocked docker item matching `filter` (plus docker_cli=1); an error if any matching item is locked.
/// Items that vanish while they are read (another process erased them) are left out.
fn docker_items<'a>(ss: &'a SecretService<'a>, filter: &[(&str, &str)]) -> Result<Vec<DockerItem<'a>>, Error> {
    let mut query = HashMap::from([("docker_cli", "1")]);
    query.extend(filter.iter().copied());
    let found = ss.search_items(query).map_err(|e| ss_error("searching items", e))?;
    if !found.locked.is_empty() {
        return Err(Error::backend(format!("the keyring holding docker credentials is locked: {UNLOCK_HINT}")));
    }
    let mut items = Vec::with_capacity(found.unlocked.len());
    for item in found.unlocked {
        let mut attrs = match item.get_attributes() {
            Ok(a) => a,
            Err(e) if vanished(&e) => continue,
            Err(e) => return Err(ss_error("reading item attributes", e)),
        };
        let Some(server) = attrs.remove("server") else { continue };
        let username = attrs.remove("username").unwrap_or_default();
        items.push(DockerItem { server, username, item });
    }
    Ok(items)
}

/// Deletes an item; one that is already gone counts as deleted.
fn delete(item: &Item, what: &str) -> Result<(), Error> {
    match item.delete() {
        Ok(()) => Ok(()),
        Err(e) if vanished(&e) => Ok(()),
        Err(e) => Err(ss_error(what, e)),
    }
}

/// The item's secret, or `None` when the item vanished before it could be read.
fn secret_of(item: &Item, server: &str) -> Result<Option<Secret>, Error> {
    let bytes = match item.get_secret() {
        Ok(b) => Zeroizing::new(b),
        Err(e) if vanished(&e) => return Ok(None),
        Err(e) => return Err(ss_error("reading the secret", e)),
    };
    match std::str::from_utf8(&bytes) {
        Ok(s) => Ok(Some(Secret::from(s))),
        Err(_) => Err(Error::backend(format!("the keyring item for {server} holds a secret that is not UTF-8 text"))),
    }
}

impl Store for KeyringStore {
    fn add(&self, creds: &Credentials) -> Result<(), Error> {
        check_text("server URL", &creds.server_url)?;
        check_text("username", &creds.username)?;
        let creds = creds.clone();
        let _lock = writer_lock(&self.notice)?;
        with_timeout(self.timeout, move || {
            let ss = connect()?;
            let collection = ss.get_default_collection().map_err(|e| ss_error("opening the default collection", e))?;
            if collection.is_locked().map_err(|e| ss_error("checking the collection", e))? {
                return Err(Error::backend(format!("the default keyring collection is locked: {UNLOCK_HINT}")));
            }
            let attrs = attributes(&creds.server_url, &creds.username);
            collection
                .create_item(&creds.server_url, attrs, creds.secret.expose().as_bytes(), true, "text/plain")
                .map_err(|e| ss_error("creating the item", e))?;
            // One registry, one item: remove other usernames and other spellings of the same registry, after
            // the new item exists so a crash in between never leaves the registry without a credential.
            let items = docker_items(&ss, &[])?;
            let keys: Vec<&str> = items.iter().map(|i| i.server.as_str()).collect();
            let same = server::same_registry(keys, &creds.server_url);
            for it in &items {
                let is_new = it.server == creds.server_url && it.username == creds.username;
                if !is_new && same.contains(&it.server.as_str()) {
                    delete(&it.item, "removing a replaced item")?;
                }
            }
            Ok(())
        })
    }

    fn get(&self, server_url: &str) -> Result<(String, Secret), Error> {
        check_text("server URL", server_url)?;
        let wanted = server_url.to_owned();
        with_timeout(self.timeout, move || {
            let ss = connect()?;
            // An item may vanish between the search and the read (a concurrent store replaced it): search again.
            for _ in 0..3 {
                let exact = docker_items(&ss, &[("server", &wanted)])?;
                let all;
                let found = match exact.first() {
                    Some(it) => it,
                    None => {
                        all = docker_items(&ss, &[])?;
                        let key =
                            server::lookup(all.iter().map(|i| i.server.as_str()), &wanted).ok_or(Error::NotFound)?;
                        all.iter().find(|i| i.server == key).ok_or(Error::NotFound)?
                    }
                };
                if let Some(secret) = secret_of(&found.item, &found.server)? {
                    return Ok((found.username.clone(), secret));
                }
            }
            Err(Error::NotFound)
        })
    }

    fn erase(&self, server_url: &str) -> Result<(), Error> {
        check_text("server URL", server_url)?;
        let wanted = server_url.to_owned();
        let _lock = writer_lock(&self.notice)?;
        with_timeout(self.timeout, move || {
            let ss = connect()?;
            let items = docker_items(&ss, &[])?;
            let same = server::same_registry(items.iter().map(|i| i.server.as_str()), &wanted);
            for it in &items {
                if same.contains(&it.server.as_str()) {
                    delete(&it.item, "removing the item")?;
                }
            }
            Ok(())
        })
    }

    fn list(&self) -> Result<BTreeMap<String, String>, Error> {
        with_timeout(self.timeout, move || {
            let ss = connect()?;
            Ok(docker_items(&ss, &[])?.into_iter().map(|i| (i.server, i.username)).collect())
        })
    }
}
