use std::process::ExitCode;

use hoist_file_store::FileStore;
use hoist_fs::LockNotice;
use hoist_helper_protocol::{HelperInfo, serve};

const INFO: HelperInfo = HelperInfo {
    name: "docker-credential-file",
    version: env!("CARGO_PKG_VERSION"),
    about: "Keeps credentials in a JSON file readable only by you: $HOIST_CREDENTIALS_FILE, else\n\
            $XDG_CONFIG_HOME/hoist/credentials.json (~/.config/hoist/credentials.json). Every change is\n\
            locked and written atomically. Secrets are NOT encrypted: use docker-credential-vault for that.",
};

fn main() -> ExitCode {
    let notice = LockNotice::new(|line| eprintln!("docker-credential-file: {line}"));
    serve(&INFO, || Ok(FileStore::from_env()?.with_lock_notice(notice)))
}
