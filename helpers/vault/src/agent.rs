//! The unlocked session: a small agent process that holds a vault's key in memory until a timeout or `lock`.
//!
//! - It listens on a Unix socket `vault-HASH.sock` in `$XDG_RUNTIME_DIR/hoist/` (else `/tmp/hoist-UID/`), in
//!   a 0700 directory owned by the user, the socket itself 0600.
//! - Every connection's peer uid (SO_PEERCRED) must equal the agent's: another user gets nothing even if the
//!   permissions were loosened.
//! - It is not dumpable (no core files, no ptrace by other processes of the user without CAP_SYS_PTRACE), and
//!   the key never touches disk.
//! - It hands the key only to a client that names the vault's fingerprint (a hash of its salt and KDF
//!   parameters), so after a `rekey` the old session is useless.
//! - It exits at the deadline, on `LOCK`, or as soon as its socket is removed or replaced.
//!
//! Protocol: one request line, one answer line. `KEY <fingerprint>` → `OK <hex key>` | `NO`;
//! `STATUS` → `OK <seconds left> <fingerprint>`; `LOCK` → `OK`.

use std::fs::{self, DirBuilder};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hoist_helper_protocol::Error;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::format::Key;

fn euid() -> u32 {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() }
}

/// The directory holding agent sockets, created 0700 and checked to be ours and private.
pub fn runtime_dir() -> Result<PathBuf, Error> {
    let base = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()).map(PathBuf::from);
    let dir = match base {
        Some(b) => b.join("hoist"),
        None => PathBuf::from(format!("/tmp/hoist-{}", euid())),
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| Error::backend(format!("cannot create {}: {e}", dir.display())))?;
    let meta = fs::metadata(&dir).map_err(|e| Error::backend(format!("cannot stat {}: {e}", dir.display())))?;
    if meta.uid() != euid() || meta.mode() & 0o077 != 0 {
        return Err(Error::backend(format!(
            "{} must be a directory owned by you with mode 0700 (it has uid {} mode {:04o})",
            dir.display(),
            meta.uid(),
            meta.mode() & 0o7777
        )));
    }
    Ok(dir)
}

/// The socket of the agent for the vault at `vault` (one agent per vault file).
pub fn socket_path(vault: &Path) -> Result<PathBuf, Error> {
    let canonical = vault
        .parent()
        .and_then(|p| fs::canonicalize(if p.as_os_str().is_empty() { Path::new(".") } else { p }).ok())
        .map(|p| p.join(vault.file_name().unwrap_or_default()))
        .unwrap_or_else(|| vault.to_path_buf());
    let hash = hex::encode(Sha256::digest(canonical.as_os_str().as_encoded_bytes()));
    Ok(runtime_dir()?.join(format!("vault-{}.sock", &hash[..16])))
}

/// Sends one request line and returns the answer line, or None when no agent answers.
pub fn request(socket: &Path, line: &str) -> Option<Zeroizing<String>> {
    let mut stream = UnixStream::connect(socket).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.set_write_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(format!("{line}\n").as_bytes()).ok()?;
    let mut answer = Zeroizing::new(String::new());
    BufReader::new(stream.take(256)).read_line(&mut answer).ok()?;
    Some(answer)
}

/// The key the agent holds for `fingerprint`, if an agent runs and holds that one.
pub fn key_from_agent(socket: &Path, fingerprint: &str) -> Option<Key> {
    let answer = request(socket, &format!("KEY {fingerprint}"))?;
    let hex_key = answer.trim().strip_prefix("OK ")?;
    let bytes = Zeroizing::new(hex::decode(hex_key).ok()?);
    Key::from_bytes(&bytes)
}

/// `(seconds left, fingerprint)` of a running agent.
pub fn status(socket: &Path) -> Option<(u64, String)> {
    let answer = request(socket, "STATUS")?;
    let mut parts = answer.trim().strip_prefix("OK ")?.split(' ');
    let secs = parts.next()?.parse().ok()?;
    Some((secs, parts.next()?.to_owned()))
}

/// Asks a running agent to forget its key and exit. True when one was running.
pub fn lock(socket: &Path) -> bool {
    let was = request(socket, "LOCK").is_some_and(|a| a.trim() == "OK");
    // A socket nobody answers on is stale: remove it so the next unlock can bind.
    let _ = fs::remove_file(socket);
    was
}

/// The uid of the process at the other end of `stream`.
fn peer_uid(stream: &UnixStream) -> Option<u32> {
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `cred`, a properly sized ucred.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(cred.uid)
}

/// Makes this process non-dumpable: no core dumps, and other processes of the user cannot ptrace it or read
/// its memory through /proc.
pub fn make_undumpable() {
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) only changes this process's dumpable flag.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

/// Runs the agent (the hidden `__agent` command): binds `socket`, says `ready` on stdout, then serves until
/// `ttl` passes, `LOCK` arrives, or the socket disappears.
pub fn serve(socket: &Path, fingerprint: String, key: Key, ttl: Duration) -> Result<(), Error> {
    make_undumpable();
    let _ = fs::remove_file(socket);
    let listener = UnixListener::bind(socket)
        .map_err(|e| Error::backend(format!("cannot listen on {}: {e}", socket.display())))?;
    fs::set_permissions(socket, fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::backend(format!("cannot chmod {}: {e}", socket.display())))?;
    let inode = fs::metadata(socket).map(|m| m.ino()).unwrap_or(0);
    let deadline = Instant::now() + ttl;

    // Tell `unlock` we are ready, then let go of every inherited descriptor.
    println!("ready");
    let _ = std::io::stdout().flush();
    detach_stdio();

    let watched = socket.to_path_buf();
    std::thread::spawn(move || {
        loop {
            let ours = fs::metadata(&watched).map(|m| m.ino() == inode).unwrap_or(false);
            if Instant::now() >= deadline || !ours {
                if ours {
                    let _ = fs::remove_file(&watched);
                }
                std::process::exit(0);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    });

    let me = euid();
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        if peer_uid(&stream) != Some(me) {
            continue; // another user: close without a word
        }
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
        let mut line = String::new();
        if BufReader::new((&stream).take(256)).read_line(&mut line).is_err() {
            continue;
        }
        let request = line.trim();
        let answer: Zeroizing<String> = if let Some(fp) = request.strip_prefix("KEY ") {
            if fp == fingerprint {
                Zeroizing::new(format!("OK {}\n", hex::encode(key.as_bytes())))
            } else {
                "NO\n".to_owned().into()
            }
        } else if request == "STATUS" {
            let left = deadline.saturating_duration_since(Instant::now()).as_secs();
            format!("OK {left} {fingerprint}\n").into()
        } else if request == "LOCK" {
            let _ = stream.write_all(b"OK\n");
            let _ = fs::remove_file(socket);
            drop(key);
            std::process::exit(0);
        } else {
            "ERR unknown request\n".to_owned().into()
        };
        let _ = stream.write_all(answer.as_bytes());
    }
    Ok(())
}

fn detach_stdio() {
    if let Ok(null) = fs::OpenOptions::new().read(true).write(true).open("/dev/null") {
        for fd in 0..=2 {
            // SAFETY: dup2 onto the standard descriptors, which this process owns.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
}
