//! The copy engine: the only code that moves images, for pull (registry → store), push (store → registry) and
//! copy (any → any), as containers/image's `copy.Image`.
//!
//! - Manifests move as raw bytes, so digests never change; nothing is converted (every transport here holds
//!   OCI and Docker schema 2 alike) and schema 1 is refused when the manifest is parsed — unless
//!   [`Options::format`] asks for OCI or Docker schema 2 (`--format`): then every manifest written that is
//!   not in that format is converted ([`crate::image::convert`]) after the trust step, before any blob
//!   moves, and a config made anew by the conversion is written from memory.
//! - An index is resolved to the chosen platform's image (the host's unless told otherwise); with `all`,
//!   every child and the index itself are copied byte for byte.
//! - Blobs move in parallel (`jobs`, default 6, as skopeo), each once even when several manifests share it;
//!   a blob the destination has is skipped, one in another repository of the same registry is mounted,
//!   foreign (non-distributable) layers stay referenced but are not copied. Bytes stream from source to
//!   destination and are checked against their digest on the way; nothing is decompressed or recompressed
//!   (except where the user asks a dir destination to gzip uncompressed layers) — unless
//!   [`Options::compression`] asks for gzip or zstd layers (`--compression-format`): then each layer in
//!   another compression (every one with `force`) is recompressed after the trust step and any conversion,
//!   streamed (decompressed, compressed on every core) straight to the destination as it is made
//!   ([`ImageDestination::put_made_blob`]: a registry takes it into an upload session while it is made, hashing
//!   it; other destinations spool it whole first, in `$TMPDIR`, else `/var/tmp`, as podman), whose digest goes
//!   into the rewritten manifest; the uncompressed bytes, so the config and the image ID, never change. zstd
//!   lives only in OCI manifests: a Docker schema 2 manifest is converted to OCI first, and `--format v2s2`
//!   with zstd is refused.
//! - Manifests are written after the blobs they reference, the top-level one last, by
//!   [`ImageDestination::commit`] — so a failed or killed copy never leaves a visible, incomplete image.
//! - Trust (containers/image's `IsRunningImageAllowed`, before anything else is read): every manifest that
//!   decides what is copied — the image, or an index and the instance chosen from it (with `all`, the index
//!   and every child) — is evaluated against [`Options::policy`] with the source's signatures (fetched only
//!   when the policy needs them), before any blob is read or written; a refusal leaves the destination as it
//!   was. The source's signatures of each manifest written travel to the destination
//!   ([`ImageDestination::put_signatures`], before the commit) unless [`Options::remove_signatures`], with a
//!   new one from each of [`Options::signers`] over the destination's manifest digest.
//!
//! What it is not: choosing where images come from (endpoints, credentials) or printing; byte progress
//! leaves through [`CopyProgress`] (warnings and debug lines, as everywhere, through
//! [`crate::observe::Observer`]).

pub mod archive;

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::{FutureExt, StreamExt, TryStreamExt};

use crate::archive::recompress::{self, Recompression, RecompressionError};
use crate::digest::Digest;
use crate::image::convert::{self, ConvertError, ManifestFormat};
use crate::image::{Descriptor, IndexError, MAX_CONFIG_SIZE, Manifest, Platform};
use crate::observe::SharedObserver;
use crate::reference::Reference;
use crate::stream::ByteStream;
use crate::transport::{ImageDestination, ImageSource, RawManifest, TransportError};
use crate::trust::policy::{Evaluation, Policy};
use crate::trust::{Signature, Signer, TrustError};

/// What to copy and how.
#[derive(Clone)]
pub struct Options {
    /// Blobs in flight at once.
    pub jobs: usize,
    /// The platform to pick from an index; `None` is the host's.
    pub platform: Option<Platform>,
    /// Copy every platform of an index and the index itself.
    pub all: bool,
    /// The trust policy the source image must satisfy before any blob moves; `None`: nothing is checked (a
    /// library caller's choice — every `ops` workflow passes [`crate::ops::Settings::policy`]).
    pub policy: Option<Arc<Policy>>,
    /// Each makes a new signature of every manifest written (`--sign-by`, `--sign-by-sigstore-private-key`).
    pub signers: Vec<Arc<dyn Signer>>,
    /// The identity new signatures name (`--sign-identity`); `None`: the destination's reference.
    pub sign_identity: Option<Reference>,
    /// Leave the source's signatures behind (`--remove-signatures`); new ones are still made.
    pub remove_signatures: bool,
    /// Convert manifests to this format (`--format oci|v2s2`); `None`: bytes as they are.
    pub format: Option<ManifestFormat>,
    /// Rewrite layers in this compression (`--compression-format`, `--dest-compress-format`); `None`: layers
    /// as they are.
    pub compression: Option<Recompression>,
    /// Who hears warnings (what a conversion drops).
    pub observer: SharedObserver,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            jobs: 6,
            platform: None,
            all: false,
            policy: None,
            signers: Vec::new(),
            sign_identity: None,
            remove_signatures: false,
            format: None,
            compression: None,
            observer: crate::observe::silent(),
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("jobs", &self.jobs)
            .field("platform", &self.platform)
            .field("all", &self.all)
            .field("policy", &self.policy)
            .field("signers", &self.signers.iter().map(|s| s.describe()).collect::<Vec<_>>())
            .field("sign_identity", &self.sign_identity)
            .field("remove_signatures", &self.remove_signatures)
            .field("format", &self.format)
            .field("compression", &self.compression)
            .finish()
    }
}

/// What happened to one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobOutcome {
    Copied,
    /// The destination had it.
    Skipped,
    /// Mounted from another repository of the same registry.
    Mounted,
    /// A non-distributable layer: referenced, never copied.
    Foreign,
}

/// Receives byte progress while a copy runs: which blob started, how many bytes moved, how it ended, when the
/// manifest was written. Only that: text for a person (warnings, debug lines) goes through the
/// [`Observer`](crate::observe::Observer). Every method defaults to doing nothing.
pub trait CopyProgress: Send + Sync {
    fn blob_started(&self, _blob: &Descriptor) {}
    /// `bytes` of `blob` have moved so far.
    fn blob_progress(&self, _blob: &Descriptor, _bytes: u64) {}
    fn blob_finished(&self, _blob: &Descriptor, _outcome: BlobOutcome) {}
    fn manifest_written(&self, _manifest: &RawManifest) {}
}

/// Progress nobody watches.
pub struct NoProgress;

impl CopyProgress for NoProgress {}

/// What a copy did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The top-level manifest written at the destination (the chosen image's, or the index with `all`).
    pub manifest: RawManifest,
    pub bytes_copied: u64,
    pub copied: usize,
    pub skipped: usize,
    pub mounted: usize,
    pub foreign: usize,
}

/// Why a copy failed: what was being done, and the transport's error (a trust policy's refusal is a
/// [`TransportError::Trust`], "Source image rejected: ...").
#[derive(Debug, thiserror::Error)]
#[error("{context}: {source}")]
pub struct CopyError {
    pub context: String,
    #[source]
    pub source: Box<TransportError>,
}

impl CopyError {
    fn new(context: String, source: TransportError) -> CopyError {
        CopyError { context, source: Box::new(source) }
    }
}

fn ctx(context: impl FnOnce() -> String) -> impl FnOnce(TransportError) -> CopyError {
    move |source| CopyError::new(context(), source)
}

/// How deep indexes may nest (an index of indexes is allowed, a loop is not).
const MAX_DEPTH: usize = 4;

/// One image manifest (or index) to write, in order, with the blobs it needs.
struct Plan {
    /// Child manifests, written after every blob and before the top-level one.
    children: Vec<RawManifest>,
    top: RawManifest,
    blobs: Vec<Descriptor>,
    /// The manifests the trust policy judges: the source's top-level one, then the instance chosen from an
    /// index (or, with `all`, every child).
    checked: Vec<RawManifest>,
    /// Blobs made by a conversion (a new config, written from memory rather than read from the source) or a
    /// recompression (a layer already written while it was made).
    made: std::collections::HashMap<Digest, Made>,
    /// For a manifest a conversion made: the source's manifest it was made from (for its signatures).
    converted_from: std::collections::HashMap<Digest, Digest>,
}

/// A blob the copy made: in memory, or already at the destination ([`ImageDestination::put_made_blob`] wrote
/// it as it was made; `had`: the destination had it).
#[derive(Clone)]
enum Made {
    Bytes(bytes::Bytes),
    Written { had: bool },
}

/// Copies the image `src` names to `dst`.
pub async fn copy(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    opts: &Options,
    progress: Arc<dyn CopyProgress>,
) -> Result<Report, CopyError> {
    let top = src.manifest().await.map_err(ctx(|| format!("reading the manifest of {}", src.name())))?;
    let mut plan = plan(src, top, opts).await?;
    // Trust first: nothing is read from the blobs or written to the destination before the policy agrees.
    let mut cache = check_trust(src, &plan, opts).await?;
    if let Some(to) = opts.format {
        convert_plan(src, &mut plan, to, opts).await?;
    }
    if let Some(rc) = &opts.compression {
        recompress_plan(src, dst, &mut plan, rc, opts, &progress).await?;
    }
    let signatures = signatures_to_write(src, dst, &plan, opts, &mut cache).await?;
    let mut report =
        Report { manifest: plan.top.clone(), bytes_copied: 0, copied: 0, skipped: 0, mounted: 0, foreign: 0 };
    let outcomes: Vec<(BlobOutcome, u64)> = futures_util::stream::iter(plan.blobs.iter())
        .map(|blob| copy_blob(src, dst, blob, plan.made.get(&blob.digest), &progress))
        .buffer_unordered(opts.jobs.max(1))
        .try_collect()
        .await?;
    for (outcome, bytes) in outcomes {
        report.bytes_copied += bytes;
        match outcome {
            BlobOutcome::Copied => report.copied += 1,
            BlobOutcome::Skipped => report.skipped += 1,
            BlobOutcome::Mounted => report.mounted += 1,
            BlobOutcome::Foreign => report.foreign += 1,
        }
    }
    for (digest, sigs) in &signatures {
        dst.put_signatures(digest, sigs)
            .await
            .map_err(ctx(|| format!("writing the signatures of {digest} to {}", dst.name())))?;
    }
    for child in &plan.children {
        dst.put_child_manifest(child)
            .await
            .map_err(ctx(|| format!("writing manifest {} to {}", child.digest, dst.name())))?;
        progress.manifest_written(child);
    }
    dst.commit(&plan.top).await.map_err(ctx(|| format!("writing manifest {} to {}", plan.top.digest, dst.name())))?;
    if let Some(written) = dst.rewritten() {
        report.manifest = written;
    }
    progress.manifest_written(&report.manifest);
    Ok(report)
}

/// The trust step alone: reads `src`'s manifest (and the instance `opts` chooses from an index) and asks the
/// policy, as [`copy`] does first; nothing else is read. For callers that move a manifest without the copy
/// engine (`tag --remote` within one repository).
pub async fn check(src: &dyn ImageSource, opts: &Options) -> Result<(), CopyError> {
    let top = src.manifest().await.map_err(ctx(|| format!("reading the manifest of {}", src.name())))?;
    let plan = plan(src, top, opts).await?;
    check_trust(src, &plan, opts).await.map(drop)
}

/// The trust step for an image that has no signatures and must be judged before it is read: a Docker engine's,
/// whose one reading writes layers into the store before its manifest comes (an engine's tar ends with it).
/// Judged as [`check`] judges it with no signature, by its policy name alone — with no signature no
/// requirement looks at the manifest (`insecureAcceptAnything` accepts, every other one refuses) — so the
/// verdict and its message are [`check`]'s.
pub fn check_unsigned(name: &crate::trust::PolicyName, shown: &str, opts: &Options) -> Result<(), CopyError> {
    let Some(policy) = &opts.policy else { return Ok(()) };
    let none = RawManifest::new(b"{}".to_vec(), crate::image::media_type::OCI_MANIFEST);
    policy
        .evaluate(name, &none, &[])
        .into_result()
        .map_err(|e| CopyError::new(format!("copying {shown}"), TransportError::from(TrustError::from(e))))
}

/// One manifest the trust step judges, with the policy's verdict on it.
#[derive(Debug, Clone)]
pub struct Judged {
    pub manifest: RawManifest,
    /// How many signatures the source has for it (not read, so 0, when the policy needs none).
    pub signatures_found: usize,
    pub evaluation: Evaluation,
}

/// What the trust step decides for `src` under `policy`, manifest by manifest in [`copy`]'s order: the
/// top-level manifest, then the instance `opts` chooses from an index (with `all`, every child). Unlike
/// [`copy`] it goes on after a refusal, so that each verdict can be shown (`hoist trust check`); nothing but
/// manifests and signatures is read.
pub async fn judge(src: &dyn ImageSource, policy: &Policy, opts: &Options) -> Result<Vec<Judged>, CopyError> {
    let top = src.manifest().await.map_err(ctx(|| format!("reading the manifest of {}", src.name())))?;
    let plan = plan(src, top, opts).await?;
    let name = src.policy_name();
    let needs = policy.needs_signatures(&name);
    let mut cache = SignatureCache::new();
    let mut out = Vec::new();
    for manifest in plan.checked {
        let sigs: Vec<Signature> =
            if needs { source_signatures(src, &manifest.digest, &mut cache).await?.to_vec() } else { Vec::new() };
        let evaluation = policy.evaluate(&name, &manifest, &sigs);
        out.push(Judged { manifest, signatures_found: sigs.len(), evaluation });
    }
    Ok(out)
}

/// Decides what to copy: the manifests to write and the blobs they reference, each blob once.
async fn plan(src: &dyn ImageSource, top: RawManifest, opts: &Options) -> Result<Plan, CopyError> {
    let parsed = parse(&top, &src.name())?;
    let mut blobs = Vec::new();
    let mut seen = HashSet::new();
    match parsed {
        Manifest::Image(m) => {
            push_blobs(&mut blobs, &mut seen, m.blobs());
            Ok(Plan {
                children: Vec::new(),
                checked: vec![top.clone()],
                top,
                blobs,
                made: Default::default(),
                converted_from: Default::default(),
            })
        }
        Manifest::Index(index) if opts.all => {
            let mut children = Vec::new();
            collect_all(src, &index.manifests, &mut children, &mut blobs, &mut seen, 1).await?;
            let checked = std::iter::once(top.clone()).chain(children.iter().cloned()).collect();
            Ok(Plan { children, top, blobs, checked, made: Default::default(), converted_from: Default::default() })
        }
        Manifest::Index(index) => {
            let want = opts.platform.clone().unwrap_or_else(Platform::host);
            let Some(chosen) = index.choose(&want) else {
                let offered =
                    index.manifests.iter().filter_map(|d| d.platform.as_ref().map(|p| p.to_string())).collect();
                return Err(CopyError::new(
                    format!("choosing an image from {}", src.name()),
                    IndexError::NoPlatform { want, offered }.into(),
                ));
            };
            let child = fetch_child(src, &chosen.digest).await?;
            match parse(&child, &src.name())? {
                Manifest::Image(m) => push_blobs(&mut blobs, &mut seen, m.blobs()),
                Manifest::Index(_) => {
                    return Err(CopyError::new(
                        format!("choosing an image from {}", src.name()),
                        IndexError::NestedIndex { want, digest: chosen.digest.clone() }.into(),
                    ));
                }
            }
            Ok(Plan {
                children: Vec::new(),
                checked: vec![top, child.clone()],
                top: child,
                blobs,
                made: Default::default(),
                converted_from: Default::default(),
            })
        }
    }
}

/// Signatures read from the source, by manifest digest (each read once).
type SignatureCache = std::collections::HashMap<Digest, Vec<Signature>>;

async fn source_signatures<'c>(
    src: &dyn ImageSource,
    digest: &Digest,
    cache: &'c mut SignatureCache,
) -> Result<&'c [Signature], CopyError> {
    if !cache.contains_key(digest) {
        let sigs = src
            .signatures(digest)
            .await
            .map_err(ctx(|| format!("reading the signatures of {digest} from {}", src.name())))?;
        cache.insert(digest.clone(), sigs);
    }
    Ok(cache.get(digest).map(Vec::as_slice).unwrap_or_default())
}

/// The policy's verdict on every manifest of `plan.checked`, in order (containers/image checks an image
/// before it reads anything else of it); the first refusal ends the copy. The source's signatures are read
/// only when the policy needs them, and kept for [`signatures_to_write`].
async fn check_trust(src: &dyn ImageSource, plan: &Plan, opts: &Options) -> Result<SignatureCache, CopyError> {
    let mut cache = SignatureCache::new();
    let Some(policy) = &opts.policy else { return Ok(cache) };
    let name = src.policy_name();
    let needs = policy.needs_signatures(&name);
    for manifest in &plan.checked {
        let sigs: Vec<Signature> =
            if needs { source_signatures(src, &manifest.digest, &mut cache).await?.to_vec() } else { Vec::new() };
        policy.evaluate(&name, manifest, &sigs).into_result().map_err(|e| {
            CopyError::new(format!("copying {}", src.name()), TransportError::from(TrustError::from(e)))
        })?;
    }
    Ok(cache)
}

/// What [`ImageDestination::put_signatures`] gets for each manifest written (children, then the top-level
/// one): the source's (unless `remove_signatures`) and one new from each signer. Made before any blob moves,
/// so a signer that fails (a wrong passphrase, a missing key) leaves the destination untouched.
async fn signatures_to_write(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    plan: &Plan,
    opts: &Options,
    cache: &mut SignatureCache,
) -> Result<Vec<(Digest, Vec<Signature>)>, CopyError> {
    let identity = match (&opts.sign_identity, opts.signers.is_empty()) {
        (_, true) => None,
        (Some(given), false) => Some(given.clone()),
        (None, false) => Some(dst.docker_reference().ok_or_else(|| {
            CopyError::new(
                format!("signing the image written to {}", dst.name()),
                TransportError::NoSigningIdentity { destination: dst.name() },
            )
        })?),
    };
    let mut out = Vec::new();
    for manifest in plan.children.iter().chain(std::iter::once(&plan.top)) {
        let mut sigs = if opts.remove_signatures {
            Vec::new()
        } else if let Some(original) = plan.converted_from.get(&manifest.digest) {
            // A converted manifest has a new digest: the source's signatures cannot follow it.
            if !source_signatures(src, original, cache).await?.is_empty() {
                return Err(convert_error(
                    src,
                    ConvertError::WouldInvalidateSignatures {
                        digest: original.clone(),
                        format: opts.format.unwrap_or(ManifestFormat::Oci),
                    },
                ));
            }
            Vec::new()
        } else {
            source_signatures(src, &manifest.digest, cache).await?.to_vec()
        };
        if let Some(identity) = &identity {
            for signer in &opts.signers {
                let sig = signer.sign(&manifest.digest, identity).map_err(|e| {
                    CopyError::new(
                        format!("signing {} with {}", manifest.digest, signer.describe()),
                        TransportError::from(e),
                    )
                })?;
                sigs.push(sig);
            }
        }
        if !sigs.is_empty() {
            out.push((manifest.digest.clone(), sigs));
        }
    }
    Ok(out)
}

fn parse(m: &RawManifest, source: &str) -> Result<Manifest, CopyError> {
    Manifest::parse(&m.raw, Some(&m.media_type))
        .map_err(|e| CopyError::new(format!("parsing manifest {} of {source}", m.digest), e.into()))
}

async fn fetch_child(src: &dyn ImageSource, digest: &Digest) -> Result<RawManifest, CopyError> {
    let child =
        src.manifest_by_digest(digest).await.map_err(ctx(|| format!("reading manifest {digest} of {}", src.name())))?;
    if child.digest != *digest {
        return Err(CopyError::new(
            format!("reading manifest {digest} of {}", src.name()),
            IndexError::WrongChild { asked: digest.clone(), answered: child.digest }.into(),
        ));
    }
    Ok(child)
}

/// Every child of an index (recursively), children before their parents, and all their blobs.
fn collect_all<'a>(
    src: &'a dyn ImageSource,
    entries: &'a [Descriptor],
    children: &'a mut Vec<RawManifest>,
    blobs: &'a mut Vec<Descriptor>,
    seen: &'a mut HashSet<Digest>,
    depth: usize,
) -> futures_util::future::BoxFuture<'a, Result<(), CopyError>> {
    Box::pin(async move {
        if depth > MAX_DEPTH {
            return Err(CopyError::new(
                format!("reading {}", src.name()),
                IndexError::TooDeep { limit: MAX_DEPTH }.into(),
            ));
        }
        for entry in entries {
            if children.iter().any(|c| c.digest == entry.digest) {
                continue;
            }
            let child = fetch_child(src, &entry.digest).await?;
            match parse(&child, &src.name())? {
                Manifest::Image(m) => push_blobs(blobs, seen, m.blobs()),
                Manifest::Index(inner) => {
                    collect_all(src, &inner.manifests, children, blobs, seen, depth + 1).await?;
                }
            }
            children.push(child);
        }
        Ok(())
    })
}

fn push_blobs<'a>(out: &mut Vec<Descriptor>, seen: &mut HashSet<Digest>, blobs: impl Iterator<Item = &'a Descriptor>) {
    for b in blobs {
        if seen.insert(b.digest.clone()) {
            out.push(b.clone());
        }
    }
}

fn convert_error(src: &dyn ImageSource, e: ConvertError) -> CopyError {
    CopyError::new(format!("converting the manifest of {}", src.name()), e.into())
}

/// Converts every manifest of `plan` to `to` (children first, an index after its children), replacing the
/// plan's manifests and blobs with the converted ones; configs a conversion makes go to `plan.made`.
async fn convert_plan(
    src: &dyn ImageSource,
    plan: &mut Plan,
    to: ManifestFormat,
    opts: &Options,
) -> Result<(), CopyError> {
    let mut done: std::collections::HashMap<Digest, RawManifest> = std::collections::HashMap::new();
    let mut blobs = Vec::new();
    let mut seen = HashSet::new();
    let one = async |raw: &RawManifest, done: &std::collections::HashMap<Digest, RawManifest>| {
        let (new, warnings, made) = match parse(raw, &src.name())? {
            Manifest::Image(m) => {
                let config =
                    if convert::needs_config(&m, to) { Some(read_config(src, &m.config).await?) } else { None };
                let c = convert::convert_image(raw, &m, to, config.as_deref()).map_err(|e| convert_error(src, e))?;
                (c.manifest, c.warnings, c.config)
            }
            Manifest::Index(index) => {
                let (new, warnings) =
                    convert::convert_index(raw, &index, to, done).map_err(|e| convert_error(src, e))?;
                (new, warnings, None)
            }
        };
        for w in &warnings {
            opts.observer.warning(w);
        }
        Ok::<_, CopyError>((new, made))
    };
    let mut children = Vec::new();
    for child in &plan.children {
        let (new, made) = one(child, &done).await?;
        if let Some((d, bytes)) = made {
            plan.made.insert(d.digest, Made::Bytes(bytes.into()));
        }
        done.insert(child.digest.clone(), new.clone());
        children.push(new);
    }
    let (top, made) = one(&plan.top, &done).await?;
    if let Some((d, bytes)) = made {
        plan.made.insert(d.digest, Made::Bytes(bytes.into()));
    }
    for (old, new) in plan.children.iter().zip(&children).chain(std::iter::once((&plan.top, &top))) {
        if old.digest != new.digest {
            let original = plan.converted_from.remove(&old.digest).unwrap_or_else(|| old.digest.clone());
            plan.converted_from.insert(new.digest.clone(), original);
        }
        if let Manifest::Image(m) = parse(new, &src.name())? {
            push_blobs(&mut blobs, &mut seen, m.blobs());
        }
    }
    plan.children = children;
    plan.top = top;
    plan.blobs = blobs;
    Ok(())
}

/// The bytes of a config blob (at most [`MAX_CONFIG_SIZE`]; checked against its digest by the conversion).
async fn read_config(src: &dyn ImageSource, config: &Descriptor) -> Result<Vec<u8>, CopyError> {
    let what = || format!("reading config {} of {}", config.digest, src.name());
    if config.size > MAX_CONFIG_SIZE as u64 {
        return Err(CopyError::new(
            what(),
            crate::image::ImageError::TooLarge {
                what: "image config",
                size: usize::try_from(config.size).unwrap_or(usize::MAX),
                limit: MAX_CONFIG_SIZE,
            }
            .into(),
        ));
    }
    let mut stream = src.blob(config).await.map_err(ctx(what))?;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(ctx(what))?;
        if out.len() + chunk.len() > MAX_CONFIG_SIZE {
            return Err(CopyError::new(
                what(),
                crate::image::ImageError::TooLarge {
                    what: "image config",
                    size: out.len() + chunk.len(),
                    limit: MAX_CONFIG_SIZE,
                }
                .into(),
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Copies one blob unless the destination has it or can mount it; the bytes moved. `made`: the blob's bytes
/// when a conversion made it (not in the source).
async fn copy_blob(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    blob: &Descriptor,
    made: Option<&Made>,
    progress: &Arc<dyn CopyProgress>,
) -> Result<(BlobOutcome, u64), CopyError> {
    let what = || format!("copying blob {} to {}", blob.digest, dst.name());
    if let Some(&Made::Written { had }) = made {
        // Written while it was made, its progress shown then (as the source's layer).
        return Ok(if had { (BlobOutcome::Skipped, 0) } else { (BlobOutcome::Copied, blob.size) });
    }
    progress.blob_started(blob);
    if blob.is_foreign() {
        progress.blob_finished(blob, BlobOutcome::Foreign);
        return Ok((BlobOutcome::Foreign, 0));
    }
    if dst.has_blob(blob).await.map_err(ctx(what))? {
        progress.blob_finished(blob, BlobOutcome::Skipped);
        return Ok((BlobOutcome::Skipped, 0));
    }
    if made.is_none()
        && let Some(from) = src.registry_repo()
        && dst.try_mount(blob, &from).await.map_err(ctx(what))?
    {
        progress.blob_finished(blob, BlobOutcome::Mounted);
        return Ok((BlobOutcome::Mounted, 0));
    }
    let open = || {
        async move {
            let stream: ByteStream<TransportError> = match made {
                Some(Made::Bytes(bytes)) => Box::pin(futures_util::stream::iter([Ok(bytes.clone())])),
                _ => src.blob(blob).await?,
            };
            let (progress, shown) = (progress.clone(), blob.clone());
            let mut moved = 0u64;
            let counted = stream.inspect(move |item| {
                if let Ok(chunk) = item {
                    moved += chunk.len() as u64;
                    progress.blob_progress(&shown, moved);
                }
            });
            Ok(Box::pin(counted) as ByteStream<TransportError>)
        }
        .boxed()
    };
    dst.put_blob(blob, &open).await.map_err(ctx(what))?;
    progress.blob_finished(blob, BlobOutcome::Copied);
    Ok((BlobOutcome::Copied, blob.size))
}

/// Recompresses, as `rc` asks, every layer of `plan`'s image manifests that is in another compression (each
/// once, `opts.jobs` at a time), and rewrites the manifests (children, then the top-level one, an index's
/// entries following its children) and the plan's blobs to name the new layers. Each new layer is written to
/// `dst` as it is made ([`ImageDestination::put_made_blob`]), before any manifest. zstd needs OCI manifests:
/// schema 2 ones are converted first, `--format v2s2` refused.
async fn recompress_plan(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    plan: &mut Plan,
    rc: &Recompression,
    opts: &Options,
    progress: &Arc<dyn CopyProgress>,
) -> Result<(), CopyError> {
    if rc.format == recompress::LayerCompression::Zstd {
        if opts.format == Some(ManifestFormat::DockerV2Schema2) {
            return Err(CopyError::new(format!("copying {}", src.name()), RecompressionError::ZstdInSchema2.into()));
        }
        if !plan.children.iter().chain(std::iter::once(&plan.top)).all(|m| convert::is_in(m, ManifestFormat::Oci)) {
            convert_plan(src, plan, ManifestFormat::Oci, opts).await?;
        }
    }
    let mut todo = Vec::new();
    let mut seen = HashSet::new();
    for m in plan.children.iter().chain(std::iter::once(&plan.top)) {
        if let Manifest::Image(image) = parse(m, &src.name())? {
            for layer in &image.layers {
                if let Some(from) = rc.wants(&layer.media_type)
                    && !layer.is_foreign()
                    && seen.insert(layer.digest.clone())
                {
                    todo.push((layer.clone(), from));
                }
            }
        }
    }
    if todo.is_empty() {
        return Ok(());
    }
    let rewritten: std::collections::HashMap<Digest, (Descriptor, bool)> = futures_util::stream::iter(todo)
        .map(|(layer, from)| recompress_layer(src, dst, layer, from, *rc, progress))
        .buffer_unordered(opts.jobs.max(1))
        .try_collect()
        .await?;
    let mut done: std::collections::HashMap<Digest, RawManifest> = std::collections::HashMap::new();
    let rewrite = |m: &RawManifest, done: &std::collections::HashMap<Digest, RawManifest>| {
        let new = match parse(m, &src.name())? {
            Manifest::Image(_) => rewrite_layers(m, &rewritten)
                .map_err(|e| CopyError::new(format!("rewriting manifest {} of {}", m.digest, src.name()), e.into()))?,
            Manifest::Index(index) => {
                let format = if m.media_type == ManifestFormat::Oci.index_media_type() {
                    ManifestFormat::Oci
                } else {
                    ManifestFormat::DockerV2Schema2
                };
                convert::convert_index(m, &index, format, done).map_err(|e| convert_error(src, e))?.0
            }
        };
        Ok::<_, CopyError>(new)
    };
    let mut children = Vec::new();
    for child in &plan.children {
        let new = rewrite(child, &done)?;
        done.insert(child.digest.clone(), new.clone());
        children.push(new);
    }
    let top = rewrite(&plan.top, &done)?;
    for (old, new) in plan.children.iter().zip(&children).chain(std::iter::once((&plan.top, &top))) {
        if old.digest != new.digest {
            let original = plan.converted_from.remove(&old.digest).unwrap_or_else(|| old.digest.clone());
            plan.converted_from.insert(new.digest.clone(), original);
        }
    }
    plan.children = children;
    plan.top = top;
    let mut seen = HashSet::new();
    let blobs = std::mem::take(&mut plan.blobs);
    for blob in blobs {
        let blob = match rewritten.get(&blob.digest) {
            Some((new, _)) if recompress::layer_compression(&blob.media_type).is_some() => new.clone(),
            _ => blob,
        };
        if seen.insert(blob.digest.clone()) {
            plan.blobs.push(blob);
        }
    }
    for (new, had) in rewritten.into_values() {
        plan.made.insert(new.digest, Made::Written { had });
    }
    Ok(())
}

/// One layer of `src` recompressed and written to `dst` as it is made: the old digest, the new descriptor and
/// whether `dst` had it. A destination that tries again opens it again: recompressed anew from the source.
async fn recompress_layer(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    layer: Descriptor,
    from: crate::archive::compression::Compression,
    rc: Recompression,
    progress: &Arc<dyn CopyProgress>,
) -> Result<(Digest, (Descriptor, bool)), CopyError> {
    let what = || format!("recompressing layer {} of {} to {}", layer.digest, src.name(), rc.format);
    let media_type = rc.media_type(&layer.media_type);
    progress.blob_started(&layer);
    let open = || {
        let layer = &layer;
        async move {
            let stream = src.blob(layer).await?;
            let (progress, shown) = (progress.clone(), layer.clone());
            let mut moved = 0u64;
            // Progress counts the source's bytes read (the new size is known only at the end).
            let counted = stream.inspect(move |item| {
                if let Ok(chunk) = item {
                    moved += chunk.len() as u64;
                    progress.blob_progress(&shown, moved);
                }
            });
            Ok(recompressed(Box::pin(counted), from, rc, layer.digest.to_string()))
        }
        .boxed()
    };
    let made = dst.put_made_blob(media_type, &open).await.map_err(ctx(what))?;
    progress.blob_finished(&layer, if made.had { BlobOutcome::Skipped } else { BlobOutcome::Copied });
    let (digest, size) = (made.digest, made.size);
    let mut annotations = layer.annotations.clone().unwrap_or_default();
    // What described the old bytes (zstd:chunked's table of contents) does not describe the new ones.
    annotations.retain(|k, _| !k.starts_with("io.github.containers.zstd-chunked."));
    let new = Descriptor {
        media_type: rc.media_type(&layer.media_type).to_owned(),
        digest,
        size,
        urls: Vec::new(),
        annotations: (!annotations.is_empty()).then_some(annotations),
        ..layer.clone()
    };
    Ok((layer.digest, (new, made.had)))
}

/// `m` with each layer `rewritten` names replaced by its new descriptor; `m` itself when none is.
fn rewrite_layers(
    m: &RawManifest,
    rewritten: &std::collections::HashMap<Digest, (Descriptor, bool)>,
) -> Result<RawManifest, crate::image::ImageError> {
    let mut doc: serde_json::Value = serde_json::from_slice(&m.raw)
        .map_err(|e| crate::image::ImageError::Invalid(format!("manifest {}: {e}", m.digest)))?;
    let mut changed = false;
    if let Some(layers) = doc.get_mut("layers").and_then(|l| l.as_array_mut()) {
        for layer in layers {
            let digest = layer.get("digest").and_then(|d| d.as_str()).and_then(|d| Digest::parse_any(d).ok());
            if let Some((new, _)) = digest.and_then(|d| rewritten.get(&d)) {
                *layer = serde_json::to_value(new)
                    .map_err(|e| crate::image::ImageError::Invalid(format!("manifest {}: {e}", m.digest)))?;
                changed = true;
            }
        }
    }
    if !changed {
        return Ok(m.clone());
    }
    let raw = serde_json::to_vec(&doc)
        .map_err(|e| crate::image::ImageError::Invalid(format!("manifest {}: {e}", m.digest)))?;
    Ok(RawManifest::new(raw, m.media_type.clone()))
}

/// The bytes of `layer` (compressed as `from`) recompressed as `rc` asks, made on a blocking thread as they
/// are read (a few MiB ahead of the reader at most); the stream ends with an error item when the source or the
/// recompression fails. The source's stream is read to its end, so its digest is checked even when the
/// decoder stops early. Dropping the stream stops the work.
fn recompressed(
    layer: ByteStream<TransportError>,
    from: crate::archive::compression::Compression,
    rc: Recompression,
    name: String,
) -> ByteStream<TransportError> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, TransportError>>(4);
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut reader = crate::transport::blocking::StreamReader::new(layer, handle);
        let mut out = ChannelWriter { tx: &tx, buf: Vec::new() };
        let result = recompress::recompress(&mut reader, from, &rc, &mut out, &name)
            .and_then(|_| std::io::copy(&mut reader, &mut std::io::sink()))
            .and_then(|_| std::io::Write::flush(&mut out));
        if let Err(source) = result {
            let e = reader.take_error().unwrap_or(TransportError::Read { source });
            let _ = tx.blocking_send(Err(e));
        }
    });
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }))
}

/// Sends what is written through it as chunks of [`ChannelWriter::CHUNK`] bytes; a reader that went away is a
/// broken pipe, which stops the writer.
struct ChannelWriter<'a> {
    tx: &'a tokio::sync::mpsc::Sender<Result<bytes::Bytes, TransportError>>,
    buf: Vec<u8>,
}

impl ChannelWriter<'_> {
    const CHUNK: usize = 1 << 20;

    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = bytes::Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(Self::CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload stopped reading"))
    }
}

impl std::io::Write for ChannelWriter<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= Self::CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

#[cfg(test)]
mod tests;
