use std::process::ExitCode;

use hoist_helper_protocol::{HelperInfo, serve};
use hoist_vault::{Vault, agent, cli};

const INFO: HelperInfo = HelperInfo {
    name: "docker-credential-vault",
    version: env!("CARGO_PKG_VERSION"),
    about: "Keeps credentials in a passphrase-encrypted file (argon2id + AES-256-GCM): $HOIST_VAULT_FILE, else\n\
            $XDG_DATA_HOME/hoist/vault (~/.local/share/hoist/vault). Unlock once per session; the key then\n\
            lives only in a private agent's memory until the timeout or `lock`.\n\n\
            Vault commands (run `docker-credential-vault COMMAND --help`):\n  \
              init     create an empty vault          unlock   start a session (--timeout 15m)\n  \
              lock     end the session                status   path, KDF, locked or unlocked\n  \
              rekey    new passphrase / stronger KDF  export   to docker-credential-file or auth.json\n  \
              import   from docker-credential-file or auth.json\n\n\
            Passphrase sources, in order: the unlocked session, HOIST_VAULT_PASSPHRASE_FILE, the program in\n\
            HOIST_VAULT_ASKPASS, the terminal. With none of them, a locked vault is an error, never a wait.",
};

fn main() -> ExitCode {
    // This process may hold a passphrase, key or decrypted credentials: no core dumps, no ptrace.
    agent::make_undumpable();
    if std::env::args().nth(1).is_some_and(|verb| cli::is_command(&verb)) {
        return cli::main();
    }
    serve(&INFO, || Ok(Vault::from_env()?.with_lock_notice(cli::lock_notice())))
}
