//! Tests of the store, each in its own temporary directory: layout creation, blob writes, naming, lookup,
//! garbage collection, rmi, locking and hostile files.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use super::layout::{GC_LOCK, format_rfc3339};
use super::*;
use crate::image::media_type::*;
use crate::image::{ImageManifest, Index};

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    (dir, store)
}

fn r(s: &str) -> Reference {
    Reference::parse_normalized(s).unwrap()
}

fn manifest_bytes(config: &Descriptor, layers: &[Descriptor]) -> Vec<u8> {
    let m = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_owned()),
        artifact_type: None,
        config: config.clone(),
        layers: layers.to_vec(),
        subject: None,
        annotations: None,
    };
    serde_json::to_vec(&m).unwrap()
}

struct Made {
    manifest: Descriptor,
    config: Digest,
    layers: Vec<Digest>,
}

/// Stores a small image (config + two layers + manifest) and returns its descriptors; `seed` makes it unique.
fn make_image(store: &Store, seed: &str) -> Made {
    let config_raw = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"seed":"{seed}"}}"#
    );
    let config = store.put_blob(config_raw.as_bytes()).unwrap();
    let mut layers = Vec::new();
    for i in 0..2 {
        let bytes = format!("layer {i} of {seed}").into_bytes();
        layers.push(Descriptor::new(OCI_LAYER_GZIP, store.put_blob(&bytes).unwrap(), bytes.len() as u64));
    }
    let raw = manifest_bytes(&Descriptor::new(OCI_CONFIG, config.clone(), config_raw.len() as u64), &layers);
    let digest = store.put_blob(&raw).unwrap();
    Made {
        manifest: Descriptor::new(OCI_MANIFEST, digest, raw.len() as u64),
        config,
        layers: layers.into_iter().map(|l| l.digest).collect(),
    }
}

fn names(image: &Image) -> Vec<String> {
    image.names.iter().map(Reference::to_string).collect()
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn creates_a_private_layout_and_reopens_it() {
    let (dir, store) = store();
    let root = store.root();
    assert_eq!(std::fs::read_to_string(root.join("oci-layout")).unwrap(), r#"{"imageLayoutVersion":"1.0.0"}"#);
    let index: Index = serde_json::from_slice(&std::fs::read(root.join("index.json")).unwrap()).unwrap();
    assert_eq!(index.media_type.as_deref(), Some(OCI_INDEX));
    assert!(index.manifests.is_empty());
    for d in ["", "blobs", "blobs/sha256", "tmp"] {
        let mode = std::fs::metadata(root.join(d)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{d}");
    }
    assert!(Store::open(dir.path().join("store")).is_ok());

    let other = dir.path().join("not-a-layout");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    let e = Store::open(&other).unwrap_err();
    assert!(matches!(e, StoreError::Corrupt { .. }) && e.to_string().contains("not an OCI image layout"), "{e}");
    assert!(!other.join("oci-layout").exists());

    let bad = dir.path().join("bad-layout");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("oci-layout"), r#"{"imageLayoutVersion":"2.0.0"}"#).unwrap();
    let e = Store::open(&bad).unwrap_err();
    assert!(e.to_string().contains("unsupported imageLayoutVersion"), "{e}");
}

#[test]
fn default_root_from_the_environment() {
    let p = |s: &str| Some(std::path::PathBuf::from(s));
    let root = |h, x, home| super::root_from(h, x, home).map(|r| r.display().to_string());
    assert_eq!(root(p("/s"), p("/x"), p("/h")).as_deref(), Some("/s"));
    assert_eq!(root(p(""), p("/x"), p("/h")).as_deref(), Some("/x/hoist/store"));
    assert_eq!(root(None, p("rel"), p("/h")).as_deref(), Some("/h/.local/share/hoist/store"));
    assert_eq!(root(None, p(""), p("/h")).as_deref(), Some("/h/.local/share/hoist/store"));
    assert_eq!(root(None, None, p("")), None);
    assert!(matches!(Store::default_root(), Ok(_) | Err(StoreError::NoRoot)));
}

#[test]
fn writes_and_reads_blobs() {
    let (_dir, store) = store();
    let d = store.put_blob(b"hello").unwrap();
    assert_eq!(d, Digest::sha256(b"hello"));
    assert_eq!(store.has_blob(&d).unwrap(), Some(5));
    assert_eq!(store.read_blob(&d, 5).unwrap(), b"hello");
    assert!(matches!(store.read_blob(&d, 4), Err(StoreError::TooLarge { size: 5, cap: 4, .. })));
    assert_eq!(store.blob_path(&d), store.root().join("blobs/sha256").join(d.hex()));
    // Writing the same blob again is a no-op.
    assert_eq!(store.put_blob(b"hello").unwrap(), d);
    assert_eq!(count_files(&store.root().join("tmp")), 0);

    let missing = Digest::sha256(b"missing");
    assert_eq!(store.has_blob(&missing).unwrap(), None);
    assert!(matches!(store.open_blob(&missing), Err(StoreError::NotFound(_))));
    assert!(matches!(store.read_blob(&missing, 10), Err(StoreError::NotFound(_))));

    // A blob whose bytes are not its name is reported as corrupt, naming the file.
    std::fs::write(store.blob_path(&d), b"HELLO").unwrap();
    let e = store.read_blob(&d, 10).unwrap_err();
    assert!(matches!(e, StoreError::Corrupt { .. }) && e.to_string().contains(d.hex()), "{e}");

    // Other algorithms get their own directory.
    let bytes = b"sha512 bytes";
    let mut h = crate::digest::Hasher::for_digest(&Digest::parse(&format!("sha512:{}", "0".repeat(128))).unwrap());
    h.update(bytes);
    let d512 = h.finish();
    let mut w = store.blob_writer(&d512, Some(bytes.len() as u64)).unwrap();
    w.write_all(bytes).unwrap();
    w.commit().unwrap();
    assert_eq!(store.read_blob(&d512, 100).unwrap(), bytes);
}

#[test]
fn a_writer_fed_wrong_bytes_leaves_nothing() {
    let (_dir, store) = store();
    let d = Digest::sha256(b"hello");
    let mut w = store.blob_writer(&d, Some(5)).unwrap();
    w.write_all(b"hellO").unwrap();
    assert_eq!(w.written(), 5);
    assert!(matches!(w.commit(), Err(StoreError::Verify(crate::digest::VerifyError::Digest { .. }))));
    assert_eq!(store.has_blob(&d).unwrap(), None);
    assert_eq!(count_files(&store.root().join("blobs/sha256")), 0);
    assert_eq!(count_files(&store.root().join("tmp")), 0);

    // Too many bytes fail at once, and the commit says why.
    let mut w = store.blob_writer(&d, Some(5)).unwrap();
    let e = w.write_all(b"hello world").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    assert!(matches!(w.error(e), StoreError::Verify(crate::digest::VerifyError::Size { .. })));
    assert!(matches!(w.commit(), Err(StoreError::Verify(_))));
    // Too few.
    let mut w = store.blob_writer(&d, Some(5)).unwrap();
    w.write_all(b"hell").unwrap();
    assert!(matches!(w.commit(), Err(StoreError::Verify(crate::digest::VerifyError::Size { .. }))));
    assert_eq!(count_files(&store.root().join("blobs/sha256")), 0);

    // Dropped without a commit: no temp left.
    let mut w = store.blob_writer(&d, None).unwrap();
    w.write_all(b"hel").unwrap();
    assert_eq!(count_files(&store.root().join("tmp")), 1);
    drop(w);
    assert_eq!(count_files(&store.root().join("tmp")), 0);
    assert_eq!(store.has_blob(&d).unwrap(), None);
}

#[test]
fn a_learning_writer_names_the_blob_by_its_bytes() {
    let (_dir, store) = store();
    let d = Digest::sha256(b"layer bytes");
    let mut w = store.blob_writer_learning().unwrap();
    w.write_all(b"layer ").unwrap();
    w.write_all(b"bytes").unwrap();
    assert_eq!(w.written(), 11);
    assert_eq!(count_files(&store.root().join("tmp")), 1);
    assert_eq!(w.finish().unwrap(), (d.clone(), 11));
    assert_eq!(store.read_blob(&d, 100).unwrap(), b"layer bytes");
    assert_eq!(count_files(&store.root().join("tmp")), 0);
    // The same bytes again: the blob there is kept, the temp goes.
    let mut w = store.blob_writer_learning().unwrap();
    w.write_all(b"layer bytes").unwrap();
    assert_eq!(w.finish().unwrap().0, d);
    assert_eq!(count_files(&store.root().join("blobs/sha256")), 1);
    assert_eq!(count_files(&store.root().join("tmp")), 0);
    // Dropped unfinished: nothing.
    let mut w = store.blob_writer_learning().unwrap();
    w.write_all(b"half").unwrap();
    drop(w);
    assert_eq!(count_files(&store.root().join("tmp")), 0);
    assert_eq!(store.has_blob(&Digest::sha256(b"half")).unwrap(), None);
}

/// Blobs finished in the background: their digests are known at once, each is in `blobs/` (and its temp
/// gone) once the wait returned, more of them than run at once; a blob that is already there stays; a wrong
/// digest is refused at once; a rename that fails is the wait's error, and its temp goes too.
#[test]
fn blobs_finished_in_the_background_are_in_place_after_the_wait() {
    let (_dir, store) = store();
    let tmp = store.root().join("tmp");
    let mut syncs = BackgroundSyncs::new();
    let mut digests = Vec::new();
    for i in 0..blob::MAX_SYNCING * 2 + 1 {
        let bytes = format!("layer {}", i % (blob::MAX_SYNCING * 2));
        let mut w = store.blob_writer_learning().unwrap();
        w.write_all(bytes.as_bytes()).unwrap();
        let (d, n) = w.finish_in_background(&mut syncs).unwrap();
        assert_eq!((d.clone(), n), (Digest::sha256(bytes.as_bytes()), bytes.len() as u64));
        digests.push(d);
    }
    let wrong = Digest::sha256(b"other");
    let mut w = store.blob_writer(&wrong, None).unwrap();
    w.write_all(b"these").unwrap();
    assert!(matches!(w.finish_in_background(&mut syncs), Err(StoreError::Verify(_))));
    syncs.wait().unwrap();
    for d in &digests {
        assert_eq!(
            store.read_blob(d, 100).unwrap(),
            format!("layer {}", digests.iter().position(|x| x == d).unwrap()).as_bytes()
        );
    }
    assert_eq!(count_files(&store.root().join("blobs/sha256")), blob::MAX_SYNCING * 2);
    assert_eq!(store.has_blob(&wrong).unwrap(), None);
    assert_eq!(count_files(&tmp), 0);

    // blobs/sha256 made a file: the rename fails, on the sync's thread; the wait says so.
    let mut syncs = BackgroundSyncs::new();
    let mut w = store.blob_writer_learning().unwrap();
    w.write_all(b"cannot go anywhere").unwrap();
    let blobs = store.root().join("blobs/sha256");
    std::fs::rename(&blobs, store.root().join("blobs/moved")).unwrap();
    std::fs::write(&blobs, b"").unwrap();
    w.finish_in_background(&mut syncs).unwrap();
    let e = syncs.wait().unwrap_err();
    assert!(e.to_string().contains("blobs/sha256"), "{e}");
    assert_eq!(count_files(&tmp), 0);
}

#[test]
fn tags_lists_and_finds() {
    let (_dir, store) = store();
    let alpine = make_image(&store, "alpine");
    let busybox = make_image(&store, "busybox");
    let quay = make_image(&store, "quay");
    store.tag(&r("alpine"), &alpine.manifest).unwrap();
    store.tag(&r("docker.io/library/alpine:3.19"), &alpine.manifest).unwrap();
    store.tag(&r("busybox:1.36"), &busybox.manifest).unwrap();
    store.tag(&r("quay.io/team/tool:v1"), &quay.manifest).unwrap();

    let list = store.list().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(names(&list[0]), ["quay.io/team/tool:v1"], "newest first");
    assert_eq!(names(&list[1]), ["docker.io/library/busybox:1.36"]);
    assert_eq!(names(&list[2]), ["docker.io/library/alpine:latest", "docker.io/library/alpine:3.19"]);
    assert_eq!(list[2].descriptor, alpine.manifest, "the store's annotations are not in the descriptor");
    assert!(list[2].created.as_deref().is_some_and(|c| c.ends_with('Z')));

    let raw: Index = serde_json::from_slice(&std::fs::read(store.root().join("index.json")).unwrap()).unwrap();
    assert_eq!(raw.manifests.len(), 4);
    assert_eq!(raw.manifests[0].annotation(ANNOTATION_REF_NAME), Some("docker.io/library/alpine:latest"));
    assert!(raw.manifests[0].annotation(ANNOTATION_CREATED).is_some());

    let found = |s: &str| store.find(s).map(|i| i.descriptor.digest);
    for s in ["alpine", "alpine:latest", "library/alpine", "docker.io/alpine:3.19", "docker.io/library/alpine:latest"] {
        assert_eq!(found(s).unwrap(), alpine.manifest.digest, "{s}");
    }
    assert_eq!(found("busybox:1.36").unwrap(), busybox.manifest.digest);
    assert!(matches!(found("busybox"), Err(StoreError::NotFound(_))), "busybox:latest is not stored");
    // Short names match stored names on other registries by path.
    assert_eq!(found("tool:v1").unwrap(), quay.manifest.digest);
    assert_eq!(found("team/tool:v1").unwrap(), quay.manifest.digest);
    assert!(matches!(found("ool:v1"), Err(StoreError::NotFound(_))), "whole path components only");
    assert!(matches!(found("quay.io/tool:v1"), Err(StoreError::NotFound(_))));
    // IDs: manifest digest, config digest, with or without sha256:, whole or a prefix.
    let id = store.image_id(&store.find("alpine").unwrap()).unwrap();
    assert_eq!(id, alpine.config);
    for s in [
        alpine.manifest.digest.to_string(),
        alpine.manifest.digest.hex().to_owned(),
        alpine.manifest.digest.hex()[..12].to_owned(),
        alpine.config.hex()[..12].to_owned(),
        format!("sha256:{}", &alpine.config.hex()[..12]),
        alpine.config.hex().to_owned(),
    ] {
        assert_eq!(found(&s).unwrap(), alpine.manifest.digest, "{s}");
    }
    // A digest reference.
    assert_eq!(found(&format!("alpine@{}", alpine.manifest.digest)).unwrap(), alpine.manifest.digest);
    assert_eq!(found(&format!("docker.io/library/alpine@{}", alpine.manifest.digest)).unwrap(), alpine.manifest.digest);
    assert!(found(&format!("busybox@{}", alpine.manifest.digest)).is_err());
    assert!(matches!(found("sha256:ab"), Err(StoreError::InvalidName { .. })));
    assert!(matches!(found("Not Valid"), Err(StoreError::InvalidName { .. })));
    let e = found("nothere").unwrap_err();
    assert_eq!(e.to_string(), "nothere: image not known");
}

#[test]
fn localhost_first_and_ambiguous_short_names() {
    let (_dir, store) = store();
    let a = make_image(&store, "a");
    let b = make_image(&store, "b");
    let c = make_image(&store, "c");
    store.tag(&r("quay.io/a/tool"), &a.manifest).unwrap();
    store.tag(&r("ghcr.io/b/tool"), &b.manifest).unwrap();
    let e = store.find("tool").unwrap_err();
    match &e {
        StoreError::Ambiguous { prefix, candidates } => {
            assert_eq!(prefix, "tool");
            assert_eq!(candidates.len(), 2);
        }
        other => panic!("{other}"),
    }
    store.tag(&r("localhost/tool"), &c.manifest).unwrap();
    assert_eq!(store.find("tool").unwrap().descriptor.digest, c.manifest.digest);
}

#[test]
fn ambiguous_id_prefix_lists_candidates() {
    let (_dir, store) = store();
    // Find two configs whose manifests' digests share three leading hex digits (in memory), then store them.
    let layer = Descriptor::new(OCI_LAYER_GZIP, store.put_blob(b"shared layer").unwrap(), 12);
    let mut seen: BTreeMap<String, (Vec<u8>, Vec<u8>)> = BTreeMap::new();
    let mut pair = None;
    for i in 0..100_000 {
        let config = format!("{{\"n\":{i}}}").into_bytes();
        let cd = Descriptor::new(OCI_CONFIG, Digest::sha256(&config), config.len() as u64);
        let raw = manifest_bytes(&cd, std::slice::from_ref(&layer));
        let prefix = Digest::sha256(&raw).hex()[..3].to_owned();
        if let Some(first) = seen.get(&prefix) {
            pair = Some((prefix, first.clone(), (config, raw)));
            break;
        }
        seen.insert(prefix, (config, raw));
    }
    let (prefix, first, second) = pair.expect("a shared prefix among 4097 digests");
    for (i, (config, raw)) in [first, second].into_iter().enumerate() {
        store.put_blob(&config).unwrap();
        let d = store.put_blob(&raw).unwrap();
        store.tag(&r(&format!("img{i}")), &Descriptor::new(OCI_MANIFEST, d, raw.len() as u64)).unwrap();
    }
    let e = store.find(&prefix).unwrap_err();
    match &e {
        StoreError::Ambiguous { candidates, .. } => assert_eq!(candidates.len(), 2, "{e}"),
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("docker.io/library/img0:latest"), "{e}");
}

#[test]
fn tag_refuses_incomplete_images() {
    let (_dir, store) = store();
    let img = make_image(&store, "x");
    // A layer missing.
    std::fs::remove_file(store.blob_path(&img.layers[1])).unwrap();
    let e = store.tag(&r("x"), &img.manifest).unwrap_err();
    assert!(matches!(&e, StoreError::Incomplete { digest, .. } if *digest == img.layers[1]), "{e}");
    assert!(e.to_string().contains("docker.io/library/x:latest"), "{e}");
    assert!(store.list().unwrap().is_empty());
    // The config missing.
    let img = make_image(&store, "y");
    std::fs::remove_file(store.blob_path(&img.config)).unwrap();
    assert!(matches!(store.tag(&r("y"), &img.manifest), Err(StoreError::Incomplete { .. })));
    // The manifest missing.
    let ghost = Descriptor::new(OCI_MANIFEST, Digest::sha256(b"ghost"), 5);
    assert!(matches!(store.tag(&r("z"), &ghost), Err(StoreError::Incomplete { .. })));
    // The wrong size.
    let img = make_image(&store, "w");
    let wrong = Descriptor { size: img.manifest.size + 1, ..img.manifest.clone() };
    assert!(matches!(store.tag(&r("w"), &wrong), Err(StoreError::Corrupt { .. })));
    // Not a manifest.
    let layer = Descriptor::new(OCI_LAYER_GZIP, img.layers[0].clone(), 1);
    assert!(matches!(store.tag(&r("w"), &layer), Err(StoreError::Invalid(_))));
    // A name whose digest is another image's.
    let other = format!("w@{}", Digest::sha256(b"other"));
    assert!(matches!(store.tag(&r(&other), &img.manifest), Err(StoreError::Invalid(_))));
    assert!(store.list().unwrap().is_empty());

    // A foreign layer need not be here.
    let config = store.put_blob(b"{}").unwrap();
    let foreign = Descriptor {
        urls: vec!["https://example.com/l".into()],
        ..Descriptor::new(DOCKER_FOREIGN_LAYER, Digest::sha256(b"far away"), 8)
    };
    let raw = manifest_bytes(&Descriptor::new(OCI_CONFIG, config, 2), &[foreign]);
    let d = store.put_blob(&raw).unwrap();
    store.tag(&r("win"), &Descriptor::new(OCI_MANIFEST, d, raw.len() as u64)).unwrap();
}

fn index_of(children: &[(&Descriptor, &str)]) -> Vec<u8> {
    let manifests = children
        .iter()
        .map(|(d, arch)| Descriptor {
            platform: Some(crate::image::Platform::new("linux", arch, None)),
            ..(*d).clone()
        })
        .collect();
    serde_json::to_vec(&Index {
        schema_version: 2,
        media_type: Some(OCI_INDEX.into()),
        manifests,
        subject: None,
        annotations: None,
    })
    .unwrap()
}

#[test]
fn indexes_need_their_child_manifests() {
    let (_dir, store) = store();
    let amd = make_image(&store, "amd64");
    let arm = make_image(&store, "arm64");
    // Only amd64 was pulled: arm64's config and layers go, its manifest stays.
    for d in std::iter::once(&arm.config).chain(&arm.layers) {
        std::fs::remove_file(store.blob_path(d)).unwrap();
    }
    let raw = index_of(&[(&amd.manifest, "amd64"), (&arm.manifest, "arm64")]);
    let d = store.put_blob(&raw).unwrap();
    let index = Descriptor::new(OCI_INDEX, d, raw.len() as u64);
    store.tag(&r("multi"), &index).unwrap();
    let image = store.find("multi").unwrap();
    assert_eq!(store.image_id(&image).unwrap(), index.digest, "an index's ID is its digest");

    // A child manifest missing: refused.
    let ghost = Descriptor::new(OCI_MANIFEST, Digest::sha256(b"ghost"), 5);
    let raw = index_of(&[(&amd.manifest, "amd64"), (&ghost, "s390x")]);
    let d = store.put_blob(&raw).unwrap();
    let e = store.tag(&r("broken"), &Descriptor::new(OCI_INDEX, d, raw.len() as u64)).unwrap_err();
    assert!(matches!(&e, StoreError::Incomplete { digest, .. } if *digest == ghost.digest), "{e}");

    // gc keeps the index, both child manifests and amd64's blobs.
    let report = store.gc().unwrap();
    assert_eq!(report.blobs_removed, 1, "only the unreferenced broken index");
    for dg in [&index.digest, &amd.manifest.digest, &arm.manifest.digest, &amd.config, &amd.layers[0], &amd.layers[1]] {
        assert!(store.has_blob(dg).unwrap().is_some(), "{dg}");
    }
}

#[test]
fn tag_moves_names_and_untag_removes_them() {
    let (_dir, store) = store();
    let a = make_image(&store, "a");
    let b = make_image(&store, "b");
    store.tag(&r("app"), &a.manifest).unwrap();
    let created = store.find("app").unwrap().created;
    store.tag(&r("app:v1"), &a.manifest).unwrap();
    assert_eq!(store.find("app:v1").unwrap().created, created, "a new name keeps the image's time");
    store.tag(&r("app"), &b.manifest).unwrap();
    assert_eq!(store.find("app").unwrap().descriptor.digest, b.manifest.digest);
    assert_eq!(names(&store.find(a.manifest.digest.hex()).unwrap()), ["docker.io/library/app:v1"]);
    assert!(store.untag(&r("app:v1")).unwrap());
    assert!(!store.untag(&r("app:v1")).unwrap());
    assert_eq!(store.list().unwrap().len(), 1);
    // Untagged, a's blobs are still there until a gc.
    assert!(store.has_blob(&a.config).unwrap().is_some());
}

#[test]
fn gc_removes_unreferenced_blobs_and_stale_temps() {
    let (_dir, store) = store();
    let kept = make_image(&store, "kept");
    let dropped = make_image(&store, "dropped");
    store.tag(&r("kept"), &kept.manifest).unwrap();
    let stray = store.put_blob(b"stray bytes").unwrap();
    std::fs::write(store.root().join("tmp/blob-left-by-a-killed-pull"), b"12345").unwrap();

    let report = store.gc().unwrap();
    assert_eq!(report.blobs_removed, 5, "dropped's manifest, config, two layers, and the stray blob");
    assert_eq!(report.temps_removed, 1);
    assert!(report.bytes_freed >= 5 + 11);
    for d in [&dropped.manifest.digest, &dropped.config, &dropped.layers[0], &stray] {
        assert_eq!(store.has_blob(d).unwrap(), None, "{d}");
    }
    for d in std::iter::once(&kept.manifest.digest).chain([&kept.config]).chain(&kept.layers) {
        assert!(store.has_blob(d).unwrap().is_some(), "{d}");
    }
    assert_eq!(count_files(&store.root().join("tmp")), 0);
    assert_eq!(store.gc().unwrap(), GcReport::default());

    // A referenced manifest that does not parse stops gc before it deletes anything.
    store.put_blob(b"unreferenced").unwrap();
    std::fs::write(store.blob_path(&kept.manifest.digest), b"garbage").unwrap();
    let e = store.gc().unwrap_err();
    let StoreError::Invalid(m) = &e else { panic!("{e:?}") };
    assert!(m.starts_with("garbage collection stopped, nothing deleted: "), "{m}");
    assert!(m.contains(kept.manifest.digest.hex()) && m.contains("does not match its name"), "{m}");
    assert!(store.has_blob(&Digest::sha256(b"unreferenced")).unwrap().is_some());
}

#[test]
fn gc_waits_for_sessions_and_refuses_in_their_process() {
    let (_dir, store) = store();
    {
        let _session = store.session().unwrap();
        let e = store.gc().unwrap_err();
        assert!(e.to_string().contains("would wait forever"), "{e}");
        let _writer_too = store.blob_writer(&Digest::sha256(b"x"), None).unwrap();
    }
    store.gc().unwrap();

    // Another process's session (a lock this process does not count): gc waits for it.
    let other = std::fs::OpenOptions::new().read(true).write(true).open(store.root().join(GC_LOCK)).unwrap();
    other.lock_shared().unwrap();
    let (tx, rx) = mpsc::channel();
    let s = store.clone();
    let t = std::thread::spawn(move || tx.send(s.gc().map(|_| ())).unwrap());
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err(), "gc ran while a session was held");
    drop(other);
    rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
    t.join().unwrap();
}

#[test]
fn rmi_semantics() {
    let (_dir, store) = store();
    let img = make_image(&store, "rmi");
    store.tag(&r("one"), &img.manifest).unwrap();
    store.tag(&r("two"), &img.manifest).unwrap();

    // By ID with two names: refused, as podman refuses.
    let id = img.config.hex()[..12].to_owned();
    let e = store.remove(&id, false).unwrap_err();
    assert!(matches!(e, StoreError::MultipleNames { .. }), "{e}");
    assert!(e.to_string().contains("please force removal"), "{e}");
    assert_eq!(store.list().unwrap().len(), 1);

    // By name: only that name goes.
    let removed = store.remove("one", false).unwrap();
    assert_eq!(removed.untagged, [r("one:latest")]);
    assert_eq!(removed.deleted, None);
    assert_eq!(removed.gc.blobs_removed, 0);
    assert_eq!(names(&store.find("two").unwrap()), ["docker.io/library/two:latest"]);

    // By name, the last one: the image goes, and its blobs with it.
    let removed = store.remove("two", false).unwrap();
    assert_eq!(removed.deleted, Some(img.config.clone()));
    assert_eq!(removed.gc.blobs_removed, 4);
    assert!(store.list().unwrap().is_empty());

    // By ID with force.
    let img = make_image(&store, "forced");
    store.tag(&r("three"), &img.manifest).unwrap();
    store.tag(&r("quay.io/x/four:v2"), &img.manifest).unwrap();
    let removed = store.remove(&img.manifest.digest.to_string(), true).unwrap();
    assert_eq!(removed.untagged, [r("three:latest"), r("quay.io/x/four:v2")]);
    assert_eq!(removed.deleted, Some(img.config.clone()));
    assert_eq!(removed.gc.blobs_removed, 4);
    assert!(store.list().unwrap().is_empty());

    assert!(matches!(store.remove("gone", false), Err(StoreError::NotFound(_))));
    let _session = store.session().unwrap();
    assert!(matches!(store.remove("gone", false), Err(StoreError::Invalid(_))));
}

#[test]
fn concurrent_tags_all_survive() {
    let (_dir, store) = store();
    let images: Vec<Made> = (0..2).map(|i| make_image(&store, &format!("c{i}"))).collect();
    std::thread::scope(|s| {
        for (t, img) in images.iter().enumerate() {
            let store = store.clone();
            s.spawn(move || {
                for n in 0..15 {
                    store.tag(&r(&format!("t{t}/name:{n}")), &img.manifest).unwrap();
                }
            });
        }
    });
    let list = store.list().unwrap();
    assert_eq!(list.iter().map(|i| i.names.len()).sum::<usize>(), 30);
    assert_eq!(count_files(&store.root().join("tmp")), 0);
}

#[test]
fn a_corrupt_index_is_reported_clearly() {
    let (dir, store) = store();
    std::fs::write(store.root().join("index.json"), b"{\"schemaVersion\": 2, \"manifests\": [ {oops").unwrap();
    let e = store.list().unwrap_err();
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("index.json") && text.contains("not a valid OCI image index") && !text.contains('\n'),
        "{text}"
    );
    assert!(matches!(Store::open(dir.path().join("store")), Err(StoreError::Corrupt { .. })));
    std::fs::write(store.root().join("index.json"), br#"{"schemaVersion":1,"manifests":[]}"#).unwrap();
    assert!(store.list().unwrap_err().to_string().contains("schemaVersion is 1"));
}

#[test]
fn a_fifo_at_index_json_does_not_hang() {
    let (_dir, store) = store();
    let path = store.root().join("index.json");
    std::fs::remove_file(&path).unwrap();
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let (tx, rx) = mpsc::channel();
    let s = store.clone();
    std::thread::spawn(move || tx.send(s.list().map(|_| ())).unwrap());
    let e = rx.recv_timeout(Duration::from_secs(10)).expect("list returned").unwrap_err();
    assert!(matches!(e, StoreError::Corrupt { .. }) && e.to_string().contains("not a regular file"), "{e}");
}

#[test]
fn timestamps() {
    assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
    assert_eq!(format_rfc3339(951_782_400 + 3661, 5), "2000-02-29T01:01:01.000000005Z");
    assert_eq!(format_rfc3339(1_709_251_199, 0), "2024-02-29T23:59:59.000000000Z");
    assert_eq!(format_rfc3339(4_102_444_800, 0), "2100-01-01T00:00:00.000000000Z");
}

/// Signatures are kept per manifest digest: read back as written, replaced by the next non-empty set, kept
/// when a set is empty, a damaged file named; gc removes those of manifests no name reaches.
#[test]
fn signatures_are_kept_per_manifest_and_collected_with_it() {
    use crate::trust::Signature;
    let (_dir, store) = store();
    let kept = make_image(&store, "kept");
    let gone = make_image(&store, "gone");
    store.tag(&r("a.io/kept:1"), &kept.manifest).unwrap();
    let sig = |b: &[u8]| Signature::SimpleSigning([&[0xA3u8][..], b].concat());
    let sigstore = Signature::Sigstore {
        media_type: "application/vnd.dev.cosign.simplesigning.v1+json".to_owned(),
        payload: b"{}".to_vec(),
        annotations: [("dev.cosignproject.cosign/signature".to_owned(), "eA==".to_owned())].into(),
    };
    assert!(store.signatures(&kept.manifest.digest).unwrap().is_empty());
    store.put_signatures(&kept.manifest.digest, &[sig(b"1"), sigstore.clone()]).unwrap();
    assert_eq!(store.signatures(&kept.manifest.digest).unwrap(), vec![sig(b"1"), sigstore.clone()]);
    store.put_signatures(&kept.manifest.digest, &[]).unwrap();
    assert_eq!(store.signatures(&kept.manifest.digest).unwrap().len(), 2, "an empty set keeps what is there");
    store.put_signatures(&kept.manifest.digest, &[sig(b"2")]).unwrap();
    assert_eq!(store.signatures(&kept.manifest.digest).unwrap(), vec![sig(b"2")]);
    let temps = std::fs::read_dir(store.root().join("tmp")).unwrap().count();
    assert_eq!(temps, 0, "no temp file left behind");

    store.put_signatures(&gone.manifest.digest, &[sig(b"3")]).unwrap();
    let report = store.gc().unwrap();
    assert!(report.bytes_freed > 0);
    assert!(!store.signatures_path(&gone.manifest.digest).exists(), "no name reaches it: collected");
    assert_eq!(store.signatures(&kept.manifest.digest).unwrap(), vec![sig(b"2")]);
    store.remove("a.io/kept:1", false).unwrap();
    assert!(!store.signatures_path(&kept.manifest.digest).exists(), "rmi takes its signatures");

    // A damaged list is an error naming it; too many signatures are refused before anything is written.
    let d = Digest::sha256(b"x");
    std::fs::create_dir_all(store.signatures_path(&d).parent().unwrap()).unwrap();
    std::fs::write(store.signatures_path(&d), br#"{"signatures":["!!"]}"#).unwrap();
    let e = store.signatures(&d).unwrap_err();
    assert!(matches!(&e, StoreError::Corrupt { path, .. } if *path == store.signatures_path(&d)), "{e:?}");
    std::fs::write(store.signatures_path(&d), br#"{"signatures":["ew=="]}"#).unwrap();
    assert!(store.signatures(&d).unwrap_err().to_string().contains("unrecognized signature format"));
    let many = vec![sig(b"m"); crate::trust::storage::MAX_SIGNATURES + 1];
    let e = store.put_signatures(&kept.manifest.digest, &many).unwrap_err();
    assert!(e.to_string().starts_with("cannot keep 129 signatures"), "{e}");
}

/// A second manifest of `img`'s config (its layers in the other order): another digest, the same image ID, as
/// a pull and a load of one image give.
fn other_manifest(store: &Store, img: &Made) -> Descriptor {
    let size = |d: &Digest| store.has_blob(d).unwrap().unwrap();
    let config = Descriptor::new(OCI_CONFIG, img.config.clone(), size(&img.config));
    let layers: Vec<Descriptor> =
        img.layers.iter().rev().map(|l| Descriptor::new(OCI_LAYER_GZIP, l.clone(), size(l))).collect();
    let raw = manifest_bytes(&config, &layers);
    Descriptor::new(OCI_MANIFEST, store.put_blob(&raw).unwrap(), raw.len() as u64)
}

/// `index.json` as a store written before an image ID was one image: `name` on `named`, `twin` listed without
/// a name.
fn legacy_twin(store: &Store, name: &str, named: &Descriptor, twin: &Descriptor) {
    store.tag(&r(name), named).unwrap();
    let mut index = store.read_index().unwrap();
    let mut entry = twin.clone();
    entry.annotations = Some(BTreeMap::from([(ANNOTATION_CREATED.to_owned(), now_rfc3339())]));
    index.manifests.push(entry);
    store.write_index(&index).unwrap();
    assert_eq!(store.list().unwrap().len(), 2, "the twin is listed");
}

#[test]
fn an_image_id_is_one_image() {
    let (_dir, store) = store();
    let img = make_image(&store, "one-id");
    let m2 = other_manifest(&store, &img);
    let id = img.config.hex()[..12].to_owned();
    store.tag(&r("app"), &img.manifest).unwrap();

    // A load of another manifest of the image, without a name, adds no `<none>` twin.
    store.tag_all(&[(None, m2.clone())]).unwrap();
    assert_eq!(store.list().unwrap().len(), 1);
    // Loaded first without a name, then named in another manifest: the `<none>` entry goes.
    assert!(store.untag(&r("app")).unwrap());
    store.tag_all(&[(None, m2.clone())]).unwrap();
    assert_eq!(store.list().unwrap()[0].descriptor.digest, m2.digest);
    store.tag(&r("app"), &img.manifest).unwrap();
    let listed = store.list().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (names(&listed[0]), &listed[0].descriptor.digest),
        (vec!["docker.io/library/app:latest".to_owned()], &img.manifest.digest)
    );

    // Two named manifests with one ID: one image by ID (not ambiguous), its two names.
    store.tag(&r("web:1"), &m2).unwrap();
    assert_eq!(store.list().unwrap().len(), 2);
    assert_eq!(store.image_ids().unwrap(), std::slice::from_ref(&img.config));
    let found = store.find(&id).unwrap();
    assert!([&img.manifest.digest, &m2.digest].contains(&&found.descriptor.digest), "{found:?}");
    assert_eq!(store.find(&m2.digest.hex()[..12]).unwrap().descriptor.digest, m2.digest, "a manifest digest picks it");
    let e = store.remove(&id, false).unwrap_err();
    match &e {
        StoreError::MultipleNames { names, .. } => assert_eq!(names.len(), 2, "{e}"),
        other => panic!("{other}"),
    }
    // `rmi A B`: deleted once, when the last name goes; then every blob of both manifests.
    let a = store.remove("app", false).unwrap();
    assert_eq!((a.untagged, a.deleted, a.gc.blobs_removed), (vec![r("app:latest")], None, 1), "its manifest");
    let b = store.remove("web:1", false).unwrap();
    assert_eq!((b.untagged, b.deleted), (vec![r("web:1")], Some(img.config.clone())));
    assert_eq!(b.gc.blobs_removed, 4, "config, two layers, the other manifest");
    assert!(store.list().unwrap().is_empty());

    // `rmi -f ID` takes every manifest with the ID.
    let img = make_image(&store, "one-id");
    let m2 = other_manifest(&store, &img);
    store.tag(&r("app"), &img.manifest).unwrap();
    store.tag(&r("web:1"), &m2).unwrap();
    let removed = store.remove(&id, true).unwrap();
    assert_eq!(removed.untagged.len(), 2, "{removed:?}");
    assert_eq!(removed.deleted, Some(img.config.clone()));
    assert!(store.list().unwrap().is_empty());
    assert_eq!(count_files(&store.root().join("blobs/sha256")), 0);

    // `rmi -f ID NAME`, `rmi ID ID` of one image: every input found first; what an earlier one deleted is no
    // error, and it is deleted once.
    let img = make_image(&store, "one-id");
    let m2 = other_manifest(&store, &img);
    store.tag(&r("app"), &img.manifest).unwrap();
    store.tag(&r("web:1"), &m2).unwrap();
    let inputs = [id.clone(), "web:1".to_owned(), id.clone(), "missing".to_owned()];
    let results = store.remove_each(&inputs, true);
    assert_eq!(results.len(), 4);
    assert_eq!(results[0].as_ref().unwrap().deleted, Some(img.config.clone()));
    assert_eq!(results[1].as_ref().unwrap(), &Removed::default());
    assert_eq!(results[2].as_ref().unwrap(), &Removed::default());
    assert!(matches!(results[3], Err(StoreError::NotFound(_))), "{:?}", results[3]);
    assert!(store.list().unwrap().is_empty());

    // A store with a `<none>` twin from before: rmi by ID (one name, so no force needed) takes both ...
    let img = make_image(&store, "one-id");
    let m2 = other_manifest(&store, &img);
    legacy_twin(&store, "app", &img.manifest, &m2);
    assert_eq!(store.find(&id).unwrap().descriptor.digest, img.manifest.digest, "the named manifest");
    let removed = store.remove(&id, false).unwrap();
    assert_eq!((removed.untagged, removed.deleted), (vec![r("app:latest")], Some(img.config.clone())));
    assert!(store.list().unwrap().is_empty());
    // ... rmi by its only name too ...
    let img = make_image(&store, "one-id");
    let m2 = other_manifest(&store, &img);
    legacy_twin(&store, "app", &img.manifest, &m2);
    assert_eq!(store.remove("app", false).unwrap().deleted, Some(img.config.clone()));
    assert!(store.list().unwrap().is_empty());
    assert_eq!(count_files(&store.root().join("blobs/sha256")), 0);
    // ... and a garbage collection (`prune`) takes the twin off, keeping the named image.
    let img = make_image(&store, "one-id");
    let m2 = other_manifest(&store, &img);
    legacy_twin(&store, "app", &img.manifest, &m2);
    let report = store.gc().unwrap();
    assert_eq!(report.blobs_removed, 1, "the twin's manifest");
    let listed = store.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].descriptor.digest, img.manifest.digest);
    assert!(store.has_blob(&m2.digest).unwrap().is_none());
}

/// podman's `untag` and `image prune`: names taken off all or nothing, the image kept as `<none>` (one entry,
/// whatever manifests it had), then pruned as dangling while a named image stays; `all` takes the rest.
#[test]
fn untag_keeps_the_image_nameless_and_prune_removes_the_nameless() {
    let (_dir, store) = store();
    let img = make_image(&store, "untag");
    let m2 = other_manifest(&store, &img);
    let other = make_image(&store, "kept");
    let id = img.config.hex()[..12].to_owned();
    store.tag(&r("app:1"), &img.manifest).unwrap();
    store.tag(&r("app:2"), &img.manifest).unwrap();
    store.tag(&r("web:1"), &m2).unwrap();
    store.tag(&r("kept:1"), &other.manifest).unwrap();
    let all_names = |store: &Store| -> Vec<String> {
        let mut n: Vec<String> = store.list().unwrap().iter().flat_map(names).collect();
        n.sort();
        n
    };
    let before = all_names(&store);

    // A name the image does not have (another image's, or none's): refused, and no name goes.
    for wrong in ["zzz", "kept:1"] {
        let e = store.untag_image("app:1", Some(&[r("web:1"), r(wrong)])).unwrap_err();
        assert!(
            matches!(&e, StoreError::NotFound(m) if m == &format!("{}: tag not known", r(wrong).with_default_tag()))
        );
        assert_eq!(all_names(&store), before);
    }
    // Some names, by any of them (over both manifests of the ID).
    assert_eq!(store.untag_image("web:1", Some(&[r("app:2")])).unwrap(), [r("app:2")]);
    assert_eq!(all_names(&store), ["docker.io/library/app:1", "docker.io/library/kept:1", "docker.io/library/web:1"]);
    // Every name: the image stays, as one entry without a name, its blobs kept.
    let gone = store.untag_image(&id, None).unwrap();
    assert_eq!(gone.len(), 2, "{gone:?}");
    let listed = store.list().unwrap();
    assert_eq!(listed.len(), 2, "one <none> entry and kept:1: {listed:?}");
    assert!(store.find(&id).unwrap().names.is_empty());
    assert_eq!(store.gc().unwrap().blobs_removed, 1, "the manifest no entry keeps, nothing of the image");
    assert!(store.untag_image(&id, None).unwrap().is_empty(), "a nameless image: nothing to take off");

    // prune: the dangling image only; then -a: every image.
    let pruned = store.prune(false).unwrap();
    assert_eq!(pruned.ids, std::slice::from_ref(&img.config));
    assert_eq!(pruned.gc.blobs_removed, 4, "its manifest, config and two layers");
    assert!(matches!(store.find(&id), Err(StoreError::NotFound(_))));
    assert_eq!(all_names(&store), ["docker.io/library/kept:1"]);
    assert!(store.prune(false).unwrap().ids.is_empty(), "nothing dangling");
    assert_eq!(store.prune(true).unwrap().ids, std::slice::from_ref(&other.config));
    assert!(store.list().unwrap().is_empty());
}

/// An image whose config has these diff_ids and history (`created_by` each), no layers: enough for lineage.
fn image_with_lineage(store: &Store, diff_ids: &[&str], history: &[&str]) -> (Descriptor, Digest) {
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids.iter().map(|d| Digest::sha256(d.as_bytes()).to_string()).collect::<Vec<_>>()},
        "history": history.iter().map(|h| serde_json::json!({"created_by": h})).collect::<Vec<_>>(),
    });
    let raw = serde_json::to_vec(&config).unwrap();
    let digest = store.put_blob(&raw).unwrap();
    let m = manifest_bytes(&Descriptor::new(OCI_CONFIG, digest.clone(), raw.len() as u64), &[]);
    (Descriptor::new(OCI_MANIFEST, store.put_blob(&m).unwrap(), m.len() as u64), digest)
}

/// podman's dangling images: a nameless image another is built on (its layers plus at most one, its history
/// plus one entry) is an intermediate image, kept by `prune` while that child is; dangling children go first,
/// then their parents, in one prune.
#[test]
fn prune_keeps_a_nameless_parent_while_its_child_is_there() {
    let (_dir, store) = store();
    let (parent, parent_id) = image_with_lineage(&store, &["a"], &["FROM"]);
    let (child, _) = image_with_lineage(&store, &["a", "b"], &["FROM", "COPY"]);
    store.tag_all(&[(None, parent.clone())]).unwrap();
    store.tag(&r("child:1"), &child).unwrap();
    assert!(store.prune(false).unwrap().ids.is_empty(), "the parent of a stored image is not dangling");

    // Another history (not built on it), or two layers more (a grandchild): no parent relation.
    let (other, _) = image_with_lineage(&store, &["a", "b"], &["FROM x", "COPY"]);
    let (grand, _) = image_with_lineage(&store, &["a", "b", "c"], &["FROM", "COPY", "COPY"]);
    store.tag(&r("other:1"), &other).unwrap();
    store.tag(&r("grand:1"), &grand).unwrap();
    store.remove("child:1", false).unwrap();
    assert_eq!(store.prune(false).unwrap().ids, std::slice::from_ref(&parent_id));

    // Both nameless: the child goes, then the parent, in one prune.
    let (parent, parent_id) = image_with_lineage(&store, &["p"], &["FROM p"]);
    let (child, child_id2) = image_with_lineage(&store, &["p"], &["FROM p", "LABEL"]);
    store.tag_all(&[(None, parent), (None, child)]).unwrap();
    let mut ids = store.prune(false).unwrap().ids;
    ids.sort();
    let mut want = vec![parent_id, child_id2];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(store.list().unwrap().len(), 2, "other:1 and grand:1 stay");
}
