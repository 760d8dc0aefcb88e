//! The payload's rules one by one (as containers/image's `signature/simple_test.go`), and verification and
//! signing against a real gpg with a key made in a temporary home.

use super::*;

const DIGEST: &str = "sha256:659f7e41827e76690689ec414bf5796252f555ba52b34ecadabf1056cfe325f9";

/// skopeo 1.9's payload, byte for byte (from `skopeo standalone-sign`).
const SKOPEO: &str = r#"{"critical":{"identity":{"docker-reference":"docker.io/library/busybox:latest"},"image":{"docker-manifest-digest":"sha256:659f7e41827e76690689ec414bf5796252f555ba52b34ecadabf1056cfe325f9"},"type":"atomic container signature"},"optional":{"creator":"atomic 5.23.1","timestamp":1796656347}}"#;

fn parse(s: &str) -> Result<Payload, String> {
    Payload::parse(s.as_bytes()).map_err(|e| e.to_string())
}

/// SKOPEO with `from` replaced by `to` (once; the replacement must happen).
fn edited(from: &str, to: &str) -> String {
    assert!(SKOPEO.contains(from), "{from}");
    SKOPEO.replacen(from, to, 1)
}

fn refused(s: &str, why: &str) {
    match parse(s) {
        Ok(p) => panic!("accepted {s}: {p:?}"),
        Err(e) => {
            assert!(e.starts_with("invalid signature payload: "), "{e}");
            assert!(e.contains(why), "{s}\n{e} lacks {why:?}");
        }
    }
}

#[test]
fn skopeo_payload_parses() {
    let p = parse(SKOPEO).unwrap();
    assert_eq!(p.manifest_digest.to_string(), DIGEST);
    assert_eq!(p.docker_reference, "docker.io/library/busybox:latest");
    assert_eq!(p.creator.as_deref(), Some("atomic 5.23.1"));
    assert_eq!(p.timestamp, Some(1796656347));
    // What hoist writes for the same content is what containers/image writes.
    assert_eq!(String::from_utf8(p.to_json()).unwrap(), SKOPEO);
}

#[test]
fn new_payload_is_hoist_now_and_round_trips() {
    let digest = Digest::parse(DIGEST).unwrap();
    let identity = Reference::parse_normalized("busybox:latest").unwrap();
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let p = Payload::new(&digest, &identity);
    assert_eq!(p.docker_reference, "docker.io/library/busybox:latest");
    assert_eq!(p.creator, Some(format!("hoist {}", env!("CARGO_PKG_VERSION"))));
    let t = p.timestamp.unwrap();
    assert!(t >= before && t <= before + 5, "{t}");
    let json = String::from_utf8(p.to_json()).unwrap();
    assert!(json.starts_with(r#"{"critical":{"identity":{"docker-reference":"docker.io/library/busybox:latest"},"image":{"docker-manifest-digest":"sha256:659f"#), "{json}");
    assert!(
        json.ends_with(&format!(
            r#""type":"atomic container signature"}},"optional":{{"creator":"hoist {}","timestamp":{t}}}}}"#,
            env!("CARGO_PKG_VERSION")
        )),
        "{json}"
    );
    assert_eq!(parse(&json).unwrap(), p);
}

#[test]
fn optional_fields_are_optional_and_unknown_ones_ignored() {
    let p = parse(&edited(r#"{"creator":"atomic 5.23.1","timestamp":1796656347}"#, "{}")).unwrap();
    assert_eq!((p.creator, p.timestamp), (None, None));
    let p = parse(&edited(r#""creator""#, r#""other":[1,{"a":{"a":1,"a":2}}],"creator""#)).unwrap();
    assert_eq!(p.creator.as_deref(), Some("atomic 5.23.1"));
    // An integer written as a float is an integer (Go reads a float64), null is Go's zero value.
    assert_eq!(parse(&edited("1796656347", "1.796656347e9")).unwrap().timestamp, Some(1796656347));
    assert_eq!(parse(&edited("1796656347", "-5")).unwrap().timestamp, Some(-5));
    assert_eq!(parse(&edited("1796656347", "null")).unwrap().timestamp, Some(0));
    assert_eq!(parse(&edited(r#""atomic 5.23.1""#, "null")).unwrap().creator.as_deref(), Some(""));
    // Whitespace around tokens is JSON.
    assert!(parse(&format!(" \n{}\n\t", SKOPEO.replace(',', " , "))).is_ok());
}

#[test]
fn top_level_rules() {
    refused("", "EOF");
    refused("[]", "JSON object expected");
    refused("null", "JSON object expected");
    refused(r#""x""#, "JSON object expected");
    refused(&format!("{SKOPEO}{{}}"), "trailing");
    refused(&format!("{SKOPEO}x"), "trailing");
    refused(&SKOPEO[..SKOPEO.len() - 1], "EOF");
    refused(&edited(r#"{"critical":"#, r#"{"extra":1,"critical":"#), r#"Unknown key "extra""#);
    refused(
        &edited(r#","optional":{"creator":"atomic 5.23.1","timestamp":1796656347}"#, ""),
        r#"Key "optional" missing"#,
    );
    let critical_only = SKOPEO.split_once(r#","optional""#).unwrap().0.to_owned() + "}";
    refused(
        &critical_only.replacen(r#"{"critical":"#, r#"{"optional":{},"critical":"#, 1).replacen(
            r#"{"optional":{},"critical":"#,
            r#"{"optional":{},"optional":{},"critical":"#,
            1,
        ),
        r#"Duplicate key "optional""#,
    );
    refused(&edited(r#"{"critical":"#, r#"{"critical":{},"critical":"#), r#"Duplicate key "critical""#);
    refused(&edited(r#"{"creator":"atomic 5.23.1","timestamp":1796656347}"#, "[]"), "JSON object expected");
    refused(&edited(r#"{"creator":"atomic 5.23.1","timestamp":1796656347}"#, "null"), "JSON object expected");
}

#[test]
fn optional_rules() {
    refused(&edited(r#""atomic 5.23.1""#, "5"), "optional.creator is a number, not a string");
    refused(&edited(r#""atomic 5.23.1""#, "{}"), "optional.creator");
    refused(&edited("1796656347", r#""1796656347""#), "optional.timestamp is a string");
    refused(&edited("1796656347", "1796656347.5"), "optional.timestamp is not an integer");
    refused(&edited("1796656347", "1e19"), "optional.timestamp is not an integer");
    refused(&edited("1796656347", "9223372036854775808"), "optional.timestamp is not an integer");
    assert_eq!(parse(&edited("1796656347", "-9223372036854775808")).unwrap().timestamp, Some(i64::MIN));
    refused(&edited("1796656347", "1e400"), "number out of range");
    refused(&edited(r#""timestamp""#, r#""creator":"x","timestamp""#), r#"Duplicate key "creator""#);
    refused(&edited(r#""timestamp""#, r#""x":1,"x":2,"timestamp""#), r#"Duplicate key "x""#);
}

#[test]
fn critical_rules() {
    refused(
        &edited(r#""type":"atomic container signature""#, r#""type":"atomic container signature","x":1"#),
        r#"Unknown key "x""#,
    );
    refused(&edited(r#","type":"atomic container signature""#, ""), r#"Key "type" missing"#);
    refused(
        &edited(r#""identity":{"docker-reference":"docker.io/library/busybox:latest"},"#, ""),
        r#"Key "identity" missing"#,
    );
    refused(
        &edited(
            r#""image":{"docker-manifest-digest":"#,
            r#""image":{"docker-manifest-digest":"sha256:1"},"image":{"docker-manifest-digest":"#,
        ),
        r#"Duplicate key "image""#,
    );
    refused(
        &edited("atomic container signature", "cosign container image signature"),
        r#"Unrecognized signature type "cosign container image signature""#,
    );
    refused(&edited(r#""atomic container signature""#, "null"), r#"Unrecognized signature type """#);
    refused(&edited(r#""atomic container signature""#, "1"), "critical.type is a number");
    refused(r#"{"critical":[],"optional":{}}"#, "JSON object expected, got an array");
    refused(r#"{"critical":"atomic container signature","optional":{}}"#, "JSON object expected, got a string");
}

#[test]
fn image_and_identity_rules() {
    refused(&edited(r#"{"docker-manifest-digest":"#, r#"{"x":1,"docker-manifest-digest":"#), r#"Unknown key "x""#);
    refused(
        &edited(
            r#"{"docker-manifest-digest":"sha256:659f7e41827e76690689ec414bf5796252f555ba52b34ecadabf1056cfe325f9"}"#,
            "{}",
        ),
        r#"Key "docker-manifest-digest" missing"#,
    );
    refused(
        &edited(r#""image":{"#, r#""image":{"docker-manifest-digest":"x","#),
        r#"Duplicate key "docker-manifest-digest""#,
    );
    refused(
        &edited(
            r#"{"docker-manifest-digest":"sha256:659f7e41827e76690689ec414bf5796252f555ba52b34ecadabf1056cfe325f9"}"#,
            "[]",
        ),
        "JSON object expected",
    );
    for bad in [
        "",
        "sha256:",
        "659f7e41827e76690689ec414bf5796252f555ba52b34ecadabf1056cfe325f9",
        "sha256:659F7E41827E76690689ec414bf5796252f555ba52b34ecadabf1056cfe325f9",
        "sha256:659f",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
    ] {
        refused(&edited(DIGEST, bad), "invalid docker-manifest-digest value");
    }
    refused(&edited(&format!(r#""{DIGEST}""#), "7"), "docker-manifest-digest is a number");
    let sha512 = format!("sha512:{}", "ab".repeat(64));
    assert_eq!(parse(&edited(DIGEST, &sha512)).unwrap().manifest_digest.to_string(), sha512);

    refused(&edited(r#"{"docker-reference":"#, r#"{"x":1,"docker-reference":"#), r#"Unknown key "x""#);
    refused(
        &edited(r#"{"docker-reference":"docker.io/library/busybox:latest"}"#, "{}"),
        r#"Key "docker-reference" missing"#,
    );
    refused(
        &edited(r#"{"docker-reference":"#, r#"{"docker-reference":"a","docker-reference":"#),
        r#"Duplicate key "docker-reference""#,
    );
    refused(&edited(r#""docker.io/library/busybox:latest""#, "true"), "docker-reference is a boolean");
    // The reference is the policy's to judge (signedIdentity); the payload keeps whatever string it holds.
    assert_eq!(parse(&edited("docker.io/library/busybox:latest", "NOT A REF")).unwrap().docker_reference, "NOT A REF");
}

#[test]
fn hostile_sizes_and_text() {
    let big = format!(r#"{{"critical":{{}},"optional":{{"x":"{}"}}}}"#, "a".repeat(MAX_PAYLOAD_SIZE));
    let e = parse(&big).unwrap_err();
    assert!(e.contains("more than the 1048576 accepted"), "{e}");
    let deep = "[".repeat(100_000);
    refused(&edited(r#"{"creator""#, &format!(r#"{{"x":{deep}"#)), "recursion limit");
    // A hostile type is quoted on one line and cut.
    let e = parse(&edited("atomic container signature", &format!("a\\nb{}", "c".repeat(500)))).unwrap_err();
    assert!(!e.contains('\n') && e.len() < 400, "{e}");
    refused(&edited("atomic container signature", "\\ud800"), "escape");
}

// ---- against a real gpg ---------------------------------------------------------------------------------

/// A GnuPG home in a temp dir holding one signing key; its agent is stopped when dropped.
struct TestKey {
    dir: tempfile::TempDir,
    fingerprint: String,
}

impl TestKey {
    fn new(passphrase: &str) -> TestKey {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
        let out = Command::new("gpg")
            .arg("--homedir")
            .arg(&home)
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", passphrase])
            .args(["--quick-gen-key", "Hoist Test <test@example.com>", "ed25519", "sign", "never"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut key = TestKey { dir, fingerprint: String::new() };
        let list = key.gpg(&["--with-colons", "--list-keys"]);
        let fingerprint = String::from_utf8(list)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("fpr:").map(|r| r.trim_matches(':').to_owned()))
            .unwrap();
        key.fingerprint = fingerprint;
        key
    }

    /// Another signing key in the same home; its fingerprint.
    fn add_key(&self, uid: &str) -> String {
        self.gpg(&[
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--quick-gen-key",
            uid,
            "ed25519",
            "sign",
            "never",
        ]);
        let list = String::from_utf8(self.gpg(&["--with-colons", "--list-keys", uid])).unwrap();
        list.lines().find_map(|l| l.strip_prefix("fpr:").map(|r| r.trim_matches(':').to_owned())).unwrap()
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn gpg(&self, args: &[&str]) -> Vec<u8> {
        let out = Command::new("gpg").arg("--homedir").arg(self.home()).arg("--batch").args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    fn public(&self, armor: bool) -> Vec<u8> {
        let fpr = self.fingerprint.clone();
        if armor { self.gpg(&["--armor", "--export", &fpr]) } else { self.gpg(&["--export", &fpr]) }
    }

    /// A "gpg" that runs the real one in this home and records its argv and environment in `log`.
    fn wrapper(&self) -> (PathBuf, PathBuf) {
        let script = self.dir.path().join("gpg-wrapper");
        let log = self.dir.path().join("log");
        let text = format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{log}'\nenv >> '{log}'\nGNUPGHOME='{home}' exec gpg \"$@\"\n",
            log = log.display(),
            home = self.home().display()
        );
        std::fs::write(&script, text).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        (script, log)
    }

    fn sign(&self, payload: &Payload, passphrase: Option<&str>) -> Result<Vec<u8>, SimpleError> {
        let signer = GpgSigner {
            fingerprint: self.fingerprint.clone(),
            passphrase: passphrase.map(|p| zeroize::Zeroizing::new(p.to_owned())),
        };
        signer.sign_with(self.wrapper().0.as_os_str(), payload)
    }
}

impl Drop for TestKey {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf").arg("--homedir").arg(self.home()).args(["--kill", "all"]).output();
    }
}

fn payload() -> Payload {
    Payload::new(&Digest::parse(DIGEST).unwrap(), &Reference::parse_normalized("registry.example/app:1").unwrap())
}

#[test]
fn signed_by_hoist_verifies_against_its_key_only() {
    let key = TestKey::new("");
    let other = TestKey::new("");
    let p = payload();
    let sig = key.sign(&p, None).unwrap();
    for armor in [true, false] {
        let v = verify(&sig, &[key.public(armor)]).unwrap();
        assert_eq!(v.manifest_digest, p.manifest_digest);
        assert_eq!(v.docker_reference, "registry.example/app:1");
        assert_eq!(v.key_fingerprint, key.fingerprint);
    }
    // Among several keys, the one that signed is reported.
    let v = verify(&sig, &[other.public(true), key.public(false)]).unwrap();
    assert_eq!(v.key_fingerprint, key.fingerprint);

    let e = verify(&sig, &[other.public(true)]).unwrap_err();
    assert!(matches!(e, SimpleError::Invalid(_)), "{e}");
    assert!(e.to_string().contains("not made by any of the accepted keys"), "{e}");

    // A flipped bit in the signature packet (its last bytes: the signature value) refuses it.
    for back in [3, 10, 20] {
        let mut flipped = sig.clone();
        let at = flipped.len() - back;
        flipped[at] ^= 0x01;
        let e = verify(&flipped, &[key.public(true)]).unwrap_err();
        assert!(matches!(e, SimpleError::Invalid(_)), "{e}");
    }
    // A flipped bit in the signed data, uncompressed so the bit lands in the payload, that leaves a valid
    // payload (another digest): the signature, not the payload rules, refuses it.
    let data = key.dir.path().join("data");
    std::fs::write(&data, p.to_json()).unwrap();
    let plain = key.gpg(&["--no-armor", "-z", "0", "--output", "-", "--sign", data.to_str().unwrap()]);
    assert_eq!(verify(&plain, &[key.public(true)]).unwrap().manifest_digest, p.manifest_digest);
    let at = plain.windows(7).position(|w| w == b"sha256:").unwrap() + 7;
    assert_eq!(plain[at], b'6');
    let mut flipped = plain.clone();
    flipped[at] ^= 0x01; // '6' -> '7'
    let e = verify(&flipped, &[key.public(true)]).unwrap_err();
    assert!(e.to_string().contains("does not match its data"), "{e}");
}

#[test]
fn a_signing_subkey_counts_as_its_primary_key() {
    // containers/image accepts a signature by a subkey of a named key and reports the primary key.
    let key = TestKey::new("");
    key.gpg(&[
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
        "--quick-add-key",
        &key.fingerprint,
        "ed25519",
        "sign",
    ]);
    let list = String::from_utf8(key.gpg(&["--with-colons", "--list-keys", &key.fingerprint])).unwrap();
    let fprs: Vec<&str> = list.lines().filter_map(|l| l.strip_prefix("fpr:")).map(|r| r.trim_matches(':')).collect();
    assert_eq!(fprs.len(), 2, "{list}");
    let subkey = fprs[1].to_owned();
    let data = key.dir.path().join("data");
    std::fs::write(&data, payload().to_json()).unwrap();
    let sig = key.gpg(&["--no-armor", "-u", &format!("{subkey}!"), "--output", "-", "--sign", data.to_str().unwrap()]);
    let v = verify(&sig, &[key.public(true)]).unwrap();
    assert_eq!(v.key_fingerprint, key.fingerprint);
    assert_ne!(v.key_fingerprint, subkey);
}

#[test]
fn a_signature_by_an_expired_key_is_refused() {
    let key = TestKey::new("");
    let uid = "Short lived <short@example.com>";
    key.gpg(&[
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
        "--quick-gen-key",
        uid,
        "ed25519",
        "sign",
        "seconds=2",
    ]);
    let data = key.dir.path().join("data");
    std::fs::write(&data, payload().to_json()).unwrap();
    let sig = key.gpg(&["--no-armor", "-u", uid, "--output", "-", "--sign", data.to_str().unwrap()]);
    let public = key.gpg(&["--export", uid]);
    std::thread::sleep(Duration::from_secs(3));
    let e = verify(&sig, &[public]).unwrap_err();
    assert!(e.to_string().contains("expired key"), "{e}");
}

#[test]
fn bad_inputs_are_refused_clearly() {
    let key = TestKey::new("");
    let sig = key.sign(&payload(), None).unwrap();
    assert!(matches!(verify(&sig, &[]), Err(SimpleError::NoKeys)));
    assert!(matches!(verify(&sig, &[b"not a key".to_vec()]), Err(SimpleError::NoKeys)));
    let e = verify(b"not a signature", &[key.public(true)]).unwrap_err();
    assert!(matches!(e, SimpleError::Invalid(_)), "{e}");
    let e = verify(&vec![0u8; MAX_SIGNATURE_SIZE + 1], &[key.public(true)]).unwrap_err();
    assert!(e.to_string().contains("the signature is 4194305 bytes"), "{e}");
    let e = verify(&sig, &[vec![0u8; MAX_KEY_SIZE + 1]]).unwrap_err();
    assert!(matches!(e, SimpleError::TooLarge { .. }), "{e}");

    // Two signatures in one message, both good and by accepted keys: refused, as containers/image does.
    let second = key.add_key("Second <second@example.com>");
    let data = key.dir.path().join("data");
    std::fs::write(&data, payload().to_json()).unwrap();
    let both = ["--no-armor", "-u", &key.fingerprint, "-u", &second, "--output", "-", "--sign", data.to_str().unwrap()];
    let double = key.gpg(&both);
    let keys = [key.public(true), key.gpg(&["--export", &second])];
    let e = verify(&double, &keys).unwrap_err();
    assert!(e.to_string().contains("expected exactly one signature, found 2"), "{e}");
    // Each alone is fine.
    let single = key.gpg(&["--no-armor", "-u", &second, "--output", "-", "--sign", data.to_str().unwrap()]);
    assert_eq!(verify(&single, &keys).unwrap().key_fingerprint, second);

    // A signed message inside a signed message: the outer one verifies, its literal data is no payload.
    let twice = key.dir.path().join("twice");
    std::fs::write(&twice, &sig).unwrap();
    let nested = key.gpg(&["--no-armor", "--output", "-", "--sign", twice.to_str().unwrap()]);
    let e = verify(&nested, &[key.public(true)]).unwrap_err();
    assert!(matches!(e, SimpleError::Payload(_)), "{e}");

    // A signed payload that is valid JSON but not a payload: verified, then refused by the payload rules.
    let odd = key.dir.path().join("odd");
    std::fs::write(&odd, br#"{"critical":{},"optional":{}}"#).unwrap();
    let sig = key.gpg(&["--no-armor", "--output", "-", "--sign", odd.to_str().unwrap()]);
    let e = verify(&sig, &[key.public(true)]).unwrap_err();
    assert!(matches!(e, SimpleError::Payload(_)), "{e}");

    // A compression bomb: 16 MiB of spaces compress to a few KiB; gpg stops at the payload cap.
    let bomb = key.dir.path().join("bomb");
    std::fs::write(&bomb, vec![b' '; 16 << 20]).unwrap();
    let sig = key.gpg(&["--no-armor", "--compress-level", "9", "--output", "-", "--sign", bomb.to_str().unwrap()]);
    assert!(sig.len() < MAX_SIGNATURE_SIZE, "{}", sig.len());
    let e = verify(&sig, &[key.public(true)]).unwrap_err();
    assert!(matches!(e, SimpleError::Invalid(_) | SimpleError::TooLarge { .. }), "{e}");
}

#[test]
fn passphrase_goes_through_stdin_only() {
    let secret = "correct horse battery staple";
    let key = TestKey::new(secret);
    let p = payload();
    // The wrong one first: once right, the agent caches it.
    let e = key.sign(&p, Some("wrong")).unwrap_err().to_string();
    assert!(e.starts_with("gpg could not sign: with key ") && !e.contains("wrong"), "{e}");
    let sig = key.sign(&p, Some(secret)).unwrap();
    assert_eq!(verify(&sig, &[key.public(true)]).unwrap().key_fingerprint, key.fingerprint);
    let log = std::fs::read_to_string(key.wrapper().1).unwrap();
    assert!(log.contains("--passphrase-fd") && log.contains("loopback"), "{log}");
    assert!(!log.contains("horse"), "the passphrase reached argv or the environment:\n{log}");
    let e = TestKey::new("").sign_with_fpr("0000000000000000000000000000000000000000");
    assert!(e.contains("gpg could not sign"), "{e}");
}

impl TestKey {
    fn sign_with_fpr(&self, fpr: &str) -> String {
        let signer = GpgSigner { fingerprint: fpr.into(), passphrase: None };
        signer.sign_with(self.wrapper().0.as_os_str(), &payload()).unwrap_err().to_string()
    }
}

#[test]
fn missing_gpg_and_a_hung_gpg() {
    let dir = tempfile::tempdir().unwrap();
    let gpg = Gpg { program: dir.path().join("no-such-gpg"), timeout: VERIFY_TIMEOUT };
    let e = gpg.verify(b"x", &[b"k".to_vec()]).unwrap_err();
    assert!(matches!(e, SimpleError::GpgMissing));
    assert!(e.to_string().contains("install the package `gnupg`"), "{e}");
    let signer = GpgSigner { fingerprint: "ABCD".into(), passphrase: None };
    let e = signer.sign_with(dir.path().join("no-such-gpg").as_os_str(), &payload()).unwrap_err();
    assert!(matches!(e, SimpleError::GpgMissing), "{e}");

    let hang = dir.path().join("hang");
    std::fs::write(&hang, "#!/bin/sh\nexec sleep 30\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hang, std::fs::Permissions::from_mode(0o755)).unwrap();
    let gpg = Gpg { program: hang, timeout: Duration::from_millis(300) };
    let start = Instant::now();
    let e = gpg.verify(b"x", &[b"k".to_vec()]).unwrap_err();
    assert!(matches!(e, SimpleError::Timeout { .. }), "{e}");
    assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
}
