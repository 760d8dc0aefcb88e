//! `docker://` — images in a registry, read and written through [`crate::registry::RegistryClient`].
//!
//! A source tries the endpoints [`crate::registry::endpoint::for_pull`] lists (mirrors, then the primary) in
//! order and reads from the first that serves the manifest; each endpoint gets its own credentials, looked
//! up for that host and repository (so a mirror has its own), on a blocking thread since helpers are
//! programs. A destination writes to the primary endpoint only, mounting blobs from another repository of the
//! same registry instead of uploading them when it can.

use std::sync::Arc;

use futures_util::{FutureExt, StreamExt};
use hoist_helper_protocol::Credentials;

use super::{
    DigestMismatch, ImageDestination, ImageSource, MadeBlob, OpenBlob, RawManifest, RegistryRepo, TransportError,
};
use crate::auth::Auth;
use crate::digest::Digest;
use crate::image::{Descriptor, media_type};
use crate::observe::SharedObserver;
use crate::reference::Reference;
use crate::registry::{Endpoint, RegistryClient, RegistryError, Target};
use crate::stream::ByteStream;
use crate::trust::storage::{self, SignatureStorage, StorageError, attachments, lookaside};
use crate::trust::{Signature, TrustError};

/// Where a side of a copy gets its credentials.
#[derive(Clone)]
pub enum Creds {
    /// Looked up per endpoint in the auth files and helpers (the default).
    Lookup(Arc<Auth>),
    /// `--creds USER:PASS` (or `--src-creds`/`--dest-creds`) for every endpoint of that side.
    Given(Credentials),
    /// `--no-creds`: anonymous.
    Anonymous,
}

impl Creds {
    /// The credentials for `reference`'s registry and repository.
    pub async fn for_reference(&self, reference: &Reference) -> Result<Option<Credentials>, TransportError> {
        match self {
            Creds::Anonymous => Ok(None),
            Creds::Given(c) => {
                let mut c = c.clone();
                c.server_url = reference.domain().to_owned();
                Ok(Some(c))
            }
            Creds::Lookup(auth) => {
                let auth = auth.clone();
                let key = reference.name();
                let found = tokio::task::spawn_blocking(move || auth.lookup(&key))
                    .await
                    .map_err(|source| TransportError::TaskFailed { task: "credential lookup", source })??;
                Ok(found.map(|f| f.creds))
            }
        }
    }
}

/// Connects to `endpoint` with the credentials for `reference`.
async fn connect(
    endpoint: &Endpoint,
    reference: &Reference,
    creds: &Creds,
    observer: &SharedObserver,
) -> Result<Arc<RegistryClient>, TransportError> {
    let c = creds.for_reference(reference).await?;
    Ok(Arc::new(RegistryClient::connect(endpoint, c, observer.clone()).await?))
}

/// The tag or digest a reference names at its registry (`latest` when it names neither).
pub fn reference_at_registry(r: &Reference) -> String {
    match (r.digest(), r.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.to_owned(),
        (None, None) => crate::reference::DEFAULT_TAG.to_owned(),
    }
}

/// An image in a registry, at the first endpoint that served its manifest.
pub struct RegistrySource {
    client: Arc<RegistryClient>,
    /// The reference as that endpoint names it (a mirror's location rewritten in).
    reference: Reference,
    /// What the user asked for.
    requested: Reference,
    manifest: RawManifest,
    /// Where its signatures are (registries.d); `None`: the default registries.d, read when asked.
    signature_storage: Option<SignatureStorage>,
}

impl RegistrySource {
    /// Tries `targets` in order (see [`crate::registry::endpoint::for_pull`]) and keeps the first that serves the
    /// manifest. When none does, the primary's error is returned (the last target), mentioning the mirrors.
    pub async fn open(
        requested: &Reference,
        targets: &[Target],
        creds: &Creds,
        observer: &SharedObserver,
    ) -> Result<RegistrySource, TransportError> {
        let mut last = None;
        for target in targets {
            let attempt = async {
                let client = connect(&target.endpoint, &target.reference, creds, observer).await?;
                let m = client
                    .get_manifest(
                        target.reference.path(),
                        &reference_at_registry(&target.reference),
                        media_type::MANIFEST_ACCEPT,
                    )
                    .await?;
                Ok::<_, TransportError>((client, m))
            };
            match attempt.await {
                Ok((client, m)) => {
                    return Ok(RegistrySource {
                        client,
                        reference: target.reference.clone(),
                        requested: requested.clone(),
                        manifest: m,
                        signature_storage: None,
                    });
                }
                Err(e) => {
                    if target.mirror {
                        observer.warning(&format!("mirror {}: {e}; trying the next source", target.reference));
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| TransportError::NoEndpoint { action: "pull", image: requested.to_string() }))
    }

    /// This source reading its signatures where `storage` says (see [`SignatureStorage::for_reference`] of
    /// [`RegistrySource::served_by`]: a mirror's lookaside is its own).
    pub fn with_signature_storage(mut self, storage: SignatureStorage) -> RegistrySource {
        self.signature_storage = Some(storage);
        self
    }

    /// The reference at the endpoint that served it.
    pub fn served_by(&self) -> &Reference {
        &self.reference
    }

    /// The tags of the repository this source read from.
    pub async fn tags(&self) -> Result<Vec<String>, TransportError> {
        Ok(self.client.list_tags(self.reference.path()).await?)
    }

    /// The tags of `repository` at its primary location (the last of `targets`): tag lists are never read
    /// from mirrors, which may hold only part of a repository.
    pub async fn list_tags(
        repository: &Reference,
        targets: &[Target],
        creds: &Creds,
        observer: &SharedObserver,
        page_size: Option<usize>,
    ) -> Result<Vec<String>, TransportError> {
        let Some(primary) = targets.last() else {
            return Err(TransportError::NoEndpoint { action: "list", image: repository.to_string() });
        };
        let client = connect(&primary.endpoint, &primary.reference, creds, observer).await?;
        Ok(client.list_tags_paged(primary.reference.path(), page_size).await?)
    }
}

#[async_trait::async_trait]
impl ImageSource for RegistrySource {
    fn name(&self) -> String {
        format!("docker://{}", self.requested)
    }

    async fn manifest(&self) -> Result<RawManifest, TransportError> {
        Ok(self.manifest.clone())
    }

    async fn manifest_by_digest(&self, digest: &Digest) -> Result<RawManifest, TransportError> {
        let m =
            self.client.get_manifest(self.reference.path(), &digest.to_string(), media_type::MANIFEST_ACCEPT).await?;
        Ok(m)
    }

    async fn blob(&self, blob: &Descriptor) -> Result<ByteStream<TransportError>, TransportError> {
        let s = self.client.get_blob(self.reference.path(), &blob.digest, Some(blob.size)).await?;
        Ok(Box::pin(s.map(|r| r.map_err(TransportError::from))))
    }

    fn registry_repo(&self) -> Option<RegistryRepo> {
        Some(RegistryRepo { host: self.reference.domain().to_owned(), repo: self.reference.path().to_owned() })
    }

    /// The reference the user asked for, not a mirror's: the policy is about what is pulled.
    fn policy_name(&self) -> crate::trust::PolicyName {
        super::policy_name::docker(&self.requested)
    }

    /// The lookaside signatures (registries.d's `lookaside`, else the built-in directory), then, when
    /// `use-sigstore-attachments` is on, the `sha256-HEX.sig` attachments — at most
    /// [`storage::MAX_SIGNATURES`] and [`storage::MAX_SIGNATURES_TOTAL`] bytes together.
    async fn signatures(&self, digest: &Digest) -> Result<Vec<Signature>, TransportError> {
        let s = storage_for(&self.signature_storage, &self.reference, self.client.timeout())?;
        let mut budget = storage::Budget::new(format!("signatures of {}@{digest}", self.reference.name()));
        let mut out = lookaside::read(&s.location.read, digest, s.timeout, &mut budget).await.map_err(trust)?;
        if s.location.attachments {
            out.extend(
                attachments::read(&self.client, self.reference.path(), digest, &mut budget).await.map_err(trust)?,
            );
        }
        Ok(out)
    }
}

/// A storage error as the transports return it.
fn trust(e: StorageError) -> TransportError {
    TrustError::from(e).into()
}

/// The signature storage given, else the one the default registries.d configures for `reference`.
fn storage_for(
    given: &Option<SignatureStorage>,
    reference: &Reference,
    timeout: Option<std::time::Duration>,
) -> Result<SignatureStorage, TransportError> {
    match given {
        Some(s) => Ok(s.clone()),
        None => SignatureStorage::for_reference(None, reference, timeout).map_err(trust),
    }
}

/// A registry repository to write an image to, under a tag (or by digest only).
pub struct RegistryDestination {
    client: Arc<RegistryClient>,
    reference: Reference,
    /// Where signatures are written (registries.d); `None`: the default registries.d, read when needed.
    signature_storage: Option<SignatureStorage>,
}

impl RegistryDestination {
    pub async fn open(
        endpoint: &Endpoint,
        reference: Reference,
        creds: &Creds,
        observer: &SharedObserver,
    ) -> Result<RegistryDestination, TransportError> {
        let client = connect(endpoint, &reference, creds, observer).await?;
        Ok(RegistryDestination { client, reference, signature_storage: None })
    }

    /// This destination writing signatures where `storage` says ([`SignatureStorage::for_reference`]).
    pub fn with_signature_storage(mut self, storage: SignatureStorage) -> RegistryDestination {
        self.signature_storage = Some(storage);
        self
    }

    /// The manifest the reference names now (its bytes' digest is the one to sign: `hoist sign`).
    pub async fn current_manifest(&self) -> Result<RawManifest, TransportError> {
        let at = reference_at_registry(&self.reference);
        Ok(self.client.get_manifest(self.repo(), &at, media_type::MANIFEST_ACCEPT).await?)
    }

    /// Adds `signatures` of `digest` to those already stored (`hoist sign`, podman's `image sign`): simple
    /// signatures after the lookaside's existing `signature-N`, sigstore ones as new attachment layers.
    pub async fn add_signatures(&self, digest: &Digest, signatures: &[Signature]) -> Result<(), TransportError> {
        self.store_signatures(digest, signatures, true).await
    }

    /// Sigstore signatures to the attachments (refused when `use-sigstore-attachments` is off), the others to
    /// the lookaside's writing location (`file://` only): replacing what is there, or after it (`append`).
    async fn store_signatures(
        &self,
        digest: &Digest,
        signatures: &[Signature],
        append: bool,
    ) -> Result<(), TransportError> {
        if signatures.is_empty() {
            return Ok(());
        }
        let s = storage_for(&self.signature_storage, &self.reference, self.client.timeout())?;
        let (sigstore, simple): (Vec<Signature>, Vec<Signature>) =
            signatures.iter().cloned().partition(|s| matches!(s, Signature::Sigstore { .. }));
        if !sigstore.is_empty() {
            if !s.location.attachments {
                return Err(trust(StorageError::AttachmentsDisabled));
            }
            attachments::write(&self.client, self.repo(), digest, &sigstore).await.map_err(trust)?;
        }
        if !simple.is_empty() {
            let (base, digest) = (s.location.write.clone(), digest.clone());
            tokio::task::spawn_blocking(move || {
                if append {
                    lookaside::append(&base, &digest, &simple)
                } else {
                    lookaside::write(&base, &digest, &simple)
                }
            })
            .await
            .map_err(|source| TransportError::TaskFailed { task: "writing signatures", source })?
            .map_err(trust)?;
        }
        Ok(())
    }

    fn repo(&self) -> &str {
        self.reference.path()
    }

    /// Deletes the manifest the reference names (a tag is resolved to its digest first); the digest deleted.
    pub async fn delete(&self) -> Result<Digest, TransportError> {
        let digest = match self.reference.digest() {
            Some(d) => d.clone(),
            None => {
                let at = reference_at_registry(&self.reference);
                match self.client.head_manifest(self.repo(), &at, media_type::MANIFEST_ACCEPT).await? {
                    Some(head) => head.digest,
                    None => {
                        return Err(TransportError::NotInRegistry { reference: self.reference.to_string() });
                    }
                }
            }
        };
        self.client.delete_manifest(self.repo(), &digest).await?;
        Ok(digest)
    }
}

/// What the registry client sees of a source's error: a registry source's own error as it is, any other
/// (a store, archive or digest error) boxed as [`RegistryError::Source`], which
/// [`RegistryDestination::put_blob`] unboxes, so the caller gets it with its own type, not as registry text.
fn source_failed(e: TransportError) -> RegistryError {
    match e {
        TransportError::Registry(r) => r,
        other => RegistryError::Source(Box::new(other)),
    }
}

/// A source's blob opener as the registry client takes it: the stream's errors (and the opening's) become
/// [`source_failed`]'s.
fn for_registry<'a>(
    open: &'a OpenBlob<'_>,
) -> impl Fn() -> futures_util::future::BoxFuture<'a, Result<ByteStream<RegistryError>, RegistryError>> + Send + Sync + 'a
{
    move || {
        let opening = open();
        async move {
            let s = opening.await.map_err(source_failed)?;
            Ok(Box::pin(s.map(|r| r.map_err(source_failed))) as ByteStream<RegistryError>)
        }
        .boxed()
    }
}

/// An upload's error as the transports return it: when it failed because its source did, that error with its
/// type is the cause.
fn upload_failed(e: RegistryError) -> TransportError {
    match e {
        RegistryError::Source(e) => match e.downcast::<TransportError>() {
            Ok(e) => *e,
            Err(e) => RegistryError::Source(e).into(),
        },
        e => e.into(),
    }
}

#[async_trait::async_trait]
impl ImageDestination for RegistryDestination {
    fn docker_reference(&self) -> Option<Reference> {
        Some(self.reference.clone())
    }

    fn name(&self) -> String {
        format!("docker://{}", self.reference)
    }

    async fn has_blob(&self, blob: &Descriptor) -> Result<bool, TransportError> {
        Ok(self.client.blob_size(self.repo(), &blob.digest).await?.is_some())
    }

    async fn try_mount(&self, blob: &Descriptor, from: &RegistryRepo) -> Result<bool, TransportError> {
        if from.host != self.reference.domain() || from.repo == self.repo() {
            return Ok(false);
        }
        Ok(self.client.mount_blob(self.repo(), &blob.digest, &from.repo).await?)
    }

    async fn put_blob(&self, blob: &Descriptor, open: &OpenBlob<'_>) -> Result<(), TransportError> {
        let open_for_registry = for_registry(open);
        self.client.upload_blob(self.repo(), &blob.digest, blob.size, &open_for_registry).await.map_err(upload_failed)
    }

    /// Streamed into an upload session as the bytes are made (hashed on the way, `PUT ?digest=` at the end),
    /// so making and sending overlap; spooled first ([`super::spool::spool_then_put`]) only when the registry
    /// refuses `PATCH`. The registry's copy of the blob is not asked for first: its digest is not known yet.
    async fn put_made_blob(&self, media_type: &str, open: &OpenBlob<'_>) -> Result<MadeBlob, TransportError> {
        let open_for_registry = for_registry(open);
        match self.client.upload_made_blob(self.repo(), &open_for_registry).await.map_err(upload_failed)? {
            Some((digest, size)) => Ok(MadeBlob { digest, size, had: false }),
            None => super::spool::spool_then_put(self, media_type, open).await,
        }
    }

    async fn put_child_manifest(&self, manifest: &RawManifest) -> Result<(), TransportError> {
        self.client
            .put_manifest(self.repo(), &manifest.digest.to_string(), &manifest.raw, &manifest.media_type)
            .await?;
        Ok(())
    }

    async fn commit(&self, manifest: &RawManifest) -> Result<(), TransportError> {
        let at = match self.reference.tag() {
            Some(t) => t.to_owned(),
            None => manifest.digest.to_string(),
        };
        if let Some(d) = self.reference.digest().filter(|d| **d != manifest.digest) {
            return Err(TransportError::DigestMismatch(Box::new(DigestMismatch {
                reference: self.reference.to_string(),
                named: d.clone(),
                manifest: manifest.digest.clone(),
            })));
        }
        self.client.put_manifest(self.repo(), &at, &manifest.raw, &manifest.media_type).await?;
        Ok(())
    }

    /// Sigstore signatures as `sha256-HEX.sig` attachments, simple signatures to the lookaside (see
    /// [`RegistryDestination::add_signatures`]); a lookaside's later `signature-N` are removed.
    async fn put_signatures(&self, digest: &Digest, signatures: &[Signature]) -> Result<(), TransportError> {
        self.store_signatures(digest, signatures, false).await
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::digest::VerifyError;
    use crate::registry::fake::{Req, Resp, Server};

    /// A source that fails half way keeps its own error through the upload: the copy engine and the user see
    /// what the source said, typed, not registry text; and the upload is not started again for it.
    #[tokio::test]
    async fn a_failing_source_keeps_its_error_type_through_put_blob() {
        let server = Server::start("127.0.0.1", |_| {
            |r: &Req| match (r.method.as_str(), r.path()) {
                ("GET", "/v2/") => Resp::new(200).json("{}"),
                ("POST", "/v2/r/blobs/uploads/") => Resp::new(202).header("Location", "/v2/r/blobs/uploads/u"),
                ("DELETE", _) => Resp::new(204),
                _ => Resp::new(400),
            }
        })
        .await;
        let endpoint = Endpoint::for_test_server(&server.addr);
        let reference = Reference::parse_normalized(&format!("{}/r:t", server.addr)).unwrap();
        let dst = RegistryDestination::open(&endpoint, reference, &Creds::Anonymous, &crate::observe::silent())
            .await
            .unwrap();
        let digest = Digest::sha256(b"abcdef");
        let blob = Descriptor {
            media_type: media_type::OCI_LAYER_GZIP.to_owned(),
            digest: digest.clone(),
            size: 6,
            urls: Vec::new(),
            annotations: None,
            platform: None,
            artifact_type: None,
        };
        let open = || {
            let digest = digest.clone();
            async move {
                let failed = VerifyError::Size { digest, expected: 6, actual: 3 };
                let items = vec![Ok(Bytes::from_static(b"abc")), Err(TransportError::Verify(failed))];
                Ok(Box::pin(futures_util::stream::iter(items)) as ByteStream<TransportError>)
            }
            .boxed()
        };
        let e = dst.put_blob(&blob, &open).await.unwrap_err();
        assert!(matches!(e, TransportError::Verify(VerifyError::Size { actual: 3, .. })), "{e:?}");
        // The source's failure is not the registry's: no new upload session reads it again.
        let sessions = server.requests_to("/v2/r/blobs/uploads/").iter().filter(|r| r.method == "POST").count();
        assert_eq!(sessions, 1, "the upload was started again after its source failed");
    }

    /// A destination on the fake registry `handle` answers, anonymous.
    async fn destination(server: &Server) -> RegistryDestination {
        let endpoint = Endpoint::for_test_server(&server.addr);
        let reference = Reference::parse_normalized(&format!("{}/r:t", server.addr)).unwrap();
        RegistryDestination::open(&endpoint, reference, &Creds::Anonymous, &crate::observe::silent()).await.unwrap()
    }

    /// Opens `chunks` as a made blob's stream (a `Err` item after them when `fail`), counting the openings.
    fn made(
        chunks: &'static [&'static [u8]],
        fail: bool,
        opens: Arc<std::sync::atomic::AtomicUsize>,
    ) -> impl Fn() -> futures_util::future::BoxFuture<'static, Result<ByteStream<TransportError>, TransportError>>
    + Send
    + Sync {
        move || {
            opens.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                let mut items: Vec<Result<Bytes, TransportError>> =
                    chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
                if fail {
                    let e = std::io::Error::new(std::io::ErrorKind::InvalidData, "corrupt deflate stream");
                    items.push(Err(TransportError::Read { source: e }));
                }
                Ok(Box::pin(futures_util::stream::iter(items)) as ByteStream<TransportError>)
            }
            .boxed()
        }
    }

    const CHUNKS: &[&[u8]] = &[b"first part, ", b"second part, ", b"the end"];

    fn whole() -> Vec<u8> {
        CHUNKS.concat()
    }

    /// A blob whose digest is known only at its end goes into the upload session as it is made: one `PATCH`
    /// of unknown length (chunked, no Content-Length; nothing waits for the whole blob, no spool), hashed on
    /// the way, closed by `PUT ?digest=` with the digest of what was sent; nothing asked first.
    #[tokio::test]
    async fn a_made_blob_streams_into_one_patch_closed_with_its_digest() {
        let server = Server::start("127.0.0.1", |_| {
            |r: &Req| match (r.method.as_str(), r.path()) {
                ("GET", "/v2/") => Resp::new(200).json("{}"),
                ("POST", "/v2/r/blobs/uploads/") => Resp::new(202).header("Location", "/v2/r/blobs/uploads/u"),
                ("PATCH", "/v2/r/blobs/uploads/u") => {
                    Resp::new(202).header("Location", "/v2/r/blobs/uploads/u?_state=s")
                }
                ("PUT", "/v2/r/blobs/uploads/u") => Resp::new(201),
                _ => Resp::new(404),
            }
        })
        .await;
        let dst = destination(&server).await;
        let opens = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let open = made(CHUNKS, false, opens.clone());
        let done = dst.put_made_blob(media_type::OCI_LAYER_ZSTD, &open).await.unwrap();
        let digest = Digest::sha256(&whole());
        assert_eq!(done, MadeBlob { digest: digest.clone(), size: whole().len() as u64, had: false });
        let sent: Vec<String> =
            server.requests().into_iter().filter(|r| r.path() != "/v2/").map(|r| r.method).collect();
        assert_eq!(sent, ["POST", "PATCH", "PUT"], "no HEAD, no monolithic PUT: streamed, not spooled");
        let patch = &server.requests_to("/v2/r/blobs/uploads/u")[0];
        assert_eq!(patch.body, whole());
        assert_eq!(patch.header("content-length"), None, "the length is not known before the end");
        assert_eq!(patch.header("transfer-encoding").map(str::to_ascii_lowercase).as_deref(), Some("chunked"));
        let put = &server.requests_to("/v2/r/blobs/uploads/u")[1];
        assert_eq!(put.query(), format!("_state=s&digest={digest}"));
        assert!(put.body.is_empty());
        assert_eq!(opens.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    /// A session that breaks while the blob streams is cancelled and a new one started, the blob made again
    /// from its start (opened again), the digest that of the second, whole, body; a registry refusing
    /// `PATCH` gets the blob spooled whole then put as one; a failure of the making itself keeps its error
    /// and starts nothing again.
    #[tokio::test]
    async fn a_made_blob_upload_starts_again_falls_back_and_keeps_the_source_error() {
        let posts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let server = Server::start("127.0.0.1", |_| {
            let posts = posts.clone();
            move |r: &Req| match (r.method.as_str(), r.path()) {
                ("GET", "/v2/") => Resp::new(200).json("{}"),
                ("POST", "/v2/r/blobs/uploads/") => {
                    let k = posts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Resp::new(202).header("Location", format!("/v2/r/blobs/uploads/s{k}"))
                }
                ("PATCH", "/v2/r/blobs/uploads/s0") => Resp::new(503),
                ("PATCH", p) => Resp::new(202).header("Location", p.to_owned()),
                ("PUT", _) | ("DELETE", _) => Resp::new(201),
                _ => Resp::new(404),
            }
        })
        .await;
        let dst = destination(&server).await;
        let opens = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let done = dst.put_made_blob(media_type::OCI_LAYER_ZSTD, &made(CHUNKS, false, opens.clone())).await.unwrap();
        assert_eq!(done.digest, Digest::sha256(&whole()));
        assert_eq!(opens.load(std::sync::atomic::Ordering::SeqCst), 2, "made again for the new session");
        let first: Vec<_> = server.requests_to("/v2/r/blobs/uploads/s0").into_iter().map(|r| r.method).collect();
        assert_eq!(first, ["PATCH", "DELETE"], "the broken session is cancelled");
        let second = server.requests_to("/v2/r/blobs/uploads/s1");
        assert_eq!(second[1].query(), format!("digest={}", Digest::sha256(&whole())));

        // The making fails: its error, typed; no new session for it.
        let before = posts.load(std::sync::atomic::Ordering::SeqCst);
        let e = dst.put_made_blob(media_type::OCI_LAYER_ZSTD, &made(CHUNKS, true, opens.clone())).await.unwrap_err();
        assert!(
            matches!(&e, TransportError::Read { source } if source.to_string() == "corrupt deflate stream"),
            "{e:?}"
        );
        assert_eq!(posts.load(std::sync::atomic::Ordering::SeqCst), before + 1);

        // PATCH refused: spooled, then asked for and put whole.
        let server = Server::start("127.0.0.1", |_| {
            |r: &Req| match (r.method.as_str(), r.path()) {
                ("GET", "/v2/") => Resp::new(200).json("{}"),
                ("POST", "/v2/r/blobs/uploads/") => Resp::new(202).header("Location", "/v2/r/blobs/uploads/u"),
                ("PATCH", _) => Resp::new(405),
                ("PUT", _) | ("DELETE", _) => Resp::new(201),
                _ => Resp::new(404),
            }
        })
        .await;
        let dst = destination(&server).await;
        let done = dst.put_made_blob(media_type::OCI_LAYER_ZSTD, &made(CHUNKS, false, opens.clone())).await.unwrap();
        assert_eq!(done, MadeBlob { digest: Digest::sha256(&whole()), size: whole().len() as u64, had: false });
        let puts: Vec<Req> = server.requests().into_iter().filter(|r| r.method == "PUT").collect();
        assert_eq!(puts.len(), 1);
        assert_eq!(puts[0].body, whole(), "the whole blob in the closing PUT");
        assert!(server.requests().iter().any(|r| r.method == "HEAD"), "asked whether the registry has it");
    }
}

#[cfg(test)]
mod endpoint_tests {
    use super::*;

    /// No endpoint to try is a fact the caller can match, naming the image and what was to be done.
    #[tokio::test]
    async fn no_endpoint_names_the_image() {
        let image = Reference::parse_normalized("a.io/x:1").unwrap();
        let silent = crate::observe::silent();
        let Err(e) = RegistrySource::open(&image, &[], &Creds::Anonymous, &silent).await else {
            panic!("opened an image with no endpoint")
        };
        assert!(matches!(&e, TransportError::NoEndpoint { action: "pull", image } if image == "a.io/x:1"), "{e:?}");
        assert_eq!(e.to_string(), "no registry to pull a.io/x:1 from");
        let e = RegistrySource::list_tags(&image, &[], &Creds::Anonymous, &silent, None).await.unwrap_err();
        assert!(matches!(&e, TransportError::NoEndpoint { action: "list", .. }), "{e:?}");
    }
}

#[cfg(test)]
mod creds_tests {
    use super::*;
    use crate::auth::{AuthError, AuthFiles};
    use crate::config::{AUTH_FILE_HELPER, Config};

    /// A credential lookup that fails reaches the caller as the auth error it is, not as text.
    #[tokio::test]
    async fn a_failed_lookup_keeps_the_auth_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        std::fs::write(&path, "{not json").unwrap();
        let config = Config { credential_helpers: vec![AUTH_FILE_HELPER.to_owned()], ..Config::default() };
        let creds = Creds::Lookup(Arc::new(Auth::new(AuthFiles::discover(Some(&path)), &config)));
        let e = creds.for_reference(&Reference::parse_normalized("a.io/x").unwrap()).await.unwrap_err();
        assert!(matches!(&e, TransportError::Auth(AuthError::Lookup { key, .. }) if key == "a.io/x"), "{e:?}");
        assert!(e.to_string().contains("not valid JSON"), "{e}");
    }
}
