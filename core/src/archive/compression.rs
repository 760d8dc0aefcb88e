//! Compressed streams: telling gzip and zstd from plain bytes by their first bytes, and decompressing them
//! while they stream with a guard against decompression bombs.
//!
//! The bomb rule judges an expansion by what it would cost, not by its ratio (a layer holding a large file of
//! zeros compresses past 1000 to 1 and is no bomb): output is refused once it passes a [`Budget`] — the free
//! space of the filesystem it is spooled to, less a reserve ([`Budget::free_space`], what `load` and
//! `verify` use for a compressed archive or a stream), or [`MAX_EXPANDED`] for output that is only hashed or
//! streamed on. Time stays bounded by the input (gzip cannot expand past about 1032 to 1, zstd about 32768 to
//! 1) and by the budget, memory by the streaming.
//!
//! gzip goes through flate2 on the zlib-rs backend (multi-member streams, as pigz writes, are read whole);
//! zstd through libzstd (the `zstd` crate, the one zstd path: decoding here, encoding in [`super::recompress`]):
//! every frame of a stream, skippable frames skipped (zstd:chunked layers have them), windows up to
//! [`MAX_ZSTD_WINDOW`], checksums and declared content sizes checked. bzip2 and xz are recognised and refused by name, but
//! for build's `ADD` ([`decompress_file`] with [`Formats::Archives`]): bzip2 streams within the same budget,
//! xz is decoded in memory and so only up to [`MAX_XZ`] bytes.
//!
//! What it is not: compression (that is [`super::parallel_gzip`] and [`super::recompress`], used only for
//! layers hoist builds or is asked to compress or recompress).

use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::digest::{Digest, Hasher};

/// The largest zstd window accepted (128 MiB, libzstd's own default limit and what containers/image reads):
/// bigger ones (`zstd --long=31`) would take more memory than hoist allows itself for one stream.
pub const MAX_ZSTD_WINDOW: u64 = 128 * 1024 * 1024;
/// The most bytes one decompressed stream may give when nothing smaller applies (1 TiB: more than any layer
/// hoist is meant to move; hashing that much takes minutes, not hours).
pub const MAX_EXPANDED: u64 = 1 << 40;
/// Of a filesystem's free space, a spool leaves this share (1/20) free, at most [`MAX_RESERVE`].
pub const RESERVE_DIVISOR: u64 = 20;
/// The most a spool keeps free on its filesystem (see [`RESERVE_DIVISOR`]).
pub const MAX_RESERVE: u64 = 1 << 30;

/// How many bytes a decompressed stream may give before it is refused as a bomb, and why that many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub max: u64,
    /// What the limit is, for the error: "the free space of /x (...)".
    pub reason: String,
}

impl Default for Budget {
    /// [`MAX_EXPANDED`].
    fn default() -> Budget {
        Budget { max: MAX_EXPANDED, reason: format!("hoist's limit of {MAX_EXPANDED} bytes for one stream") }
    }
}

impl Budget {
    /// At most `max` bytes, because of `reason`.
    pub fn bytes(max: u64, reason: impl Into<String>) -> Budget {
        Budget { max, reason: reason.into() }
    }

    /// What can be written in `dir` and still leave a reserve free on its filesystem (1/20 of its size, at
    /// most 1 GiB), capped by [`MAX_EXPANDED`]: a spool never fills the disk, whatever the archive holds.
    pub fn free_space(dir: &Path) -> io::Result<Budget> {
        let (free, size) = free_space(dir)?;
        let reserve = (size / RESERVE_DIVISOR).min(MAX_RESERVE);
        let max = free.saturating_sub(reserve).min(MAX_EXPANDED);
        Ok(Budget {
            max,
            reason: format!("the free space of {} ({free} bytes, of which {reserve} stay free)", dir.display()),
        })
    }
}

/// The error (inside an `InvalidData` `io::Error`) of a stream refused past its [`Budget`]; its message names
/// the stream and says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OverBudget(pub String);

impl OverBudget {
    /// The refusal `e` carries, if it is one.
    pub fn of(e: &io::Error) -> Option<&OverBudget> {
        e.get_ref().and_then(|inner| inner.downcast_ref::<OverBudget>())
    }
}

/// The bytes free for this user and the size of the filesystem holding `dir`.
fn free_space(dir: &Path) -> io::Result<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path with a NUL byte"))?;
    // SAFETY: statvfs writes into the zeroed struct we own; `c` is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let unit = st.f_frsize as u64;
    Ok((st.f_bavail as u64 * unit, st.f_blocks as u64 * unit))
}

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
    match magic(head) {
        Magic::Layer(c) => Ok(c),
        Magic::Bzip2 => Err(Unsupported("bzip2")),
        Magic::Xz => Err(Unsupported("xz")),
    }
}

/// What a stream's first bytes say it is: a compression a layer may have, or one only archives may.
enum Magic {
    Layer(Compression),
    Bzip2,
    Xz,
}

const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];

/// The one table of magic numbers ([`sniff`] and [`decompress_file`] read it).
fn magic(head: &[u8]) -> Magic {
    if head.starts_with(&[0x1f, 0x8b]) {
        Magic::Layer(Compression::Gzip)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Magic::Layer(Compression::Zstd)
    } else if head.starts_with(b"BZh") {
        Magic::Bzip2
    } else if head.starts_with(XZ_MAGIC) {
        Magic::Xz
    } else {
        Magic::Layer(Compression::None)
    }
}

/// Reads the first bytes of `r` (up to 6) without losing them: the compression and a reader of everything.
pub fn sniff_reader<R: Read>(r: R) -> io::Result<(Compression, BufReader<R>)> {
    let mut r = BufReader::with_capacity(1 << 20, r);
    let head = r.fill_buf()?;
    let c = sniff(head).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok((c, r))
}

/// A reader of the decompressed bytes of `r`, compressed as `c`, failing (with `InvalidData`) past
/// [`MAX_EXPANDED`] bytes of output: [`decompress_within`] the default [`Budget`]. `what` names the stream in
/// that error. Uncompressed bytes pass as they are.
pub fn decompress<'a, R: Read + Send + 'a>(c: Compression, r: R, what: &str) -> Box<dyn Read + Send + 'a> {
    match c {
        Compression::None => Box::new(r),
        c => decompress_within(c, r, what, Budget::default()),
    }
}

/// A reader of the decompressed bytes of `r`, compressed as `c` (or not: the budget applies to plain bytes
/// too), failing with `InvalidData` once the output passes `budget`.
pub fn decompress_within<'a, R: Read + Send + 'a>(
    c: Compression,
    r: R,
    what: &str,
    budget: Budget,
) -> Box<dyn Read + Send + 'a> {
    let input = Arc::new(AtomicU64::new(0));
    let counted = |r| Counted { inner: r, count: input.clone() };
    match c {
        // Plain bytes: only the output is budgeted (the input count words a bomb's error).
        Compression::None => Box::new(Guard::new(r, input.clone(), what, c, budget)),
        Compression::Gzip => {
            Box::new(Guard::new(flate2::read::MultiGzDecoder::new(counted(r)), input.clone(), what, c, budget))
        }
        Compression::Zstd => Box::new(Guard::new(ZstdFrames::new(counted(r)), input.clone(), what, c, budget)),
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

/// Fails a decompression whose output passes its [`Budget`].
struct Guard<D> {
    inner: D,
    input: Arc<AtomicU64>,
    output: u64,
    what: String,
    /// The compression's name; `None` for plain bytes.
    format: Option<&'static str>,
    budget: Budget,
}

impl<D> Guard<D> {
    fn new(inner: D, input: Arc<AtomicU64>, what: &str, compression: Compression, budget: Budget) -> Guard<D> {
        let format = (compression != Compression::None).then(|| compression.name());
        Guard { inner, input, output: 0, what: what.to_owned(), format, budget }
    }
}

/// The bomb rule of [`decompress_within`] for a decoder this module does not own (build's `ADD` reads bzip2):
/// `decoded` gives the decompressed bytes of a `format` stream of which `input` counts the compressed bytes
/// read so far; past `budget`, an [`OverBudget`] error.
pub fn guard_decoded<'a, D: Read + Send + 'a>(
    decoded: D,
    input: Arc<AtomicU64>,
    what: &str,
    format: &'static str,
    budget: Budget,
) -> Box<dyn Read + Send + 'a> {
    Box::new(Guard { inner: decoded, input, output: 0, what: what.to_owned(), format: Some(format), budget })
}

/// The compressions [`decompress_file`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Formats {
    /// gzip, zstd or none: image layers (bzip2 and xz are refused as [`Unsupported`]).
    Layers,
    /// Those, and bzip2 and xz, as docker's `ADD` unpacks (xz only up to [`MAX_XZ`] bytes decoded).
    Archives,
}

/// The most bytes an xz file may decode to: 16 MiB. lzma-rs, hoist's xz decoder, holds a block whole and
/// the result once more, so xz is not streamed; its size is read from the LZMA2 chunk headers before
/// anything is decoded.
pub const MAX_XZ: u64 = 16 << 20;

/// The refusal of an xz file that decodes to more than [`MAX_XZ`] bytes (inside an `InvalidData` `io::Error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "an xz archive that unpacks to {0} bytes: hoist decodes xz in memory and takes at most {MAX_XZ} (16 MiB) of \
     it; recompress it with gzip or zstd, which are streamed"
)]
pub struct XzTooLarge(pub u64);

/// The decompressed bytes of `file`, whatever its compression among `formats` (told by its first bytes),
/// failing with an [`OverBudget`] error once they pass `budget` (the bomb rule): the one way build reads a
/// layer or an archive. `what` names the file in errors.
pub fn decompress_file<'a>(
    file: std::fs::File,
    what: &str,
    budget: Budget,
    formats: Formats,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    let mut r = BufReader::with_capacity(1 << 16, file);
    let magic = magic(r.fill_buf()?);
    match (magic, formats) {
        (Magic::Layer(c), _) => Ok(decompress_within(c, r, what, budget)),
        (Magic::Bzip2, Formats::Archives) => {
            let input = Arc::new(AtomicU64::new(0));
            let counted = Counted { inner: r, count: input.clone() };
            Ok(guard_decoded(bzip2::read::MultiBzDecoder::new(counted), input, what, "bzip2", budget))
        }
        (Magic::Xz, Formats::Archives) => {
            let size = xz_size_of_file(r.get_ref());
            if let Some(size) = size.filter(|&s| s > MAX_XZ) {
                return Err(io::Error::new(io::ErrorKind::InvalidData, XzTooLarge(size)));
            }
            // A size that could not be read: lzma-rs says what is wrong, and holds at most what it reads.
            let mut out = Vec::new();
            lzma_rs::xz_decompress(&mut r, &mut out).map_err(|e| invalid(&format!("xz: {e}")))?;
            // The budget applies to xz too (one smaller than 16 MiB).
            let input = Arc::new(AtomicU64::new(r.get_ref().metadata().map_or(0, |m| m.len())));
            Ok(guard_decoded(io::Cursor::new(out), input, what, "xz", budget))
        }
        (Magic::Bzip2, Formats::Layers) => Err(io::Error::new(io::ErrorKind::InvalidData, Unsupported("bzip2"))),
        (Magic::Xz, Formats::Layers) => Err(io::Error::new(io::ErrorKind::InvalidData, Unsupported("xz"))),
    }
}

/// What the xz file `file` decodes to, by [`xz_decoded_size`] (positioned reads: the file's offset stays
/// where it was); `None` when its chunks cannot be read.
fn xz_size_of_file(file: &std::fs::File) -> Option<u64> {
    struct At<'f>(&'f std::fs::File, u64);
    impl Read for At<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = std::os::unix::fs::FileExt::read_at(self.0, buf, self.1)?;
            self.1 += n as u64;
            Ok(n)
        }
    }
    xz_decoded_size(&mut BufReader::new(At(file, 0))).ok()
}

/// What the first stream of an xz file decodes to, from its LZMA2 chunk headers (which say how much each
/// chunk unpacks to, and lzma-rs unpacks exactly that): read without decoding anything.
pub fn xz_decoded_size(r: &mut impl Read) -> io::Result<u64> {
    fn byte(r: &mut impl Read) -> io::Result<u8> {
        let mut b = [0u8; 1];
        r.read_exact(&mut b)?;
        Ok(b[0])
    }
    fn be16(r: &mut impl Read) -> io::Result<u64> {
        let mut b = [0u8; 2];
        r.read_exact(&mut b)?;
        Ok(u64::from(u16::from_be_bytes(b)))
    }
    fn skip(r: &mut impl Read, n: u64) -> io::Result<()> {
        if io::copy(&mut r.take(n), &mut io::sink())? != n {
            return Err(invalid("truncated"));
        }
        Ok(())
    }
    let mut header = [0u8; 12];
    r.read_exact(&mut header)?;
    let check = [0u64, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64][usize::from(header[7] & 0x0f)];
    let mut total: u64 = 0;
    loop {
        let first = byte(r)?;
        if first == 0 {
            return Ok(total); // the index: every block was counted
        }
        let header_size = (u64::from(first) + 1) * 4;
        skip(r, header_size - 1)?;
        let mut packed: u64 = 0;
        loop {
            let control = byte(r)?;
            packed += 1;
            match control {
                0x00 => break,
                0x01 | 0x02 => {
                    let size = be16(r)? + 1;
                    skip(r, size)?;
                    total += size;
                    packed += 2 + size;
                }
                0x80..=0xff => {
                    let unpacked = (u64::from(control & 0x1f) << 16) + be16(r)? + 1;
                    let size = be16(r)? + 1;
                    packed += 4;
                    if control >= 0xc0 {
                        byte(r)?;
                        packed += 1;
                    }
                    skip(r, size)?;
                    total += unpacked;
                    packed += size;
                }
                _ => return Err(invalid("an invalid LZMA2 chunk")),
            }
        }
        skip(r, (4 - (header_size + packed) % 4) % 4 + check)?;
    }
}

impl<D: Read> Read for Guard<D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Never more than one byte past the budget: the decoder stops there.
        let room = self.budget.max.saturating_sub(self.output).saturating_add(1);
        let len = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..len])?;
        self.output += n as u64;
        if self.output > self.budget.max {
            let input = self.input.load(Ordering::Relaxed);
            let message = match self.format {
                None => {
                    format!(
                        "{}: refused: more than {} bytes, more than {}",
                        self.what, self.budget.max, self.budget.reason
                    )
                }
                Some(format) => format!(
                    "{}: decompression bomb refused: {input} bytes of {format} data expand past {} bytes, more than {}",
                    self.what, self.budget.max, self.budget.reason
                ),
            };
            return Err(io::Error::new(io::ErrorKind::InvalidData, OverBudget(message)));
        }
        Ok(n)
    }
}

/// Every frame of a zstd stream through libzstd (skippable frames skipped, each frame's checksum and
/// declared content size checked), windows up to [`MAX_ZSTD_WINDOW`]; an empty or truncated stream is an
/// error, never a clean end.
struct ZstdFrames<'a, R: Read> {
    decoder: Option<zstd::stream::read::Decoder<'a, BufReader<R>>>,
    /// The source, until the first read shows it is not empty.
    source: Option<BufReader<R>>,
}

impl<R: Read> ZstdFrames<'_, R> {
    fn new(source: R) -> Self {
        ZstdFrames { decoder: None, source: Some(BufReader::with_capacity(1 << 16, source)) }
    }
}

/// `MAX_ZSTD_WINDOW` as libzstd's log2.
const MAX_ZSTD_WINDOW_LOG: u32 = MAX_ZSTD_WINDOW.trailing_zeros();

/// libzstd's error, worded for a person: a window past the limit says so.
fn zstd_error(e: io::Error) -> io::Error {
    let message = e.to_string();
    if message.contains("too much memory") || message.contains("Frame requires") {
        return invalid(&format!(
            "zstd: a frame asks for a window of more than the {MAX_ZSTD_WINDOW} bytes (128 MiB) allowed (was it \
             made with --long?)"
        ));
    }
    if e.kind() == io::ErrorKind::UnexpectedEof || message.contains("incomplete frame") {
        return invalid("zstd: truncated stream (the last frame is incomplete)");
    }
    if e.kind() == io::ErrorKind::Other || e.kind() == io::ErrorKind::InvalidData {
        // libzstd's own words ("Data corruption detected", "Restored data doesn't match checksum", ...).
        return invalid(&format!("zstd: {message}"));
    }
    e
}

impl<R: Read> Read for ZstdFrames<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if let Some(mut source) = self.source.take() {
            if source.fill_buf()?.is_empty() {
                self.source = Some(source);
                return Err(invalid("zstd: empty stream"));
            }
            let mut decoder = zstd::stream::read::Decoder::with_buffer(source).map_err(zstd_error)?;
            decoder.window_log_max(MAX_ZSTD_WINDOW_LOG).map_err(zstd_error)?;
            self.decoder = Some(decoder);
        }
        match &mut self.decoder {
            Some(decoder) => decoder.read(buf).map_err(zstd_error),
            None => Err(invalid("zstd: empty stream")),
        }
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
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

        let zst_of = |data: &[u8]| zstd::encode_all(data, 1).unwrap();
        let mut zst = zst_of(b"hello ");
        // A skippable frame between the two (magic 0x184D2A50, little endian, 3 bytes of payload).
        zst.extend([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
        zst.extend(zst_of(b"world"));
        assert_eq!(read_all(Compression::Zstd, &zst).unwrap(), b"hello world");
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let zst = zst_of(&big);
        assert_eq!(read_all(Compression::Zstd, &zst).unwrap(), big);
    }

    #[test]
    fn corrupt_and_truncated_streams_fail() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&[7u8; 10_000]).unwrap();
        let gz = enc.finish().unwrap();
        assert!(read_all(Compression::Gzip, &gz[..gz.len() - 10]).is_err());
        let zst = zstd::encode_all(&[7u8; 10_000][..], 1).unwrap();
        assert!(read_all(Compression::Zstd, &zst[..zst.len() - 3]).is_err());
        assert!(read_all(Compression::Zstd, b"").is_err());
        assert!(read_all(Compression::Zstd, &[0x28, 0xb5, 0x2f, 0xfd, 0xff, 0xff]).is_err());
    }

    /// A zstd frame of `data` as one raw block, saying it holds `declared` bytes (its content size field,
    /// 4 bytes) with a 1 MiB window; no checksum.
    fn raw_frame(data: &[u8], declared: u32) -> Vec<u8> {
        let mut f = vec![0x28, 0xb5, 0x2f, 0xfd, 0b1000_0000, 0x58];
        f.extend_from_slice(&declared.to_le_bytes());
        let header = 1 | ((data.len() as u32) << 3); // last block, raw
        f.extend_from_slice(&header.to_le_bytes()[..3]);
        f.extend_from_slice(data);
        f
    }

    #[test]
    fn zstd_frames_that_lie_or_stop_short_are_errors_never_a_clean_end() {
        let data = b"0123456789abcdef";
        assert_eq!(read_all(Compression::Zstd, &raw_frame(data, 16)).unwrap(), data);
        // A frame that says it holds more (or fewer) bytes than its blocks give.
        for declared in [17, 15, 1 << 30] {
            let e = read_all(Compression::Zstd, &raw_frame(data, declared)).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{declared}: {e}");
            assert!(e.to_string().starts_with("zstd: "), "{e}");
        }
        // Cut anywhere inside, header or block: an error, never fewer bytes given as the whole.
        let whole = raw_frame(data, 16);
        for cut in 1..whole.len() {
            let e = read_all(Compression::Zstd, &whole[..cut]).unwrap_err();
            assert!(e.to_string().starts_with("zstd: "), "cut at {cut}: {e}");
        }
        let made = zstd::encode_all(&vec![3u8; 1 << 20][..], 3).unwrap();
        let e = read_all(Compression::Zstd, &made[..made.len() / 2]).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        // A checksum that does not match.
        let mut enc = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        enc.include_checksum(true).unwrap();
        enc.write_all(b"checked bytes").unwrap();
        let mut checked = enc.finish().unwrap();
        let last = checked.len() - 1;
        checked[last] ^= 0xff;
        assert!(read_all(Compression::Zstd, &checked).unwrap_err().to_string().contains("checksum"));
    }

    #[test]
    fn a_zstd_window_past_128_mib_is_refused_and_128_mib_is_read() {
        // Window descriptor byte: exponent in the high 5 bits (window = 1 << (10 + exponent)), no mantissa.
        let frame = |window_log: u8| {
            let mut f = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, (window_log - 10) << 3];
            f.extend_from_slice(&(1u32 | (5 << 3)).to_le_bytes()[..3]);
            f.extend_from_slice(b"hello");
            f
        };
        assert_eq!(read_all(Compression::Zstd, &frame(27)).unwrap(), b"hello");
        let e = read_all(Compression::Zstd, &frame(28)).unwrap_err();
        assert!(e.to_string().contains("window of more than the 134217728 bytes"), "{e}");
        let e = read_all(Compression::Zstd, &frame(31)).unwrap_err();
        assert!(e.to_string().contains("--long"), "{e}");
    }

    #[test]
    fn bombs_are_refused_past_their_budget_whatever_the_ratio() {
        // 1 MiB of zeros compresses to about 1 KiB (past 1000 to 1): no bomb by itself.
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 1 << 20]).unwrap();
        let member = enc.finish().unwrap();
        let zeros: Vec<u8> = member.iter().copied().cycle().take(member.len() * 300).collect();
        assert_eq!(read_all(Compression::Gzip, &zeros).unwrap().len(), 300 << 20, "300 MiB of zeros is no bomb");
        // The same stream with a budget of 100 MiB (a spool's free space) is refused there, not at its end.
        let mut out = Vec::new();
        let budget = Budget::bytes(100 << 20, "the free space of /spool");
        let e = decompress_within(Compression::Gzip, &zeros[..], "b.tar.gz", budget).read_to_end(&mut out).unwrap_err();
        let m = e.to_string();
        assert!(
            m.starts_with("b.tar.gz: decompression bomb refused:") && m.contains("the free space of /spool"),
            "{m}"
        );
        assert!(out.len() as u64 <= 100 << 20, "stopped at the budget: {}", out.len());
        // Plain bytes (a FIFO, /dev/zero) have the budget too.
        let budget = Budget::bytes(1 << 20, "the free space of /spool");
        let e = decompress_within(Compression::None, io::repeat(0), "/dev/zero", budget)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(e.to_string().contains("more than 1048576 bytes"), "{e}");
        // Exactly the budget is fine.
        let budget = Budget::bytes(300 << 20, "x");
        let mut r = decompress_within(Compression::Gzip, &zeros[..], "b", budget);
        assert_eq!(io::copy(&mut r, &mut io::sink()).unwrap(), 300 << 20);
    }

    #[test]
    fn a_6_gib_zstd_bomb_of_a_few_kib_is_refused_by_the_spool_budget_in_bounded_time() {
        // zstd RLE blocks: 4 bytes give 128 KiB, so 6 GiB of zeros fit in about 200 KiB.
        let mut bomb = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58]; // magic; no checksum, window 1 MiB
        let blocks = (6u64 << 30) / (128 << 10);
        for i in 0..blocks {
            let last = u32::from(i + 1 == blocks);
            let header = last | (1 << 1) | ((128 << 10) << 3); // RLE block of 128 KiB
            bomb.extend_from_slice(&header.to_le_bytes()[..3]);
            bomb.push(0);
        }
        assert!(bomb.len() < 256 * 1024);
        let start = std::time::Instant::now();
        let budget = Budget::bytes(64 << 20, "the free space of /spool");
        let e = decompress_within(Compression::Zstd, &bomb[..], "bomb.tar.zst", budget)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(e.to_string().contains("decompression bomb refused"), "{e}");
        assert!(start.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn files_decompress_by_their_formats_within_the_budget() {
        let file_of = |data: &[u8]| {
            let mut f = tempfile::tempfile().unwrap();
            f.write_all(data).unwrap();
            std::io::Seek::rewind(&mut f).unwrap();
            f
        };
        let read = |data: &[u8], budget: Budget, formats: Formats| -> io::Result<Vec<u8>> {
            let mut out = Vec::new();
            decompress_file(file_of(data), "f", budget, formats)?.read_to_end(&mut out)?;
            Ok(out)
        };
        let plain = vec![7u8; 100_000];
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        bz.write_all(&plain).unwrap();
        let bz = bz.finish().unwrap();
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut &plain[..], &mut xz).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        // Layers: gzip, zstd or none; bzip2 and xz refused by name.
        assert_eq!(read(&gz, Budget::default(), Formats::Layers).unwrap(), plain);
        assert_eq!(read(&plain, Budget::default(), Formats::Layers).unwrap(), plain);
        for (data, name) in [(&bz, "bzip2"), (&xz, "xz")] {
            let e = read(data, Budget::default(), Formats::Layers).unwrap_err();
            assert_eq!(e.get_ref().and_then(|i| i.downcast_ref::<Unsupported>()), Some(&Unsupported(name)), "{e}");
        }
        // Archives: bzip2 and xz too, each within the budget.
        for data in [&gz, &bz, &xz] {
            assert_eq!(read(data, Budget::default(), Formats::Archives).unwrap(), plain);
            let e = read(data, Budget::bytes(50_000, "the test's budget"), Formats::Archives).unwrap_err();
            let refusal = OverBudget::of(&e).unwrap_or_else(|| panic!("{e}"));
            assert!(refusal.0.contains("decompression bomb refused") && refusal.0.contains("the test's budget"), "{e}");
        }
        // xz past 16 MiB is refused from its chunk headers, before it is decoded.
        let zeros = vec![0u8; (MAX_XZ + 1) as usize];
        let mut big = Vec::new();
        lzma_rs::xz_compress(&mut &zeros[..], &mut big).unwrap();
        let e = read(&big, Budget::default(), Formats::Archives).unwrap_err();
        let refusal = e.get_ref().and_then(|i| i.downcast_ref::<XzTooLarge>());
        assert_eq!(refusal, Some(&XzTooLarge(MAX_XZ + 1)), "{e}");
    }

    #[test]
    fn the_free_space_budget_keeps_a_reserve() {
        let dir = tempfile::tempdir().unwrap();
        let b = Budget::free_space(dir.path()).unwrap();
        let (free, size) = free_space(dir.path()).unwrap();
        assert_eq!(b.max, free.saturating_sub((size / 20).min(1 << 30)).min(MAX_EXPANDED));
        assert!(b.reason.contains("free space"));
    }
}
