//! `--sign-passphrase-file` and `generate-sigstore-key --passphrase-file`: a passphrase read from a file as
//! skopeo reads it (containers/common's `ReadPassphraseFile`: its first line without the `\n`, a `\r` before it
//! kept), with a size cap so a huge file or an endless FIFO writer cannot fill memory, and a
//! FIFO nobody writes to read as empty at once instead of waiting for ever (`<(echo ...)` still works: its
//! writer is there). The passphrase stays in zeroized memory; it is never put in argv, a child's environment
//! or a message.

use std::io::Read;
use std::path::Path;

use zeroize::Zeroizing;

/// The most read from a passphrase file.
pub const MAX_PASSPHRASE_FILE: u64 = 64 << 10;

/// Why a passphrase file could not be used; names the file, never its content.
#[derive(Debug, thiserror::Error)]
pub enum PassphraseError {
    #[error("reading the passphrase file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("the passphrase file {path}: its first line is longer than {limit} bytes")]
    TooLong { path: String, limit: u64 },
    #[error("the passphrase file {path} is not UTF-8 text")]
    NotText { path: String },
}

/// The first line of the file at `path`, without its `\n` (a `\r` before it is kept, as skopeo keeps it: the
/// same passphrase in both tools).
pub fn read_passphrase_file(path: &Path) -> Result<Zeroizing<String>, PassphraseError> {
    let shown = path.display().to_string();
    let read_err = |source| PassphraseError::Read { path: shown.clone(), source };
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        use std::os::unix::io::AsRawFd;
        // Non-blocking open: a FIFO without a writer does not wait; then blocking reads, so a writer that is
        // there (a shell's `<(...)`) is waited for.
        let f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path).map_err(read_err)?;
        // SAFETY: fcntl on a descriptor this function owns, with integer flags.
        let flags = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETFL) };
        if flags < 0 || unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
            return Err(read_err(std::io::Error::last_os_error()));
        }
        f
    };
    let mut raw = Zeroizing::new(Vec::new());
    file.take(MAX_PASSPHRASE_FILE + 1).read_to_end(&mut raw).map_err(read_err)?;
    let line = match raw.iter().position(|b| *b == b'\n') {
        Some(end) => &raw[..end],
        None if raw.len() as u64 > MAX_PASSPHRASE_FILE => {
            return Err(PassphraseError::TooLong { path: shown, limit: MAX_PASSPHRASE_FILE });
        }
        None => &raw[..],
    };
    let text = std::str::from_utf8(line).map_err(|_| PassphraseError::NotText { path: shown })?;
    Ok(Zeroizing::new(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_without_its_end_and_a_cap() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("pass");
        std::fs::write(&p, "s3cret pass\nsecond line\n").unwrap();
        assert_eq!(read_passphrase_file(&p).unwrap().as_str(), "s3cret pass");
        // skopeo's rule, to the byte: only the `\n` goes.
        for (content, want) in [("pw\r\n", "pw\r"), ("\n", ""), ("", "")] {
            std::fs::write(&p, content).unwrap();
            assert_eq!(read_passphrase_file(&p).unwrap().as_str(), want, "{content:?}");
        }
        assert!(matches!(read_passphrase_file(tmp.path()), Err(PassphraseError::Read { .. })), "a directory");
        std::fs::write(&p, "no newline").unwrap();
        assert_eq!(read_passphrase_file(&p).unwrap().as_str(), "no newline");
        std::fs::write(&p, vec![b'x'; MAX_PASSPHRASE_FILE as usize + 1]).unwrap();
        let e = read_passphrase_file(&p).unwrap_err().to_string();
        assert!(e.contains("longer than") && !e.contains("xxxx"), "{e}");
        std::fs::write(&p, b"\xff\xfe\n").unwrap();
        assert!(matches!(read_passphrase_file(&p), Err(PassphraseError::NotText { .. })));
        let e = read_passphrase_file(&tmp.path().join("missing")).unwrap_err().to_string();
        assert!(e.starts_with("reading the passphrase file "), "{e}");
        // A FIFO nobody writes to: read as empty at once, never waited on.
        let fifo = tmp.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(read_passphrase_file(&fifo).unwrap().as_str(), "");
    }
}
