//! Write-behind for large files that are fsynced when whole (store blobs, saved archives): once every
//! [`STEP`] bytes the kernel is asked to start writing the file out (`sync_file_range` with
//! `SYNC_FILE_RANGE_WRITE`, which does not wait), so the disk works while the bytes are still being made and
//! the final `fsync` finds little left to write.
//!
//! What it is not: durability. Only the final `fsync` makes a file durable; the hint here never fails a write
//! (its errors are ignored) and changes no byte.

use std::fs::File;
use std::os::fd::AsRawFd;

/// How many bytes are written between two hints.
pub const STEP: u64 = 8 << 20;

/// Counts the bytes written to one file and gives the hint every [`STEP`] of them.
#[derive(Debug, Default)]
pub struct WriteBehind {
    pending: u64,
}

impl WriteBehind {
    /// `n` more bytes were written to `file`.
    pub fn wrote(&mut self, file: &File, n: usize) {
        self.pending += n as u64;
        if self.pending >= STEP {
            self.pending = 0;
            start_writeback(file);
        }
    }
}

/// Asks the kernel to start writing out every dirty page of `file` without waiting. Linux only; elsewhere
/// nothing.
pub fn start_writeback(file: &File) {
    #[cfg(target_os = "linux")]
    // SAFETY: a plain system call on a descriptor `file` owns; offset 0 and length 0 mean the whole file.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file.as_raw_fd();
}

/// A file written through [`WriteBehind`]: `Write` and `Seek` pass through to it.
#[derive(Debug)]
pub struct WriteBehindFile {
    file: File,
    behind: WriteBehind,
}

impl WriteBehindFile {
    pub fn new(file: File) -> WriteBehindFile {
        WriteBehindFile { file, behind: WriteBehind::default() }
    }

    pub fn get_ref(&self) -> &File {
        &self.file
    }
}

impl std::io::Write for WriteBehindFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.behind.wrote(&self.file, n);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl std::io::Seek for WriteBehindFile {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.file.seek(pos)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Seek, Write};

    use super::*;

    #[test]
    fn bytes_pass_through_unchanged_across_hints() {
        let mut f = WriteBehindFile::new(tempfile::tempfile().unwrap());
        let data: Vec<u8> = (0..(STEP as usize * 2 + 12345)).map(|i| (i * 7) as u8).collect();
        for chunk in data.chunks(1 << 20) {
            f.write_all(chunk).unwrap();
        }
        f.seek(std::io::SeekFrom::Start(0)).unwrap();
        f.write_all(b"head").unwrap();
        let mut back = Vec::new();
        let mut file = f.get_ref().try_clone().unwrap();
        file.seek(std::io::SeekFrom::Start(0)).unwrap();
        file.read_to_end(&mut back).unwrap();
        assert_eq!(&back[..4], b"head");
        assert_eq!(back[4..], data[4..]);
    }
}
