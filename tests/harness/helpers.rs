//! Our helper binaries as test subjects, each pointed at a store of its own in a temp dir.

use std::path::PathBuf;
use std::process::Command;

use tempfile::TempDir;

use crate::process::{Env, Subject, bin, env_pair};

/// docker-credential-file with `HOIST_CREDENTIALS_FILE` in a fresh temp dir.
pub struct FileHelper {
    pub program: PathBuf,
    pub store: PathBuf,
    pub dir: TempDir,
}

impl FileHelper {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("hoist-file-").tempdir().unwrap();
        FileHelper { program: bin("docker-credential-file"), store: dir.path().join("store/credentials.json"), dir }
    }

    pub fn env(&self) -> Env {
        vec![env_pair("HOIST_CREDENTIALS_FILE", &self.store)]
    }

    /// The store file's bytes, or None when it does not exist.
    pub fn contents(&self) -> Option<Vec<u8>> {
        std::fs::read(&self.store).ok()
    }
}

impl Default for FileHelper {
    fn default() -> Self {
        Self::new()
    }
}

impl Subject for FileHelper {
    fn name(&self) -> String {
        "docker-credential-file".into()
    }
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.envs(self.env());
        cmd
    }
    fn reset(&self) {
        let _ = std::fs::remove_file(&self.store);
    }
}

/// docker-credential-keyring pointed at a private Secret Service.
pub struct KeyringHelper {
    pub program: PathBuf,
    pub env: Env,
}

impl KeyringHelper {
    pub fn new(ss: &crate::secret_service::SecretService) -> Self {
        KeyringHelper { program: bin("docker-credential-keyring"), env: ss.env() }
    }
}

impl Subject for KeyringHelper {
    fn name(&self) -> String {
        "docker-credential-keyring".into()
    }
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }
    fn reset(&self) {
        crate::conformance::clear_docker_items(&self.env);
    }
}

/// docker-credential-vault with its vault, passphrase file and runtime dir (agent socket) in a temp dir.
/// Every command runs in a new session (`setsid`), so it has no controlling terminal, as under podman in CI.
/// The vault uses small KDF parameters (1 MiB, 1 pass) so tests can create many.
pub struct VaultHelper {
    pub program: PathBuf,
    pub vault: PathBuf,
    pub runtime: PathBuf,
    pub passfile: PathBuf,
    pub dir: TempDir,
}

pub const VAULT_PASSPHRASE: &str = "correct horse battery staple";

impl VaultHelper {
    /// An initialised, locked vault.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("hoist-vault-").tempdir().unwrap();
        let runtime = dir.path().join("runtime");
        std::fs::create_dir(&runtime).unwrap();
        std::fs::set_permissions(&runtime, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let passfile = dir.path().join("passphrase");
        std::fs::write(&passfile, format!("{VAULT_PASSPHRASE}\n")).unwrap();
        std::fs::set_permissions(&passfile, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let h = VaultHelper {
            program: bin("docker-credential-vault"),
            vault: dir.path().join("data/vault"),
            runtime,
            passfile,
            dir,
        };
        h.init();
        h
    }

    /// An initialised and unlocked vault.
    pub fn unlocked() -> Self {
        let h = Self::new();
        h.unlock();
        h
    }

    /// Where the vault lives and where its agent listens; no passphrase source.
    pub fn env(&self) -> Env {
        vec![env_pair("HOIST_VAULT_FILE", &self.vault), env_pair("XDG_RUNTIME_DIR", &self.runtime)]
    }

    /// [`Self::env`] plus `HOIST_VAULT_PASSPHRASE_FILE`.
    pub fn env_with_passphrase(&self) -> Env {
        let mut env = self.env();
        env.push(env_pair("HOIST_VAULT_PASSPHRASE_FILE", &self.passfile));
        env
    }

    /// A command in its own session with `env` (and nothing inherited that could supply a passphrase).
    pub fn command_with(&self, env: &Env) -> Command {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(&self.program);
        cmd.env_remove("HOIST_VAULT_PASSPHRASE_FILE")
            .env_remove("HOIST_VAULT_NEW_PASSPHRASE_FILE")
            .env_remove("HOIST_VAULT_ASKPASS");
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        // SAFETY: setsid is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        cmd
    }

    pub fn run_with(&self, env: &Env, args: &[&str], input: &[u8]) -> crate::Run {
        let mut cmd = self.command_with(env);
        cmd.args(args);
        crate::run(&mut cmd, input)
    }

    pub fn init(&self) {
        self.run_with(&self.env_with_passphrase(), &["init", "--kdf-memory", "1024", "--kdf-iterations", "1"], b"")
            .expect_ok("vault init");
    }

    pub fn unlock(&self) {
        self.run_with(&self.env_with_passphrase(), &["unlock", "--timeout", "10m"], b"").expect_ok("vault unlock");
    }

    pub fn lock(&self) {
        self.run_with(&self.env(), &["lock"], b"").expect_ok("vault lock");
    }

    pub fn contents(&self) -> Option<Vec<u8>> {
        std::fs::read(&self.vault).ok()
    }
}

impl Default for VaultHelper {
    fn default() -> Self {
        Self::new()
    }
}

impl Subject for VaultHelper {
    fn name(&self) -> String {
        "docker-credential-vault".into()
    }
    fn command(&self) -> Command {
        self.command_with(&self.env())
    }
    fn reset(&self) {
        self.lock();
        let _ = std::fs::remove_file(&self.vault);
        self.init();
        self.unlock();
    }
}

impl Drop for VaultHelper {
    fn drop(&mut self) {
        // Ends the agent; it would also exit by itself once its socket disappears with the temp dir.
        let _ = self.run_with(&self.env(), &["lock"], b"");
    }
}
