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
