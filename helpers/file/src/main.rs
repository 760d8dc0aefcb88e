use std::process::ExitCode;

use hoist_file_store::FileStore;
use hoist_helper_protocol::{HelperInfo, serve};

const INFO: HelperInfo = HelperInfo {
    name: "docker-credential-file",
    version: env!("CARGO_PKG_VERSION"),
    about: "Keeps credentials in a JSON file readable only by you: $HOIST_CREDENTIALS_FILE, else\n\
            $XDG_CONFIG_HOME/hoist/credentials.json (~/.config/hoist/credentials.json). Every change is\n\
            locked and written atomically. Secrets are NOT encrypted: use docker-credential-vault for that.",
};

fn main() -> ExitCode {
    hoist_fs::private_file::on_lock_wait(|line| eprintln!("docker-credential-file: {line}"));
    serve(&INFO, FileStore::from_env)
}
