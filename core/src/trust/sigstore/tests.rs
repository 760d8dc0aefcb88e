//! Unit tests of sigstore keys and signatures within hoist; interop with an independent implementation of
//! cosign's format is in core/tests/sigstore_interop.rs.

use std::collections::BTreeMap;

use super::keys::{self, EncryptedKey};
use super::*;

const PASS: &str = "correct horse battery staple";
const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn pass() -> Zeroizing<String> {
    Zeroizing::new(PASS.to_owned())
}

/// A key pair written by hoist in a temp dir, opened as a signer.
fn signer() -> (tempfile::TempDir, KeySigner, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = write_key_pair(&dir.path().join("k"), PASS.as_bytes()).unwrap();
    let signer = KeySigner::open(&private, &pass()).unwrap();
    let public = std::fs::read(public).unwrap();
    (dir, signer, public)
}

fn signed(signer: &KeySigner, reference: &str) -> Signature {
    signer.sign(&Digest::parse(DIGEST).unwrap(), &Reference::parse_normalized(reference).unwrap()).unwrap()
}

fn parts(sig: &Signature) -> (String, Vec<u8>, BTreeMap<String, String>) {
    match sig {
        Signature::Sigstore { media_type, payload, annotations } => {
            (media_type.clone(), payload.clone(), annotations.clone())
        }
        Signature::SimpleSigning(_) => panic!("not sigstore"),
    }
}

#[test]
fn a_signature_verifies_with_its_key_and_says_what_was_signed() {
    let (_dir, signer, public) = signer();
    let sig = signed(&signer, "example.com/app:v1");
    let v = verify(&sig, std::slice::from_ref(&public)).unwrap();
    assert_eq!(v.manifest_digest.to_string(), DIGEST);
    assert_eq!(v.docker_reference, "example.com/app:v1");
    let (media_type, payload, annotations) = parts(&sig);
    assert_eq!(media_type, PAYLOAD_MEDIA_TYPE);
    let p = Payload::parse(&payload).unwrap();
    assert!(p.creator.unwrap().starts_with("hoist "));
    assert!(p.timestamp.unwrap() > 1_700_000_000);
    assert_eq!(annotations.len(), 1);
    // The public key hoist wrote is the signer's.
    assert_eq!(signer.public_key_pem().as_bytes(), public);
    // docker.io names are signed fully qualified, as containers/image does.
    let v = verify(&signed(&signer, "busybox:1"), &[public]).unwrap();
    assert_eq!(v.docker_reference, "docker.io/library/busybox:1");
}

#[test]
fn another_key_a_flipped_bit_or_a_bad_key_is_refused() {
    let (_dir, signer, public) = signer();
    let (_dir2, _other, other_public) = super::tests::signer();
    let sig = signed(&signer, "example.com/app:v1");
    let (media_type, payload, annotations) = parts(&sig);

    let err = verify(&sig, std::slice::from_ref(&other_public)).unwrap_err();
    assert!(matches!(err, SigstoreError::BadSignature { keys: 1 }), "{err}");
    // Either key may verify: the right one second is enough.
    verify(&sig, &[other_public.clone(), public.clone()]).unwrap();

    for i in 0..payload.len() {
        let mut p = payload.clone();
        p[i] ^= 0x01;
        let s = Signature::Sigstore { media_type: media_type.clone(), payload: p, annotations: annotations.clone() };
        assert!(
            matches!(verify(&s, std::slice::from_ref(&public)), Err(SigstoreError::BadSignature { .. })),
            "byte {i}"
        );
    }
    let raw = keys::base64_decode(&annotations[SIGNATURE_ANNOTATION]).unwrap();
    for i in 0..raw.len() {
        for bit in [0x01, 0x80] {
            let mut r = raw.clone();
            r[i] ^= bit;
            let mut a = annotations.clone();
            a.insert(SIGNATURE_ANNOTATION.into(), keys::base64_encode(&r));
            let s = Signature::Sigstore { media_type: media_type.clone(), payload: payload.clone(), annotations: a };
            assert!(verify(&s, std::slice::from_ref(&public)).is_err(), "signature byte {i} bit {bit:#x}");
        }
    }

    // One unusable key fails the whole check, even with a good one beside it (containers/image's rule).
    let err = verify(&sig, &[public.clone(), b"not a key".to_vec()]).unwrap_err();
    assert!(matches!(err, SigstoreError::PublicKey { index: 2, .. }), "{err}");
    assert!(matches!(verify(&sig, &[]), Err(SigstoreError::NoKeys)));
}

#[test]
fn malformed_signatures_are_refused_by_name() {
    let (_dir, signer, public) = signer();
    let (media_type, payload, annotations) = parts(&signed(&signer, "example.com/app:v1"));
    let keys = [public];
    let with = |m: &str, p: Vec<u8>, a: BTreeMap<String, String>| {
        verify(&Signature::Sigstore { media_type: m.to_owned(), payload: p, annotations: a }, &keys).unwrap_err()
    };
    assert!(matches!(with("text/plain", payload.clone(), annotations.clone()), SigstoreError::MediaType(_)));
    assert!(matches!(with(&media_type, payload.clone(), BTreeMap::new()), SigstoreError::MissingAnnotation));
    let mut a = annotations.clone();
    a.insert(SIGNATURE_ANNOTATION.into(), "%%%".into());
    assert!(matches!(with(&media_type, payload.clone(), a), SigstoreError::SignatureBase64(_)));
    let mut a = annotations.clone();
    a.insert(SIGNATURE_ANNOTATION.into(), "A".repeat(MAX_SIGNATURE_ANNOTATION + 4));
    assert!(matches!(with(&media_type, payload.clone(), a), SigstoreError::TooLarge { .. }));
    let big = vec![b' '; MAX_PAYLOAD_BYTES + 1];
    assert!(matches!(with(&media_type, big, annotations.clone()), SigstoreError::TooLarge { .. }));
    assert!(matches!(verify(&Signature::SimpleSigning(vec![1]), &keys), Err(SigstoreError::NotSigstore)));
}

#[test]
fn a_validly_signed_payload_that_is_not_cosigns_format_is_refused_after_the_check() {
    let (_dir, signer, public) = signer();
    let payload = br#"{"critical":{"type":"x"},"optional":null}"#.to_vec();
    let annotations = [(SIGNATURE_ANNOTATION.to_owned(), signer.sign_bytes(&payload))].into();
    let s = Signature::Sigstore { media_type: PAYLOAD_MEDIA_TYPE.into(), payload, annotations };
    let err = verify(&s, &[public]).unwrap_err();
    assert!(matches!(err, SigstoreError::Payload(_)), "{err}");
}

#[test]
fn a_name_without_tag_or_digest_is_not_signed() {
    let (_dir, signer, _) = signer();
    let err = signer
        .sign(&Digest::parse(DIGEST).unwrap(), &Reference::parse_normalized("example.com/app").unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("neither a tag nor a digest"), "{err}");
}

#[test]
fn private_keys_decrypt_with_either_label_and_every_accepted_scrypt_set_only() {
    let secret = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
    let pkcs8 = p256::pkcs8::EncodePrivateKey::to_pkcs8_der(&secret).unwrap();
    let want = keys::public_key_pem(p256::ecdsa::SigningKey::from(&secret).verifying_key());
    for (label, log_n) in [
        (keys::SIGSTORE_PRIVATE_KEY_LABEL, 15),
        (keys::COSIGN_PRIVATE_KEY_LABEL, 16),
        (keys::SIGSTORE_PRIVATE_KEY_LABEL, 17),
    ] {
        let pem = keys::encrypt_private_key(pkcs8.as_bytes(), PASS.as_bytes(), label, log_n).unwrap();
        let key = EncryptedKey::parse(pem.as_bytes()).unwrap();
        assert_eq!(key.label, label);
        assert_eq!(keys::public_key_pem(key.decrypt(PASS.as_bytes()).unwrap().verifying_key()), want);
        let err = key.decrypt(b"wrong").err().unwrap();
        assert!(err.contains("wrong passphrase"), "{err}");
    }
    // A hostile N (2^20 = 1 GiB of scrypt memory, 2^40) or a weaker one is refused before scrypt runs.
    let pem = keys::encrypt_private_key(pkcs8.as_bytes(), b"", keys::COSIGN_PRIVATE_KEY_LABEL, 15).unwrap();
    for n in [1u64 << 14, 1 << 20, 1 << 40, 3, 0] {
        let err = EncryptedKey::parse(&edited(&pem, |j| j["kdf"]["params"]["N"] = n.into())).err().unwrap();
        assert!(err.contains("unsupported scrypt parameters"), "{err}");
    }
}

/// The JSON inside a private key PEM, edited, re-wrapped.
fn edited(pem: &str, edit: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
    let block = keys::pem_decode(pem.as_bytes()).unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(&block.der).unwrap();
    edit(&mut json);
    keys::pem_encode(&block.label, &serde_json::to_vec(&json).unwrap()).into_bytes()
}

#[test]
fn damaged_private_key_files_are_refused_by_name() {
    let pair = generate_key_pair(b"").unwrap();
    let pem = pair.private_pem;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (edited(&pem, |j| j["kdf"]["params"]["r"] = 4096.into()), "unsupported scrypt parameters"),
        (edited(&pem, |j| j["kdf"]["params"]["p"] = 1_000_000.into()), "unsupported scrypt parameters"),
        (edited(&pem, |j| j["kdf"]["params"]["N"] = (-1).into()), "JSON is invalid"),
        (edited(&pem, |j| j["kdf"]["name"] = "argon2".into()), "unknown key derivation"),
        (edited(&pem, |j| j["cipher"]["name"] = "aes".into()), "unknown cipher"),
        (edited(&pem, |j| j["cipher"]["nonce"] = "AAAA".into()), "3-byte nonce"),
        (edited(&pem, |j| j["kdf"]["salt"] = "***".into()), "salt is not base64"),
        (edited(&pem, |j| j["kdf"]["salt"] = keys::base64_encode(&[0; 2000]).into()), "salt"),
        (edited(&pem, |j| j["ciphertext"] = serde_json::Value::Null), "JSON is invalid"),
        (pem.replace("COSIGN PRIVATE KEY", "EC PRIVATE KEY").into_bytes(), "not a cosign private key"),
        (pem.replace("-----END", "-----FIN").into_bytes(), "has no"),
        (b"hello".to_vec(), "no PEM block"),
        (vec![b'A'; keys::MAX_KEY_FILE_BYTES + 1], "limit"),
    ];
    for (input, want) in cases {
        let err = EncryptedKey::parse(&input).err().unwrap_or_else(|| panic!("accepted: {want}"));
        assert!(err.contains(want), "{err:?} should mention {want:?}");
    }
    // A flipped ciphertext bit is found by the box's tag.
    let damaged = edited(&pem, |j| {
        let mut c = keys::base64_decode(j["ciphertext"].as_str().unwrap()).unwrap();
        c[40] ^= 1;
        j["ciphertext"] = keys::base64_encode(&c).into();
    });
    let err = EncryptedKey::parse(&damaged).unwrap().decrypt(b"").err().unwrap();
    assert!(err.contains("cannot decrypt"), "{err}");
    // The passphrase never appears in an error.
    let err = EncryptedKey::parse(pem.as_bytes()).unwrap().decrypt(PASS.as_bytes()).err().unwrap();
    assert!(!err.contains(PASS));
}

#[test]
fn public_keys_of_other_algorithms_are_refused_by_name() {
    // An Ed25519 SubjectPublicKeyInfo.
    let mut der = vec![0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
    der.extend([9u8; 32]);
    let err = keys::parse_public_key(keys::pem_encode("PUBLIC KEY", &der).as_bytes()).unwrap_err();
    assert!(err.contains("Ed25519"), "{err}");
    let err = keys::parse_public_key(keys::pem_encode("RSA PUBLIC KEY", &der).as_bytes()).unwrap_err();
    assert!(err.contains("RSA"), "{err}");
    let err = keys::parse_public_key(keys::pem_encode("CERTIFICATE", &der).as_bytes()).unwrap_err();
    assert!(err.contains("CERTIFICATE"), "{err}");
    let err = keys::parse_public_key(keys::pem_encode("PUBLIC KEY", b"\x30\x00").as_bytes()).unwrap_err();
    assert!(err.contains("not a PKIX public key"), "{err}");
}

#[test]
fn pem_is_found_after_text_and_headers_are_refused() {
    let (_dir, signer, public) = signer();
    let with_text = [b"my signing key\r\n".as_slice(), &public].concat();
    let crlf = String::from_utf8(public.clone()).unwrap().replace('\n', "\r\n");
    let sig = signed(&signer, "example.com/app:v1");
    verify(&sig, &[with_text]).unwrap();
    verify(&sig, &[crlf.into_bytes()]).unwrap();
    let text = String::from_utf8(public).unwrap().replacen('\n', "\nProc-Type: 4,ENCRYPTED\n", 1);
    assert!(keys::pem_decode(text.as_bytes()).err().unwrap().contains("headers"));
}

#[test]
fn write_key_pair_makes_a_private_0600_file_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("release");
    let (private, public) = write_key_pair(&prefix, PASS.as_bytes()).unwrap();
    assert_eq!(private, dir.path().join("release.private"));
    assert_eq!(public, dir.path().join("release.pub"));
    assert_eq!(std::fs::metadata(&private).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(&public).unwrap().permissions().mode() & 0o777, 0o644);
    let text = std::fs::read_to_string(&private).unwrap();
    assert!(text.starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n"), "{text}");
    let before = (std::fs::read(&private).unwrap(), std::fs::read(&public).unwrap());
    let err = write_key_pair(&prefix, b"other").unwrap_err();
    assert!(matches!(err, SigstoreError::Exists { .. }), "{err}");
    assert_eq!(before, (std::fs::read(&private).unwrap(), std::fs::read(&public).unwrap()));

    // Only the .pub there (a dangling symlink counts): refused, and no .private is left behind.
    let other = dir.path().join("other");
    std::os::unix::fs::symlink("/nonexistent", dir.path().join("other.pub")).unwrap();
    assert!(matches!(write_key_pair(&other, b"x"), Err(SigstoreError::Exists { .. })));
    assert!(!dir.path().join("other.private").exists());
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
}

#[test]
fn key_files_that_are_fifos_or_too_big_are_refused_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    assert!(matches!(KeySigner::open(&fifo, &pass()), Err(SigstoreError::NotAFile { .. })));
    let big = dir.path().join("big");
    std::fs::write(&big, vec![b'x'; keys::MAX_KEY_FILE_BYTES + 1]).unwrap();
    assert!(matches!(KeySigner::open(&big, &pass()), Err(SigstoreError::FileTooLarge { .. })));
    let err = KeySigner::open(&dir.path().join("missing"), &pass()).err().unwrap();
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn high_and_low_s_signatures_both_verify_as_in_go() {
    // Go's ecdsa.VerifyASN1 (cosign, containers/image) and OpenSSL accept either s; so must hoist.
    let (_dir, signer, public) = signer();
    let (media_type, payload, annotations) = parts(&signed(&signer, "example.com/app:v1"));
    let raw = keys::base64_decode(&annotations[SIGNATURE_ANNOTATION]).unwrap();
    let sig = p256::ecdsa::Signature::from_der(&raw).unwrap();
    let (r, s) = sig.split_scalars();
    let other = p256::ecdsa::Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
    for candidate in [sig, other] {
        let a = [(SIGNATURE_ANNOTATION.to_owned(), keys::base64_encode(candidate.to_der().as_bytes()))].into();
        let s = Signature::Sigstore { media_type: media_type.clone(), payload: payload.clone(), annotations: a };
        verify(&s, std::slice::from_ref(&public)).unwrap();
    }
}
