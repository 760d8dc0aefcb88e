//! GPG simple signing against skopeo 1.9 (containers/image's gpgme mechanism), without a registry: a
//! signature `skopeo standalone-sign` makes is verified by hoist's `trust::simple::verify` with only the
//! exported public key, and a signature hoist's `GpgSigner` makes passes `skopeo standalone-verify`; another
//! key, a flipped bit and another manifest are refused both ways. Keys are made for the test in a temporary
//! GnuPG home.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use harness::process::require;
use hoist_core::digest::Digest;
use hoist_core::reference::Reference;
use hoist_core::trust::simple::{self, GpgSigner, SimpleError};
use hoist_core::trust::{Signature, Signer};

const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
const REFERENCE: &str = "registry.example:5000/team/app:1.0";

/// A temporary GnuPG home with keys made in it; its agent is stopped at the end.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        require("gpg", "gnupg");
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("gnupg")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path().join("gnupg"), std::fs::Permissions::from_mode(0o700)).unwrap();
        Home { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("gnupg")
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn gpg(&self, args: &[&str]) -> Vec<u8> {
        let out = Command::new("gpg").env("GNUPGHOME", self.path()).arg("--batch").args(args).output().unwrap();
        assert!(out.status.success(), "gpg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    /// A new ed25519 signing key (with `passphrase`, "" for none); its fingerprint.
    fn new_key(&self, name: &str, passphrase: &str) -> String {
        let uid = format!("{name} <{name}@example.com>");
        self.gpg(&[
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            passphrase,
            "--quick-gen-key",
            &uid,
            "ed25519",
            "sign",
            "never",
        ]);
        let list = String::from_utf8(self.gpg(&["--with-colons", "--list-keys", &uid])).unwrap();
        list.lines().find_map(|l| l.strip_prefix("fpr:").map(|r| r.trim_matches(':').to_owned())).unwrap()
    }

    fn public(&self, fpr: &str, armor: bool) -> Vec<u8> {
        if armor { self.gpg(&["--armor", "--export", fpr]) } else { self.gpg(&["--export", fpr]) }
    }

    fn skopeo(&self, args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
        let skopeo = require("skopeo", "skopeo");
        Command::new(skopeo).env("GNUPGHOME", self.path()).args(args.iter().map(|a| a.as_ref())).output().unwrap()
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf").env("GNUPGHOME", self.path()).args(["--kill", "all"]).output();
    }
}

fn flipped(sig: &[u8], at: usize) -> Vec<u8> {
    let mut s = sig.to_vec();
    s[at] ^= 0x01;
    s
}

#[test]
fn skopeo_standalone_sign_is_verified_by_hoist_with_only_the_public_key() {
    let home = Home::new();
    let fpr = home.new_key("signer", "");
    let other = home.new_key("other", "");
    let manifest = home.file("manifest.json", MANIFEST.as_bytes());
    let sig_path = home.dir.path().join("signature-1");
    let out = home.skopeo(&[&"standalone-sign", &manifest, &REFERENCE, &fpr, &"-o", &sig_path]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sig = std::fs::read(&sig_path).unwrap();

    for armor in [true, false] {
        let v = simple::verify(&sig, &[home.public(&fpr, armor)]).unwrap();
        assert_eq!(v.manifest_digest, Digest::sha256(MANIFEST.as_bytes()));
        assert_eq!(v.docker_reference, REFERENCE);
        assert_eq!(v.key_fingerprint, fpr);
    }
    // Another manifest's digest is not what the signature says (the policy compares the two).
    let v = simple::verify(&sig, &[home.public(&other, true), home.public(&fpr, true)]).unwrap();
    assert_ne!(v.manifest_digest, Digest::sha256(b"{}"));

    // Another key: refused, although the signer's key sits in the GnuPG home the test made (hoist never
    // reads a keyring it was not given).
    let e = simple::verify(&sig, &[home.public(&other, true)]).unwrap_err();
    assert!(matches!(e, SimpleError::Invalid(_)), "{e}");
    // A flipped bit anywhere in the literal data or the signature packet.
    for at in [20, sig.len() / 2, sig.len() - 10] {
        let e = simple::verify(&flipped(&sig, at), &[home.public(&fpr, true)]).unwrap_err();
        assert!(matches!(e, SimpleError::Invalid(_) | SimpleError::Payload(_)), "bit at {at}: {e}");
    }
}

#[test]
fn hoist_gpg_signer_signature_passes_skopeo_standalone_verify() {
    let home = Home::new();
    let fpr = home.new_key("hoist-signer", "");
    let guarded = home.new_key("guarded", "s3cret passphrase");
    let other = home.new_key("bystander", "");
    // GpgSigner uses the user's GnuPG: $GNUPGHOME. Only this test in this binary reads it.
    unsafe { std::env::set_var("GNUPGHOME", home.path()) };

    let manifest = home.file("manifest.json", MANIFEST.as_bytes());
    let other_manifest = home.file("other.json", MANIFEST.replace("[]", "[ ]").as_bytes());
    let digest = Digest::sha256(MANIFEST.as_bytes());
    let identity = Reference::parse_normalized(REFERENCE).unwrap();

    let signer = GpgSigner { fingerprint: fpr.clone(), passphrase: None };
    assert_eq!(signer.describe(), format!("GPG key {fpr}"));
    let Signature::SimpleSigning(sig) = signer.sign(&digest, &identity).unwrap() else { panic!("not simple") };
    let sig_path = home.file("signature-1", &sig);
    let verify = |m: &Path, f: &str, s: &Path| home.skopeo(&[&"standalone-verify", &m, &REFERENCE, &f, &s]);

    let out = verify(&manifest, &fpr, &sig_path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}{}", stdout, String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("Signature verified, digest {digest}")), "{stdout}");

    let refused = |out: Output, why: &str| {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{why}: accepted");
        assert!(err.contains("Error verifying signature"), "{why}: {err}");
    };
    refused(verify(&manifest, &other, &sig_path), "another key");
    refused(verify(&other_manifest, &fpr, &sig_path), "another manifest");
    refused(
        home.skopeo(&[&"standalone-verify", &manifest, &"registry.example:5000/team/other:1.0", &fpr, &sig_path]),
        "another reference",
    );
    let flipped_path = home.file("flipped", &flipped(&sig, sig.len() / 2));
    refused(verify(&manifest, &fpr, &flipped_path), "a flipped bit");

    // A passphrase-protected key, the passphrase given to gpg on a pipe; the wrong one first (once right,
    // the agent caches it).
    let signer = GpgSigner { fingerprint: guarded.clone(), passphrase: Some("wrong".to_owned().into()) };
    let e = signer.sign(&digest, &identity).unwrap_err().to_string();
    assert!(e.contains("gpg could not sign"), "{e}");
    let signer = GpgSigner { fingerprint: guarded.clone(), passphrase: Some("s3cret passphrase".to_owned().into()) };
    let Signature::SimpleSigning(sig) = signer.sign(&digest, &identity).unwrap() else { panic!("not simple") };
    let guarded_sig = home.file("signature-2", &sig);
    let out = verify(&manifest, &guarded, &guarded_sig);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // And hoist reads its own signature the way it reads skopeo's.
    let v = simple::verify(&sig, &[home.public(&guarded, false)]).unwrap();
    assert_eq!(
        (v.manifest_digest, v.docker_reference.as_str(), v.key_fingerprint),
        (digest.clone(), REFERENCE, guarded.clone())
    );
}
