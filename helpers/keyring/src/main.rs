use std::process::ExitCode;

use hoist_helper_protocol::{HelperInfo, serve};

const INFO: HelperInfo = HelperInfo {
    name: "docker-credential-keyring",
    version: env!("CARGO_PKG_VERSION"),
    about: "Keeps credentials in the OS keyring: on Linux the Secret Service (gnome-keyring, KeePassXC) over\n\
            D-Bus, in the same items docker-credential-secretservice uses, so credentials stored by either\n\
            helper are found by both. Never prompts: a locked keyring is an error saying how to unlock it.",
};

#[cfg(all(target_os = "linux", not(hoist_native_keyring)))]
fn main() -> ExitCode {
    let notice = hoist_fs::LockNotice::new(|line| eprintln!("docker-credential-keyring: {line}"));
    serve(&INFO, || Ok(hoist_keyring_store::KeyringStore::new()?.with_lock_notice(notice)))
}

#[cfg(any(not(target_os = "linux"), hoist_native_keyring))]
fn main() -> ExitCode {
    serve(&INFO, hoist_keyring_store::OsKeyringStore::new)
}
