//! `docker-daemon:NAME[:TAG]` — an image in a Docker engine — as a source and a destination, over the Engine
//! API ([`engine`]): reading is `GET /images/{name}/get` (`docker save`'s tar), writing is `POST /images/load`
//! (`docker load`), both streamed: no file of the whole image is made, memory stays at a few MiB whatever
//! the layers' sizes.
//!
//! Reading: a first pass over the engine's tar keeps only its small files (`manifest.json`, the config) and
//! hashes every other entry as it passes (size and digest), so the manifest made for the image — the same
//! one a `docker-archive:` of that tar gives: OCI, layers uncompressed (digest = diff_id), the config
//! unchanged, so the image ID stays — is known before any blob moves; the layers are then read by further
//! passes ([`Readings`]: one pass serves every layer asked for while it runs), each layer's bytes checked
//! against the digest the first pass saw. Layers whose digests are
//! not the config's diff_ids, a missing config or layer, a tar cut short: refused, naming the image.
//!
//! Reading into the local store ([`DaemonSource::open_into`]: `hoist pull docker-daemon:…`, `copy
//! docker-daemon:… store:…`): the first pass is the only one. Each layer's entry is written into the store's
//! blob area as it passes ([`Store::blob_writer_learning`]: a temp file in the store, named at its end by the
//! digest its bytes hash to, which must then be the config's diff_id), so the copy finds every layer there and
//! moves nothing a second time, and the engine makes one `docker save`, not two. The engine is asked before the
//! store is opened (it sends nothing before its whole archive is made, so the store's set-up costs no time), and
//! each layer's fsync and rename run on a thread of their own while the next entry is read
//! ([`BackgroundSyncs`]); the reading ends only when every layer is fsynced, renamed and its directory
//! fsynced. Nothing is an image before the copy's commit names it; layers written by a pull that failed are
//! garbage for the next prune, as after a failed registry pull. Small entries kept in memory by the first pass (a docker ≥ 25 layer under `blobs/`
//! of at most 256 KiB) are served from there, never by another reading.
//!
//! Writing: the image goes through the docker-archive writer ([`DockerArchiveWriter`]) into the request's
//! body as it is made; the commit ends the body and reads the engine's answer (JSON lines; an `errorDetail`
//! is the error). A copy that fails before its commit closes the connection mid-body: the engine loads
//! nothing.
//!
//! What it is not: a way to name images by ID or digest (a digest reference is refused at parse time), nor a
//! keeper of signatures (the engine keeps none; copying signed images needs `--remove-signatures`).

pub mod engine;

use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use self::engine::{Engine, EngineError, Sent, Upload};
use super::blocking::{blocking, reader_stream};
use super::docker_archive::{DockerArchiveDestination, DockerArchiveWriter, Served, bytes_blob};
use super::{ImageDestination, ImageSource, OpenBlob, RawManifest, TransportError};
use crate::archive::docker::{self, MANIFEST_JSON};
use crate::archive::tar_out::TarOut;
use crate::digest::{Digest, Hasher, Verifier};
use crate::image::{Descriptor, ImageConfig, MAX_CONFIG_SIZE, media_type};
use crate::reference::Reference;
use crate::store::{BackgroundSyncs, Session, Store, StoreError};
use crate::stream::ByteStream;

/// The most entries an engine's tar may hold.
pub const MAX_ENTRIES: usize = 100_000;
/// The most bytes of small files (`manifest.json`, configs, `repositories`) kept from an engine's tar.
pub const MAX_SMALL_TOTAL: u64 = 64 << 20;
/// How many layers a copy out of an engine asks for at once (each waits for its entry of one reading; idle
/// until then, so they cost no memory).
pub const LAYERS_AT_ONCE: usize = 256;
/// The most bytes of a load's answer read.
pub const MAX_LOAD_ANSWER: u64 = 1 << 20;

/// What went wrong with an image in a Docker engine; one line naming the image (`docker-daemon:NAME`).
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The engine could not be reached, refused, or answered what is not HTTP.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The tar the engine sent is not a `docker save` archive as it should be.
    #[error("{image}: the engine's archive: {why}")]
    Archive { image: String, why: String },
    /// Reading the engine's tar failed (cut short, a timeout).
    #[error("{image}: reading the engine's archive: {source}")]
    Read {
        image: String,
        #[source]
        source: io::Error,
    },
    /// A blob the image does not have.
    #[error("{image}: no blob {digest}")]
    NoBlob { image: String, digest: Digest },
    /// The engine's second reading of a layer does not hold the entry the first had.
    #[error("{image}: the engine's archive no longer holds {path}")]
    Vanished { image: String, path: String },
    /// The reading a layer waited for failed (the error, as that reading's first reader got it).
    #[error("{message}")]
    Failed { message: String },
    /// The engine answered the load with an error.
    #[error("{image}: the engine refused the image: {message}")]
    Load { image: String, message: String },
    /// Writing a layer into the local store as it passed failed (a full disk).
    #[error("{image}: writing into the store: {source}")]
    Store {
        image: String,
        #[source]
        source: Box<StoreError>,
    },
}

impl From<DaemonError> for TransportError {
    fn from(e: DaemonError) -> Self {
        TransportError::Daemon(Box::new(e))
    }
}

impl From<EngineError> for TransportError {
    fn from(e: EngineError) -> Self {
        TransportError::Daemon(Box::new(DaemonError::Engine(e)))
    }
}

/// An entry of the engine's tar, as the first pass saw it.
#[derive(Debug, Clone)]
enum Entry {
    /// A regular file: its size and digest, its bytes when it is small and may be metadata, and whether it
    /// was written into the store as it passed.
    File { size: u64, digest: Digest, bytes: Option<Vec<u8>>, stored: bool },
    /// A symlink, its target resolved to a path of the archive.
    Link(String),
}

/// The path of an entry as the archive names it (no `./`).
fn clean(p: &str) -> String {
    p.trim_start_matches("./").to_owned()
}

/// `target` of a link at `at`, as a path of the archive (`a/layer.tar` → `../b/layer.tar` is `b/layer.tar`);
/// `None` when it leaves the archive.
fn resolve_link(at: &str, target: &str) -> Option<String> {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        at.split('/').collect::<Vec<_>>().split_last().map(|(_, d)| d.to_vec()).unwrap_or_default()
    };
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// True for a file the first pass keeps the bytes of: `manifest.json`, `repositories`, a top-level `*.json`
/// (a config), a small file under `blobs/` (docker ≥ 25's configs).
fn may_be_metadata(path: &str, size: u64) -> bool {
    size <= MAX_CONFIG_SIZE as u64
        && (path == MANIFEST_JSON
            || path == docker::REPOSITORIES
            || (!path.contains('/') && path.ends_with(".json"))
            || (path.starts_with("blobs/") && size <= 256 << 10))
}

/// True for an entry a first pass reading into the store writes there: a layer's (`ID/layer.tar`, podman's
/// `HEX.tar`, one under `blobs/`) that is not kept in memory. Legacy `json`/`VERSION` files and the config are
/// not.
fn is_layer_like(path: &str, size: u64) -> bool {
    !may_be_metadata(path, size) && (path.ends_with(".tar") || path.starts_with("blobs/"))
}

/// A regular file of the engine's tar, links followed: its path, size, digest, bytes when kept, and whether
/// it is in the store.
type Found<'a> = (&'a String, u64, &'a Digest, Option<&'a Vec<u8>>, bool);

/// The name the trust policy judges an engine's image `reference` by: `docker-daemon`, no scopes but the
/// transport's default, as containers/image (an engine's names are not a namespace the policy can trust);
/// signatures would be matched against the image's name.
pub fn policy_name(reference: &Reference) -> crate::trust::PolicyName {
    crate::trust::PolicyName {
        transport: "docker-daemon",
        identity: String::new(),
        namespaces: Vec::new(),
        docker_reference: Some(reference.clone()),
    }
}

/// One image read from a Docker engine.
pub struct DaemonSource {
    engine: Engine,
    reference: Reference,
    shown: String,
    image: Served,
    /// Layer digest → its entry's path in the engine's tar.
    layers: HashMap<Digest, String>,
    /// Layers whose bytes the first pass kept (small entries): served from memory.
    kept: HashMap<Digest, Vec<u8>>,
    /// The store the first pass wrote layers into, and which layers it holds now: served from there.
    into: Option<(Arc<Store>, HashSet<Digest>)>,
    passes: Passes,
    /// Keeps the layers written into the store from garbage collection until the copy references them.
    _session: Option<Session>,
}

impl DaemonSource {
    /// Asks the engine for the image and reads its tar once (see the module's doc). Blocking.
    pub fn open(engine: Engine, reference: Reference) -> Result<DaemonSource, TransportError> {
        Self::open_into(engine, reference, None)
    }

    /// [`DaemonSource::open`] for a copy into the store `into` opens (when given): the one reading writes every
    /// layer into the store's blob area as it passes (see the module's doc), so copying it there moves nothing
    /// again and no second reading is made. The engine is asked first and the store opened while it makes its
    /// archive (it sends nothing before the whole archive is made). Blocking.
    pub fn open_into(
        engine: Engine,
        reference: Reference,
        into: Option<StoreOpener>,
    ) -> Result<DaemonSource, TransportError> {
        let shown = format!("docker-daemon:{reference}");
        let sent = send_save(&engine, &reference)?;
        let store = into.map(|open| open()).transpose()?;
        let session = store.as_ref().map(|s| s.session()).transpose()?;
        let entries = scan(sent, &shown, store.as_deref())?;
        let bad = |why: String| DaemonError::Archive { image: shown.clone(), why };
        let file = |path: &str| -> Option<Found<'_>> {
            let mut p = path.to_owned();
            for _ in 0..8 {
                match entries.get_key_value(&p)? {
                    (k, Entry::File { size, digest, bytes, stored }) => {
                        return Some((k, *size, digest, bytes.as_ref(), *stored));
                    }
                    (_, Entry::Link(to)) => p = to.clone(),
                }
            }
            None
        };
        let raw = match file(MANIFEST_JSON) {
            Some((_, _, _, Some(b), _)) => b.clone(),
            _ => return Err(bad(format!("no {MANIFEST_JSON}")).into()),
        };
        let items = docker::parse_manifest_json(&raw).map_err(|e| bad(format!("{MANIFEST_JSON}: {e}")))?;
        let wanted = format!("{}:{}", reference.name(), reference.tag().unwrap_or("latest"));
        let item = items
            .iter()
            .find(|i| {
                i.repo_tags.iter().any(|t| {
                    Reference::parse_normalized(t).map(|r| r.with_default_tag().to_string() == wanted).unwrap_or(false)
                })
            })
            .or_else(|| if items.len() == 1 { items.first() } else { None })
            .ok_or_else(|| bad(format!("{MANIFEST_JSON} holds {} images, none named {wanted}", items.len())))?;
        let config_raw = match file(&item.config) {
            Some((_, _, _, Some(b), _)) => b.clone(),
            Some(_) => return Err(bad(format!("config {} is larger than {MAX_CONFIG_SIZE} bytes", item.config)).into()),
            None => return Err(bad(format!("no config {}", item.config)).into()),
        };
        let config_digest = Digest::sha256(&config_raw);
        let config = ImageConfig::parse(&config_raw)?;
        let diff_ids = &config.rootfs.diff_ids;
        if diff_ids.len() != item.layers.len() {
            return Err(
                bad(format!("{} layers, but the config lists {} diff_ids", item.layers.len(), diff_ids.len())).into()
            );
        }
        let mut layers = Vec::new();
        let mut paths = HashMap::new();
        let (mut kept, mut stored) = (HashMap::new(), HashSet::new());
        for (i, (path, diff_id)) in item.layers.iter().zip(diff_ids).enumerate() {
            let (at, size, digest, bytes, in_store) = file(path).ok_or_else(|| bad(format!("no layer {path}")))?;
            if digest != diff_id {
                return Err(bad(format!(
                    "layer {i} ({path}) has digest {digest}, but the config's diff_id is {diff_id} (the engine's \
                     layers are uncompressed tars)"
                ))
                .into());
            }
            paths.insert(digest.clone(), at.clone());
            if let Some(b) = bytes {
                kept.insert(digest.clone(), b.clone());
            }
            if in_store {
                stored.insert(digest.clone());
            }
            layers.push(Descriptor::new(media_type::OCI_LAYER, digest.clone(), size));
        }
        let image = Served::made((config_digest, config_raw), layers);
        Ok(DaemonSource {
            engine,
            reference,
            shown,
            image,
            layers: paths,
            kept,
            into: store.map(|s| (s, stored)),
            passes: Passes::default(),
            _session: session,
        })
    }
}

/// How a copy into the local store opens it ([`DaemonSource::open_into`]).
pub type StoreOpener = Box<dyn FnOnce() -> Result<Arc<Store>, StoreError> + Send>;

/// Asks the engine for the tar of `reference` (`docker save`); its answer is read by [`Sent::answer`].
fn send_save(engine: &Engine, reference: &Reference) -> Result<Sent, EngineError> {
    engine.send_get(&format!("/images/{reference}/get"), &format!("saving {reference}"))
}

/// The engine's tar of `reference`, as a reader.
fn save(engine: &Engine, reference: &Reference) -> Result<Box<dyn Read + Send>, EngineError> {
    Ok(send_save(engine, reference)?.answer()?.into_reader())
}

/// The first pass over the answer to `sent`: every entry's size and digest, small files' bytes; with `into`,
/// layers written into that store as they pass.
fn scan(sent: Sent, shown: &str, into: Option<&Store>) -> Result<HashMap<String, Entry>, DaemonError> {
    let read = |source: io::Error| DaemonError::Read { image: shown.to_owned(), source };
    let store_error = |source: StoreError| DaemonError::Store { image: shown.to_owned(), source: Box::new(source) };
    let bad = |why: String| DaemonError::Archive { image: shown.to_owned(), why };
    let mut archive = tar::Archive::new(sent.answer()?.into_reader());
    let mut out = HashMap::new();
    let mut kept = 0u64;
    // Each layer's fsync and rename run behind the reading (the engine is not kept waiting on the disk).
    let mut syncs = BackgroundSyncs::new();
    for entry in archive.entries().map_err(read)? {
        let mut entry = entry.map_err(read)?;
        if out.len() >= MAX_ENTRIES {
            return Err(bad(format!("more than {MAX_ENTRIES} entries")));
        }
        let path = clean(&entry.path().map_err(read)?.to_string_lossy());
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry.link_name().map_err(read)?.unwrap_or_default().to_string_lossy().into_owned();
            let resolved = if kind.is_hard_link() { Some(clean(&target)) } else { resolve_link(&path, &target) };
            if let Some(r) = resolved {
                out.insert(path, Entry::Link(r));
            }
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let size = entry.size();
        let keep = may_be_metadata(&path, size);
        // Into the store, the writer hashes (once); else a hasher alone.
        let mut writer = match into {
            Some(store) if is_layer_like(&path, size) => Some(store.blob_writer_learning().map_err(store_error)?),
            _ => None,
        };
        let mut hasher = writer.is_none().then(Hasher::sha256);
        let mut bytes = keep.then(Vec::new);
        let mut buf = vec![0u8; 256 << 10];
        loop {
            let n = entry.read(&mut buf).map_err(read)?;
            if n == 0 {
                break;
            }
            if let Some(w) = writer.as_mut() {
                w.write_all(&buf[..n]).map_err(|e| store_error(w.error(e)))?;
            }
            if let Some(h) = hasher.as_mut() {
                h.update(&buf[..n]);
            }
            if let Some(b) = bytes.as_mut() {
                b.extend_from_slice(&buf[..n]);
            }
        }
        // A tar entry shorter than its header says is a cut stream (the tar reader ends it early otherwise
        // only at the next header): nothing of it is kept.
        let (digest, stored) = match (writer, hasher) {
            (Some(w), _) => {
                if w.written() != size {
                    return Err(read(io::Error::new(io::ErrorKind::UnexpectedEof, "an entry cut short")));
                }
                (w.finish_in_background(&mut syncs).map_err(store_error)?.0, true)
            }
            (None, Some(h)) => (h.finish(), false),
            (None, None) => unreachable!("a writer or a hasher"),
        };
        if keep {
            kept += size;
            if kept > MAX_SMALL_TOTAL {
                return Err(bad(format!("its small files take more than {MAX_SMALL_TOTAL} bytes")));
            }
        }
        out.insert(path, Entry::File { size, digest, bytes, stored });
    }
    syncs.wait().map_err(store_error)?;
    Ok(out)
}

#[async_trait::async_trait]
impl ImageSource for DaemonSource {
    fn name(&self) -> String {
        self.shown.clone()
    }

    /// See [`policy_name`].
    fn policy_name(&self) -> crate::trust::PolicyName {
        policy_name(&self.reference)
    }

    async fn manifest(&self) -> Result<RawManifest, TransportError> {
        Ok(self.image.manifest.clone())
    }

    async fn manifest_by_digest(&self, digest: &Digest) -> Result<RawManifest, TransportError> {
        self.image
            .manifest_by_digest(digest)
            .ok_or_else(|| DaemonError::NoBlob { image: self.shown.clone(), digest: digest.clone() }.into())
    }

    async fn blob(&self, blob: &Descriptor) -> Result<ByteStream<TransportError>, TransportError> {
        if let Some(config) = self.image.config_blob(blob) {
            return Ok(config);
        }
        if let Some(bytes) = self.kept.get(&blob.digest) {
            return Ok(bytes_blob(bytes.clone(), blob));
        }
        let verifier = Verifier::new(&blob.digest, Some(blob.size));
        if let Some((store, stored)) = &self.into
            && stored.contains(&blob.digest)
        {
            let (store, digest) = (store.clone(), blob.digest.clone());
            return Ok(reader_stream(
                move || Ok(Box::new(store.open_blob(&digest).map_err(TransportError::from)?)),
                Some(verifier),
            ));
        }
        let path = self
            .layers
            .get(&blob.digest)
            .cloned()
            .ok_or_else(|| DaemonError::NoBlob { image: self.shown.clone(), digest: blob.digest.clone() })?;
        Ok(self.entry_stream(path, verifier))
    }
}

/// A layer's reader waiting for its entry to pass in a reading of the engine's tar.
struct Waiter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, TransportError>>,
    verifier: Verifier,
    /// [`Readings::started`] when it came: a reading that started later went past every entry.
    seen: u64,
}

/// The readings of the engine's tar that serve layers: one at a time, each giving every entry to the waiter
/// asking for it (so layers asked for together cost one reading), stopping as soon as nobody waits; a layer
/// asked for after its entry went by waits for the next reading.
#[derive(Default)]
struct Readings {
    waiting: HashMap<String, Vec<Waiter>>,
    running: bool,
    started: u64,
}

/// The shared state of a source's readings.
#[derive(Clone, Default)]
struct Passes(Arc<Mutex<Readings>>);

impl Passes {
    fn lock(&self) -> std::sync::MutexGuard<'_, Readings> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl DaemonSource {
    /// The entry `path` as a checked stream, from the reading under way or a new one.
    fn entry_stream(&self, path: String, verifier: Verifier) -> ByteStream<TransportError> {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, TransportError>>(4);
        let start = {
            let mut st = self.passes.lock();
            let seen = st.started;
            st.waiting.entry(path).or_default().push(Waiter { tx, verifier, seen });
            !std::mem::replace(&mut st.running, true)
        };
        if start {
            let (engine, reference, shown, passes) =
                (self.engine.clone(), self.reference.clone(), self.shown.clone(), self.passes.clone());
            tokio::task::spawn_blocking(move || read_layers(&engine, &reference, &shown, &passes));
        }
        Box::pin(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }))
    }
}

/// Readings of the engine's tar until nobody waits (see [`Readings`]). Blocking.
fn read_layers(engine: &Engine, reference: &Reference, shown: &str, passes: &Passes) {
    loop {
        let started = {
            let mut st = passes.lock();
            st.started += 1;
            st.started
        };
        let result = one_reading(engine, reference, shown, passes);
        // Errors are sent outside the lock: a send waits for its reader.
        let (doomed, done) = {
            let mut st = passes.lock();
            let doomed: Vec<(String, Waiter)> = match &result {
                // Every waiter shares the reading's failure.
                Err(_) => st.waiting.drain().flat_map(|(p, ws)| ws.into_iter().map(move |w| (p.clone(), w))).collect(),
                // Who waited since before this reading began was not in it.
                Ok(()) => {
                    let mut gone = Vec::new();
                    for (path, ws) in st.waiting.iter_mut() {
                        let (missed, keep): (Vec<Waiter>, Vec<Waiter>) = ws.drain(..).partition(|w| w.seen < started);
                        *ws = keep;
                        gone.extend(missed.into_iter().map(|w| (path.clone(), w)));
                    }
                    st.waiting.retain(|_, ws| !ws.is_empty());
                    gone
                }
            };
            let done = st.waiting.is_empty();
            if done {
                st.running = false;
            }
            (doomed, done)
        };
        for (path, w) in doomed {
            let e: TransportError = match &result {
                Err(e) => DaemonError::Failed { message: e.to_string() }.into(),
                Ok(()) => DaemonError::Vanished { image: shown.to_owned(), path }.into(),
            };
            let _ = w.tx.blocking_send(Err(e));
        }
        if done {
            return;
        }
    }
}

/// One reading: each entry someone waits for goes to the first of them; stops when nobody waits.
fn one_reading(engine: &Engine, reference: &Reference, shown: &str, passes: &Passes) -> Result<(), TransportError> {
    let read = |source: io::Error| DaemonError::Read { image: shown.to_owned(), source };
    let mut archive = tar::Archive::new(save(engine, reference)?);
    for entry in archive.entries().map_err(read)? {
        let mut entry = entry.map_err(read)?;
        let path = clean(&entry.path().map_err(read)?.to_string_lossy());
        let waiter = {
            let mut st = passes.lock();
            if st.waiting.is_empty() {
                return Ok(());
            }
            let w = st.waiting.get_mut(&path).filter(|ws| !ws.is_empty()).map(|ws| ws.remove(0));
            st.waiting.retain(|_, ws| !ws.is_empty());
            w
        };
        let Some(mut w) = waiter else { continue };
        loop {
            let mut buf = vec![0u8; super::blocking::CHUNK];
            let mut n = 0;
            while n < buf.len() {
                match entry.read(&mut buf[n..]) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    // Its reader learns it first (a stream must end with its error), then the reading ends.
                    Err(e) => {
                        let message = e.to_string();
                        let _ = w.tx.blocking_send(Err(read(e).into()));
                        return Err(read(io::Error::other(message)).into());
                    }
                }
            }
            if n == 0 {
                if let Err(e) = w.verifier.finish() {
                    let _ = w.tx.blocking_send(Err(e.into()));
                }
                break;
            }
            buf.truncate(n);
            if let Err(e) = w.verifier.update(&buf) {
                let _ = w.tx.blocking_send(Err(e.into()));
                break;
            }
            if w.tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                break; // its reader is gone; the rest of the entry is skipped
            }
        }
    }
    Ok(())
}

/// The request body a [`DaemonDestination`]'s archive is written into, shared with the destination, which
/// takes it back to end the request at its commit.
#[derive(Clone)]
struct SharedUpload(Arc<Mutex<Option<Upload>>>);

impl SharedUpload {
    fn take(&self) -> Option<Upload> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

impl Write for SharedUpload {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.0.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            Some(u) => u.write(buf),
            None => Err(io::Error::other("the request to the engine was already ended")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.0.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            Some(u) => u.flush(),
            None => Ok(()),
        }
    }
}

/// One image written into a Docker engine (`docker load`), under one name.
pub struct DaemonDestination {
    inner: DockerArchiveDestination,
    upload: SharedUpload,
    reference: Reference,
    shown: String,
}

impl DaemonDestination {
    /// Starts the engine's load request; the image's archive is its body. Blocking (connects).
    pub fn open(engine: &Engine, reference: Reference) -> Result<DaemonDestination, TransportError> {
        let shown = format!("docker-daemon:{reference}");
        let upload =
            engine.post_stream("/images/load?quiet=1", "application/x-tar", &format!("loading {reference}"))?;
        let upload = SharedUpload(Arc::new(Mutex::new(Some(upload))));
        let writer = DockerArchiveWriter::new(TarOut::to_stream(Box::new(upload.clone())), &shown);
        let inner = writer.last_image(vec![reference.clone()]);
        Ok(DaemonDestination { inner, upload, reference, shown })
    }
}

/// The engine's answer to a load: JSON lines, an `errorDetail` (or `error`) the refusal, a line that is not
/// JSON refused too (never taken for success). Public for the fuzz target `daemon_answer`.
pub fn load_answer(body: Box<dyn Read + Send>, shown: &str) -> Result<(), DaemonError> {
    let mut raw = Vec::new();
    body.take(MAX_LOAD_ANSWER)
        .read_to_end(&mut raw)
        .map_err(|source| DaemonError::Read { image: shown.to_owned(), source })?;
    let text = String::from_utf8_lossy(&raw);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            let shown_line: String = line.chars().take(200).collect();
            return Err(DaemonError::Load {
                image: shown.to_owned(),
                message: format!("an answer not JSON: {shown_line}"),
            });
        };
        let message =
            v.get("errorDetail").and_then(|d| d.get("message")).or_else(|| v.get("error")).and_then(|m| m.as_str());
        if let Some(m) = message {
            return Err(DaemonError::Load { image: shown.to_owned(), message: m.trim().to_owned() });
        }
    }
    Ok(())
}

/// True when `e` comes from the engine closing the connection while its request was being sent (it refused
/// midway, and may have said why); only then is its answer read (it cannot block: the engine is done).
fn engine_hung_up(e: &TransportError) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>()
            && matches!(io.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset)
        {
            return true;
        }
        source = s.source();
    }
    false
}

#[async_trait::async_trait]
impl ImageDestination for DaemonDestination {
    fn name(&self) -> String {
        self.shown.clone()
    }

    async fn has_blob(&self, blob: &Descriptor) -> Result<bool, TransportError> {
        self.inner.has_blob(blob).await
    }

    async fn put_blob(&self, blob: &Descriptor, open: &OpenBlob<'_>) -> Result<(), TransportError> {
        match self.inner.put_blob(blob, open).await {
            Err(e) if engine_hung_up(&e) => {
                let upload = self.upload.clone();
                blocking(move || Err(upload.take().and_then(Upload::answer_after_failure).map(Into::into).unwrap_or(e)))
                    .await
            }
            done => done,
        }
    }

    async fn put_child_manifest(&self, manifest: &RawManifest) -> Result<(), TransportError> {
        self.inner.put_child_manifest(manifest).await
    }

    async fn commit(&self, manifest: &RawManifest) -> Result<(), TransportError> {
        let written = self.inner.commit(manifest).await;
        let (upload, shown) = (self.upload.clone(), self.shown.clone());
        blocking(move || {
            let Some(u) = upload.take() else {
                return Err(DaemonError::Archive { image: shown, why: "committed twice".into() }.into());
            };
            if let Err(e) = written {
                // The engine may have stopped reading because it refused: its answer says why. (Any other
                // failure is ours: the request is dropped unanswered, which the engine takes as a cut body.)
                if engine_hung_up(&e) {
                    return Err(u.answer_after_failure().map(TransportError::from).unwrap_or(e));
                }
                return Err(e);
            }
            let answer = u.finish()?;
            load_answer(answer.into_reader(), &shown)?;
            Ok(())
        })
        .await
    }

    fn docker_reference(&self) -> Option<Reference> {
        Some(self.reference.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_inside_the_archive() {
        assert_eq!(resolve_link("a/layer.tar", "../b/layer.tar").as_deref(), Some("b/layer.tar"));
        assert_eq!(resolve_link("a/layer.tar", "../../x"), None);
        assert_eq!(resolve_link("blobs/sha256/x", "y").as_deref(), Some("blobs/sha256/y"));
    }

    #[test]
    fn a_load_answer_with_an_error_is_the_error() {
        let ok = br#"{"stream":"Loaded image: app:1\n"}"#.to_vec();
        assert!(load_answer(Box::new(io::Cursor::new(ok)), "d").is_ok());
        let refused = b"{\"errorDetail\":{\"message\":\"bad \\u001b[31mthing\"},\"error\":\"x\"}\n".to_vec();
        let e = load_answer(Box::new(io::Cursor::new(refused)), "docker-daemon:a:1").unwrap_err();
        assert_eq!(e.to_string(), "docker-daemon:a:1: the engine refused the image: bad \u{1b}[31mthing");
    }
}
