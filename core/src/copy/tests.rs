//! The copy engine against in-memory transports: what it asks each side for, and in which order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::*;
use crate::image::media_type;
use crate::stream::ByteStream;
use crate::transport::{MadeBlob, OpenBlob, RegistryRepo};
use crate::trust::policy::Policy;

/// What a [`MemSource`] says of a manifest or blob it does not hold.
fn missing(what: String) -> TransportError {
    TransportError::Read { source: std::io::Error::new(std::io::ErrorKind::NotFound, what) }
}

/// A source holding manifests and blobs by digest; `top` is what its reference names.
struct MemSource {
    top: RawManifest,
    manifests: HashMap<Digest, RawManifest>,
    blobs: HashMap<Digest, Vec<u8>>,
    repo: Option<RegistryRepo>,
}

#[async_trait::async_trait]
impl ImageSource for MemSource {
    fn name(&self) -> String {
        "mem:source".into()
    }
    async fn manifest(&self) -> Result<RawManifest, TransportError> {
        Ok(self.top.clone())
    }
    async fn manifest_by_digest(&self, digest: &Digest) -> Result<RawManifest, TransportError> {
        self.manifests.get(digest).cloned().ok_or_else(|| missing(format!("no manifest {digest}")))
    }
    async fn blob(&self, blob: &Descriptor) -> Result<ByteStream<TransportError>, TransportError> {
        let bytes = self.blobs.get(&blob.digest).cloned().ok_or_else(|| missing("no blob".into()))?;
        Ok(Box::pin(futures_util::stream::iter(vec![Ok(Bytes::from(bytes))])))
    }
    fn registry_repo(&self) -> Option<RegistryRepo> {
        self.repo.clone()
    }
}

/// A destination that records every call in order.
#[derive(Default)]
struct MemDestination {
    has: Vec<Digest>,
    mountable: Vec<Digest>,
    log: Mutex<Vec<String>>,
    signatures: Mutex<Vec<(Digest, Vec<Signature>)>>,
}

#[async_trait::async_trait]
impl ImageDestination for MemDestination {
    fn name(&self) -> String {
        "mem:destination".into()
    }
    async fn has_blob(&self, blob: &Descriptor) -> Result<bool, TransportError> {
        Ok(self.has.contains(&blob.digest))
    }
    async fn try_mount(&self, blob: &Descriptor, _from: &RegistryRepo) -> Result<bool, TransportError> {
        Ok(self.mountable.contains(&blob.digest))
    }
    async fn put_blob(&self, blob: &Descriptor, open: &OpenBlob<'_>) -> Result<(), TransportError> {
        let chunks: Vec<Bytes> = futures_util::TryStreamExt::try_collect(open().await?).await?;
        assert_eq!(Digest::sha256(&chunks.concat()), blob.digest, "the bytes of the blob asked for");
        self.log.lock().unwrap().push(format!("blob {}", &blob.digest.hex()[..8]));
        Ok(())
    }
    async fn put_child_manifest(&self, m: &RawManifest) -> Result<(), TransportError> {
        self.log.lock().unwrap().push(format!("child {}", &m.digest.hex()[..8]));
        Ok(())
    }
    async fn commit(&self, m: &RawManifest) -> Result<(), TransportError> {
        self.log.lock().unwrap().push(format!("commit {}", &m.digest.hex()[..8]));
        Ok(())
    }
    async fn put_signatures(&self, digest: &Digest, sigs: &[Signature]) -> Result<(), TransportError> {
        self.log.lock().unwrap().push(format!("signatures {} {}", &digest.hex()[..8], sigs.len()));
        self.signatures.lock().unwrap().push((digest.clone(), sigs.to_vec()));
        Ok(())
    }
}

fn blob(data: &[u8], media: &str) -> (Descriptor, Vec<u8>) {
    (Descriptor::new(media, Digest::sha256(data), data.len() as u64), data.to_vec())
}

fn image(config: &Descriptor, layers: &[&Descriptor]) -> RawManifest {
    let m = serde_json::json!({
        "schemaVersion": 2, "mediaType": media_type::OCI_MANIFEST, "config": config, "layers": layers
    });
    RawManifest::new(serde_json::to_vec(&m).unwrap(), media_type::OCI_MANIFEST)
}

fn short(d: &Digest) -> String {
    d.hex()[..8].to_owned()
}

#[tokio::test]
async fn blobs_once_foreign_never_manifest_last() {
    let (config, c) = blob(b"{\"architecture\":\"amd64\",\"os\":\"linux\"}", media_type::OCI_CONFIG);
    let (layer, l) = blob(b"layer bytes", media_type::OCI_LAYER_GZIP);
    let (mut foreign, _) = blob(b"windows base layer", media_type::DOCKER_FOREIGN_LAYER);
    foreign.urls = vec!["https://example.invalid/base".into()];
    let top = image(&config, &[&layer, &layer, &foreign]);
    let src = MemSource {
        top: top.clone(),
        manifests: HashMap::new(),
        blobs: HashMap::from([(config.digest.clone(), c), (layer.digest.clone(), l)]),
        repo: None,
    };
    let dst = MemDestination::default();
    let report = copy(&src, &dst, &Options::default(), Arc::new(NoProgress)).await.unwrap();
    let log = dst.log.lock().unwrap().clone();
    assert_eq!(log.len(), 3, "config, the layer once, the manifest: {log:?}");
    assert!(!log.iter().any(|l| l.contains(&short(&foreign.digest))), "the foreign layer is never sent");
    assert_eq!(log.last().unwrap(), &format!("commit {}", short(&top.digest)));
    assert_eq!((report.copied, report.foreign, report.skipped), (2, 1, 0));
    assert_eq!(report.bytes_copied, config.size + layer.size);
    assert_eq!(report.manifest, top, "the manifest is written byte for byte");
}

#[tokio::test]
async fn skips_what_the_destination_has_and_mounts_within_a_registry() {
    let (config, c) = blob(b"{}", media_type::OCI_CONFIG);
    let (a, a_bytes) = blob(b"a", media_type::OCI_LAYER_GZIP);
    let (b, b_bytes) = blob(b"b", media_type::OCI_LAYER_GZIP);
    let top = image(&config, &[&a, &b]);
    let src = MemSource {
        top,
        manifests: HashMap::new(),
        blobs: HashMap::from([(config.digest.clone(), c), (a.digest.clone(), a_bytes), (b.digest.clone(), b_bytes)]),
        repo: Some(RegistryRepo { host: "r.example".into(), repo: "lib/app".into() }),
    };
    let dst = MemDestination { has: vec![a.digest.clone()], mountable: vec![b.digest.clone()], ..Default::default() };
    let report = copy(&src, &dst, &Options::default(), Arc::new(NoProgress)).await.unwrap();
    assert_eq!((report.copied, report.skipped, report.mounted), (1, 1, 1));
    let log = dst.log.lock().unwrap().clone();
    assert_eq!(log, [format!("blob {}", short(&config.digest)), format!("commit {}", short(&report.manifest.digest))]);
}

fn two_platforms() -> (MemSource, RawManifest, RawManifest, RawManifest) {
    let mut blobs = HashMap::new();
    let mut manifests = HashMap::new();
    let mut entries = Vec::new();
    let mut images = Vec::new();
    for arch in ["amd64", "arm64"] {
        let (config, c) =
            blob(format!("{{\"architecture\":\"{arch}\",\"os\":\"linux\"}}").as_bytes(), media_type::OCI_CONFIG);
        let (layer, l) = blob(arch.as_bytes(), media_type::OCI_LAYER_GZIP);
        blobs.insert(config.digest.clone(), c);
        blobs.insert(layer.digest.clone(), l);
        let m = image(&config, &[&layer]);
        let mut d = m.descriptor();
        d.platform = Some(Platform::new("linux", arch, None));
        entries.push(d);
        manifests.insert(m.digest.clone(), m.clone());
        images.push(m);
    }
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": media_type::OCI_INDEX, "manifests": entries});
    let top = RawManifest::new(serde_json::to_vec(&index).unwrap(), media_type::OCI_INDEX);
    let src = MemSource { top: top.clone(), manifests, blobs, repo: None };
    (src, top, images[0].clone(), images[1].clone())
}

#[tokio::test]
async fn an_index_gives_the_chosen_platform_or_everything_with_all() {
    let (src, index, amd64, arm64) = two_platforms();
    let dst = MemDestination::default();
    let opts = Options { platform: Some(Platform::new("linux", "arm64", None)), ..Options::default() };
    let report = copy(&src, &dst, &opts, Arc::new(NoProgress)).await.unwrap();
    assert_eq!(report.manifest, arm64, "the chosen platform's image is the top-level manifest");
    assert_eq!(report.copied, 2);

    let dst = MemDestination::default();
    let report = copy(&src, &dst, &Options { all: true, ..Options::default() }, Arc::new(NoProgress)).await.unwrap();
    assert_eq!(report.manifest, index, "--all keeps the index byte for byte");
    let log = dst.log.lock().unwrap().clone();
    let at = |s: String| log.iter().position(|l| *l == s).unwrap_or_else(|| panic!("{s} not in {log:?}"));
    let (c1, c2, top) = (
        at(format!("child {}", short(&amd64.digest))),
        at(format!("child {}", short(&arm64.digest))),
        at(format!("commit {}", short(&index.digest))),
    );
    assert!(log.iter().take(4).all(|l| l.starts_with("blob ")), "blobs first: {log:?}");
    assert!(c1 < top && c2 < top && top == log.len() - 1, "children before the index: {log:?}");

    let dst = MemDestination::default();
    let s390x = Options { platform: Some(Platform::new("linux", "s390x", None)), ..Options::default() };
    let e = copy(&src, &dst, &s390x, Arc::new(NoProgress)).await.unwrap_err();
    let TransportError::Index(refused) = &*e.source else { panic!("{e:?}") };
    assert_eq!(
        **refused,
        IndexError::NoPlatform {
            want: Platform::new("linux", "s390x", None),
            offered: vec!["linux/amd64".into(), "linux/arm64".into()]
        }
    );
    assert_eq!(
        e.to_string(),
        "choosing an image from mem:source: no image for platform linux/s390x (the index offers: linux/amd64, linux/arm64)"
    );
    assert!(dst.log.lock().unwrap().is_empty(), "nothing written");
}

#[tokio::test]
async fn a_failing_blob_stops_the_copy_before_any_manifest() {
    let (config, c) = blob(b"{}", media_type::OCI_CONFIG);
    let (layer, _) = blob(b"missing at the source", media_type::OCI_LAYER_GZIP);
    let src = MemSource {
        top: image(&config, &[&layer]),
        manifests: HashMap::new(),
        blobs: HashMap::from([(config.digest.clone(), c)]),
        repo: None,
    };
    let dst = MemDestination::default();
    let e = copy(&src, &dst, &Options::default(), Arc::new(NoProgress)).await.unwrap_err();
    assert!(e.to_string().contains(&layer.digest.to_string()), "{e}");
    assert!(!dst.log.lock().unwrap().iter().any(|l| l.starts_with("commit")), "no manifest after a failed blob");
}

fn index_of(entries: &[Descriptor]) -> RawManifest {
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": media_type::OCI_INDEX, "manifests": entries});
    RawManifest::new(serde_json::to_vec(&index).unwrap(), media_type::OCI_INDEX)
}

/// The index's own refusals name their facts: the platform's entry that is an index, a child answered with
/// other bytes, indexes nested past the limit.
#[tokio::test]
async fn an_index_that_does_not_give_an_image_is_refused_by_its_fact() {
    let (src, _, amd64, _) = two_platforms();
    let refused = |e: CopyError| match *e.source {
        TransportError::Index(i) => *i,
        other => panic!("{other:?}"),
    };
    let amd64_only = Options { platform: Some(Platform::new("linux", "amd64", None)), ..Options::default() };

    // The amd64 entry is itself an index.
    let inner = index_of(&[amd64.descriptor()]);
    let mut entry = inner.descriptor();
    entry.platform = Some(Platform::new("linux", "amd64", None));
    let top = index_of(&[entry]);
    let mut manifests = src.manifests.clone();
    manifests.insert(inner.digest.clone(), inner.clone());
    let nested = MemSource { top: top.clone(), manifests, blobs: src.blobs.clone(), repo: None };
    let e = copy(&nested, &MemDestination::default(), &amd64_only, Arc::new(NoProgress)).await.unwrap_err();
    assert_eq!(
        refused(e),
        IndexError::NestedIndex { want: Platform::new("linux", "amd64", None), digest: inner.digest.clone() }
    );

    // The source answers another manifest for the child asked for.
    let liar = MemSource {
        top: src.top.clone(),
        manifests: src.manifests.keys().map(|d| (d.clone(), inner.clone())).collect(),
        blobs: src.blobs.clone(),
        repo: None,
    };
    let e = copy(&liar, &MemDestination::default(), &amd64_only, Arc::new(NoProgress)).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "reading manifest {} of mem:source: the source answered manifest {} instead",
            amd64.digest, inner.digest
        )
    );
    assert_eq!(refused(e), IndexError::WrongChild { asked: amd64.digest.clone(), answered: inner.digest.clone() });

    // Indexes inside indexes, one level more than the limit.
    let mut manifests = src.manifests.clone();
    let mut level = index_of(&[amd64.descriptor()]);
    for _ in 0..MAX_DEPTH {
        manifests.insert(level.digest.clone(), level.clone());
        level = index_of(&[level.descriptor()]);
    }
    let deep = MemSource { top: level, manifests, blobs: src.blobs.clone(), repo: None };
    let dst = MemDestination::default();
    let e = copy(&deep, &dst, &Options { all: true, ..Options::default() }, Arc::new(NoProgress)).await.unwrap_err();
    assert_eq!(refused(e), IndexError::TooDeep { limit: MAX_DEPTH });
    assert!(dst.log.lock().unwrap().is_empty(), "nothing written");
}

/// A store error reaches a backup's caller as one variant (`Transport(Store)`), and `store_error` finds it
/// there and inside a failed copy alike.
#[test]
fn a_store_error_has_one_path_out_of_a_backup() {
    use crate::copy::archive::BackupError;
    use crate::store::StoreError;
    let missing = || StoreError::NotFound("image x".to_owned());
    let direct = BackupError::from(missing());
    assert!(matches!(&direct, BackupError::Transport(TransportError::Store(StoreError::NotFound(_)))), "{direct:?}");
    let in_copy = BackupError::from(CopyError::new("copying x".to_owned(), TransportError::Store(missing())));
    for e in [&direct, &in_copy] {
        assert!(matches!(e.store_error(), Some(StoreError::NotFound(m)) if m == "image x"), "{e:?}");
    }
    assert_eq!(direct.to_string(), "image x");
    assert!(BackupError::Invalid("no".to_owned()).store_error().is_none());
}

/// A [`MemSource`] with signatures, recording every blob and signature read.
struct SignedSource {
    inner: MemSource,
    signatures: HashMap<Digest, Vec<Signature>>,
    reads: Mutex<Vec<String>>,
}

impl SignedSource {
    fn new(inner: MemSource, signatures: HashMap<Digest, Vec<Signature>>) -> SignedSource {
        SignedSource { inner, signatures, reads: Mutex::new(Vec::new()) }
    }
    fn reads(&self) -> Vec<String> {
        self.reads.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl ImageSource for SignedSource {
    fn name(&self) -> String {
        self.inner.name()
    }
    async fn manifest(&self) -> Result<RawManifest, TransportError> {
        self.inner.manifest().await
    }
    async fn manifest_by_digest(&self, digest: &Digest) -> Result<RawManifest, TransportError> {
        self.inner.manifest_by_digest(digest).await
    }
    async fn blob(&self, blob: &Descriptor) -> Result<ByteStream<TransportError>, TransportError> {
        self.reads.lock().unwrap().push(format!("blob {}", short(&blob.digest)));
        self.inner.blob(blob).await
    }
    fn policy_name(&self) -> crate::trust::PolicyName {
        crate::transport::policy_name::docker(&Reference::parse_normalized("r.example/lib/app:1").unwrap())
    }
    async fn signatures(&self, digest: &Digest) -> Result<Vec<Signature>, TransportError> {
        self.reads.lock().unwrap().push(format!("signatures {}", short(digest)));
        Ok(self.signatures.get(digest).cloned().unwrap_or_default())
    }
}

/// A signer whose "signature" says what it signed, as what.
struct FakeSigner;

impl Signer for FakeSigner {
    fn describe(&self) -> String {
        "fake key".into()
    }
    fn sign(&self, digest: &Digest, identity: &Reference) -> Result<Signature, TrustError> {
        Ok(Signature::SimpleSigning(format!("{digest} as {identity}").into_bytes()))
    }
}

fn one_image() -> (MemSource, RawManifest) {
    let (config, c) = blob(b"{\"architecture\":\"amd64\",\"os\":\"linux\"}", media_type::OCI_CONFIG);
    let (layer, l) = blob(b"layer bytes", media_type::OCI_LAYER_GZIP);
    let top = image(&config, &[&layer]);
    let src = MemSource {
        top: top.clone(),
        manifests: HashMap::new(),
        blobs: HashMap::from([(config.digest.clone(), c), (layer.digest.clone(), l)]),
        repo: None,
    };
    (src, top)
}

fn refused_by_policy(e: &CopyError) -> bool {
    matches!(&*e.source, TransportError::Trust(t) if matches!(**t, TrustError::Policy(_)))
}

#[tokio::test]
async fn a_refused_image_reads_no_blob_and_leaves_the_destination_untouched() {
    let (src, top) = one_image();
    let sig = Signature::SimpleSigning(b"sig".to_vec());
    let src = SignedSource::new(src, HashMap::from([(top.digest.clone(), vec![sig])]));
    let dst = MemDestination::default();
    let opts = Options { policy: Some(Arc::new(Policy::reject_all())), ..Options::default() };
    let e = copy(&src, &dst, &opts, Arc::new(NoProgress)).await.unwrap_err();
    assert!(refused_by_policy(&e), "{e:?}");
    assert!(e.to_string().starts_with("copying mem:source: "), "{e}");
    assert!(dst.log.lock().unwrap().is_empty(), "nothing written: {:?}", dst.log.lock().unwrap());
    assert!(src.reads().is_empty(), "no blob (nor signature) read: {:?}", src.reads());

    // The same copy under a policy that accepts it moves everything.
    let opts = Options { policy: Some(Arc::new(Policy::insecure_accept_anything())), ..Options::default() };
    copy(&src, &dst, &opts, Arc::new(NoProgress)).await.unwrap();
    assert_eq!(dst.log.lock().unwrap().last().unwrap(), &format!("commit {}", short(&top.digest)));
}

#[tokio::test]
async fn an_index_and_the_chosen_instance_are_both_judged() {
    let (src, index, amd64, arm64) = two_platforms();
    let src = SignedSource::new(src, HashMap::new());
    let arm = Some(Platform::new("linux", "arm64", None));
    let judged = |refused: &Digest, all: bool| Options {
        platform: arm.clone(),
        all,
        policy: Some(Arc::new(Policy::reject_digest(refused.clone()))),
        ..Options::default()
    };
    for (refused, all, why) in [
        (&index, false, "the index"),
        (&arm64, false, "the chosen instance"),
        (&amd64, true, "with --all, every instance"),
        (&index, true, "with --all, the index"),
    ] {
        let dst = MemDestination::default();
        let e = copy(&src, &dst, &judged(&refused.digest, all), Arc::new(NoProgress)).await.unwrap_err();
        assert!(refused_by_policy(&e), "{why}: {e:?}");
        assert!(dst.log.lock().unwrap().is_empty(), "{why}: nothing written");
    }
    assert!(src.reads().is_empty(), "no blob read: {:?}", src.reads());
    // An instance that is not copied is not judged.
    let dst = MemDestination::default();
    copy(&src, &dst, &judged(&amd64.digest, false), Arc::new(NoProgress)).await.unwrap();
    assert_eq!(dst.log.lock().unwrap().last().unwrap(), &format!("commit {}", short(&arm64.digest)));
}

#[tokio::test]
async fn signatures_travel_before_the_commit_unless_removed_and_each_signer_adds_one() {
    let (src, top) = one_image();
    let old = Signature::SimpleSigning(b"old".to_vec());
    let src = SignedSource::new(src, HashMap::from([(top.digest.clone(), vec![old.clone()])]));

    let dst = MemDestination::default();
    copy(&src, &dst, &Options::default(), Arc::new(NoProgress)).await.unwrap();
    let log = dst.log.lock().unwrap().clone();
    let n = log.len();
    assert_eq!(
        log[n - 2..],
        [format!("signatures {} 1", short(&top.digest)), format!("commit {}", short(&top.digest))]
    );
    assert_eq!(*dst.signatures.lock().unwrap(), [(top.digest.clone(), vec![old.clone()])]);

    let dst = MemDestination::default();
    copy(&src, &dst, &Options { remove_signatures: true, ..Options::default() }, Arc::new(NoProgress)).await.unwrap();
    assert!(dst.signatures.lock().unwrap().is_empty(), "--remove-signatures copies none");

    // A signer needs an identity: the destination has no reference and none was given.
    let signers: Vec<Arc<dyn Signer>> = vec![Arc::new(FakeSigner)];
    let dst = MemDestination::default();
    let reads_before = src.reads().len();
    let opts = Options { signers: signers.clone(), ..Options::default() };
    let e = copy(&src, &dst, &opts, Arc::new(NoProgress)).await.unwrap_err();
    assert!(
        e.to_string().contains("Cannot determine canonical Docker reference for destination mem:destination"),
        "{e}"
    );
    assert!(dst.log.lock().unwrap().is_empty(), "nothing written");
    assert!(!src.reads()[reads_before..].iter().any(|r| r.starts_with("blob")), "no blob read");

    let identity = Reference::parse_normalized("quay.io/org/app:2").unwrap();
    let dst = MemDestination::default();
    let opts = Options { signers, sign_identity: Some(identity.clone()), ..Options::default() };
    copy(&src, &dst, &opts, Arc::new(NoProgress)).await.unwrap();
    let new = Signature::SimpleSigning(format!("{} as {identity}", top.digest).into_bytes());
    assert_eq!(*dst.signatures.lock().unwrap(), [(top.digest.clone(), vec![old, new])]);
}

/// The observer's warnings, kept.
#[derive(Default)]
struct Warnings(Mutex<Vec<String>>);

impl crate::observe::Observer for Warnings {
    fn warning(&self, line: &str) {
        self.0.lock().unwrap().push(line.to_owned());
    }
}

#[tokio::test]
async fn a_conversion_that_would_invalidate_signatures_is_refused_before_anything_is_written() {
    let (src, top) = one_image();
    let old = Signature::SimpleSigning(b"old".to_vec());
    let src = SignedSource::new(src, HashMap::from([(top.digest.clone(), vec![old])]));
    let to_v2s2 = Options { format: Some(ManifestFormat::DockerV2Schema2), ..Options::default() };
    let dst = MemDestination::default();
    let e = copy(&src, &dst, &to_v2s2, Arc::new(NoProgress)).await.unwrap_err();
    assert!(e.to_string().contains("would invalidate its signatures: give --remove-signatures"), "{e}");
    assert!(dst.log.lock().unwrap().is_empty(), "nothing written: {:?}", dst.log.lock().unwrap());

    // Without them, the converted manifest is written, signed anew by the signers over its own digest.
    let identity = Reference::parse_normalized("quay.io/org/app:2").unwrap();
    let opts = Options {
        remove_signatures: true,
        signers: vec![Arc::new(FakeSigner)],
        sign_identity: Some(identity.clone()),
        ..to_v2s2
    };
    let dst = MemDestination::default();
    let report = copy(&src, &dst, &opts, Arc::new(NoProgress)).await.unwrap();
    assert_eq!(report.manifest.media_type, media_type::DOCKER_MANIFEST);
    assert_ne!(report.manifest.digest, top.digest);
    let new = Signature::SimpleSigning(format!("{} as {identity}", report.manifest.digest).into_bytes());
    assert_eq!(*dst.signatures.lock().unwrap(), [(report.manifest.digest.clone(), vec![new])]);
    assert_eq!(dst.log.lock().unwrap().last().unwrap(), &format!("commit {}", short(&report.manifest.digest)));
}

#[tokio::test]
async fn docker_to_oci_writes_the_new_config_from_memory_and_not_the_old_one() {
    let (config, c) =
        blob(b"{\"architecture\":\"amd64\",\"os\":\"linux\",\"container_config\":{}}", media_type::DOCKER_CONFIG);
    let (layer, l) = blob(b"layer bytes", media_type::DOCKER_LAYER_GZIP);
    let m = serde_json::json!({
        "schemaVersion": 2, "mediaType": media_type::DOCKER_MANIFEST, "config": config, "layers": [layer]
    });
    let top = RawManifest::new(serde_json::to_vec(&m).unwrap(), media_type::DOCKER_MANIFEST);
    let src = MemSource {
        top: top.clone(),
        manifests: HashMap::new(),
        blobs: HashMap::from([(config.digest.clone(), c), (layer.digest.clone(), l)]),
        repo: None,
    };
    let dst = MemDestination::default();
    let opts = Options { format: Some(ManifestFormat::Oci), ..Options::default() };
    let report = copy(&src, &dst, &opts, Arc::new(NoProgress)).await.unwrap();
    let Manifest::Image(written) = Manifest::parse(&report.manifest.raw, Some(media_type::OCI_MANIFEST)).unwrap()
    else {
        panic!("an image manifest")
    };
    assert_eq!(written.config.media_type, media_type::OCI_CONFIG);
    assert_eq!(written.layers[0].media_type, media_type::OCI_LAYER_GZIP);
    let new_config =
        b"{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},\"rootfs\":{\"type\":\"\",\"diff_ids\":null}}";
    assert_eq!(written.config.digest, Digest::sha256(new_config), "container_config dropped, as Go's OCI type");
    let mut log = dst.log.lock().unwrap().clone();
    log.sort();
    let mut want = vec![
        format!("blob {}", short(&written.config.digest)),
        format!("blob {}", short(&layer.digest)),
        format!("commit {}", short(&report.manifest.digest)),
    ];
    want.sort();
    assert_eq!(log, want, "the old config is not copied");

    // Already OCI: asked for OCI again, the bytes stay.
    let (src, top) = one_image();
    let dst = MemDestination::default();
    let report = copy(&src, &dst, &opts, Arc::new(NoProgress)).await.unwrap();
    assert_eq!(report.manifest, top);
}

#[tokio::test]
async fn an_index_converts_after_its_children_and_dropped_annotations_are_warned_of() {
    let (src, index, amd64, arm64) = two_platforms();
    let warnings = Arc::new(Warnings::default());
    let mut parsed: serde_json::Value = serde_json::from_slice(&index.raw).unwrap();
    parsed["annotations"] = serde_json::json!({"org.example": "x"});
    let annotated = RawManifest::new(serde_json::to_vec(&parsed).unwrap(), media_type::OCI_INDEX);
    let src = MemSource { top: annotated, ..src };
    let dst = MemDestination::default();
    let opts = Options {
        all: true,
        format: Some(ManifestFormat::DockerV2Schema2),
        observer: warnings.clone(),
        ..Options::default()
    };
    let report = copy(&src, &dst, &opts, Arc::new(NoProgress)).await.unwrap();
    assert_eq!(report.manifest.media_type, media_type::DOCKER_LIST);
    let Manifest::Index(list) = Manifest::parse(&report.manifest.raw, None).unwrap() else { panic!("a list") };
    let log = dst.log.lock().unwrap().clone();
    for (entry, old) in list.manifests.iter().zip([&amd64, &arm64]) {
        assert_eq!(entry.media_type, media_type::DOCKER_MANIFEST);
        assert_ne!(entry.digest, old.digest, "the entry points at the converted child");
        let child = log.iter().position(|l| *l == format!("child {}", short(&entry.digest))).expect("child written");
        assert!(child < log.len() - 1);
    }
    assert_eq!(log.last().unwrap(), &format!("commit {}", short(&report.manifest.digest)));
    let warned = warnings.0.lock().unwrap().clone();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains("1 annotation(s) dropped"), "{warned:?}");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

#[tokio::test]
async fn recompression_rewrites_the_layers_keeps_the_config_and_a_corrupt_layer_commits_nothing() {
    let (config, c) = blob(b"{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{}}", media_type::OCI_CONFIG);
    let plain: Vec<u8> = (0..400_000u32).map(|i| (i % 97) as u8).collect();
    let (layer, l) = blob(&gzip(&plain), media_type::OCI_LAYER_GZIP);
    let top = image(&config, &[&layer]);
    let src = MemSource {
        top: top.clone(),
        manifests: HashMap::new(),
        blobs: HashMap::from([(config.digest.clone(), c.clone()), (layer.digest.clone(), l.clone())]),
        repo: None,
    };
    let rc = Recompression::new(recompress::LayerCompression::Zstd, None, false).unwrap();
    let opts = Options { compression: Some(rc), ..Options::default() };
    let dst = MemDestination::default();
    let report = copy(&src, &dst, &opts, Arc::new(NoProgress)).await.unwrap();
    let written: serde_json::Value = serde_json::from_slice(&report.manifest.raw).unwrap();
    assert_eq!(written["config"]["digest"], config.digest.to_string(), "the config is kept");
    assert_eq!(written["layers"][0]["mediaType"], media_type::OCI_LAYER_ZSTD);
    let new_digest = written["layers"][0]["digest"].as_str().unwrap();
    assert_ne!(new_digest, layer.digest.to_string());
    let log = dst.log.lock().unwrap().clone();
    assert!(log.contains(&format!("blob {}", &new_digest["sha256:".len()..][..8])), "{log:?}");
    assert!(!log.contains(&format!("blob {}", short(&layer.digest))), "the gzip layer is not sent: {log:?}");
    assert_eq!(log.last().unwrap(), &format!("commit {}", short(&report.manifest.digest)));

    // A layer that is not what its media type says (gzip cut short): an error, no manifest written.
    let (bad, b) = blob(&l[..l.len() / 2], media_type::OCI_LAYER_GZIP);
    let src = MemSource {
        top: image(&config, &[&bad]),
        manifests: HashMap::new(),
        blobs: HashMap::from([(config.digest.clone(), c), (bad.digest.clone(), b)]),
        repo: None,
    };
    let dst = MemDestination::default();
    let e = copy(&src, &dst, &opts, Arc::new(NoProgress)).await.unwrap_err().to_string();
    assert!(e.starts_with(&format!("recompressing layer {} of mem:source to zstd: ", bad.digest)), "{e}");
    assert!(!dst.log.lock().unwrap().iter().any(|l| l.starts_with("commit")), "nothing committed");
}

/// A destination taking made blobs as a registry does, as a stream while they are made: the first try reads
/// one chunk and gives up (a broken upload), the second reads all.
#[derive(Default)]
struct StreamingDestination {
    mem: MemDestination,
    /// Per made blob: the chunks of its second try, and its bytes.
    made: Mutex<Vec<(usize, Vec<u8>)>>,
}

#[async_trait::async_trait]
impl ImageDestination for StreamingDestination {
    fn name(&self) -> String {
        self.mem.name()
    }
    async fn has_blob(&self, blob: &Descriptor) -> Result<bool, TransportError> {
        self.mem.has_blob(blob).await
    }
    async fn put_blob(&self, blob: &Descriptor, open: &OpenBlob<'_>) -> Result<(), TransportError> {
        self.mem.put_blob(blob, open).await
    }
    async fn put_made_blob(&self, _media_type: &str, open: &OpenBlob<'_>) -> Result<MadeBlob, TransportError> {
        let mut first = open().await?;
        first.next().await.expect("a first chunk")?;
        drop(first);
        let chunks: Vec<Bytes> = futures_util::TryStreamExt::try_collect(open().await?).await?;
        let bytes = chunks.concat();
        let digest = Digest::sha256(&bytes);
        self.mem.log.lock().unwrap().push(format!("made {}", short(&digest)));
        self.made.lock().unwrap().push((chunks.len(), bytes.clone()));
        Ok(MadeBlob { digest, size: bytes.len() as u64, had: false })
    }
    async fn put_child_manifest(&self, m: &RawManifest) -> Result<(), TransportError> {
        self.mem.put_child_manifest(m).await
    }
    async fn commit(&self, m: &RawManifest) -> Result<(), TransportError> {
        self.mem.commit(m).await
    }
}

/// A recompressed layer goes to the destination as a stream while it is made (in chunks, not one spooled
/// whole), through `put_made_blob` and never `put_blob`; a destination's second try makes it again from the
/// source, the same bytes; the manifest names what was sent, and comes last.
#[tokio::test]
async fn recompressed_layers_stream_to_the_destination_as_they_are_made() {
    let (config, c) = blob(b"{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{}}", media_type::OCI_CONFIG);
    // Hardly compressible, so the zstd output is several chunks.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let plain: Vec<u8> = (0..3_000_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let (layer, l) = blob(&gzip(&plain), media_type::OCI_LAYER_GZIP);
    let src = MemSource {
        top: image(&config, &[&layer]),
        manifests: HashMap::new(),
        blobs: HashMap::from([(config.digest.clone(), c), (layer.digest.clone(), l)]),
        repo: None,
    };
    let rc = Recompression::new(recompress::LayerCompression::Zstd, None, false).unwrap();
    let opts = Options { compression: Some(rc), ..Options::default() };
    let dst = StreamingDestination::default();
    let report = copy(&src, &dst, &opts, Arc::new(NoProgress)).await.unwrap();
    let written: serde_json::Value = serde_json::from_slice(&report.manifest.raw).unwrap();
    let made = dst.made.lock().unwrap().clone();
    assert_eq!(made.len(), 1);
    let (chunks, bytes) = &made[0];
    assert!(*chunks > 1, "streamed in chunks as made, not handed over whole: {chunks}");
    assert_eq!(zstd::decode_all(&bytes[..]).unwrap(), plain, "the second try made the whole layer again");
    assert_eq!(written["layers"][0]["digest"], Digest::sha256(bytes).to_string());
    assert_eq!(written["layers"][0]["size"], bytes.len());
    assert_eq!(report.copied, 2, "the layer and the config");
    let log = dst.mem.log.lock().unwrap().clone();
    assert_eq!(
        log,
        [
            format!("made {}", short(&Digest::sha256(bytes))),
            format!("blob {}", short(&config.digest)),
            format!("commit {}", short(&report.manifest.digest))
        ],
        "the layer through put_made_blob only, the manifest last"
    );
}
