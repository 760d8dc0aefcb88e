//! The copy engine: the only code that moves images, for pull (registry → store), push (store → registry) and
//! copy (any → any), as containers/image's `copy.Image`.
//!
//! - Manifests move as raw bytes, so digests never change; nothing is converted (every transport here holds
//!   OCI and Docker schema 2 alike) and schema 1 is refused when the manifest is parsed.
//! - An index is resolved to the chosen platform's image (the host's unless told otherwise); with `all`,
//!   every child and the index itself are copied byte for byte.
//! - Blobs move in parallel (`jobs`, default 6, as skopeo), each once even when several manifests share it;
//!   a blob the destination has is skipped, one in another repository of the same registry is mounted,
//!   foreign (non-distributable) layers stay referenced but are not copied. Bytes stream from source to
//!   destination and are checked against their digest on the way; nothing is decompressed or recompressed
//!   (except where the user asks a dir destination to gzip uncompressed layers).
//! - Manifests are written after the blobs they reference, the top-level one last, by
//!   [`ImageDestination::commit`] — so a failed or killed copy never leaves a visible, incomplete image.
//!
//! What it is not: choosing where images come from (endpoints, credentials) or printing; byte progress
//! leaves through [`CopyProgress`] (warnings and debug lines, as everywhere, through
//! [`crate::observe::Observer`]).

pub mod archive;

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::{FutureExt, StreamExt, TryStreamExt};

use crate::digest::Digest;
use crate::image::{Descriptor, IndexError, Manifest, Platform};
use crate::stream::ByteStream;
use crate::transport::{ImageDestination, ImageSource, RawManifest, TransportError};

/// What to copy and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// Blobs in flight at once.
    pub jobs: usize,
    /// The platform to pick from an index; `None` is the host's.
    pub platform: Option<Platform>,
    /// Copy every platform of an index and the index itself.
    pub all: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { jobs: 6, platform: None, all: false }
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

/// Why a copy failed: what was being done, and the transport's error.
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
}

/// Copies the image `src` names to `dst`.
pub async fn copy(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    opts: &Options,
    progress: Arc<dyn CopyProgress>,
) -> Result<Report, CopyError> {
    let top = src.manifest().await.map_err(ctx(|| format!("reading the manifest of {}", src.name())))?;
    let plan = plan(src, top, opts).await?;
    let mut report =
        Report { manifest: plan.top.clone(), bytes_copied: 0, copied: 0, skipped: 0, mounted: 0, foreign: 0 };
    let outcomes: Vec<(BlobOutcome, u64)> = futures_util::stream::iter(plan.blobs.iter())
        .map(|blob| copy_blob(src, dst, blob, &progress))
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

/// Decides what to copy: the manifests to write and the blobs they reference, each blob once.
async fn plan(src: &dyn ImageSource, top: RawManifest, opts: &Options) -> Result<Plan, CopyError> {
    let parsed = parse(&top, &src.name())?;
    let mut blobs = Vec::new();
    let mut seen = HashSet::new();
    match parsed {
        Manifest::Image(m) => {
            push_blobs(&mut blobs, &mut seen, m.blobs());
            Ok(Plan { children: Vec::new(), top, blobs })
        }
        Manifest::Index(index) if opts.all => {
            let mut children = Vec::new();
            collect_all(src, &index.manifests, &mut children, &mut blobs, &mut seen, 1).await?;
            Ok(Plan { children, top, blobs })
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
            Ok(Plan { children: Vec::new(), top: child, blobs })
        }
    }
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

/// Copies one blob unless the destination has it or can mount it; the bytes moved.
async fn copy_blob(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    blob: &Descriptor,
    progress: &Arc<dyn CopyProgress>,
) -> Result<(BlobOutcome, u64), CopyError> {
    let what = || format!("copying blob {} to {}", blob.digest, dst.name());
    progress.blob_started(blob);
    if blob.is_foreign() {
        progress.blob_finished(blob, BlobOutcome::Foreign);
        return Ok((BlobOutcome::Foreign, 0));
    }
    if dst.has_blob(blob).await.map_err(ctx(what))? {
        progress.blob_finished(blob, BlobOutcome::Skipped);
        return Ok((BlobOutcome::Skipped, 0));
    }
    if let Some(from) = src.registry_repo()
        && dst.try_mount(blob, &from).await.map_err(ctx(what))?
    {
        progress.blob_finished(blob, BlobOutcome::Mounted);
        return Ok((BlobOutcome::Mounted, 0));
    }
    let open = || {
        async move {
            let stream = src.blob(blob).await?;
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

#[cfg(test)]
mod tests;
