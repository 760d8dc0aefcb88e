//! Our helper binaries as test subjects, each pointed at a store of its own in a temp dir.

use std::path::PathBuf;
use std::process::Command;

use tempfile::TempDir;

use crate::process::{bin, env_pair, Env, Subject};

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
