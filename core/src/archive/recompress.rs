//! Layer recompression on the way (`push --compression-format`, `copy --dest-compress-format`): what a user
//! may ask for ([`Recompression`]: gzip or zstd, a level in the range podman documents, `--force-compression`),
//! which layers it changes ([`Recompression::wants`]), their new media types, and the streamed work itself
//! ([`recompress`]: decompress → compress on every core → hash → write; memory flat).
//!
//! zstd goes through libzstd (the `zstd` crate, also hoist's one zstd decoder in [`super::compression`]) in
//! its multithreaded mode, whose output does not depend on the number of threads, so the same layer at the
//! same level always gives the same digest and a destination that has it skips it; gzip through
//! [`super::parallel_gzip`] (deterministic too). The uncompressed bytes never change, so neither do the
//! config's `diff_ids` nor the image ID.
//!
//! What it is not: deciding which manifests change or writing blobs (the copy engine does); `zstd:chunked`
//! (refused by name).

use std::io::{self, Read, Write};

use super::compression::{self, Compression};
use crate::digest::{Digest, Hasher};
use crate::image::media_type::*;

/// A compression a layer can be rewritten in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerCompression {
    Gzip,
    Zstd,
}

impl LayerCompression {
    pub fn name(self) -> &'static str {
        match self {
            LayerCompression::Gzip => "gzip",
            LayerCompression::Zstd => "zstd",
        }
    }

    /// The levels accepted, as podman documents them: zstd 1 to 20, gzip 1 to 9.
    pub fn levels(self) -> std::ops::RangeInclusive<i32> {
        match self {
            LayerCompression::Gzip => 1..=9,
            LayerCompression::Zstd => 1..=20,
        }
    }

    /// The level used when none is given: zstd's 3 (libzstd's and containers/image's default), gzip's 6
    /// (zlib's).
    pub fn default_level(self) -> i32 {
        match self {
            LayerCompression::Gzip => 6,
            LayerCompression::Zstd => 3,
        }
    }

    fn compression(self) -> Compression {
        match self {
            LayerCompression::Gzip => Compression::Gzip,
            LayerCompression::Zstd => Compression::Zstd,
        }
    }
}

impl std::fmt::Display for LayerCompression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for LayerCompression {
    type Err = RecompressionError;

    fn from_str(s: &str) -> Result<LayerCompression, RecompressionError> {
        match s {
            "gzip" => Ok(LayerCompression::Gzip),
            "zstd" => Ok(LayerCompression::Zstd),
            "zstd:chunked" => Err(RecompressionError::ZstdChunked),
            other => Err(RecompressionError::Unknown(other.to_owned())),
        }
    }
}

/// A compression request hoist refuses; one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecompressionError {
    #[error("compression format \"zstd:chunked\" is not supported by hoist: use gzip or zstd")]
    ZstdChunked,
    #[error("unknown compression format {0:?}: use gzip or zstd")]
    Unknown(String),
    #[error("compression level {level} is out of range for {format}: use {} to {}", format.levels().start(), format.levels().end())]
    Level { format: LayerCompression, level: i32 },
    #[error("a compression level needs a compression format (--compression-format or --dest-compress-format)")]
    LevelWithoutFormat,
    #[error("zstd compression is not supported for docker images: use --format oci (or leave --format out)")]
    ZstdInSchema2,
}

/// What a copy makes of its layers' compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recompression {
    pub format: LayerCompression,
    pub level: i32,
    /// Recompress layers already in `format` too (`--force-compression`).
    pub force: bool,
}

impl Recompression {
    /// `format` at `level` (its default when `None`), refused when out of range.
    pub fn new(format: LayerCompression, level: Option<i32>, force: bool) -> Result<Recompression, RecompressionError> {
        let level = level.unwrap_or(format.default_level());
        if !format.levels().contains(&level) {
            return Err(RecompressionError::Level { format, level });
        }
        Ok(Recompression { format, level, force })
    }

    /// For a layer of `media_type`: `Some(its compression)` when this request rewrites it, `None` when it
    /// stays as it is (already in the format and not forced; foreign, encrypted or unknown layers, which are
    /// never rewritten).
    pub fn wants(&self, media_type: &str) -> Option<Compression> {
        let now = layer_compression(media_type)?;
        (self.force || now != self.format.compression()).then_some(now)
    }

    /// The media type of a layer of `media_type` once rewritten: Docker's gzip type stays Docker's (schema 2
    /// has no zstd: the manifest is made OCI before), OCI's become `tar+gzip` or `tar+zstd`.
    pub fn media_type(&self, media_type: &str) -> &'static str {
        match (media_type, self.format) {
            (DOCKER_LAYER | DOCKER_LAYER_GZIP, LayerCompression::Gzip) => DOCKER_LAYER_GZIP,
            (_, LayerCompression::Gzip) => OCI_LAYER_GZIP,
            (_, LayerCompression::Zstd) => OCI_LAYER_ZSTD,
        }
    }
}

/// The compression of a distributable layer of `media_type`; `None` for anything else (foreign layers are
/// never copied, so never rewritten; encrypted and unknown types are left as they are).
pub fn layer_compression(media_type: &str) -> Option<Compression> {
    match media_type {
        OCI_LAYER | DOCKER_LAYER => Some(Compression::None),
        OCI_LAYER_GZIP | DOCKER_LAYER_GZIP => Some(Compression::Gzip),
        OCI_LAYER_ZSTD => Some(Compression::Zstd),
        _ => None,
    }
}

/// Where a recompressed layer waits until it is sent: `$TMPDIR`, else `/var/tmp` (as podman's
/// `image_copy_tmp_dir`: `/tmp` is often a tmpfs, in memory).
pub fn spool_dir() -> std::path::PathBuf {
    std::env::var_os("TMPDIR").filter(|d| !d.is_empty()).map_or_else(|| "/var/tmp".into(), Into::into)
}

/// The threads one layer's compression uses: every core (at most 8).
pub fn threads() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8) as u32
}

/// Writes `input` (compressed as `from`) to `out` compressed as `to` asks, streamed: the digest and size of
/// what was written. `what` names the layer in errors (a corrupt or truncated input, a bomb past
/// [`compression::MAX_EXPANDED`]).
pub fn recompress(
    input: impl Read + Send,
    from: Compression,
    to: &Recompression,
    out: impl Write,
    what: &str,
) -> io::Result<(Digest, u64)> {
    // Decompression runs on a thread of its own ahead of the compressor, which keeps every core busy.
    let plain = compression::decompress(from, input, what);
    let mut hashed = HashingWriter { inner: out, hasher: Hasher::sha256() };
    match to.format {
        LayerCompression::Zstd => {
            let mut enc = zstd::stream::write::Encoder::new(&mut hashed, to.level)?;
            // Always libzstd's multithreaded mode (even with one worker): its output is the same for any number
            // of workers ≥ 1, so every machine makes the same bytes; the single-threaded mode's differ.
            enc.multithread(threads())?;
            enc.include_checksum(true)?;
            compression::read_ahead(plain, |plain| io::copy(plain, &mut enc))?;
            enc.finish()?;
        }
        LayerCompression::Gzip => {
            let level = flate2::Compression::new(to.level as u32);
            let mut gz = super::parallel_gzip::ParallelGzip::new(&mut hashed, level);
            compression::read_ahead(plain, |plain| io::copy(plain, &mut gz))?;
            gz.finish()?;
        }
    }
    hashed.inner.flush()?;
    let size = hashed.hasher.len();
    Ok((hashed.hasher.finish(), size))
}

/// Hashes what is written through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_levels_are_checked_in_one_line() {
        assert_eq!("zstd".parse::<LayerCompression>().unwrap(), LayerCompression::Zstd);
        assert_eq!("gzip".parse::<LayerCompression>().unwrap(), LayerCompression::Gzip);
        let e = "zstd:chunked".parse::<LayerCompression>().unwrap_err().to_string();
        assert!(e.contains("zstd:chunked") && e.contains("use gzip or zstd"), "{e}");
        let e = "xz".parse::<LayerCompression>().unwrap_err().to_string();
        assert_eq!(e, "unknown compression format \"xz\": use gzip or zstd");
        assert_eq!(Recompression::new(LayerCompression::Zstd, None, false).unwrap().level, 3);
        assert!(Recompression::new(LayerCompression::Zstd, Some(20), false).is_ok());
        let e = Recompression::new(LayerCompression::Zstd, Some(21), false).unwrap_err().to_string();
        assert_eq!(e, "compression level 21 is out of range for zstd: use 1 to 20");
        let e = Recompression::new(LayerCompression::Gzip, Some(0), false).unwrap_err().to_string();
        assert_eq!(e, "compression level 0 is out of range for gzip: use 1 to 9");
    }

    #[test]
    fn only_layers_in_another_compression_are_rewritten_unless_forced() {
        let zstd = Recompression::new(LayerCompression::Zstd, None, false).unwrap();
        assert_eq!(zstd.wants(OCI_LAYER_GZIP), Some(Compression::Gzip));
        assert_eq!(zstd.wants(DOCKER_LAYER_GZIP), Some(Compression::Gzip));
        assert_eq!(zstd.wants(OCI_LAYER), Some(Compression::None));
        assert_eq!(zstd.wants(OCI_LAYER_ZSTD), None);
        assert_eq!(zstd.wants(DOCKER_FOREIGN_LAYER), None);
        assert_eq!(zstd.wants(OCI_LAYER_NONDISTRIBUTABLE_GZIP), None);
        assert_eq!(zstd.wants("application/vnd.oci.image.layer.v1.tar+gzip+encrypted"), None);
        let forced = Recompression { force: true, ..zstd };
        assert_eq!(forced.wants(OCI_LAYER_ZSTD), Some(Compression::Zstd));
        assert_eq!(zstd.media_type(OCI_LAYER_GZIP), OCI_LAYER_ZSTD);
        let gzip = Recompression::new(LayerCompression::Gzip, None, false).unwrap();
        assert_eq!(gzip.wants(OCI_LAYER_ZSTD), Some(Compression::Zstd));
        assert_eq!(gzip.media_type(OCI_LAYER_ZSTD), OCI_LAYER_GZIP);
        assert_eq!(gzip.media_type(DOCKER_LAYER), DOCKER_LAYER_GZIP);
    }

    #[test]
    fn recompression_keeps_the_bytes_and_is_the_same_every_time() {
        let plain: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8 ^ (i / 7919) as u8).collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        let zstd = Recompression::new(LayerCompression::Zstd, None, false).unwrap();
        let mut a = Vec::new();
        let (digest, size) = recompress(&gz[..], Compression::Gzip, &zstd, &mut a, "layer").unwrap();
        assert_eq!((digest, size), (Digest::sha256(&a), a.len() as u64));
        assert_eq!(compression::sniff(&a).unwrap(), Compression::Zstd);
        assert_eq!(zstd::decode_all(&a[..]).unwrap(), plain);
        let mut b = Vec::new();
        recompress(&gz[..], Compression::Gzip, &zstd, &mut b, "layer").unwrap();
        assert_eq!(a, b, "the same layer gives the same bytes");
        // Whatever the number of workers: libzstd's multithreaded output does not depend on it.
        for workers in [1, 3] {
            let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
            enc.multithread(workers).unwrap();
            enc.include_checksum(true).unwrap();
            enc.write_all(&plain).unwrap();
            assert_eq!(enc.finish().unwrap(), a, "{workers} workers");
        }
        // And back to gzip, from zstd.
        let gzip = Recompression::new(LayerCompression::Gzip, Some(1), false).unwrap();
        let mut c = Vec::new();
        recompress(&a[..], Compression::Zstd, &gzip, &mut c, "layer").unwrap();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&c[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, plain);
        // A truncated input is an error, not a shorter layer.
        let e = recompress(&gz[..gz.len() / 2], Compression::Gzip, &zstd, &mut Vec::new(), "layer").unwrap_err();
        assert!(matches!(e.kind(), io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData), "{e}");
    }
}
