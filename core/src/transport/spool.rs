//! Blobs whose digest and size are known only once their bytes are all made (layers recompressed on the way):
//! [`spool_then_put`], the way every destination takes them unless it can do better
//! ([`super::ImageDestination::put_made_blob`]; a registry streams them into an upload session instead).
//! The bytes wait in an unlinked spool file in [`crate::archive::recompress::spool_dir`], hashed on their
//! way in; the destination is then asked whether it has the blob, and given it from the spool if not.
//!
//! What it is not: making the bytes (the copy engine does, through [`crate::archive::recompress`]).

use std::io::{BufRead, Write};
use std::sync::Arc;

use super::blocking::{StreamReader, blocking, reader_stream};
use super::{ImageDestination, MadeBlob, OpenBlob, TransportError};
use crate::digest::Hasher;
use crate::image::Descriptor;
use crate::stream::ByteStream;

/// Writes the blob `open` yields (of `media_type`) to `dst` after spooling it whole: skipped when `dst` has
/// it already, else [`ImageDestination::put_blob`] from the spool (read again from its start for each try).
pub async fn spool_then_put<D: ImageDestination + ?Sized>(
    dst: &D,
    media_type: &str,
    open: &OpenBlob<'_>,
) -> Result<MadeBlob, TransportError> {
    let stream = open().await?;
    let handle = tokio::runtime::Handle::current();
    let (digest, size, file) = blocking(move || {
        let mut reader = StreamReader::new(stream, handle);
        let dir = crate::archive::recompress::spool_dir();
        let spool = tempfile::tempfile_in(&dir).map_err(|e| TransportError::Read {
            source: std::io::Error::new(e.kind(), format!("a spool file in {}: {e}", dir.display())),
        })?;
        let mut hasher = Hasher::sha256();
        let mut out = std::io::BufWriter::with_capacity(1 << 20, &spool);
        let result = (|| -> std::io::Result<()> {
            loop {
                let buf = reader.fill_buf()?;
                if buf.is_empty() {
                    return out.flush();
                }
                hasher.update(buf);
                out.write_all(buf)?;
                let n = buf.len();
                reader.consume(n);
            }
        })();
        drop(out);
        match result {
            Ok(()) => {
                let size = hasher.len();
                Ok((hasher.finish(), size, spool))
            }
            Err(source) => Err(reader.take_error().unwrap_or(TransportError::Read { source })),
        }
    })
    .await?;
    let blob = Descriptor {
        media_type: media_type.to_owned(),
        digest: digest.clone(),
        size,
        urls: Vec::new(),
        annotations: None,
        platform: None,
        artifact_type: None,
    };
    if dst.has_blob(&blob).await? {
        return Ok(MadeBlob { digest, size, had: true });
    }
    let file = Arc::new(file);
    let from_spool = || {
        let file = file.clone();
        let stream: ByteStream<TransportError> =
            reader_stream(move || Ok(Box::new(SpoolReader { file, at: 0 }) as Box<dyn std::io::Read + Send>), None);
        Box::pin(async move { Ok(stream) }) as futures_util::future::BoxFuture<'_, _>
    };
    dst.put_blob(&blob, &from_spool).await?;
    Ok(MadeBlob { digest, size, had: false })
}

/// Reads a spool file from its start with positioned reads (the file is shared; its offset is not used).
struct SpoolReader {
    file: Arc<std::fs::File>,
    at: u64,
}

impl std::io::Read for SpoolReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = std::os::unix::fs::FileExt::read_at(&*self.file, buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}
