//! Sigstore signatures end to end over a real distribution registry, against an implementation that is not
//! hoist's: tests/tools/cosign_format.py (Python `cryptography` + PyNaCl, written from cosign's published
//! format) makes key pairs and signs cosign's payload; the test writes the `sha256-HEX.sig` attachment as
//! cosign does (an OCI manifest, config `{}`, one `application/vnd.dev.cosign.simplesigning.v1+json` layer
//! per payload with the base64 signature in `dev.cosignproject.cosign/signature`) and skopeo pushes it.
//! hoist, with registries.d `use-sigstore-attachments: true` and a `sigstoreSigned` policy, accepts it and
//! refuses another key, another repository and no signature, storing nothing on refusal. The other way:
//! `hoist generate-sigstore-key`, `hoist push --sign-by-sigstore-private-key` and `hoist sign` write
//! attachments that skopeo copies out and the Python helper verifies; attachments travel with `hoist copy` and
//! pull → push, and `hoist sign` appends to the Python-made one.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use harness::hoist::HoistWorld;
use harness::podman::Containers;
use harness::registry::{Options, Registry};
use harness::{Run, run};
use serde_json::{Value, json};

const PASS: &str = "Sigstore-E2E-Passphrase-77a1";
const PAYLOAD_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const ANNOTATION: &str = "dev.cosignproject.cosign/signature";

fn unb64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// tests/tools/cosign_format.py ARGS.
fn python(args: &[&str]) -> Run {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/cosign_format.py");
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(tool).args(args);
    run(&mut cmd, b"")
}

/// A Python-made cosign key pair: `PREFIX.key` (encrypted with the passphrase file) and `PREFIX.pub`.
struct PyKey {
    private: PathBuf,
    public: PathBuf,
}

/// hoist and skopeo around one registry, one registries.d (sigstore attachments on) and one policy file.
struct World {
    _reg: Registry,
    host: String,
    c: Containers,
    w: HoistWorld,
    registries_d: PathBuf,
    policy: PathBuf,
    pass_file: PathBuf,
}

impl World {
    fn new() -> World {
        let reg = Registry::start(Options::default());
        let host = reg.host();
        let c = Containers::new(std::slice::from_ref(&host));
        let w = HoistWorld::new(&format!(
            "unqualified-search-registries = []\n[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"
        ));
        let registries_d = w.path("registries.d");
        std::fs::create_dir_all(&registries_d).unwrap();
        std::fs::write(registries_d.join("default.yaml"), "default-docker:\n  use-sigstore-attachments: true\n")
            .unwrap();
        let pass_file = w.path("pass");
        std::fs::write(&pass_file, format!("{PASS}\n")).unwrap();
        let policy = w.path("policy.json");
        std::fs::write(&policy, r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).unwrap();
        World { _reg: reg, host, c, w, registries_d, policy, pass_file }
    }

    fn py_key(&self, name: &str) -> PyKey {
        let prefix = self.w.path(name);
        let p = prefix.to_str().unwrap();
        python(&["generate-key-pair", "--output-prefix", p, "--passphrase-file", self.pass_file.to_str().unwrap()])
            .expect_ok("python generate-key-pair");
        PyKey { private: self.w.path(&format!("{name}.key")), public: self.w.path(&format!("{name}.pub")) }
    }

    /// A policy that rejects everything but `HOST/ns`, which needs a sigstore signature by `public`.
    fn require_sigstore(&self, public: &Path) {
        let json = format!(
            r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"{}/ns":[{{"type":"sigstoreSigned","keyPath":"{}"}}]}}}}}}"#,
            self.host,
            public.display()
        );
        std::fs::write(&self.policy, json).unwrap();
    }

    fn trust_flags(&self) -> [String; 2] {
        [
            format!("--signature-policy={}", self.policy.display()),
            format!("--registries.d={}", self.registries_d.display()),
        ]
    }

    fn hoist(&self, args: &[&str]) -> Run {
        self.w.run(args, b"", &Vec::new())
    }

    fn pull(&self, image: &str) -> Run {
        let [p, d] = self.trust_flags();
        self.hoist(&["pull", &p, &d, image])
    }

    fn images(&self) -> usize {
        let out = self.hoist(&["images", "--format", "json"]).expect_ok("hoist images");
        serde_json::from_str::<Vec<Value>>(&out.out()).unwrap().len()
    }

    /// Every file of hoist's store (a refusal must leave it as it was).
    fn store_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                if e.file_type().unwrap().is_dir() {
                    walk(&e.path(), out);
                } else {
                    out.push(e.path());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.w.path("store"), &mut out);
        out.sort();
        out
    }

    /// skopeo copies a one-file OCI layout (unsigned) to `image`; returns its manifest digest.
    fn skopeo_push(&self, image: &str, name: &str) -> String {
        let layout = self.c.path(&format!("layout-{name}"));
        let digest = harness::image::write_oci_layout(&layout, "v1", &[(name, name.as_bytes())]);
        self.skopeo_copy_layout(&layout, "v1", image);
        digest
    }

    fn skopeo_copy_layout(&self, layout: &Path, tag: &str, image: &str) {
        let policy = format!("--policy={}", self.c.policy.display());
        let src = format!("oci:{}:{tag}", layout.display());
        self.c
            .skopeo(&["copy", &policy, "--dest-tls-verify=false", &src, &format!("docker://{image}")])
            .expect_ok("skopeo copy");
    }

    /// The Python helper signs cosign's payload for (digest, reference) with `key`; the layer it gives.
    fn py_sign(&self, key: &PyKey, digest: &str, reference: &str) -> Value {
        self.py_sign_optional(key, digest, reference, "null")
    }

    /// As [`World::py_sign`], with `optional` (JSON) in the payload, as `cosign sign -a KEY=VALUE` writes.
    fn py_sign_optional(&self, key: &PyKey, digest: &str, reference: &str, optional: &str) -> Value {
        let out = python(&[
            "sign",
            "--key",
            key.private.to_str().unwrap(),
            "--passphrase-file",
            self.pass_file.to_str().unwrap(),
            "--digest",
            digest,
            "--reference",
            reference,
            "--optional",
            optional,
        ])
        .expect_ok("python sign");
        serde_json::from_str(&out.out()).unwrap()
    }

    /// Writes cosign's attachment for `digest` of `repo` (one layer per signature) as an OCI layout and has
    /// skopeo push it to the tag `sha256-HEX.sig`.
    fn attach(&self, repo: &str, digest: &str, signatures: &[Value]) {
        let hex = digest.strip_prefix("sha256:").unwrap();
        let dir = self.c.path(&format!("sig-{}", &hex[..12]));
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        let put = |data: &[u8]| {
            let h = sha256_hex(data);
            std::fs::write(dir.join("blobs/sha256").join(&h), data).unwrap();
            (format!("sha256:{h}"), data.len())
        };
        let (config, config_size) = put(b"{}");
        let layers: Vec<Value> = signatures
            .iter()
            .map(|s| {
                assert_eq!(s["mediaType"], PAYLOAD_TYPE);
                let (d, size) = put(&unb64(s["payload"].as_str().unwrap()));
                json!({"mediaType": PAYLOAD_TYPE, "digest": d, "size": size, "annotations": s["annotations"]})
            })
            .collect();
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_size},
            "layers": layers
        }))
        .unwrap();
        let (m, m_size) = put(&manifest);
        let tag = format!("sha256-{hex}.sig");
        let index = json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m, "size": m_size,
            "annotations": {"org.opencontainers.image.ref.name": tag}
        }]});
        std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        self.skopeo_copy_layout(&dir, &tag, &format!("{}/{repo}:{tag}", self.host));
    }

    /// The attachment of `digest` in `repo`, copied out by skopeo: each layer's (media type, payload,
    /// annotations).
    fn attachment(&self, repo: &str, digest: &str) -> Vec<(String, Vec<u8>, Value)> {
        let hex = digest.strip_prefix("sha256:").unwrap();
        let dir = self.c.path(&format!("out-{}", &hex[..12]));
        let _ = std::fs::remove_dir_all(&dir);
        let policy = format!("--policy={}", self.c.policy.display());
        let src = format!("docker://{}/{repo}:sha256-{hex}.sig", self.host);
        self.c
            .skopeo(&["copy", &policy, "--src-tls-verify=false", &src, &format!("dir:{}", dir.display())])
            .expect_ok("skopeo copies the .sig attachment out");
        let manifest: Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest["mediaType"], "application/vnd.oci.image.manifest.v1+json", "{manifest}");
        assert_eq!(manifest["config"]["mediaType"], "application/vnd.oci.image.config.v1+json", "{manifest}");
        manifest["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let hex = l["digest"].as_str().unwrap().strip_prefix("sha256:").unwrap();
                let payload = std::fs::read(dir.join(hex)).unwrap();
                (l["mediaType"].as_str().unwrap().to_string(), payload, l["annotations"].clone())
            })
            .collect()
    }

    /// The Python helper verifies one attachment layer with `public`: Ok((digest, reference)) or Err(why).
    fn py_verify(&self, public: &Path, payload: &[u8], annotations: &Value) -> Result<(String, String), String> {
        let file = tempfile::NamedTempFile::new_in(self.w.path("tmp")).unwrap();
        std::fs::write(file.path(), payload).unwrap();
        let out = python(&[
            "verify",
            "--public-key",
            public.to_str().unwrap(),
            "--payload-file",
            file.path().to_str().unwrap(),
            "--signature",
            annotations[ANNOTATION].as_str().unwrap_or(""),
        ]);
        if !out.ok() {
            return Err(out.err());
        }
        let v: Value = serde_json::from_str(&out.out()).unwrap();
        Ok((v["digest"].as_str().unwrap().to_string(), v["reference"].as_str().unwrap().to_string()))
    }

    /// The manifest digest of `image` as the registry serves it.
    fn registry_digest(&self, image: &str) -> String {
        let raw = self.c.skopeo(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{image}")]);
        format!("sha256:{}", sha256_hex(&raw.expect_ok("skopeo inspect --raw").stdout))
    }
}

fn rejected(out: &Run, must: &str) {
    assert_ne!(out.code, Some(0), "{out:?}");
    let err = out.err();
    assert!(err.contains("Source image rejected"), "{err}");
    assert!(err.contains(must), "{must:?} not in {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn python_signed_attachments_are_accepted_only_with_their_key_and_identity() {
    let t = World::new();
    let host = t.host.clone();
    let (key, other) = (t.py_key("release"), t.py_key("other"));
    t.require_sigstore(&key.public);

    // Signed by the policy's key, for this reference: accepted, by tag and by digest.
    let digest = t.skopeo_push(&format!("{host}/ns/app:1"), "signed");
    t.attach("ns/app", &digest, &[t.py_sign(&key, &digest, &format!("{host}/ns/app:1"))]);
    t.pull(&format!("{host}/ns/app:1")).expect_ok("pull of a Python-signed image under sigstoreSigned");
    assert_eq!(t.images(), 1);
    t.pull(&format!("{host}/ns/app@{digest}")).expect_ok("pull by digest (matchRepoDigestOrExact: the repository)");

    // `trust check` lists the signature as accepted.
    let [p, d] = t.trust_flags();
    let out = t.hoist(&["trust", "check", &p, &d, &format!("{host}/ns/app:1")]).expect_ok("trust check");
    let text = out.out();
    assert!(text.contains("Signatures found: 1"), "{text}");
    assert!(text.contains("signature 1 (sigstore): accepted"), "{text}");
    assert!(text.contains(&format!("for {host}/ns/app:1 at {digest}")), "{text}");
    assert!(text.contains("Result:   allowed"), "{text}");
    let before = t.store_files();

    // Signed by another key: refused, nothing stored.
    let d2 = t.skopeo_push(&format!("{host}/ns/other-key:1"), "other-key");
    t.attach("ns/other-key", &d2, &[t.py_sign(&other, &d2, &format!("{host}/ns/other-key:1"))]);
    rejected(&t.pull(&format!("{host}/ns/other-key:1")), "not signed by the key");
    let out = t.hoist(&["trust", "check", &p, &d, &format!("{host}/ns/other-key:1")]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.out().contains("signature 1 (sigstore): refused"), "{}", out.out());

    // The right key, but the payload names another repository: refused (matchRepoDigestOrExact).
    let d3 = t.skopeo_push(&format!("{host}/ns/moved:1"), "moved");
    t.attach("ns/moved", &d3, &[t.py_sign(&key, &d3, &format!("{host}/ns/elsewhere:1"))]);
    rejected(&t.pull(&format!("{host}/ns/moved:1")), &format!("identity \"{host}/ns/elsewhere:1\" is not accepted"));
    rejected(&t.pull(&format!("{host}/ns/moved@{d3}")), "ns/elsewhere");

    // The right key and repository, but the payload is for another digest: refused.
    let d4 = t.skopeo_push(&format!("{host}/ns/digest:1"), "digest");
    t.attach("ns/digest", &d4, &[t.py_sign(&key, &digest, &format!("{host}/ns/digest:1"))]);
    rejected(&t.pull(&format!("{host}/ns/digest:1")), &format!("Signature for digest {digest} does not match"));

    // No attachment at all: refused.
    t.skopeo_push(&format!("{host}/ns/unsigned:1"), "unsigned");
    rejected(&t.pull(&format!("{host}/ns/unsigned:1")), "no signature exists");

    // A good signature next to a bad one is enough (any signature may satisfy the requirement).
    let d5 = t.skopeo_push(&format!("{host}/ns/two:1"), "two");
    let r5 = format!("{host}/ns/two:1");
    // The good one carries cosign's user annotations in `optional`, which verification ignores.
    let annotated = t.py_sign_optional(&key, &d5, &r5, r#"{"commit":"c0ffee","pipeline":"release"}"#);
    t.attach("ns/two", &d5, &[t.py_sign(&other, &d5, &r5), annotated]);
    assert_eq!(t.store_files(), before, "no refusal wrote to the store");
    assert_eq!(t.images(), 1);
    t.pull(&r5).expect_ok("one of two signatures by the policy's key");
    assert_eq!(t.images(), 2);
}

#[test]
fn hoist_sigstore_signatures_verify_with_the_python_helper() {
    let t = World::new();
    let host = t.host.clone();
    let prefix = t.w.path("hoist-key");
    let pf = t.pass_file.to_str().unwrap().to_string();
    t.hoist(&["generate-sigstore-key", "--output-prefix", prefix.to_str().unwrap(), "--passphrase-file", &pf])
        .expect_ok("generate-sigstore-key");
    let (private, public) = (t.w.path("hoist-key.private"), t.w.path("hoist-key.pub"));
    let stranger = t.py_key("stranger");

    // The image enters hoist's store unsigned, and leaves signed.
    t.skopeo_push(&format!("{host}/src/app:1"), "to-sign");
    t.pull(&format!("{host}/src/app:1")).expect_ok("pull under insecureAcceptAnything");
    let [p, d] = t.trust_flags();
    let k = private.to_str().unwrap();
    let dest = format!("{host}/ns/signed:1");
    let out = t
        .hoist(&[
            "push",
            &p,
            &d,
            "--sign-by-sigstore-private-key",
            k,
            "--sign-passphrase-file",
            &pf,
            &format!("{host}/src/app:1"),
            &format!("docker://{dest}"),
        ])
        .expect_ok("hoist push --sign-by-sigstore-private-key");
    assert!(!out.out().contains(PASS) && !out.err().contains(PASS));
    let digest = t.registry_digest(&dest);
    let layers = t.attachment("ns/signed", &digest);
    assert_eq!(layers.len(), 1, "one signature");
    let (media_type, payload, annotations) = &layers[0];
    assert_eq!(media_type, PAYLOAD_TYPE);
    assert_eq!(t.py_verify(&public, payload, annotations), Ok((digest.clone(), dest.clone())));
    assert!(t.py_verify(&stranger.public, payload, annotations).is_err(), "another key does not verify it");
    let mut flipped = payload.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 1;
    assert!(t.py_verify(&public, &flipped, annotations).is_err(), "a bit flip does not verify");

    // `hoist sign` signs an image already on the registry, without moving it.
    let later = format!("{host}/ns/later:1");
    let d2 = t.skopeo_push(&later, "later");
    let out = t
        .hoist(&["sign", &d, "--sign-by-sigstore-private-key", k, "--sign-passphrase-file", &pf, &later])
        .expect_ok("hoist sign");
    assert!(out.out().contains(&d2), "{}", out.out());
    assert_eq!(t.registry_digest(&later), d2, "the image did not move");
    let layers = t.attachment("ns/later", &d2);
    assert_eq!(layers.len(), 1);
    let (media_type, payload, annotations) = &layers[0];
    assert_eq!(media_type, PAYLOAD_TYPE);
    assert_eq!(t.py_verify(&public, payload, annotations), Ok((d2.clone(), later.clone())));

    // Signing again, as another identity, adds a layer after the first; both verify. (Signing again as the
    // same identity within the same second may give the very same layer, which is skipped, as containers/image
    // does: p256 signs deterministically.)
    let alias = format!("{host}/ns/alias:1");
    t.hoist(&[
        "sign",
        &d,
        "--sign-by-sigstore-private-key",
        k,
        "--sign-passphrase-file",
        &pf,
        "--sign-identity",
        &alias,
        &later,
    ])
    .expect_ok("hoist sign --sign-identity");
    let layers = t.attachment("ns/later", &d2);
    assert_eq!(layers.len(), 2);
    assert_eq!(t.py_verify(&public, &layers[0].1, &layers[0].2), Ok((d2.clone(), later.clone())));
    assert_eq!(t.py_verify(&public, &layers[1].1, &layers[1].2), Ok((d2.clone(), alias.clone())));

    // hoist, under a policy with the key hoist made, accepts both; a policy with another key refuses.
    t.require_sigstore(&public);
    t.pull(&dest).expect_ok("hoist accepts its push's signature");
    t.pull(&later).expect_ok("hoist accepts its sign's signatures");
    t.require_sigstore(&stranger.public);
    let before = t.store_files();
    rejected(&t.pull(&dest), "not signed by the key");
    assert_eq!(t.store_files(), before);
}

#[test]
fn python_signed_attachments_travel_with_copy_and_push() {
    let t = World::new();
    let host = t.host.clone();
    let key = t.py_key("release");
    let src = format!("{host}/ns/app:1");
    let digest = t.skopeo_push(&src, "travels");
    t.attach("ns/app", &digest, &[t.py_sign(&key, &digest, &src)]);
    t.require_sigstore(&key.public);
    let [p, d] = t.trust_flags();

    // Registry to registry: the attachment is copied as it is (the same payload and signature).
    let original = t.attachment("ns/app", &digest);
    t.hoist(&["copy", &p, &d, &format!("docker://{src}"), &format!("docker://{host}/ns/copied:1")])
        .expect_ok("hoist copy of a signed image");
    assert_eq!(t.attachment("ns/copied", &digest), original, "the signature travelled unchanged");
    // It still names ns/app, so under matchRepoDigestOrExact the copy is refused, by tag and by digest.
    rejected(&t.pull(&format!("{host}/ns/copied:1")), &format!("identity \"{src}\" is not accepted"));
    rejected(&t.pull(&format!("{host}/ns/copied@{digest}")), &format!("identity \"{src}\" is not accepted"));

    // --remove-signatures leaves it behind.
    t.hoist(&[
        "copy",
        &p,
        &d,
        "--remove-signatures",
        &format!("docker://{src}"),
        &format!("docker://{host}/ns/bare:1"),
    ])
    .expect_ok("hoist copy --remove-signatures");
    rejected(&t.pull(&format!("{host}/ns/bare:1")), "no signature exists");

    // Through the store: pull keeps the signature, push writes it to the new repository.
    t.pull(&src).expect_ok("pull of the signed image");
    // (The store is a source the policy judges too: its default rejects; accept anything for the push.)
    std::fs::write(&t.policy, r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).unwrap();
    t.hoist(&["push", &p, &d, &src, &format!("docker://{host}/ns/pushed:1")]).expect_ok("hoist push");
    let pushed = t.attachment("ns/pushed", &digest);
    assert_eq!(pushed, original, "pull then push carries the signature");
    let (_, payload, annotations) = &pushed[0];
    assert_eq!(t.py_verify(&key.public, payload, annotations), Ok((digest.clone(), src.clone())));

    // `hoist sign` adds its layer to the attachment the Python helper made (config `{}`), keeping that one.
    let prefix = t.w.path("hoist-key");
    let pf = t.pass_file.to_str().unwrap().to_string();
    t.hoist(&["generate-sigstore-key", "--output-prefix", prefix.to_str().unwrap(), "--passphrase-file", &pf])
        .expect_ok("generate-sigstore-key");
    let k = t.w.path("hoist-key.private");
    t.hoist(&["sign", &d, "--sign-by-sigstore-private-key", k.to_str().unwrap(), "--sign-passphrase-file", &pf, &src])
        .expect_ok("hoist sign of a Python-signed image");
    let both = t.attachment("ns/app", &digest);
    assert_eq!(both.len(), 2, "one layer added");
    assert_eq!(both[0], original[0], "the Python layer kept as it was");
    let hoist_pub = t.w.path("hoist-key.pub");
    assert_eq!(t.py_verify(&hoist_pub, &both[1].1, &both[1].2), Ok((digest.clone(), src.clone())));
    // Either key's policy accepts the image now.
    t.require_sigstore(&hoist_pub);
    t.pull(&src).expect_ok("pull under the key hoist made");
}

#[test]
fn a_signed_index_needs_its_chosen_instance_signed_too() {
    use harness::image::{ImageSpec, write_layout};
    let t = World::new();
    let host = t.host.clone();
    let key = t.py_key("release");
    t.require_sigstore(&key.public);
    let arch = if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" };
    let other = if arch == "amd64" { "arm64" } else { "amd64" };

    let push_index = |repo: &str, seed: u64| {
        let dir = t.c.path(&format!("index-{seed}"));
        let specs = [ImageSpec::random(arch, 1, 4096, seed), ImageSpec::random(other, 1, 4096, seed + 1)];
        let layout = write_layout(&dir, "v1", &specs);
        let policy = format!("--policy={}", t.c.policy.display());
        let src = format!("oci:{}:v1", dir.display());
        let dst = format!("docker://{host}/{repo}:1");
        t.c.skopeo(&["copy", "--all", &policy, "--dest-tls-verify=false", &src, &dst]).expect_ok("skopeo copy --all");
        layout
    };

    // cosign's `sign --recursive`: the index and each instance signed. Accepted.
    let all = push_index("ns/multi", 31);
    let reference = format!("{host}/ns/multi:1");
    for d in [&all.top, &all.manifests[0], &all.manifests[1]] {
        t.attach("ns/multi", d, &[t.py_sign(&key, d, &reference)]);
    }
    t.pull(&reference).expect_ok("pull of an index signed recursively");
    assert_eq!(t.images(), 1);
    let before = t.store_files();

    // Only the index signed: the chosen instance has no signature, refused (containers/image checks both).
    let top_only = push_index("ns/top-only", 41);
    let reference = format!("{host}/ns/top-only:1");
    t.attach("ns/top-only", &top_only.top, &[t.py_sign(&key, &top_only.top, &reference)]);
    rejected(&t.pull(&reference), "no signature exists");

    // Only the instances signed: the index itself is refused first.
    let inner_only = push_index("ns/inner-only", 51);
    let reference = format!("{host}/ns/inner-only:1");
    for d in &inner_only.manifests {
        t.attach("ns/inner-only", d, &[t.py_sign(&key, d, &reference)]);
    }
    rejected(&t.pull(&reference), "no signature exists");
    assert_eq!(t.store_files(), before, "nothing stored on refusal");

    // As docs/trust.md says: `hoist sign` the index's tag, then the instance by digest as that tag.
    let prefix = t.w.path("hoist-key");
    let pf = t.pass_file.to_str().unwrap().to_string();
    t.hoist(&["generate-sigstore-key", "--output-prefix", prefix.to_str().unwrap(), "--passphrase-file", &pf])
        .expect_ok("generate-sigstore-key");
    t.require_sigstore(&t.w.path("hoist-key.pub"));
    let d = format!("--registries.d={}", t.registries_d.display());
    let k = t.w.path("hoist-key.private");
    let sign = |image: &str, identity: &str| {
        let k = k.to_str().unwrap();
        let mut args = vec!["sign", &d, "--sign-by-sigstore-private-key", k, "--sign-passphrase-file", &pf];
        if !identity.is_empty() {
            args.extend(["--sign-identity", identity]);
        }
        args.push(image);
        t.hoist(&args).expect_ok("hoist sign")
    };
    let reference = format!("{host}/ns/top-only:1");
    sign(&reference, "");
    rejected(&t.pull(&reference), "no signature exists");
    sign(&format!("{host}/ns/top-only@{}", top_only.manifests[0]), &reference);
    t.pull(&reference).expect_ok("index and instance signed with hoist sign");
}
