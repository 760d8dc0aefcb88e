//! Every name form [`ImageName::parse`] accepts, and the ones it refuses, with the variant that says why.

use std::path::PathBuf;

use super::*;

fn archive(format: Format, path: &str, reference: Option<&str>) -> ImageName {
    ImageName::Archive { format, path: PathBuf::from(path), reference: reference.map(str::to_owned) }
}

#[test]
fn registry_names_are_normalised_with_latest_by_default() {
    let r = |s: &str| Reference::parse_normalized(s).unwrap();
    assert_eq!(ImageName::parse("docker://alpine").unwrap(), ImageName::Registry(r("docker.io/library/alpine:latest")));
    assert_eq!(ImageName::parse("docker://quay.io/org/app:1").unwrap(), ImageName::Registry(r("quay.io/org/app:1")));
    let digest = format!("sha256:{}", "a".repeat(64));
    let by_digest = ImageName::parse(&format!("docker://localhost:5000/app@{digest}")).unwrap();
    assert_eq!(by_digest, ImageName::Registry(r(&format!("localhost:5000/app@{digest}"))));
    assert_eq!(by_digest.transport(), "docker");
    assert!(!by_digest.is_tar());
}

#[test]
fn store_names_are_kept_as_typed() {
    assert_eq!(ImageName::parse("store:alpine").unwrap(), ImageName::Store("alpine".into()));
    assert_eq!(ImageName::parse("store:7fa90c1ddf11").unwrap(), ImageName::Store("7fa90c1ddf11".into()));
    assert_eq!(ImageName::parse("store:alpine").unwrap().transport(), "store");
}

#[test]
fn archive_and_directory_names_split_path_and_reference() {
    assert_eq!(ImageName::parse("oci:/tmp/layout").unwrap(), archive(Format::OciDir, "/tmp/layout", None));
    assert_eq!(ImageName::parse("oci:/tmp/layout:v1").unwrap(), archive(Format::OciDir, "/tmp/layout", Some("v1")));
    assert_eq!(ImageName::parse("oci:/tmp/layout:").unwrap(), archive(Format::OciDir, "/tmp/layout", None));
    assert_eq!(ImageName::parse("oci-archive:x.tar:v2").unwrap(), archive(Format::OciArchive, "x.tar", Some("v2")));
    assert_eq!(
        ImageName::parse("docker-archive:x.tar:example.com/app:1").unwrap(),
        archive(Format::DockerArchive, "x.tar", Some("example.com/app:1")),
        "the reference is everything after the path's colon"
    );
    assert_eq!(
        ImageName::parse("docker-archive:x.tar:@1").unwrap(),
        archive(Format::DockerArchive, "x.tar", Some("@1"))
    );
    assert_eq!(
        ImageName::parse("dir:/tmp/a:b").unwrap(),
        archive(Format::DockerDir, "/tmp/a:b", None),
        "dir: has no reference"
    );
    assert!(ImageName::parse("docker-archive:x.tar").unwrap().is_tar());
    assert!(ImageName::parse("oci-archive:x.tar").unwrap().is_tar());
    assert!(!ImageName::parse("oci:d").unwrap().is_tar());
    assert!(!ImageName::parse("dir:d").unwrap().is_tar());
}

#[test]
fn names_print_as_they_parse() {
    for s in [
        "docker://quay.io/org/app:1",
        "store:alpine",
        "oci:/tmp/l:v1",
        "oci-archive:x.tar",
        "docker-archive:x.tar:a:1",
        "dir:/d",
    ] {
        assert_eq!(ImageName::parse(s).unwrap().to_string(), s);
        assert_eq!(s.parse::<ImageName>().unwrap().to_string(), s);
    }
}

#[test]
fn an_empty_path_or_store_name_is_refused() {
    for (name, transport) in [
        ("oci:", "oci"),
        ("oci::v1", "oci"),
        ("oci-archive:", "oci-archive"),
        ("docker-archive::a:1", "docker-archive"),
        ("dir:", "dir"),
    ] {
        assert_eq!(
            ImageName::parse(name).unwrap_err(),
            NameError::NoPath { name: name.to_owned(), transport },
            "{name}"
        );
    }
    assert_eq!(ImageName::parse("store:").unwrap_err(), NameError::NoStoreName { name: "store:".into() });
    assert_eq!(ImageName::parse("oci:").unwrap_err().to_string(), "invalid image name \"oci:\": no path after oci:");
}

#[test]
fn an_unknown_transport_or_a_bare_name_is_refused() {
    for name in ["alpine", "docker:alpine", "containers-storage:alpine", "docker-daemon", "OCI:/tmp/x", ""] {
        assert_eq!(ImageName::parse(name).unwrap_err(), NameError::UnknownTransport(name.to_owned()), "{name:?}");
    }
    assert!(ImageName::parse("alpine").unwrap_err().to_string().contains("expected TRANSPORT:REFERENCE"));
}

#[test]
fn a_bad_registry_reference_is_refused_as_one() {
    for name in ["docker://", "docker://Upper/Case", "docker://app:bad tag", "docker://app@sha256:short"] {
        assert!(matches!(ImageName::parse(name), Err(NameError::Reference(_))), "{name}: {:?}", ImageName::parse(name));
    }
}

#[test]
fn docker_daemon_names_a_tagged_reference_never_a_digest() {
    let n = ImageName::parse("docker-daemon:app").unwrap();
    assert_eq!(n.to_string(), "docker-daemon:docker.io/library/app:latest");
    assert_eq!(n.transport(), "docker-daemon");
    assert!(n.is_stream() && !n.is_tar());
    let n = n.with_daemon_host(Some("unix:///x.sock"));
    assert!(matches!(&n, ImageName::Daemon { host: Some(h), .. } if h == "unix:///x.sock"));
    let digest = format!("docker-daemon:app@sha256:{}", "a".repeat(64));
    assert_eq!(ImageName::parse(&digest).unwrap_err(), NameError::DaemonDigest { name: digest.clone() });
    assert!(ImageName::parse("docker-daemon:").is_err());
    assert!(ImageName::parse("docker-daemon:UPPER").is_err());
    // Another transport's name keeps no host.
    assert_eq!(ImageName::parse("store:a").unwrap().with_daemon_host(Some("tcp://h:1")), ImageName::Store("a".into()));
}
