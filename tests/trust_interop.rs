//! Image trust end to end against the real peers: a real distribution registry, GPG simple signatures made by
//! skopeo 1.9 (`copy --sign-by`) and checked by hoist under a containers-policy.json(5) `signedBy`
//! requirement, and the other way: hoist's `push --sign-by` accepted by `skopeo --policy ... copy`.
//! Signatures live in a lookaside store on `file://` configured by containers-registries.d(5) YAML, read by
//! both programs from the same directory.

use std::path::PathBuf;
use std::process::Command;

use harness::hoist::HoistWorld;
use harness::podman::Containers;
use harness::process::{env_pair, require};
use harness::registry::{Options, Registry};
use harness::{Run, run};

/// A throwaway GnuPG home with one signing key (ed25519, no passphrase), its public key exported.
struct Gpg {
    home: tempfile::TempDir,
    fingerprint: String,
    public: PathBuf,
}

impl Gpg {
    fn new(email: &str) -> Gpg {
        require("gpg", "gnupg");
        let home = tempfile::Builder::new().prefix("hoist-gpg-").tempdir().unwrap();
        std::fs::set_permissions(home.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let gpg = |args: &[&str]| {
            let mut cmd = Command::new("gpg");
            cmd.env("GNUPGHOME", home.path()).args(["--batch", "--no-tty"]).args(args);
            run(&mut cmd, b"")
        };
        gpg(&["--passphrase", "", "--quick-gen-key", email, "ed25519", "sign", "never"]).expect_ok("gpg key");
        let list = gpg(&["--list-keys", "--with-colons", email]).expect_ok("gpg --list-keys").out();
        let fingerprint = list
            .lines()
            .find_map(|l| l.strip_prefix("fpr:").map(|r| r.trim_matches(':').to_string()))
            .expect("a fingerprint");
        let public = home.path().join("public.gpg");
        let exported = gpg(&["--export", email]).expect_ok("gpg --export");
        assert!(!exported.stdout.is_empty());
        std::fs::write(&public, &exported.stdout).unwrap();
        Gpg { home, fingerprint, public }
    }
}

/// hoist and skopeo sharing one registries.d (a lookaside on `file://DIR/sigs`) and one policy file.
struct Trust {
    _reg: Registry,
    host: String,
    c: Containers,
    w: HoistWorld,
    gpg: Gpg,
    registries_d: PathBuf,
    policy: PathBuf,
}

impl Trust {
    fn new() -> Trust {
        let reg = Registry::start(Options::default());
        let host = reg.host();
        let gpg = Gpg::new("signer@example.com");
        let c = Containers::new(std::slice::from_ref(&host)).with_env(vec![env_pair("GNUPGHOME", gpg.home.path())]);
        let w = HoistWorld::new(&format!(
            "unqualified-search-registries = []\n[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"
        ));
        let registries_d = w.path("registries.d");
        std::fs::create_dir_all(&registries_d).unwrap();
        let sigs = w.path("sigs");
        std::fs::write(
            registries_d.join("default.yaml"),
            format!("default-docker:\n  lookaside: file://{0}\n  lookaside-staging: file://{0}\n", sigs.display()),
        )
        .unwrap();
        let policy = w.path("policy.json");
        let t = Trust { _reg: reg, host, c, w, gpg, registries_d, policy };
        t.set_policy(&t.signed_by_for(&format!("{}/ns", t.host)));
        t
    }

    /// A policy that rejects everything but `scope`, which needs a signature by the test key.
    fn signed_by_for(&self, scope: &str) -> String {
        format!(
            r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"{scope}":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":"{}"}}]}}}}}}"#,
            self.gpg.public.display()
        )
    }

    fn set_policy(&self, json: &str) {
        std::fs::write(&self.policy, json).unwrap();
    }

    fn hoist(&self, args: &[&str]) -> Run {
        let extra = vec![env_pair("GNUPGHOME", self.gpg.home.path())];
        self.w.run(args, b"", &extra)
    }

    fn trust_flags(&self) -> [String; 2] {
        [
            format!("--signature-policy={}", self.policy.display()),
            format!("--registries.d={}", self.registries_d.display()),
        ]
    }

    /// `hoist pull` under the policy and registries.d.
    fn pull(&self, image: &str) -> Run {
        let [p, d] = self.trust_flags();
        self.hoist(&["pull", &p, &d, image])
    }

    /// skopeo copy of a one-file OCI layout to `image`, signed by the test key when `sign`.
    fn skopeo_push(&self, image: &str, name: &str, sign: bool) -> String {
        let layout = self.c.path(&format!("layout-{name}"));
        let digest = harness::image::write_oci_layout(&layout, "v1", &[(name, name.as_bytes())]);
        let policy = format!("--policy={}", self.c.policy.display());
        let rd = format!("--registries.d={}", self.registries_d.display());
        let src = format!("oci:{}:v1", layout.display());
        let dst = format!("docker://{image}");
        let mut args = vec![rd.as_str(), "copy", &policy, "--dest-tls-verify=false"];
        if sign {
            args.extend(["--sign-by", &self.gpg.fingerprint]);
        }
        args.extend([src.as_str(), dst.as_str()]);
        self.c.skopeo(&args).expect_ok("skopeo copy");
        digest
    }

    fn images(&self) -> usize {
        let out = self.hoist(&["images", "--format", "json"]).expect_ok("hoist images");
        serde_json::from_str::<Vec<serde_json::Value>>(&out.out()).unwrap().len()
    }

    fn lookaside(&self, repo: &str, digest: &str) -> PathBuf {
        self.w.path("sigs").join(format!("{repo}@{}", digest.replace(':', "=")))
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
fn skopeo_signed_image_is_accepted_only_with_its_signature_and_identity() {
    let t = Trust::new();
    let host = t.host.clone();
    let digest = t.skopeo_push(&format!("{host}/ns/app:1"), "signed", true);
    assert!(t.lookaside("ns/app", &digest).join("signature-1").is_file(), "skopeo wrote its signature");

    // Signed by the key the policy names, for this reference: accepted.
    let out = t.pull(&format!("{host}/ns/app:1"));
    out.expect_ok("pull of a signed image under signedBy");
    assert_eq!(t.images(), 1);

    // Unsigned, in the same scope: refused before anything is stored.
    t.skopeo_push(&format!("{host}/ns/unsigned:1"), "unsigned", false);
    let out = t.pull(&format!("{host}/ns/unsigned:1"));
    rejected(&out, "signature");
    assert_eq!(t.images(), 1, "the refused image is not in the store");

    // The signed image copied (with its signature) under another repository: the signature names ns/app, so
    // the default matchRepoDigestOrExact identity refuses it.
    let policy = format!("--policy={}", t.c.policy.display());
    let rd = format!("--registries.d={}", t.registries_d.display());
    t.c.skopeo(&[
        &rd,
        "copy",
        &policy,
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{host}/ns/app:1"),
        &format!("docker://{host}/ns/moved:1"),
    ])
    .expect_ok("skopeo copy keeps the signature");
    assert!(t.lookaside("ns/moved", &digest).join("signature-1").is_file(), "the signature travelled");
    let out = t.pull(&format!("{host}/ns/moved:1"));
    rejected(&out, "ns/app");
    assert_eq!(t.images(), 1);

    // Outside the scope, the default rejects.
    t.skopeo_push(&format!("{host}/elsewhere/app:1"), "elsewhere", true);
    let out = t.pull(&format!("{host}/elsewhere/app:1"));
    rejected(&out, "");
    assert_eq!(t.images(), 1);

    // skopeo agrees on each (its own verdicts, same policy and signatures).
    let dir = t.c.path("skopeo-check");
    let check = |image: &str| {
        let _ = std::fs::remove_dir_all(&dir);
        let p = format!("--policy={}", t.policy.display());
        t.c.skopeo(&[&rd, "copy", &p, "--src-tls-verify=false", image, &format!("dir:{}", dir.display())])
    };
    assert_eq!(check(&format!("docker://{host}/ns/app:1")).code, Some(0));
    assert_ne!(check(&format!("docker://{host}/ns/unsigned:1")).code, Some(0));
    assert_ne!(check(&format!("docker://{host}/ns/moved:1")).code, Some(0));
}

#[test]
fn signatures_travel_with_hoist_pull_push_and_copy_unless_removed() {
    let t = Trust::new();
    let host = t.host.clone();
    let digest = t.skopeo_push(&format!("{host}/ns/app:1"), "travels", true);
    // The store is trusted to push from; registry images need the key's signature.
    let signed_by = t.signed_by_for(&format!("{host}/ns"));
    t.set_policy(&signed_by.replace(
        r#""transports":{"#,
        r#""transports":{"containers-storage":{"":[{"type":"insecureAcceptAnything"}]},"#,
    ));
    t.pull(&format!("{host}/ns/app:1")).expect_ok("pull of the signed image");
    let [p, d] = t.trust_flags();

    // pull → store → push: the signature the pull brought goes to the new repository.
    let pushed = format!("docker://{host}/ns/pushed:1");
    t.hoist(&["push", &p, &d, &format!("{host}/ns/app:1"), &pushed]).expect_ok("push");
    let sig = std::fs::read(t.lookaside("ns/app", &digest).join("signature-1")).unwrap();
    assert_eq!(std::fs::read(t.lookaside("ns/pushed", &digest).join("signature-1")).unwrap(), sig);

    // registry → registry copy carries it too; --remove-signatures leaves it behind.
    let (from, copied, bare) = (
        format!("docker://{host}/ns/app:1"),
        format!("docker://{host}/ns/copied:1"),
        format!("docker://{host}/ns/bare:1"),
    );
    t.hoist(&["copy", &p, &d, "--src-tls-verify=false", "--dest-tls-verify=false", &from, &copied]).expect_ok("copy");
    assert_eq!(std::fs::read(t.lookaside("ns/copied", &digest).join("signature-1")).unwrap(), sig);
    t.hoist(&[
        "copy",
        &p,
        &d,
        "--remove-signatures",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &from,
        &bare,
    ])
    .expect_ok("copy --remove-signatures");
    assert!(!t.lookaside("ns/bare", &digest).exists(), "no signature copied");

    // The carried signature still names ns/app: skopeo refuses ns/copied under the same policy, as hoist does.
    let out = t.pull(&format!("{host}/ns/copied:1"));
    rejected(&out, "ns/app");
}

#[test]
fn hoist_signed_push_passes_skopeo_policy() {
    let t = Trust::new();
    let host = t.host.clone();
    // The image enters hoist's store unsigned, under an accepting policy...
    t.skopeo_push(&format!("{host}/src/app:1"), "to-sign", false);
    t.set_policy(r#"{"default":[{"type":"insecureAcceptAnything"}]}"#);
    t.pull(&format!("{host}/src/app:1")).expect_ok("pull under insecureAcceptAnything");

    // ... and leaves it signed by the test key.
    let [p, d] = t.trust_flags();
    let dest = format!("docker://{host}/ns/signed:1");
    let out = t.hoist(&["push", &p, &d, "--sign-by", &t.gpg.fingerprint, &format!("{host}/src/app:1"), &dest]);
    out.expect_ok("hoist push --sign-by");
    let raw = t.c.skopeo(&["inspect", "--raw", "--tls-verify=false", &dest]).expect_ok("inspect").stdout;
    let digest = format!("sha256:{}", hex_sha256(&raw));
    assert!(t.lookaside("ns/signed", &digest).join("signature-1").is_file(), "hoist wrote signature-1");
    let plain = format!("docker://{host}/ns/plain:1");
    t.hoist(&["push", &p, &d, &format!("{host}/src/app:1"), &plain]).expect_ok("hoist push without signing");
    assert!(!t.lookaside("ns/plain", &digest).exists(), "no signature for an unsigned push");

    // skopeo, with the key in a policy, accepts it; and hoist reads its own signature back.
    t.set_policy(&t.signed_by_for(&format!("{host}/ns")));
    let dir = t.c.path("skopeo-verified");
    let policy = format!("--policy={}", t.policy.display());
    let rd = format!("--registries.d={}", t.registries_d.display());
    t.c.skopeo(&[&rd, "copy", &policy, "--src-tls-verify=false", &dest, &format!("dir:{}", dir.display())])
        .expect_ok("skopeo accepts hoist's signature");
    t.pull(&format!("{host}/ns/signed:1")).expect_ok("hoist accepts its own signature");

    // The copy pushed without signing: skopeo refuses it.
    let _ = std::fs::remove_dir_all(&dir);
    let out = t.c.skopeo(&[
        &rd,
        "copy",
        &policy,
        "--src-tls-verify=false",
        &format!("docker://{host}/ns/plain:1"),
        &format!("dir:{}", dir.display()),
    ]);
    assert_ne!(out.code, Some(0), "skopeo refuses the unsigned image: {out:?}");
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}
