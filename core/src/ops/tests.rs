//! The library's operations used as a library user would: settings built by hand, images named with
//! transports, no CLI.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::build::BaseError;
use crate::config::Paths;
use crate::copy::NoProgress;
use crate::digest::Digest;

/// An OCI layout in `dir` holding one image (one uncompressed layer) named `v1`; its manifest, config and
/// layer digests.
fn oci_layout(dir: &Path) -> (Digest, Digest, Digest) {
    let mut layer = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(5);
    header.set_mode(0o644);
    header.set_cksum();
    layer.append_data(&mut header, "hello.txt", &b"hello"[..]).unwrap();
    let layer = layer.into_inner().unwrap();
    let layer_digest = Digest::sha256(&layer);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{layer_digest}"]}}}}"#
    );
    let config_digest = Digest::sha256(config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_digest}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    );
    let manifest_digest = Digest::sha256(manifest.as_bytes());
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_digest}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"v1"}}}}]}}"#,
        manifest.len()
    );
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    for (d, bytes) in
        [(&layer_digest, &layer[..]), (&config_digest, config.as_bytes()), (&manifest_digest, manifest.as_bytes())]
    {
        std::fs::write(blobs.join(d.hex()), bytes).unwrap();
    }
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(dir.join("index.json"), index).unwrap();
    (manifest_digest, config_digest, layer_digest)
}

/// Settings that touch nothing of the machine's: a store and registries.conf in `dir`.
fn settings_in(dir: &Path, registries_conf: &str) -> Settings {
    let conf = dir.join("registries.conf");
    std::fs::File::create(&conf).unwrap().write_all(registries_conf.as_bytes()).unwrap();
    let mut s = Settings::new();
    s.registries_conf = Paths { main: conf, main_required: true, dropin_dirs: Vec::new(), alias_cache: None };
    s.store_root = Some(dir.join("store"));
    s.timeout = Some(std::time::Duration::from_secs(5));
    s
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
}

#[test]
fn an_image_moves_between_names_through_the_library_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let (manifest, config, layer) = oci_layout(&layout);
    let settings = settings_in(tmp.path(), "");
    let archive = tmp.path().join("out.tar");
    let source = ImageName::parse(&format!("oci:{}:v1", layout.display())).unwrap();
    let destination = ImageName::parse(&format!("docker-archive:{}:example.com/app:1", archive.display())).unwrap();
    let rt = runtime();
    let report = rt
        .block_on(copy_by_name(
            &source,
            &settings,
            &destination,
            &settings,
            &DestinationOptions::default(),
            false,
            Arc::new(NoProgress),
        ))
        .unwrap();
    assert_eq!(report.manifest.digest, manifest);
    assert_eq!(report.copied, 2, "config and layer");

    // The destination finished itself at its commit: the archive is whole, named, and reads back.
    let back = ImageName::parse(&format!("docker-archive:{}", archive.display())).unwrap();
    let src = rt.block_on(back.open_source(&settings)).unwrap();
    let m = rt.block_on(src.manifest()).unwrap();
    let crate::image::Manifest::Image(m) = crate::image::Manifest::parse(&m.raw, Some(&m.media_type)).unwrap() else {
        panic!("an image manifest");
    };
    assert_eq!(m.config.digest, config);
    assert_eq!(m.layers.iter().map(|l| l.digest.clone()).collect::<Vec<_>>(), [layer]);
    let opened = crate::archive::open(crate::archive::Input::Path(archive.clone()), tmp.path()).unwrap();
    let listed = crate::copy::archive::images(&opened).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].names, [Reference::parse_normalized("example.com/app:1").unwrap()]);
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "no temp file left beside the archive: {leftovers:?}");

    // And into the store under a name, then out again by that name.
    let stored = ImageName::parse("store:example.com/app:2").unwrap();
    rt.block_on(copy_by_name(
        &back,
        &settings,
        &stored,
        &settings,
        &DestinationOptions::default(),
        false,
        Arc::new(NoProgress),
    ))
    .unwrap();
    let store = settings.store().unwrap();
    let image = store.find("example.com/app:2").unwrap();
    assert_eq!(store.image_id(&image).unwrap(), config);
}

#[test]
fn a_name_of_one_transport_holding_another_format_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    oci_layout(&layout);
    let settings = settings_in(tmp.path(), "");
    let wrong = ImageName::parse(&format!("dir:{}", layout.display())).unwrap();
    let e = runtime().block_on(wrong.open_source(&settings)).err().expect("refused");
    assert!(matches!(e, Error::WrongFormat { found: Format::OciDir, expected: Format::DockerDir, .. }), "{e}");
}

#[test]
fn load_names_images_only_at_the_end_and_never_a_placeholder() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let (_, config, _) = oci_layout(&layout);
    let settings = settings_in(tmp.path(), "");
    let loaded = runtime().block_on(load(&settings, Input::Path(layout), Arc::new(NoProgress))).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].id, config);
    // An OCI ref name that is only a tag is loaded without a name (as podman), never as a placeholder.
    let store = settings.store().unwrap();
    let names: Vec<String> = store.list().unwrap().iter().flat_map(|i| i.names.iter().map(|n| n.to_string())).collect();
    assert!(!names.iter().any(|n| n.contains("hoist-load")), "{names:?}");
    assert_eq!(loaded[0].names.iter().map(|n| n.to_string()).collect::<Vec<_>>(), names);
    assert_eq!(store.list().unwrap().len(), 1, "the image is in the index");
}

#[test]
fn an_unnamed_store_destination_names_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let (manifest, _, _) = oci_layout(&layout);
    let settings = settings_in(tmp.path(), "");
    let rt = runtime();
    let source = ImageName::parse(&format!("oci:{}:v1", layout.display())).unwrap();
    let src = rt.block_on(source.open_source(&settings)).unwrap();
    let store = settings.store().unwrap();
    let dst = StoreDestination::unnamed(store.clone()).unwrap();
    let report = rt.block_on(copy::copy(src.as_ref(), &dst, &copy::Options::default(), Arc::new(NoProgress))).unwrap();
    assert_eq!(report.manifest.digest, manifest);
    assert!(store.list().unwrap().is_empty(), "nothing named");
    assert!(store.has_blob(&manifest).unwrap().is_some(), "the manifest is stored");
}

#[test]
fn a_short_name_tries_each_candidate_and_reports_each_failure() {
    let tmp = tempfile::tempdir().unwrap();
    // Two search registries nobody listens on (port 1 refuses at once); permissive mode and no prompt: both
    // are tried in order.
    let settings = settings_in(
        tmp.path(),
        "unqualified-search-registries = [\"127.0.0.1:1\", \"localhost:1\"]\nshort-name-mode = \"permissive\"\n",
    );
    let e = runtime().block_on(pull(&settings, "app", false, Arc::new(NoProgress))).expect_err("no registry");
    let Error::NoCandidate { name, failures } = &e else { panic!("{e}") };
    assert_eq!(name, "app");
    let tried: Vec<String> = failures.iter().map(|(c, _)| c.to_string()).collect();
    assert_eq!(tried, ["127.0.0.1:1/app:latest", "localhost:1/app:latest"]);
    assert!(e.to_string().starts_with("pulling app: no candidate could be pulled:\n  127.0.0.1:1/app:latest: "), "{e}");
}

#[test]
fn an_ambiguous_short_name_in_enforcing_mode_needs_a_prompt() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = "unqualified-search-registries = [\"127.0.0.1:1\", \"localhost:1\"]\nshort-name-mode = \"enforcing\"\n";
    let mut settings = settings_in(tmp.path(), conf);
    let e = runtime().block_on(resolve_source(&settings, "app")).err().expect("refused");
    assert!(matches!(&e, Error::Ambiguous { candidates, .. } if candidates.len() == 2), "{e}");

    /// Answers nothing a candidate has.
    struct Nobody;
    impl Prompt for Nobody {
        fn choose(&self, name: &str, _candidates: &[Reference]) -> Result<Reference, PromptError> {
            Err(PromptError::NoneSelected { name: name.to_owned() })
        }
    }
    settings.prompt = Some(Arc::new(Nobody));
    let e = runtime().block_on(resolve_source(&settings, "app")).err().expect("none chosen");
    assert!(matches!(&e, Error::NotChosen(PromptError::NoneSelected { name }) if name == "app"), "{e:?}");
    assert_eq!(e.to_string(), "no image selected for \"app\"");

    /// Picks the second candidate.
    struct Second;
    impl Prompt for Second {
        fn choose(&self, _name: &str, candidates: &[Reference]) -> Result<Reference, PromptError> {
            Ok(candidates[1].clone())
        }
    }
    settings.prompt = Some(Arc::new(Second));
    let e = runtime().block_on(resolve_source(&settings, "app")).err().expect("nobody listens");
    let Error::PullFailed { candidate, .. } = &e else { panic!("{e}") };
    assert_eq!(candidate.to_string(), "localhost:1/app:latest", "only the chosen one is tried");
}

#[test]
fn settings_carry_the_timeout_to_every_endpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let settings = settings_in(tmp.path(), "").with_timeout_secs(7);
    let r = Reference::parse_normalized("quay.io/org/app:1").unwrap();
    let targets = settings.pull_targets(&r).unwrap();
    assert!(targets.iter().all(|t| t.endpoint.timeout == Some(std::time::Duration::from_secs(7))));
    assert_eq!(settings.push_endpoint(&r).unwrap().timeout, Some(std::time::Duration::from_secs(7)));
    let forever = settings.with_timeout_secs(0);
    assert_eq!(forever.push_endpoint(&r).unwrap().timeout, None, "0 waits for ever");
    assert_eq!(forever.with_timeout_secs(u64::MAX).timeout, Some(crate::registry::tls::MAX_TIMEOUT));
}

#[test]
fn the_name_given_is_the_destination() {
    let names: Vec<Reference> = ["r.example/demo/hello:v1", "r.example/demo/copy:v2", "docker.io/library/alpine:3"]
        .iter()
        .map(|n| Reference::parse_normalized(n).unwrap())
        .collect();
    let pick = |g: &str| name_given(g, &names).unwrap().to_string();
    assert_eq!(pick("r.example/demo/copy:v2"), "r.example/demo/copy:v2");
    assert_eq!(pick("demo/copy:v2"), "r.example/demo/copy:v2");
    assert_eq!(pick("alpine:3"), "docker.io/library/alpine:3");
    assert_eq!(pick("7fa90c1ddf11"), "r.example/demo/hello:v1", "an ID: the first name");
}

#[test]
fn a_build_gets_its_bases_from_the_library() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let (manifest, _, _) = oci_layout(&layout);
    // Nobody listens at the only search registry: what is not stored cannot be pulled.
    let settings = settings_in(tmp.path(), "unqualified-search-registries = [\"127.0.0.1:1\"]\n");
    let rt = runtime();
    let source = ImageName::parse(&format!("oci:{}:v1", layout.display())).unwrap();
    let stored = ImageName::parse("store:127.0.0.1:1/base:1").unwrap();
    rt.block_on(copy_by_name(
        &source,
        &settings,
        &stored,
        &settings,
        &DestinationOptions::default(),
        false,
        Arc::new(NoProgress),
    ))
    .unwrap();
    let mut bases = StoreBases {
        settings: &settings,
        store: settings.store().unwrap(),
        runtime: rt.handle().clone(),
        pull: false,
        progress: Arc::new(NoProgress),
    };
    let amd64 = crate::image::Platform::parse("linux/amd64").unwrap();
    let base = crate::build::Bases::base(&mut bases, "127.0.0.1:1/base:1", &amd64).unwrap();
    assert_eq!((base.descriptor.digest, base.name.as_str()), (manifest, "127.0.0.1:1/base:1"), "from the store");
    // A pull that fails is the pull's own error, with its type.
    let pulled = |e: &BaseError| match e {
        BaseError::Unavailable(source) => match source.downcast_ref::<Error>() {
            Some(Error::PullFailed { candidate, .. }) => candidate.to_string(),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    let e = crate::build::Bases::base(&mut bases, "other", &amd64).unwrap_err();
    assert_eq!(pulled(&e), "127.0.0.1:1/other:latest", "pulled when missing: {e}");
    assert!(e.to_string().starts_with("pulling 127.0.0.1:1/other:latest: "), "{e}");
    bases.pull = true;
    let e = crate::build::Bases::base(&mut bases, "127.0.0.1:1/base:1", &amd64).unwrap_err();
    assert_eq!(pulled(&e), "127.0.0.1:1/base:1", "--pull pulls even a stored base: {e}");
    assert_eq!(
        MountFrom::base_repo(Some("quay.io/org/base:1")),
        Some(crate::transport::RegistryRepo { host: "quay.io".into(), repo: "org/base".into() })
    );
}

/// `SOURCE_DATE_EPOCH` is read once, into the settings; a build's timestamp is `--timestamp`, else it, and
/// a bad value is refused (with its text) only when a build needs it.
#[test]
fn source_date_epoch_is_a_settings_value_and_timestamp_wins() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let read = |v: &str| source_date_epoch(Some(OsStr::new(v)));
    assert_eq!(read("1700000000"), Ok(Some(1_700_000_000)));
    assert_eq!(read(" 42\n"), Ok(Some(42)), "blanks around it are ignored");
    assert_eq!(read(""), Ok(None));
    assert_eq!(read("  "), Ok(None));
    assert_eq!(source_date_epoch(None), Ok(None));
    assert_eq!(source_date_epoch(Some(OsStr::from_bytes(b"\xff1"))), Ok(None), "not UTF-8: not set");
    let e = read("soon").unwrap_err();
    assert_eq!(e, BadSourceDateEpoch { value: "soon".into() });
    assert_eq!(e.to_string(), "SOURCE_DATE_EPOCH=\"soon\" is not a number of seconds");

    let mut settings = Settings::new();
    settings.source_date_epoch = Ok(Some(7));
    assert_eq!(settings.build_timestamp(None), Ok(Some(7)));
    assert_eq!(settings.build_timestamp(Some(3)), Ok(Some(3)), "--timestamp wins");
    settings.source_date_epoch = read("soon");
    assert_eq!(settings.build_timestamp(Some(3)), Ok(Some(3)), "a bad value is not needed with --timestamp");
    assert_eq!(settings.build_timestamp(None), Err(BadSourceDateEpoch { value: "soon".into() }));
    settings.source_date_epoch = Ok(None);
    assert_eq!(settings.build_timestamp(None), Ok(None), "neither: now");
}

/// `BUILDAH_FORMAT` is read once, into the settings; a build's format is `--format`, else it when set and not
/// empty, else hoist's default; a bad value is refused (naming the variable) only when it is used.
#[test]
fn buildah_format_is_a_settings_value_and_format_wins() {
    use crate::build::{BuildFormat, UnknownBuildFormat};
    let mut settings = Settings::new();
    settings.buildah_format = None;
    assert_eq!(settings.build_format(None), Ok(BuildFormat::Oci), "neither: OCI as BuildKit");
    assert_eq!(settings.build_format(Some("oci")), Ok(BuildFormat::OciAsPodman));
    settings.buildah_format = Some("docker".into());
    assert_eq!(settings.build_format(None), Ok(BuildFormat::Docker));
    assert_eq!(settings.build_format(Some("OCI")), Ok(BuildFormat::OciAsPodman), "--format wins");
    settings.buildah_format = Some("".into());
    assert_eq!(settings.build_format(None), Ok(BuildFormat::Oci), "empty: not set, as podman");
    settings.buildah_format = Some("v2s2".into());
    assert_eq!(settings.build_format(Some("docker")), Ok(BuildFormat::Docker), "not needed with --format");
    let e = settings.build_format(None).unwrap_err();
    assert_eq!(e, UnknownBuildFormat { given: "v2s2".into(), from_env: true });
    assert_eq!(e.to_string(), "unrecognized image type \"v2s2\" (from BUILDAH_FORMAT): use oci or docker");
}

/// `images`, `tag`, `inspect` and `rmi` of the store in one call each, as the CLI makes them.
#[test]
fn the_stores_commands_are_one_call_each() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let (manifest, config, _) = oci_layout(&layout);
    let settings = settings_in(tmp.path(), "");
    let rt = runtime();
    let source = ImageName::parse(&format!("oci:{}:v1", layout.display())).unwrap();
    let stored = ImageName::parse("store:example.com/app:1").unwrap();
    let options = DestinationOptions::default();
    rt.block_on(copy_by_name(&source, &settings, &stored, &settings, &options, false, Arc::new(NoProgress))).unwrap();

    let named = tag_local(&settings, "example.com/app:1", &["example.com/app:2".into(), "other".into()]).unwrap();
    assert_eq!(named[1].to_string(), "localhost/other:latest", "podman's local name");
    // One refused name (uppercase) and none is given: `x:9` stays unknown.
    assert!(tag_local(&settings, "example.com/app:1", &["x:9".into(), "Bad".into()]).is_err());
    assert!(settings.store().unwrap().find("localhost/x:9").is_err(), "nothing named when one is refused");
    let e = tag_local(&settings, "example.com/app:1", &[format!("example.com/app@{manifest}")]).unwrap_err();
    assert!(matches!(&e, Error::Refused(Refused::TagHoldsDigest { .. })), "{e:?}");
    assert!(e.to_string().ends_with(": a tag name cannot hold a digest"), "{e}");

    // tag --semver: an unqualified version name is the localhost/ one `tag` made; a qualified one stays.
    tag_local(&settings, "example.com/app:1", &["web:1.2.3".into()]).unwrap();
    let (name, fan) = tag_semver_local(&settings, "web:1.2.3", false).unwrap();
    assert_eq!(name.to_string(), "localhost/web:1.2.3");
    assert_eq!(fan.outcomes.len(), 2, "1.2 and 1");
    let store = settings.store().unwrap();
    assert_eq!(store.find("localhost/web:1.2").unwrap().descriptor.digest, manifest);
    assert_eq!(store.find("localhost/web:1").unwrap().descriptor.digest, manifest);
    assert!(store.list().unwrap().iter().all(|i| i.names.iter().all(|n| !n.to_string().starts_with("docker.io/"))));
    tag_local(&settings, "example.com/app:1", &["docker.io/library/nginx:2.0.1".into()]).unwrap();
    let (name, _) = tag_semver_local(&settings, "nginx:2.0.1", false).unwrap();
    assert_eq!(name.to_string(), "docker.io/library/nginx:2.0.1", "only docker.io's is stored");
    assert!(store.find("docker.io/library/nginx:2.0").is_ok());
    for n in ["localhost/web:1.2.3", "localhost/web:1.2", "localhost/web:1"].into_iter().chain([
        "docker.io/library/nginx:2.0.1",
        "docker.io/library/nginx:2.0",
        "docker.io/library/nginx:2",
    ]) {
        assert!(store.untag(&crate::reference::Reference::parse_normalized(n).unwrap()).unwrap(), "{n}");
    }

    let listed = images(&settings).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, config, "podman's ID: the config digest");
    assert_eq!(listed[0].image.names.len(), 3);
    assert!(listed[0].size > 0);

    let part = InspectPart::Facts { tags: true };
    let Inspected::Facts(facts) = rt.block_on(inspect(&settings, "example.com/app:1", None, part)).unwrap() else {
        panic!("facts")
    };
    assert_eq!(facts.digest, manifest);
    assert_eq!(facts.repo_tags, ["1", "2"]);
    let Inspected::Raw(raw) = rt.block_on(inspect(&settings, &config.hex()[..12], None, InspectPart::Raw)).unwrap()
    else {
        panic!("raw")
    };
    assert_eq!(Digest::sha256(&raw), manifest);
    let Inspected::Config(c) = rt.block_on(inspect(&settings, "other", None, InspectPart::Config)).unwrap() else {
        panic!("config")
    };
    assert_eq!(Digest::sha256(&c), config);

    // By ID, an image with several names needs force; each target is tried on its own.
    let removals = rmi(&settings, &[config.hex().to_owned(), "example.com/app:2".into()], false, false).unwrap();
    assert!(removals[0].outcome.is_err(), "several names, no force");
    let removed = removals[1].outcome.as_ref().unwrap();
    assert_eq!(removed.untagged, [Reference::parse_normalized("example.com/app:2").unwrap()]);
    let removals = rmi(&settings, &[], true, false).unwrap();
    assert_eq!(removals[0].outcome.as_ref().unwrap().deleted.as_ref(), Some(&config));
    assert!(images(&settings).unwrap().is_empty());
}

/// `tag --remote` stays on the source's registry and never tags a digest: refused before any request.
#[test]
fn a_remote_tag_stays_on_its_registry() {
    let tmp = tempfile::tempdir().unwrap();
    let settings = settings_in(tmp.path(), "");
    let rt = runtime();
    let src = Reference::parse_normalized("127.0.0.1:9/app:1").unwrap();
    let e = rt.block_on(tag_remote(&settings, &src, &["2".into(), "example.com/app:2".into()])).unwrap_err();
    let Error::Refused(Refused::OtherRegistry { name, registry }) = &e else { panic!("{e:?}") };
    assert_eq!((name.to_string().as_str(), registry.as_str()), ("example.com/app:2", "127.0.0.1:9"));
    let digest = Digest::sha256(b"m");
    let e = rt.block_on(tag_remote(&settings, &src, &[format!("127.0.0.1:9/app@{digest}")])).unwrap_err();
    assert!(matches!(e, Error::Refused(Refused::TagHoldsDigest { .. })), "{e:?}");
}

/// `pull --all-tags`: a name with a tag or digest is refused before any request, and a tag list entry that is
/// not a tag (a server's `x@sha256:...`, `../x`, an empty one) names nothing to pull.
#[test]
fn all_tags_takes_a_repository_and_only_real_tags() {
    let tmp = tempfile::tempdir().unwrap();
    let settings = settings_in(tmp.path(), "");
    let rt = runtime();
    for named in ["127.0.0.1:1/app:1", &format!("127.0.0.1:1/app@sha256:{}", "a".repeat(64))] {
        let e = rt.block_on(pull_all_tags(&settings, named, false, Arc::new(NoProgress))).unwrap_err();
        assert!(matches!(&e, Error::AllTagsOfNamed { name } if name == named), "{e:?}");
    }
    let repo = Reference::parse_normalized("127.0.0.1:1/app").unwrap();
    assert_eq!(listed_tag(&repo, "v1.2".into()).unwrap().to_string(), "127.0.0.1:1/app:v1.2");
    for bad in [format!("x@sha256:{}", "a".repeat(64)), "../x".into(), String::new(), "a/b".into(), "x:y".into()] {
        let e = listed_tag(&repo, bad.clone()).unwrap_err();
        assert!(matches!(&e, Error::ListedNotATag { tag, .. } if *tag == bad), "{bad:?}: {e:?}");
    }
}

/// `push`/`pull` as a command takes them: the name alone picks the path, one call each — a `docker-daemon:` name
/// goes to the engine named (here a socket nobody listens on), any other to its registry.
#[test]
fn the_name_picks_push_and_pull_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    oci_layout(&layout);
    let settings = settings_in(tmp.path(), "unqualified-search-registries = []\n");
    let rt = runtime();
    let source = ImageName::parse(&format!("oci:{}:v1", layout.display())).unwrap();
    let stored = ImageName::parse("store:example.com/app:1").unwrap();
    let progress = || -> Arc<dyn CopyProgress> { Arc::new(NoProgress) };
    rt.block_on(copy_by_name(
        &source,
        &settings,
        &stored,
        &settings,
        &DestinationOptions::default(),
        false,
        progress(),
    ))
    .unwrap();
    let socket = tmp.path().join("nobody.sock");
    let host = format!("unix://{}", socket.display());
    let at_engine = |e: &Error| e.to_string().contains(&socket.display().to_string());

    let e = rt
        .block_on(push_to(&settings, "example.com/app:1", Some("docker-daemon:app:1"), Some(&host), progress()))
        .unwrap_err();
    assert!(at_engine(&e), "{e}");
    let e = rt
        .block_on(push_to(&settings, "example.com/app:1", Some("docker://127.0.0.1:1/app:1"), Some(&host), progress()))
        .unwrap_err();
    assert!(!at_engine(&e) && e.to_string().contains("127.0.0.1:1"), "{e}");
    let e = rt.block_on(push_to(&settings, "example.com/app:1", Some("Bad//Name"), None, progress())).unwrap_err();
    assert!(matches!(e, Error::Reference(_)), "{e:?}");

    let e =
        rt.block_on(pull_named(&settings, "docker-daemon:app:1", Some(&host), false, false, progress())).unwrap_err();
    assert!(at_engine(&e), "{e}");
    let e =
        rt.block_on(pull_named(&settings, "docker-daemon:app@sha256:", None, false, false, progress())).unwrap_err();
    assert!(matches!(e, Error::Reference(_) | Error::Name(_)), "{e:?}");
    let e = rt.block_on(pull_named(&settings, "127.0.0.1:1/app:1", Some(&host), false, true, progress())).unwrap_err();
    assert!(matches!(e, Error::AllTagsOfNamed { .. }), "{e:?}");
    let e = rt.block_on(pull_named(&settings, "127.0.0.1:1/app:1", Some(&host), false, false, progress())).unwrap_err();
    assert!(!at_engine(&e) && e.to_string().contains("127.0.0.1:1"), "{e}");
}

/// `--dest-compress` is the library's rule, not the command's: asked of any destination but `dir:`, refused
/// before anything is opened or written.
#[test]
fn compress_layers_is_for_a_dir_destination_only() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    oci_layout(&layout);
    let settings = settings_in(tmp.path(), "");
    let source = ImageName::parse(&format!("oci:{}:v1", layout.display())).unwrap();
    let compress = DestinationOptions { compress_layers: true };
    let rt = runtime();
    let out = tmp.path().join("out");
    let destination = ImageName::parse(&format!("oci:{}", out.display())).unwrap();
    let e = rt
        .block_on(copy_by_name(&source, &settings, &destination, &settings, &compress, false, Arc::new(NoProgress)))
        .unwrap_err();
    assert!(matches!(e, Error::CompressNotDir), "{e:?}");
    assert!(!out.exists(), "nothing made");
    let dir = ImageName::parse(&format!("dir:{}", tmp.path().join("d").display())).unwrap();
    rt.block_on(copy_by_name(&source, &settings, &dir, &settings, &compress, false, Arc::new(NoProgress))).unwrap();
}
