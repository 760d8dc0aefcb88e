//! Compressed streams: telling gzip and zstd from plain bytes by their first bytes, and decompressing them
//! while they stream with a guard against decompression bombs.
//!
//! gzip goes through flate2 on the zlib-rs backend (multi-member streams, as pigz writes, are read whole);
//! zstd through ruzstd, a pure-Rust decoder: every frame of a stream, skippable frames skipped (zstd:chunked
//! layers have them), windows up to [`MAX_ZSTD_WINDOW`]. bzip2 and xz are recognised and refused by name.
//!
//! What it is not: compression (that is [`super::parallel_gzip`], used only for layers hoist builds or is asked
//! to compress; hoist never recompresses a layer it keeps).

use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

use crate::digest::{Digest, Hasher};

/// The largest zstd window accepted: bigger ones (`zstd --long`) would take more memory than hoist allows
/// itself for one stream.
pub const MAX_ZSTD_WINDOW: u64 = 32 * 1024 * 1024;
/// Output may exceed [`BOMB_RATIO`] times the input only for its first this many bytes.
pub const BOMB_FLOOR: u64 = 64 * 1024 * 1024;
/// The most bytes of output per byte of compressed input past [`BOMB_FLOOR`]: gzip of real files stays far
/// below it (gzip cannot exceed about 1032:1 at all), so more is a decompression bomb.
pub const BOMB_RATIO: u64 = 256;

/// How a stream is compressed, by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// Why a stream cannot be read: a compression hoist does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}-compressed data is not supported (gzip, zstd or uncompressed are): decompress it first")]
pub struct Unsupported(pub &'static str);

/// The compression of a stream that starts with `head` (give it at least 6 bytes when there are that many).
pub fn sniff(head: &[u8]) -> Result<Compression, Unsupported> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Compression::Gzip)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Ok(Compression::Zstd)
    } else if head.starts_with(b"BZh") {
        Err(Unsupported("bzip2"))
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Err(Unsupported("xz"))
    } else {
        Ok(Compression::None)
    }
}

/// Reads the first bytes of `r` (up to 6) without losing them: the compression and a reader of everything.
pub fn sniff_reader<R: Read>(r: R) -> io::Result<(Compression, BufReader<R>)> {
    let mut r = BufReader::with_capacity(1 << 20, r);
    let head = r.fill_buf()?;
    let c = sniff(head).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok((c, r))
}

/// A reader of the decompressed bytes of `r`, compressed as `c`, failing (with `InvalidData`) when the output
/// outgrows the input as a bomb would. `what` names the stream in that error.
pub fn decompress<'a, R: Read + Send + 'a>(c: Compression, r: R, what: &str) -> Box<dyn Read + Send + 'a> {
    match c {
        Compression::None => Box::new(r),
        Compression::Gzip => {
            let input = Arc::new(AtomicU64::new(0));
            let counted = Counted { inner: r, count: input.clone() };
            Box::new(Guard::new(flate2::read::MultiGzDecoder::new(counted), input, what))
        }
        Compression::Zstd => {
            let input = Arc::new(AtomicU64::new(0));
            let counted = Counted { inner: r, count: input.clone() };
            Box::new(Guard::new(ZstdFrames::new(counted), input, what))
        }
    }
}

/// Counts the bytes read through it.
struct Counted<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Fails a decompression whose output passes [`BOMB_FLOOR`] and [`BOMB_RATIO`] times its input.
struct Guard<D> {
    inner: D,
    input: Arc<AtomicU64>,
    output: u64,
    what: String,
}

impl<D> Guard<D> {
    fn new(inner: D, input: Arc<AtomicU64>, what: &str) -> Guard<D> {
        Guard { inner, input, output: 0, what: what.to_owned() }
    }
}

impl<D: Read> Read for Guard<D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.output += n as u64;
        let input = self.input.load(Ordering::Relaxed).max(1);
        if self.output > BOMB_FLOOR && self.output / input > BOMB_RATIO {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: decompression bomb refused: {} bytes of compressed data expand past {} bytes (more than \
                     {BOMB_RATIO} to 1)",
                    self.what, input, self.output
                ),
            ));
        }
        Ok(n)
    }
}

/// Every frame of a zstd stream, skippable frames skipped.
struct ZstdFrames<R: Read> {
    source: BufReader<R>,
    decoder: FrameDecoder,
    /// A frame is being decoded.
    in_frame: bool,
    /// At least one frame was read (an empty stream is not zstd).
    started: bool,
}

impl<R: Read> ZstdFrames<R> {
    fn new(source: R) -> ZstdFrames<R> {
        let mut decoder = FrameDecoder::new();
        decoder.set_max_window_size(MAX_ZSTD_WINDOW);
        ZstdFrames { source: BufReader::with_capacity(1 << 16, source), decoder, in_frame: false, started: false }
    }

    /// Starts the next frame; false at the end of the stream.
    fn next_frame(&mut self) -> io::Result<bool> {
        loop {
            if self.source.fill_buf()?.is_empty() {
                if !self.started {
                    return Err(invalid("zstd: empty stream"));
                }
                return Ok(false);
            }
            match self.decoder.reset(&mut self.source) {
                Ok(()) => {
                    self.started = true;
                    return Ok(true);
                }
                Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame { length, .. })) => {
                    let skipped = io::copy(&mut (&mut self.source).take(u64::from(length)), &mut io::sink())?;
                    if skipped != u64::from(length) {
                        return Err(invalid("zstd: truncated skippable frame"));
                    }
                    self.started = true;
                }
                Err(FrameDecoderError::WindowSizeTooBig { requested, max }) => {
                    return Err(invalid(&format!(
                        "zstd: a window of {requested} bytes is more than the {max} allowed (was it made with --long?)"
                    )));
                }
                Err(e) => return Err(invalid(&format!("zstd: {e}"))),
            }
        }
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

impl<R: Read> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.in_frame {
                if !self.next_frame()? {
                    return Ok(0);
                }
                self.in_frame = true;
            }
            let n = self.decoder.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            if self.decoder.is_finished() {
                if self.decoder.can_collect() == 0 {
                    self.in_frame = false;
                }
                continue;
            }
            self.decoder
                .decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBytes(1 << 20))
                .map_err(|e| invalid(&format!("zstd: {e}")))?;
        }
    }
}

/// What [`digest_both`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    pub digest: Digest,
    pub size: u64,
    /// For compressed bytes: the compression, and the digest and size of what they decompress to.
    pub uncompressed: Option<(Compression, Digest, u64)>,
}

/// The digest and size of the bytes of `r`, and those of their decompressed form when they are compressed.
pub fn digest_both(r: impl Read + Send, what: &str) -> io::Result<Digests> {
    let mut raw = HashingReader { inner: r, hasher: Hasher::sha256() };
    let (c, mut buffered) = sniff_reader(&mut raw)?;
    let uncompressed = if c == Compression::None {
        io::copy(&mut buffered, &mut io::sink())?;
        None
    } else {
        let mut plain = HashingReader { inner: decompress(c, &mut buffered, what), hasher: Hasher::sha256() };
        io::copy(&mut plain, &mut io::sink())?;
        let n = plain.hasher.len();
        Some((c, plain.hasher.finish(), n))
    };
    io::copy(&mut buffered, &mut io::sink())?;
    drop(buffered);
    let size = raw.hasher.len();
    Ok(Digests { digest: raw.hasher.finish(), size, uncompressed })
}

/// Runs `f` on a reader of `r`'s bytes while another thread reads `r` ahead (up to 4 MiB): a decompressing
/// reader then inflates on one core while `f` hashes and writes on another. An error of `r` reaches `f` in
/// order; so does the reading thread's end without an end marker (a panic), as an error, never as a clean
/// end. When `f` returns early, the reading thread stops at its next chunk.
pub fn read_ahead<R: Read + Send, T>(r: R, f: impl FnOnce(&mut dyn Read) -> T) -> T {
    const AHEAD: usize = 1 << 20;
    std::thread::scope(|s| {
        // Chunks of bytes, then one empty chunk: the end.
        let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Vec<u8>>>(4);
        s.spawn(move || {
            let mut r = r;
            loop {
                let mut buf = vec![0u8; AHEAD];
                let mut filled = 0;
                let result = loop {
                    match r.read(&mut buf[filled..]) {
                        Ok(0) => break Ok(true),
                        Ok(n) => {
                            filled += n;
                            if filled == buf.len() {
                                break Ok(false);
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                buf.truncate(filled);
                if filled > 0 && tx.send(Ok(buf)).is_err() {
                    return;
                }
                match result {
                    Ok(false) => {}
                    Ok(true) => {
                        let _ = tx.send(Ok(Vec::new()));
                        return;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
        });
        let mut reader = ChannelReader { rx, chunk: Vec::new(), at: 0, ended: false };
        f(&mut reader)
    })
}

/// The reading side of [`read_ahead`].
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    at: usize,
    ended: bool,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            if self.ended {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(chunk)) if chunk.is_empty() => self.ended = true,
                Ok(chunk) => {
                    self.chunk = chunk?;
                    self.at = 0;
                }
                Err(_) => return Err(io::Error::other("the thread reading ahead stopped before the end")),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Hashes what is read through it.
pub struct HashingReader<R> {
    pub inner: R,
    pub hasher: Hasher,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn read_all(c: Compression, data: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        decompress(c, data, "test").read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn read_ahead_gives_every_byte_in_order_and_the_error_last() {
        let data: Vec<u8> = (0..3_000_123u32).map(|i| (i % 251) as u8).collect();
        let got = read_ahead(&data[..], |r| {
            let mut v = Vec::new();
            r.read_to_end(&mut v).map(|_| v)
        });
        assert_eq!(got.unwrap(), data);
        let failing = (&data[..1_500_000]).chain(FailingReader);
        let got = read_ahead(failing, |r| {
            let mut v = Vec::new();
            let e = r.read_to_end(&mut v).unwrap_err();
            (v.len(), e.to_string())
        });
        assert_eq!(got, (1_500_000, "broken".to_owned()));
        // A reader that stops early does not hang the thread reading ahead.
        let first = read_ahead(&data[..], |r| {
            let mut b = [0u8; 10];
            r.read_exact(&mut b).map(|()| b)
        });
        assert_eq!(first.unwrap(), data[..10]);
        // A reader that panics is an error to `f`, not an end (the panic is raised again after `f`).
        let seen = std::sync::Mutex::new(None);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            read_ahead((&data[..1000]).chain(PanickingReader), |r| {
                let mut v = Vec::new();
                *seen.lock().unwrap() = Some(r.read_to_end(&mut v).map(|_| v.len()).map_err(|e| e.to_string()));
            })
        }));
        assert!(caught.is_err());
        let seen = seen.lock().unwrap().clone().unwrap();
        assert!(seen.unwrap_err().contains("stopped before the end"));
    }

    struct PanickingReader;

    impl Read for PanickingReader {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            panic!("a decoder bug")
        }
    }

    struct FailingReader;

    impl Read for FailingReader {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("broken"))
        }
    }

    #[test]
    fn sniffs_by_magic() {
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]).unwrap(), Compression::Gzip);
        assert_eq!(sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]).unwrap(), Compression::Zstd);
        assert_eq!(sniff(b"manifest.json").unwrap(), Compression::None);
        assert_eq!(sniff(b"").unwrap(), Compression::None);
        assert_eq!(sniff(b"BZh91AY").unwrap_err(), Unsupported("bzip2"));
        assert_eq!(sniff(&[0xfd, b'7', b'z', b'X', b'Z', 0]).unwrap_err(), Unsupported("xz"));
    }

    #[test]
    fn gzip_multi_member_and_zstd_multi_frame() {
        let mut one = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        one.write_all(b"hello ").unwrap();
        let mut gz = one.finish().unwrap();
        let mut two = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        two.write_all(b"world").unwrap();
        gz.extend(two.finish().unwrap());
        assert_eq!(read_all(Compression::Gzip, &gz).unwrap(), b"hello world");

        let level = ruzstd::encoding::CompressionLevel::Fastest;
        let mut zst = ruzstd::encoding::compress_to_vec(&b"hello "[..], level);
        // A skippable frame between the two (magic 0x184D2A50, little endian, 3 bytes of payload).
        zst.extend([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
        zst.extend(ruzstd::encoding::compress_to_vec(&b"world"[..], level));
        assert_eq!(read_all(Compression::Zstd, &zst).unwrap(), b"hello world");
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let zst = ruzstd::encoding::compress_to_vec(&big[..], level);
        assert_eq!(read_all(Compression::Zstd, &zst).unwrap(), big);
    }

    #[test]
    fn corrupt_and_truncated_streams_fail() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&[7u8; 10_000]).unwrap();
        let gz = enc.finish().unwrap();
        assert!(read_all(Compression::Gzip, &gz[..gz.len() - 10]).is_err());
        let zst = ruzstd::encoding::compress_to_vec(&[7u8; 10_000][..], ruzstd::encoding::CompressionLevel::Fastest);
        assert!(read_all(Compression::Zstd, &zst[..zst.len() - 3]).is_err());
        assert!(read_all(Compression::Zstd, b"").is_err());
        assert!(read_all(Compression::Zstd, &[0x28, 0xb5, 0x2f, 0xfd, 0xff, 0xff]).is_err());
    }

    #[test]
    fn bombs_are_refused() {
        // 1 MiB of zeros compresses to about 1 KiB; repeat the member so the output passes the floor.
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 1 << 20]).unwrap();
        let member = enc.finish().unwrap();
        let bomb: Vec<u8> = member.iter().copied().cycle().take(member.len() * 100).collect();
        let e = read_all(Compression::Gzip, &bomb).unwrap_err();
        assert!(e.to_string().contains("decompression bomb"), "{e}");
        // Just under the floor is fine, whatever the ratio.
        let fine: Vec<u8> = member.iter().copied().cycle().take(member.len() * 60).collect();
        assert_eq!(read_all(Compression::Gzip, &fine).unwrap().len(), 60 << 20);
    }
}
