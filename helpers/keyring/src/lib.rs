//! The backend of docker-credential-keyring: credentials in the operating system's keyring.
//!
//! On Linux that is the freedesktop Secret Service (gnome-keyring, KeePassXC, KWallet's bridge) over D-Bus,
//! through the pure-Rust `secret-service` crate, synchronously (no tokio in this binary). Items are written
//! exactly as docker-credential-secretservice writes them, so both helpers see each other's credentials:
//!
//! | item part | value |
//! |---|---|
//! | collection | the `default` alias (usually `login`) |
//! | label | the server URL |
//! | `xdg:schema` | `io.docker.Credentials` |
//! | `server`, `username` | the server URL and username as given |
//! | `docker_cli` | `1` |
//! | `label` | `Docker Credentials` |
//! | secret | the password or identity token, content type `text/plain` |
//!
//! Differences from the Go helper: one item per registry (a store replaces items of the same registry under any
//! username or spelling), `list` returns the `server` attribute rather than item labels, and keys match exactly
//! first, then normalised (`hoist_helper_protocol::server`).
//!
//! Writers (store, erase) of one Secret Service are serialised by a lock file (one per session bus) in
//! `$XDG_RUNTIME_DIR/hoist/` (else a private `hoist-UID` directory in the temp directory), so concurrent stores
//! of one registry end with exactly one item; readers take no lock and skip items that vanish while they read them. Text the Secret Service
//! cannot hold (a NUL character) is refused as bad input.
//!
//! It never shows an unlock prompt: a locked collection or item is an error that says how to unlock, and
//! every operation gives up after a few seconds rather than hang on an unresponsive bus.

mod os_keyring;
#[cfg(target_os = "linux")]
mod secret_service;

pub use os_keyring::OsKeyringStore;
#[cfg(target_os = "linux")]
pub use secret_service::KeyringStore;

use std::sync::mpsc;
use std::time::Duration;

use hoist_helper_protocol::Error;

/// How long one helper call may wait for the keyring before it gives up.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// Runs `work` on its own thread and gives up after `timeout`: a bus or keyring that accepts a connection but
/// never answers must not hang docker or podman. The stuck thread ends with the process.
pub fn with_timeout<T: Send + 'static>(
    timeout: Duration,
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    match rx.recv_timeout(timeout) {
        Ok(result) => result,
        Err(_) => Err(Error::backend(format!(
            "the keyring did not answer within {} seconds; check that the Secret Service (e.g. gnome-keyring-daemon) \
             is running and responsive",
            timeout.as_secs()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hung_keyring_times_out() {
        let start = std::time::Instant::now();
        let r: Result<(), Error> = with_timeout(Duration::from_millis(100), || {
            std::thread::sleep(Duration::from_secs(30));
            Ok(())
        });
        assert!(r.unwrap_err().to_string().contains("did not answer"));
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
