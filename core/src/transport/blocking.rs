//! The one bridge between the copy engine's async byte streams and blocking readers and writers: a file (or
//! tar entry) read on a blocking thread becomes a checked [`ByteStream`] ([`reader_stream`]); a
//! [`ByteStream`] becomes a `std::io::Read` for code running on a blocking thread ([`StreamReader`], which
//! reads ahead at most [`READ_AHEAD`] chunks, so the network or disk behind the stream keeps moving while the
//! blocking side hashes and writes). Memory stays at a few chunks per blob.
//!
//! What it is not: a transport. The store, archive and directory transports use it.

use std::io::{self, Read};

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::runtime::Handle;

use super::TransportError;
use crate::digest::Verifier;
use crate::stream::ByteStream;

/// How much is read at a time (small enough that the chunks a slower destination queues stay a few MiB).
pub const CHUNK: usize = 256 << 10;

/// The bytes `open` gives, read on a blocking thread in [`CHUNK`]s and checked by `verifier` (the stream ends
/// with an error item on a mismatch).
pub fn reader_stream<F>(open: F, verifier: Option<Verifier>) -> ByteStream<TransportError>
where
    F: FnOnce() -> Result<Box<dyn Read + Send>, TransportError> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, TransportError>>(4);
    tokio::task::spawn_blocking(move || {
        let run = || -> Result<(), TransportError> {
            let mut reader = open()?;
            let mut verifier = verifier;
            loop {
                let mut buf = vec![0u8; CHUNK];
                let n = read_full(&mut reader, &mut buf).map_err(|e| TransportError::Other(e.to_string()))?;
                if n == 0 {
                    if let Some(v) = verifier.take() {
                        v.finish()?;
                    }
                    return Ok(());
                }
                buf.truncate(n);
                if let Some(v) = verifier.as_mut() {
                    v.update(&buf)?;
                }
                if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                    return Ok(()); // nobody reads any more
                }
            }
        };
        if let Err(e) = run() {
            let _ = tx.blocking_send(Err(e));
        }
    });
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }))
}

/// Reads until `buf` is full or the end.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// How many chunks a [`StreamReader`] takes from its stream before the blocking side has read them.
pub const READ_AHEAD: usize = 16;

/// A [`ByteStream`] read as `std::io::Read` on a blocking thread (never on the runtime's own threads): a task
/// on the runtime pulls the stream up to [`READ_AHEAD`] chunks ahead; dropping the reader stops it. The
/// stream's error, when it fails, is kept for [`StreamReader::take_error`].
pub struct StreamReader {
    chunks: tokio::sync::mpsc::Receiver<Result<Bytes, TransportError>>,
    chunk: Bytes,
    error: Option<TransportError>,
}

impl StreamReader {
    /// Starts reading `stream` ahead on `handle`'s runtime.
    pub fn new(mut stream: ByteStream<TransportError>, handle: Handle) -> StreamReader {
        let (tx, chunks) = tokio::sync::mpsc::channel(READ_AHEAD);
        handle.spawn(async move {
            while let Some(item) = stream.next().await {
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    return; // the reader is gone, or the stream ended with its error
                }
            }
        });
        StreamReader { chunks, chunk: Bytes::new(), error: None }
    }

    /// The stream's own error, if reading failed because of it.
    pub fn take_error(&mut self) -> Option<TransportError> {
        self.error.take()
    }
}

impl Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.chunks.blocking_recv() {
                None => return Ok(0),
                Some(Ok(b)) => self.chunk = b,
                Some(Err(e)) => {
                    let message = e.to_string();
                    self.error = Some(e);
                    return Err(io::Error::other(message));
                }
            }
        }
        let n = self.chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        let _ = self.chunk.split_to(n);
        Ok(n)
    }
}

/// Runs blocking work off the runtime's threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, TransportError> + Send + 'static,
) -> Result<T, TransportError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| TransportError::Other(format!("blocking task: {e}")))?
}
