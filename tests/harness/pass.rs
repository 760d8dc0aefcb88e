//! A pass store (`pass`, Debian package pass) with its own GNUPGHOME and a passphrase-less key, for
//! docker-credential-pass. Dropping it stops the gpg-agent that gpg started in that GNUPGHOME.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use tempfile::TempDir;

use crate::process::{Env, env_pair, require, run};

pub struct PassStore {
    pub gnupghome: PathBuf,
    pub store_dir: PathBuf,
    _dir: TempDir,
}

impl PassStore {
    pub fn start() -> PassStore {
        require("gpg", "gnupg");
        require("pass", "pass");
        // Short path: gpg-agent's socket lives in GNUPGHOME and Unix socket paths are limited to 107 bytes.
        let dir = tempfile::Builder::new().prefix("hoist-gpg-").tempdir_in("/tmp").unwrap();
        let gnupghome = dir.path().join("g");
        let store_dir = dir.path().join("store");
        fs::create_dir(&gnupghome).unwrap();
        fs::set_permissions(&gnupghome, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let store = PassStore { gnupghome, store_dir, _dir: dir };
        run(
            store.command("gpg").args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""]).args([
                "--quick-generate-key",
                "hoist test <hoist-test@example.invalid>",
                "default",
                "default",
                "never",
            ]),
            b"",
        )
        .expect_ok("gpg --quick-generate-key");
        run(store.command("pass").args(["init", "hoist-test@example.invalid"]), b"").expect_ok("pass init");
        store
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn env(&self) -> Env {
        vec![env_pair("GNUPGHOME", &self.gnupghome), env_pair("PASSWORD_STORE_DIR", &self.store_dir)]
    }
}

impl Drop for PassStore {
    fn drop(&mut self) {
        let _ = self.command("gpgconf").args(["--kill", "all"]).output();
    }
}
