//! `hoist generate-sigstore-key`, end to end: the key pair it writes is cosign's format (checked by
//! tests/tools/cosign_format.py, an implementation that is not hoist's), the private key is 0600, nothing is
//! overwritten, the passphrase comes from a file's first line or twice from the terminal and is never shown.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use harness::hoist::HoistWorld;
use harness::{bin, require};

const PASS: &str = "Sigstore-Canary-Passphrase-5c1e";

fn python_public_key(key: &Path, pass_file: &Path) -> Result<String, String> {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/cosign_format.py");
    let out = Command::new("/usr/bin/python3")
        .arg(tool)
        .args(["public-key", "--key"])
        .arg(key)
        .arg("--passphrase-file")
        .arg(pass_file)
        .output()
        .expect("run /usr/bin/python3");
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn files(w: &HoistWorld, dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(w.path(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn generate_sigstore_key_writes_cosigns_format_and_never_overwrites() {
    let w = HoistWorld::new("");
    std::fs::create_dir(w.path("keys")).unwrap();
    let pass_file = w.path("pass");
    std::fs::write(&pass_file, format!("{PASS}\nsecond line, not part of it\n")).unwrap();
    let prefix = w.path("keys/release");
    let args = ["generate-sigstore-key", "--output-prefix", prefix.to_str().unwrap(), "--passphrase-file"];
    let args = [&args[..], &[pass_file.to_str().unwrap()]].concat();

    let run = w.run(&args, b"", &vec![]).expect_ok("generate-sigstore-key");
    let (private, public) = (w.path("keys/release.private"), w.path("keys/release.pub"));
    assert_eq!(run.out().trim(), format!("Key written to {:?} and {:?}", private.display(), public.display()));
    assert!(!run.out().contains(PASS) && !run.err().contains(PASS));
    assert_eq!(std::fs::metadata(&private).unwrap().permissions().mode() & 0o777, 0o600);
    let private_text = std::fs::read_to_string(&private).unwrap();
    assert!(private_text.starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n"), "{private_text}");
    assert!(!private_text.contains(PASS));

    // Another implementation decrypts it with the file's first line, to the public key hoist wrote.
    let public_text = std::fs::read_to_string(&public).unwrap();
    assert!(public_text.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert_eq!(python_public_key(&private, &pass_file).unwrap(), public_text);
    let wrong = w.path("wrong");
    std::fs::write(&wrong, "wrong\n").unwrap();
    assert!(python_public_key(&private, &wrong).is_err());

    // Again: refused, both files as they were, nothing else left in the directory.
    let again = w.run(&args, b"", &vec![]);
    assert_eq!(again.code, Some(125));
    assert!(
        again.err().contains("refusing to overwrite existing") && again.err().contains("release.private"),
        "{}",
        again.err()
    );
    assert_eq!(std::fs::read_to_string(&private).unwrap(), private_text);
    assert_eq!(std::fs::read_to_string(&public).unwrap(), public_text);
    // Only the .pub there: still refused, no .private made.
    std::fs::remove_file(&private).unwrap();
    let again = w.run(&args, b"", &vec![]);
    assert_eq!(again.code, Some(125), "{}", again.err());
    assert!(again.err().contains("release.pub"), "{}", again.err());
    assert_eq!(files(&w, "keys"), ["release.pub"]);
}

#[test]
fn generate_sigstore_key_without_a_passphrase_source_or_with_an_empty_one_writes_nothing() {
    let w = HoistWorld::new("");
    std::fs::create_dir(w.path("keys")).unwrap();
    let prefix = w.path("keys/k");
    let p = prefix.to_str().unwrap();

    // No terminal (the harness detaches hoist from it) and no file: one clear line.
    let run = w.run(&["generate-sigstore-key", "--output-prefix", p], b"typed\n", &vec![]);
    assert_eq!(run.code, Some(125));
    assert_eq!(run.err().trim(), "Error: cannot ask for a passphrase without a terminal: use --passphrase-file");
    let empty = w.path("empty");
    std::fs::write(&empty, "\nsecond\n").unwrap();
    let run = w.run(
        &["generate-sigstore-key", "--output-prefix", p, "--passphrase-file", empty.to_str().unwrap()],
        b"",
        &vec![],
    );
    assert_eq!(run.code, Some(125));
    assert!(run.err().contains("must not be empty"), "{}", run.err());
    let missing = w.path("missing");
    let run = w.run(
        &["generate-sigstore-key", "--output-prefix", p, "--passphrase-file", missing.to_str().unwrap()],
        b"",
        &vec![],
    );
    assert_eq!(run.code, Some(125));
    assert!(run.err().contains("missing"), "{}", run.err());
    // A FIFO nobody writes to is read as empty at once (the one passphrase reader of --sign-passphrase-file),
    // never waited on for ever.
    let fifo = w.path("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let mut child = w
        .command(&["generate-sigstore-key", "--output-prefix", p, "--passphrase-file", fifo.to_str().unwrap()], &vec![])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            panic!("generate-sigstore-key waited on a FIFO without a writer");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(125));
    assert!(err.contains("must not be empty"), "{err}");
    assert!(files(&w, "keys").is_empty());
}

/// Runs `hoist generate-sigstore-key` on a pseudo-terminal (`script`), answering each prompt in turn; the
/// terminal's whole output.
fn on_a_terminal(w: &HoistWorld, prefix: &Path, answers: &[&str]) -> String {
    let script = require("script", "bsdutils");
    let cmdline = format!("{} generate-sigstore-key --output-prefix {}", bin("hoist").display(), prefix.display());
    let mut cmd = Command::new(script);
    cmd.args(["-qec", &cmdline, "/dev/null"]).envs(w.env.iter().map(|(k, v)| (k, v)));
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    for (i, answer) in answers.iter().enumerate() {
        let prompt = ["Enter a passphrase:", "Re-enter the passphrase:"][i];
        while !String::from_utf8_lossy(&seen).contains(prompt) {
            let n = std::io::Read::read(&mut stdout, &mut buf).unwrap();
            assert!(n > 0, "no {prompt:?} prompt: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&buf[..n]);
        }
        std::io::Write::write_all(&mut stdin, format!("{answer}\n").as_bytes()).unwrap();
    }
    let _ = std::io::Read::read_to_end(&mut stdout, &mut seen);
    drop(stdin);
    let _ = child.wait();
    String::from_utf8_lossy(&seen).into_owned()
}

#[test]
fn generate_sigstore_key_asks_twice_on_a_terminal_and_never_echoes() {
    let w = HoistWorld::new("");
    std::fs::create_dir(w.path("keys")).unwrap();

    let shown = on_a_terminal(&w, &w.path("keys/a"), &[PASS, "something else"]);
    assert!(shown.contains("the passphrases do not match"), "{shown}");
    assert!(!shown.contains(PASS), "the passphrase was echoed: {shown}");
    assert!(files(&w, "keys").is_empty());

    let shown = on_a_terminal(&w, &w.path("keys/b"), &[PASS, PASS]);
    assert!(shown.contains("Key written to"), "{shown}");
    assert!(!shown.contains(PASS), "the passphrase was echoed: {shown}");
    let pass_file = w.path("pass");
    std::fs::write(&pass_file, PASS).unwrap();
    let public = std::fs::read_to_string(w.path("keys/b.pub")).unwrap();
    assert_eq!(python_public_key(&w.path("keys/b.private"), &pass_file).unwrap(), public);
}
