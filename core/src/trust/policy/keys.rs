//! Reading the policy file and the key files it names: regular files only (opened non-blocking, so a FIFO
//! or a device is refused at once instead of hanging), each within a size cap, all of a requirement's keys
//! within a total cap.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::KeySource;

/// The largest policy.json read.
pub const POLICY_FILE_LIMIT: u64 = 4 << 20;
/// The largest key file read (a GPG keyring with many keys fits; a PEM key is a few hundred bytes).
pub const KEY_FILE_LIMIT: u64 = 1 << 20;
/// The most key bytes one requirement may load (`keyPaths` with many entries).
pub const KEYS_TOTAL_LIMIT: u64 = 16 << 20;

/// Reads `path` if it is a regular file of at most `limit` bytes; the error is one line (the path is the
/// caller's to add).
pub fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".to_owned());
    }
    if meta.len() > limit {
        return Err(format!("larger than {limit} bytes"));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() as u64 > limit {
        return Err(format!("larger than {limit} bytes"));
    }
    Ok(bytes)
}

/// The public keys a requirement names, each a file's (or `keyData`'s) bytes.
pub fn load(source: &KeySource) -> Result<Vec<Vec<u8>>, String> {
    let read = |p: &Path| read_capped(p, KEY_FILE_LIMIT).map_err(|e| format!("reading key file {}: {e}", p.display()));
    let keys = match source {
        KeySource::Path(p) => vec![read(p)?],
        KeySource::Paths(ps) => {
            let mut keys = Vec::with_capacity(ps.len().min(64));
            let mut total = 0u64;
            for p in ps {
                let k = read(p)?;
                total += k.len() as u64;
                if total > KEYS_TOTAL_LIMIT {
                    return Err(format!("the key files of keyPaths hold more than {KEYS_TOTAL_LIMIT} bytes"));
                }
                keys.push(k);
            }
            keys
        }
        KeySource::Data(d) => vec![d.clone()],
        KeySource::Datas(ds) => ds.clone(),
    };
    Ok(keys)
}
