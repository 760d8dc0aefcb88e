//! Sigstore keys and signatures against an implementation that is not hoist's: tests/tools/cosign_format.py,
//! written from cosign's published format with Python's `cryptography` and PyNaCl (Debian's
//! /usr/bin/python3 with python3-cryptography and python3-nacl, installed by scripts/setup-debian.sh).
//! Both ways: what it makes, hoist reads and verifies; what hoist makes, it decrypts and verifies; a
//! signature by another key or with a flipped bit is refused by both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use hoist_core::digest::Digest;
use hoist_core::reference::Reference;
use hoist_core::trust::sigstore::{
    self, KeySigner, PAYLOAD_MEDIA_TYPE, SIGNATURE_ANNOTATION, SigstoreError, write_key_pair,
};
use hoist_core::trust::{Signature, Signer};
use zeroize::Zeroizing;

const DIGEST: &str = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270";
const PASS: &str = "interop passphrase \u{e9}";

fn tool() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/tools/cosign_format.py")
}

/// Runs the Python helper; its stdout on success, else its stderr as the error.
fn python(args: &[&str]) -> Result<String, String> {
    let out = Command::new("/usr/bin/python3").arg(tool()).args(args).output().expect("run /usr/bin/python3");
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

struct Dir {
    dir: tempfile::TempDir,
    pass_file: String,
}

impl Dir {
    fn new() -> Dir {
        let dir = tempfile::tempdir().unwrap();
        let pass_file = dir.path().join("pass");
        std::fs::write(&pass_file, format!("{PASS}\nnot part of it\n")).unwrap();
        Dir { pass_file: pass_file.to_str().unwrap().to_owned(), dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }

    fn passphrase(&self) -> Zeroizing<String> {
        hoist_core::trust::passphrase::read_passphrase_file(Path::new(&self.pass_file)).unwrap()
    }

    /// A key pair made by the Python helper: (private, public) paths.
    fn python_key(&self, name: &str, label: &str, scrypt_n: u32) -> (String, String) {
        let prefix = self.path(name);
        let n = scrypt_n.to_string();
        python(&[
            "generate-key-pair",
            "--output-prefix",
            &prefix,
            "--passphrase-file",
            &self.pass_file,
            "--label",
            label,
            "--scrypt-n",
            &n,
        ])
        .unwrap();
        (format!("{prefix}.key"), format!("{prefix}.pub"))
    }

    /// A signature made by the Python helper, as a [`Signature`].
    fn python_sign(&self, key: &str, reference: &str, optional: &str) -> Signature {
        let out = python(&[
            "sign",
            "--key",
            key,
            "--passphrase-file",
            &self.pass_file,
            "--digest",
            DIGEST,
            "--reference",
            reference,
            "--optional",
            optional,
        ])
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let payload = base64::engine::general_purpose::STANDARD.decode(v["payload"].as_str().unwrap()).unwrap();
        let annotations: BTreeMap<String, String> = serde_json::from_value(v["annotations"].clone()).unwrap();
        Signature::Sigstore { media_type: v["mediaType"].as_str().unwrap().to_owned(), payload, annotations }
    }

    /// Asks the Python helper to verify a signature with a public key file.
    fn python_verify(&self, public: &str, sig: &Signature) -> Result<serde_json::Value, String> {
        let Signature::Sigstore { payload, annotations, .. } = sig else { panic!("not sigstore") };
        let payload_file = self.path("payload");
        std::fs::write(&payload_file, payload).unwrap();
        let out = python(&[
            "verify",
            "--public-key",
            public,
            "--payload-file",
            &payload_file,
            "--signature",
            &annotations[SIGNATURE_ANNOTATION],
        ])?;
        Ok(serde_json::from_str(&out).unwrap())
    }
}

fn flipped(sig: &Signature, at: usize) -> Signature {
    let Signature::Sigstore { media_type, payload, annotations } = sig.clone() else { panic!("not sigstore") };
    let mut payload = payload;
    payload[at] ^= 0x20;
    Signature::Sigstore { media_type, payload, annotations }
}

#[test]
fn keys_and_signatures_made_by_the_python_helper_are_accepted_by_hoist() {
    let d = Dir::new();
    // cosign >= 2.0's label and scrypt parameters, and the older label with the legacy N.
    for (name, label, n) in [("new", "sigstore", 1 << 16), ("old", "cosign", 1 << 15)] {
        let (private, public) = d.python_key(name, label, n);
        let public_pem = std::fs::read(&public).unwrap();

        // hoist decrypts the Python key: the public key it derives is the one Python wrote.
        let signer = KeySigner::open(Path::new(&private), &d.passphrase()).unwrap();
        assert_eq!(signer.public_key_pem().as_bytes(), public_pem, "{label}");

        // cosign's own payload ("optional": null, the repository without a tag) verifies.
        let sig = d.python_sign(&private, "registry.example.com/team/app", "null");
        let v = sigstore::verify(&sig, std::slice::from_ref(&public_pem)).unwrap();
        assert_eq!(v.manifest_digest, Digest::parse(DIGEST).unwrap());
        assert_eq!(v.docker_reference, "registry.example.com/team/app");
        // containers/image's form, with optional fields.
        let sig2 = d.python_sign(&private, "registry.example.com/team/app:v1", r#"{"creator":"x","timestamp":7}"#);
        assert_eq!(
            sigstore::verify(&sig2, std::slice::from_ref(&public_pem)).unwrap().docker_reference,
            "registry.example.com/team/app:v1"
        );

        // Another key, a flipped bit: refused.
        let other = std::fs::read(d.python_key(&format!("{name}-other"), label, n).1).unwrap();
        assert!(matches!(sigstore::verify(&sig, &[other]), Err(SigstoreError::BadSignature { .. })));
        assert!(matches!(
            sigstore::verify(&flipped(&sig, 20), std::slice::from_ref(&public_pem)),
            Err(SigstoreError::BadSignature { .. })
        ));

        // The wrong passphrase: refused, not a garbage key.
        let err = KeySigner::open(Path::new(&private), &Zeroizing::new("wrong".to_owned())).err().unwrap();
        assert!(err.to_string().contains("wrong passphrase"), "{err}");
    }
}

#[test]
fn keys_and_signatures_made_by_hoist_are_accepted_by_the_python_helper() {
    let d = Dir::new();
    let (private, public) = write_key_pair(Path::new(&d.path("hoist")), d.passphrase().as_bytes()).unwrap();
    let (private, public) = (private.to_str().unwrap().to_owned(), public.to_str().unwrap().to_owned());

    // Python decrypts hoist's private key (the passphrase's first line) to the public key hoist wrote.
    let derived = python(&["public-key", "--key", &private, "--passphrase-file", &d.pass_file]).unwrap();
    assert_eq!(derived, std::fs::read_to_string(&public).unwrap());
    let wrong = d.path("wrong");
    std::fs::write(&wrong, "wrong\n").unwrap();
    assert!(python(&["public-key", "--key", &private, "--passphrase-file", &wrong]).is_err());

    // Python verifies hoist's signature and reads hoist's payload.
    let signer = KeySigner::open(Path::new(&private), &d.passphrase()).unwrap();
    let reference = Reference::parse_normalized("registry.example.com/team/app:v1").unwrap();
    let sig = signer.sign(&Digest::parse(DIGEST).unwrap(), &reference).unwrap();
    let Signature::Sigstore { media_type, .. } = &sig else { panic!("not sigstore") };
    assert_eq!(media_type, PAYLOAD_MEDIA_TYPE);
    let v = d.python_verify(&public, &sig).unwrap();
    assert_eq!(v["digest"], DIGEST);
    assert_eq!(v["reference"], "registry.example.com/team/app:v1");
    assert!(v["optional"]["creator"].as_str().unwrap().starts_with("hoist "));

    // Python refuses it with another key, and with a flipped bit.
    let (_, other_public) = d.python_key("other", "sigstore", 1 << 15);
    assert!(d.python_verify(&other_public, &sig).unwrap_err().contains("verification failed"));
    assert!(d.python_verify(&public, &flipped(&sig, 30)).unwrap_err().contains("verification failed"));
}
