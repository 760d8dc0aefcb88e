//! Tests of the image model on real-looking OCI and Docker documents written out here.

use super::media_type::*;
use super::*;
use crate::digest::Digest;

fn d(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

fn oci_manifest() -> String {
    format!(
        r#"{{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {{
    "mediaType": "application/vnd.oci.image.config.v1+json",
    "digest": "{}",
    "size": 1469
  }},
  "layers": [
    {{
      "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
      "digest": "{}",
      "size": 3623807
    }},
    {{
      "mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
      "digest": "{}",
      "size": 1024,
      "urls": ["https://example.com/layer.tar.gz"]
    }}
  ],
  "annotations": {{ "org.opencontainers.image.created": "2024-01-01T00:00:00Z" }},
  "somethingNew": [1, 2, 3]
}}"#,
        d('a'),
        d('b'),
        d('c')
    )
}

fn docker_manifest() -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":7023,"digest":"{}"}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":32654,"digest":"{}"}},{{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","size":5,"digest":"{}","urls":["https://mcr.microsoft.com/x"]}}]}}"#,
        d('1'),
        d('2'),
        d('3')
    )
}

fn entry(digest: &str, arch: &str, variant: Option<&str>) -> String {
    let variant = variant.map(|v| format!(r#","variant":"{v}""#)).unwrap_or_default();
    format!(
        r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{digest}","size":1000,"platform":{{"architecture":"{arch}","os":"linux"{variant}}}}}"#
    )
}

fn oci_index() -> String {
    let entries = [
        entry(&d('a'), "amd64", None),
        entry(&d('b'), "arm", Some("v6")),
        entry(&d('c'), "arm", Some("v7")),
        entry(&d('d'), "arm64", Some("v8")),
        r#"{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee","size":566,"annotations":{"vnd.docker.reference.type":"attestation-manifest"},"platform":{"architecture":"unknown","os":"unknown"}}"#.to_owned(),
    ];
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
        entries.join(",")
    )
}

#[test]
fn parses_an_oci_manifest() {
    let m = Manifest::parse(oci_manifest().as_bytes(), Some(OCI_MANIFEST)).unwrap();
    assert_eq!(m.media_type(), OCI_MANIFEST);
    let img = m.as_image().unwrap();
    assert_eq!(img.schema_version, 2);
    assert_eq!(img.config.media_type, OCI_CONFIG);
    assert_eq!(img.config.size, 1469);
    let blobs: Vec<_> = img.blobs().map(|b| b.digest.to_string()).collect();
    assert_eq!(blobs, [d('a'), d('b'), d('c')]);
    assert!(!img.layers[0].is_foreign());
    assert!(img.layers[1].is_foreign());
    assert_eq!(img.layers[1].urls, ["https://example.com/layer.tar.gz"]);
    assert_eq!(m.annotations().unwrap()["org.opencontainers.image.created"], "2024-01-01T00:00:00Z");
    assert_eq!(m.references().len(), 3);
}

#[test]
fn parses_a_docker_manifest_and_list() {
    let m = Manifest::parse(
        docker_manifest().as_bytes(),
        Some("application/vnd.docker.distribution.manifest.v2+json; charset=utf-8"),
    )
    .unwrap();
    assert_eq!(m.media_type(), DOCKER_MANIFEST);
    let img = m.as_image().unwrap();
    assert_eq!(img.config.media_type, DOCKER_CONFIG);
    assert!(img.layers[1].is_foreign());

    let list = oci_index().replace(OCI_INDEX, DOCKER_LIST).replace(OCI_MANIFEST, DOCKER_MANIFEST);
    let m = Manifest::parse(list.as_bytes(), None).unwrap();
    assert_eq!(m.media_type(), DOCKER_LIST);
    assert_eq!(m.as_index().unwrap().manifests.len(), 5);
}

#[test]
fn kind_from_content_type_body_or_shape() {
    // No mediaType in the body: the content type names it, and stands in for it.
    let bare = oci_manifest().replace(r#""mediaType": "application/vnd.oci.image.manifest.v1+json","#, "");
    let m = Manifest::parse(bare.as_bytes(), Some(DOCKER_MANIFEST)).unwrap();
    assert_eq!(m.media_type(), DOCKER_MANIFEST);
    // Neither: the shape decides, and the type is OCI's.
    let m = Manifest::parse(bare.as_bytes(), None).unwrap();
    assert!(!m.is_index());
    assert_eq!(m.media_type(), OCI_MANIFEST);
    // A content type naming no manifest is ignored.
    let m = Manifest::parse(bare.as_bytes(), Some("application/json")).unwrap();
    assert_eq!(m.media_type(), OCI_MANIFEST);
    let bare_index = oci_index().replace(r#""mediaType":"application/vnd.oci.image.index.v1+json","#, "");
    let m = Manifest::parse(bare_index.as_bytes(), Some("text/plain")).unwrap();
    assert!(m.is_index());
    assert_eq!(m.media_type(), OCI_INDEX);
    // The body's type decides when the content type says nothing.
    let m = Manifest::parse(oci_index().as_bytes(), None).unwrap();
    assert_eq!(m.media_type(), OCI_INDEX);
}

#[test]
fn refuses_ambiguous_and_mismatched_documents() {
    let e = Manifest::parse(oci_index().as_bytes(), Some(OCI_MANIFEST)).unwrap_err();
    assert!(matches!(e, ImageError::MediaTypeMismatch { .. }), "{e}");
    let both = oci_manifest().replace(r#""somethingNew""#, r#""manifests""#);
    let e = Manifest::parse(both.as_bytes(), None).unwrap_err();
    assert!(matches!(e, ImageError::Ambiguous(_)), "{e}");
    let e = Manifest::parse(br#"{"schemaVersion":2}"#, None).unwrap_err();
    assert!(matches!(e, ImageError::Ambiguous(_)), "{e}");
    let e = Manifest::parse(br#"{"schemaVersion":2,"mediaType":"application/x-thing","config":{}}"#, None).unwrap_err();
    assert_eq!(e, ImageError::UnsupportedMediaType("application/x-thing".into()));
    let dup = format!(r#"{{"schemaVersion":2,"config":{0},"config":{0},"layers":[]}}"#, entry(&d('a'), "amd64", None));
    assert!(Manifest::parse(dup.as_bytes(), None).is_err(), "duplicate keys are refused");
}

#[test]
fn refuses_schema1_and_other_versions() {
    let s1 = br#"{"schemaVersion":1,"name":"library/alpine","tag":"latest","architecture":"amd64","fsLayers":[],"history":[]}"#;
    for ct in [None, Some(DOCKER_SCHEMA1), Some(DOCKER_SCHEMA1_SIGNED)] {
        let e = Manifest::parse(s1, ct).unwrap_err();
        assert!(matches!(e, ImageError::Schema1 { .. }), "{ct:?}: {e}");
        assert!(e.to_string().contains("schema 1") && e.to_string().contains("deprecated and unsupported"), "{e}");
    }
    // By content type alone, whatever the body.
    let e = Manifest::parse(oci_manifest().as_bytes(), Some(DOCKER_SCHEMA1_SIGNED)).unwrap_err();
    assert!(matches!(e, ImageError::Schema1 { .. }));
    for v in ["3", "\"2\"", "2.5"] {
        let doc = oci_manifest().replace(r#""schemaVersion": 2"#, &format!(r#""schemaVersion": {v}"#));
        assert!(matches!(Manifest::parse(doc.as_bytes(), None), Err(ImageError::SchemaVersion(_))), "{v}");
    }
    let doc = oci_manifest().replace(r#""schemaVersion": 2,"#, "");
    assert!(matches!(Manifest::parse(doc.as_bytes(), None), Err(ImageError::SchemaVersion(_))));
}

#[test]
fn refuses_oversize_and_keeps_errors_short() {
    let mut big = oci_manifest().into_bytes();
    big.resize(MAX_MANIFEST_SIZE + 1, b' ');
    let e = Manifest::parse(&big, None).unwrap_err();
    assert!(matches!(e, ImageError::TooLarge { what: "manifest", .. }), "{e}");
    let big_config = vec![b' '; MAX_CONFIG_SIZE + 1];
    assert!(matches!(ImageConfig::parse(&big_config), Err(ImageError::TooLarge { .. })));

    let long = format!(
        r#"{{"schemaVersion":2,"config":{{"mediaType":"{}","digest":1,"size":1}},"layers":[]}}"#,
        "x".repeat(10_000)
    );
    let e = Manifest::parse(long.as_bytes(), None).unwrap_err();
    let text = e.to_string();
    assert!(text.len() < 300 && !text.contains('\n'), "{text}");
    let e = Manifest::parse(b"\xff\xfe not json", None).unwrap_err();
    assert!(matches!(e, ImageError::Json { what: "manifest", .. }), "{e}");
}

#[test]
fn parses_a_config() {
    let raw = format!(
        r#"{{"architecture":"arm64","variant":"v8","os":"linux","created":"2024-01-02T03:04:05.123Z",
            "config":{{"Env":["PATH=/usr/bin"],"Cmd":["/bin/sh"],"Labels":{{"a":"b","n":1}}}},
            "rootfs":{{"type":"layers","diff_ids":["{}","{}"]}},
            "history":[{{"created_by":"ADD file"}},{{"empty_layer":true}}]}}"#,
        d('1'),
        d('2')
    );
    let c = ImageConfig::parse(raw.as_bytes()).unwrap();
    assert_eq!(c.platform().to_string(), "linux/arm64/v8");
    assert_eq!(c.created.as_deref(), Some("2024-01-02T03:04:05.123Z"));
    assert_eq!(c.rootfs.r#type, "layers");
    assert_eq!(c.rootfs.diff_ids.len(), 2);
    assert_eq!(c.history.len(), 2);
    assert_eq!(c.env(), ["PATH=/usr/bin"]);
    assert_eq!(c.cmd(), ["/bin/sh"]);
    assert!(c.entrypoint().is_empty());
    assert_eq!(c.labels().into_iter().collect::<Vec<_>>(), [("a".to_owned(), "b".to_owned())]);
    assert_eq!(ImageConfig::parse(b"{}").unwrap(), ImageConfig::default());
    assert!(ImageConfig::parse(br#"{"rootfs":{"diff_ids":["nope"]}}"#).is_err());
}

#[test]
fn platform_parsing() {
    let p = Platform::parse("linux/arm64/v8").unwrap();
    assert_eq!((p.os.as_str(), p.architecture.as_str(), p.variant.as_deref()), ("linux", "arm64", Some("v8")));
    assert_eq!(p.to_string(), "linux/arm64/v8");
    assert_eq!(Platform::parse("linux/amd64").unwrap().to_string(), "linux/amd64");
    for bad in ["", "linux", "linux/", "/amd64", "linux/arm/v7/x", "linux//v7", "linux/am d64"] {
        assert!(matches!(Platform::parse(bad), Err(ImageError::Platform { .. })), "{bad:?}");
    }
    let host = Platform::host();
    assert!(!host.os.is_empty() && !host.architecture.is_empty());
    if cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        assert_eq!(host.to_string(), "linux/amd64");
    }
    if cfg!(all(target_arch = "aarch64", target_os = "linux")) {
        assert_eq!(host.to_string(), "linux/arm64/v8");
    }
}

#[test]
fn platform_matching_table() {
    let p = |s: &str| Platform::parse(s).unwrap();
    for (have, want, expected) in [
        ("linux/amd64", "linux/amd64", true),
        ("linux/amd64", "linux/x86_64", true),
        ("linux/amd64/v1", "linux/amd64", true),
        ("linux/amd64/v2", "linux/amd64", false),
        ("linux/arm64", "linux/arm64/v8", true),
        ("linux/arm64/v8", "linux/arm64", true),
        ("linux/aarch64", "linux/arm64/v8", true),
        ("linux/arm64/v9", "linux/arm64", false),
        ("linux/arm", "linux/arm/v7", true),
        ("linux/arm/v7", "linux/arm", true),
        ("linux/arm/7", "linux/arm/v7", true),
        ("linux/armhf", "linux/arm/v7", true),
        ("linux/armel", "linux/arm/v6", true),
        ("linux/arm/v6", "linux/arm/v7", false),
        ("linux/arm/v6", "linux/arm", false),
        ("linux/386", "linux/i386", true),
        ("Linux/AMD64", "linux/amd64", true),
        ("windows/amd64", "linux/amd64", false),
        ("linux/arm64", "linux/amd64", false),
        ("linux/ppc64le", "linux/ppc64le", true),
        ("linux/s390x", "linux/s390x", true),
    ] {
        assert_eq!(p(have).matches(&p(want)), expected, "{have} vs {want}");
    }
}

#[test]
fn chooses_from_an_index() {
    let m = Manifest::parse(oci_index().as_bytes(), Some(OCI_INDEX)).unwrap();
    let idx = m.as_index().unwrap();
    let choose = |want: &str| idx.choose(&Platform::parse(want).unwrap()).map(|d| d.digest.to_string());
    assert_eq!(choose("linux/amd64"), Some(d('a')));
    assert_eq!(choose("linux/arm64"), Some(d('d')));
    assert_eq!(choose("linux/arm64/v8"), Some(d('d')));
    assert_eq!(choose("linux/arm"), Some(d('c')), "arm means arm/v7");
    assert_eq!(choose("linux/arm/v7"), Some(d('c')));
    assert_eq!(choose("linux/arm/v6"), Some(d('b')));
    assert_eq!(choose("linux/arm/v8"), Some(d('c')), "an ARMv8 CPU runs v7 when there is no v8");
    assert_eq!(choose("linux/arm/v5"), None);
    assert_eq!(choose("linux/amd64/v3"), Some(d('a')), "x86-64-v3 runs plain amd64");
    assert_eq!(choose("linux/arm64/v9"), Some(d('d')));
    assert_eq!(choose("linux/s390x"), None);
    assert_eq!(choose("windows/amd64"), None);
    // Only arm/v6 published: arm/v7 runs it.
    let only_v6 = Index { manifests: vec![idx.manifests[1].clone()], ..idx.clone() };
    assert_eq!(only_v6.choose(&Platform::parse("linux/arm/v7").unwrap()).map(|d| d.digest.to_string()), Some(d('b')));
    // A level past the highest falls back from the highest, and costs no more (these used to ask for billions
    // of fallbacks and abort on the allocation).
    assert_eq!(choose("linux/arm/v4000000000"), Some(d('c')));
    assert_eq!(choose("linux/amd64/v4294967295"), Some(d('a')));
    assert_eq!(only_v6.choose(&Platform::parse("linux/arm/v99").unwrap()).map(|d| d.digest.to_string()), Some(d('b')));
}

#[test]
fn descriptor_serde_round_trip_is_byte_stable() {
    let typical = format!(
        r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":1234,"annotations":{{"org.opencontainers.image.ref.name":"docker.io/library/alpine:latest"}},"platform":{{"architecture":"arm","os":"linux","variant":"v7"}}}}"#,
        d('f')
    );
    let desc: Descriptor = serde_json::from_str(&typical).unwrap();
    assert_eq!(serde_json::to_string(&desc).unwrap(), typical);
    let minimal = format!(r#"{{"mediaType":"{OCI_LAYER_GZIP}","digest":"{}","size":0}}"#, d('0'));
    let desc: Descriptor = serde_json::from_str(&minimal).unwrap();
    assert_eq!(desc, Descriptor::new(OCI_LAYER_GZIP, Digest::parse(&d('0')).unwrap(), 0));
    assert_eq!(serde_json::to_string(&desc).unwrap(), minimal);
    let full = format!(
        r#"{{"mediaType":"{DOCKER_FOREIGN_LAYER}","digest":"{}","size":1,"urls":["https://x"],"platform":{{"architecture":"amd64","os":"windows","os.version":"10.0.17763.1","os.features":["win32k"]}},"artifactType":"application/x"}}"#,
        d('9')
    );
    let desc: Descriptor = serde_json::from_str(&full).unwrap();
    assert!(desc.is_foreign());
    assert_eq!(desc.platform.as_ref().unwrap().os_version.as_deref(), Some("10.0.17763.1"));
    assert_eq!(serde_json::to_string(&desc).unwrap(), full);
    assert!(serde_json::from_str::<Descriptor>(r#"{"mediaType":"x","digest":"sha256:00","size":1}"#).is_err());
    assert!(serde_json::from_str::<Descriptor>(&minimal.replace(":0}", ":-1}")).is_err());
}

#[test]
fn media_type_predicates() {
    assert!(is_index(OCI_INDEX) && is_index(DOCKER_LIST) && !is_index(OCI_MANIFEST));
    assert!(
        is_image_manifest(OCI_MANIFEST) && is_image_manifest(DOCKER_MANIFEST) && !is_image_manifest(DOCKER_SCHEMA1)
    );
    assert!(is_schema1(DOCKER_SCHEMA1) && is_schema1(DOCKER_SCHEMA1_SIGNED));
    for f in [
        DOCKER_FOREIGN_LAYER,
        OCI_LAYER_NONDISTRIBUTABLE,
        OCI_LAYER_NONDISTRIBUTABLE_GZIP,
        OCI_LAYER_NONDISTRIBUTABLE_ZSTD,
    ] {
        assert!(is_foreign_layer(f), "{f}");
    }
    for f in [OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD, DOCKER_LAYER_GZIP] {
        assert!(!is_foreign_layer(f), "{f}");
    }
    assert_eq!(MANIFEST_ACCEPT, [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST]);
    assert_eq!(essence(" Application/Vnd.OCI.Image.Index.v1+json ; charset=utf-8"), OCI_INDEX);
}

#[test]
fn converts_an_oci_manifest_to_docker_schema2_as_containers_image_does() {
    let Manifest::Image(m) = Manifest::parse(oci_manifest().as_bytes(), None).unwrap() else { panic!("an image") };
    let raw = m.to_docker_schema2().unwrap();
    let (a, b, c) = (d('a'), d('b'), d('c'));
    // Go's field order (mediaType, size, digest, urls), Docker's media types, no annotations.
    let want = format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"{DOCKER_CONFIG}","size":1469,"digest":"{a}"}},"layers":[{{"mediaType":"{DOCKER_LAYER_GZIP}","size":3623807,"digest":"{b}"}},{{"mediaType":"{DOCKER_FOREIGN_LAYER}","size":1024,"digest":"{c}","urls":["https://example.com/layer.tar.gz"]}}]}}"#
    );
    assert_eq!(String::from_utf8(raw.clone()).unwrap(), want);
    // It parses back as the same image, and converting it again changes nothing.
    let Manifest::Image(again) = Manifest::parse(&raw, None).unwrap() else { panic!("an image") };
    assert_eq!(again.to_docker_schema2().unwrap(), raw);
    assert_eq!(
        again.layers.iter().map(|l| &l.digest).collect::<Vec<_>>(),
        m.layers.iter().map(|l| &l.digest).collect::<Vec<_>>()
    );

    // Go escapes &, < and > in strings; so must a manifest that is to be podman's byte for byte.
    let mut query = m.clone();
    query.layers[1].urls = vec!["https://example.com/l?a=1&b=<2>".to_owned()];
    let raw = String::from_utf8(query.to_docker_schema2().unwrap()).unwrap();
    assert!(raw.contains(r#""urls":["https://example.com/l?a=1\u0026b=\u003c2\u003e"]"#), "{raw}");
    let Manifest::Image(back) = Manifest::parse(raw.as_bytes(), None).unwrap() else { panic!("an image") };
    assert_eq!(back.layers[1].urls, query.layers[1].urls);

    let mut zstd = m.clone();
    zstd.layers[0].media_type = OCI_LAYER_ZSTD.to_owned();
    assert!(zstd.to_docker_schema2().unwrap_err().to_string().contains("zstd compression is not supported"));
    let mut artifact = m.clone();
    artifact.config.media_type = "application/vnd.example.thing+json".to_owned();
    assert!(artifact.to_docker_schema2().unwrap_err().to_string().contains("config media type"));
    let mut odd = m;
    odd.layers[0].media_type = "application/x-tar".to_owned();
    assert!(odd.to_docker_schema2().unwrap_err().to_string().contains("unknown media type"));
}

#[test]
fn an_entry_with_an_unverifiable_digest_does_not_spoil_the_index() {
    // image-spec's descriptor examples: algorithms the spec admits but hoist cannot compute.
    let other = r#"{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8","size":7,"platform":{"architecture":"s390x","os":"linux"}}"#;
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{other},{}]}}"#,
        entry(&d('a'), "amd64", None)
    );
    let m = Manifest::parse(index.as_bytes(), None).unwrap();
    let idx = m.as_index().unwrap();
    assert_eq!(idx.choose(&Platform::parse("linux/amd64").unwrap()).map(|d| d.digest.to_string()), Some(d('a')));
    let s390x = idx.choose(&Platform::parse("linux/s390x").unwrap()).unwrap();
    assert!(!s390x.digest.is_supported());
    let err = crate::digest::verify(b"1234567", &s390x.digest, Some(s390x.size)).unwrap_err();
    assert!(err.to_string().contains("\"multihash+base58\" is not supported"), "{err}");

    // The same in an image manifest's layers.
    let manifest = oci_manifest().replace(&d('b'), "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564");
    let m = Manifest::parse(manifest.as_bytes(), None).unwrap();
    assert_eq!(m.as_image().unwrap().layers[0].digest.algorithm(), "sha256+b64u");
    // A malformed digest is still a parse error, and so is a known algorithm written wrongly.
    for bad in ["sha256+foo+-b:c86f", "SHA256:c86f", &d('b').to_uppercase().replace("SHA", "sha")] {
        let manifest = oci_manifest().replace(&d('b'), bad);
        assert!(Manifest::parse(manifest.as_bytes(), None).is_err(), "{bad}");
    }
}

#[test]
fn an_index_entry_needs_a_media_type() {
    let index =
        oci_index().replacen(r#""mediaType":"application/vnd.oci.image.manifest.v1+json""#, r#""mediaType":"""#, 1);
    let err = Manifest::parse(index.as_bytes(), None).unwrap_err();
    assert!(err.to_string().contains("entry 0") && err.to_string().contains("empty mediaType"), "{err}");
    let missing = oci_index().replacen(r#""mediaType":"application/vnd.oci.image.manifest.v1+json","#, "", 1);
    assert!(Manifest::parse(missing.as_bytes(), None).is_err(), "a missing one neither");
}
