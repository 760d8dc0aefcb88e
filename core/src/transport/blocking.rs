//! The one bridge between the copy engine's async byte streams and blocking readers and writers: a file (or
//! tar entry) read on a blocking thread becomes a checked [`ByteStream`] ([`reader_stream`]); a
//! [`ByteStream`] becomes a `std::io::Read` for code running on a blocking thread ([`StreamReader`], which
//! reads ahead at most [`READ_AHEAD`] bytes (at least one chunk, whatever its size), so the network or disk
//! behind the stream keeps moving while the blocking side hashes and writes). Memory stays at a few MiB per
//! blob, whether the stream's chunks are 16 KiB network reads or the store's 1 MiB file reads.
//!
//! What it is not: a transport. The store, archive and directory transports use it.

use std::io::{self, BufRead, Read, Write};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
                let n = read_full(&mut reader, &mut buf).map_err(|source| TransportError::Read { source })?;
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

/// How many bytes a [`StreamReader`] takes from its stream before the blocking side has read them (counted
/// in bytes, not chunks: the store reads 1 MiB chunks, a registry's body a few KiB ones). A chunk larger than
/// this is still read ahead alone, so the reader never waits for a chunk that cannot fit.
pub const READ_AHEAD: usize = 4 << 20;

/// A [`ByteStream`] read as `std::io::Read` on a blocking thread (never on the runtime's own threads): a task
/// on the runtime pulls the stream up to [`READ_AHEAD`] bytes ahead (the chunks queued and the one being
/// read; the task holds one more chunk while it waits for room); dropping the reader stops it. The stream's
/// error, when it fails, is kept for [`StreamReader::take_error`].
pub struct StreamReader {
    chunks: tokio::sync::mpsc::UnboundedReceiver<ReadAhead>,
    chunk: Bytes,
    /// The room `chunk` takes in the read-ahead budget, given back once it is read.
    room: Option<OwnedSemaphorePermit>,
    error: Option<TransportError>,
}

/// One item the read-ahead task queues: a chunk with the room it takes in the budget, or the stream's error.
type ReadAhead = Result<(Bytes, OwnedSemaphorePermit), TransportError>;

impl StreamReader {
    /// Starts reading `stream` ahead on `handle`'s runtime.
    pub fn new(stream: ByteStream<TransportError>, handle: Handle) -> StreamReader {
        StreamReader::with_budget(stream, handle, READ_AHEAD)
    }

    /// [`StreamReader::new`] with `budget` bytes of read-ahead instead of [`READ_AHEAD`].
    fn with_budget(mut stream: ByteStream<TransportError>, handle: Handle, budget: usize) -> StreamReader {
        let budget = u32::try_from(budget.max(1)).unwrap_or(u32::MAX);
        let room = Arc::new(Semaphore::new(budget as usize));
        let (tx, chunks) = tokio::sync::mpsc::unbounded_channel();
        handle.spawn(async move {
            while let Some(item) = stream.next().await {
                let item = match item {
                    Ok(bytes) => {
                        // A chunk takes its length in room, at most the whole budget (so a big one still goes).
                        let need = u32::try_from(bytes.len()).unwrap_or(u32::MAX).clamp(1, budget);
                        let Ok(permit) = room.clone().acquire_many_owned(need).await else { return };
                        Ok((bytes, permit))
                    }
                    Err(e) => Err(e),
                };
                let failed = item.is_err();
                if tx.send(item).is_err() || failed {
                    return; // the reader is gone, or the stream ended with its error
                }
            }
        });
        StreamReader { chunks, chunk: Bytes::new(), room: None, error: None }
    }

    /// The stream's own error, if reading failed because of it.
    pub fn take_error(&mut self) -> Option<TransportError> {
        self.error.take()
    }
}

impl BufRead for StreamReader {
    /// The rest of the current chunk (waiting for the next one when it is read): a writer gets whole chunks.
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.chunk.is_empty() {
            self.room = None; // the chunk read so far gives its room back
            match self.chunks.blocking_recv() {
                None => return Ok(&[]),
                Some(Ok((b, room))) => {
                    self.chunk = b;
                    self.room = Some(room);
                }
                Some(Err(e)) => {
                    let message = e.to_string();
                    self.error = Some(e);
                    return Err(io::Error::other(message));
                }
            }
        }
        Ok(&self.chunk)
    }

    fn consume(&mut self, n: usize) {
        let _ = self.chunk.split_to(n.min(self.chunk.len()));
    }
}

impl Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let chunk = self.fill_buf()?;
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// Copies `reader` into `writer` one buffer at a time (a [`StreamReader`]'s whole chunk, 256 KiB to 1 MiB):
/// `std::io::copy` would cut them into 8 KiB writes, a system call each (13,000 for a 100 MB layer).
pub fn copy_buffered(reader: &mut impl BufRead, writer: &mut impl Write) -> io::Result<u64> {
    let mut copied = 0u64;
    loop {
        let buf = match reader.fill_buf() {
            Ok([]) => return Ok(copied),
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        writer.write_all(buf)?;
        let n = buf.len();
        reader.consume(n);
        copied += n as u64;
    }
}

/// Runs blocking work off the runtime's threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, TransportError> + Send + 'static,
) -> Result<T, TransportError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|source| TransportError::TaskFailed { task: "blocking task", source })?
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const MIB: usize = 1 << 20;

    /// A stream of `count` chunks of `size` bytes (chunk i filled with byte i) that counts, each time the
    /// read-ahead task pulls a chunk, how far ahead of what the reader has read it is (the largest seen).
    fn counted_stream(
        count: usize,
        size: usize,
        pulled: Arc<AtomicUsize>,
        read: Arc<AtomicUsize>,
        most_ahead: Arc<AtomicUsize>,
    ) -> ByteStream<TransportError> {
        Box::pin(futures_util::stream::iter(0..count).map(move |i| {
            let total = pulled.fetch_add(size, Ordering::SeqCst) + size;
            most_ahead.fetch_max(total - read.load(Ordering::SeqCst), Ordering::SeqCst);
            Ok(Bytes::from(vec![i as u8; size]))
        }))
    }

    /// Reads everything from `reader`, slowly, counting what it has read in `read`.
    fn read_slowly(mut reader: StreamReader, read: &AtomicUsize) -> Vec<u8> {
        let mut all = Vec::new();
        let mut buf = vec![0u8; 256 << 10];
        loop {
            let n = reader.read(&mut buf).expect("read");
            if n == 0 {
                return all;
            }
            all.extend_from_slice(&buf[..n]);
            read.fetch_add(n, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    #[test]
    fn read_ahead_is_bounded_in_bytes_not_chunks() {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
        let (pulled, read, most_ahead) = Default::default();
        let (pulled, read, most_ahead): (Arc<AtomicUsize>, Arc<AtomicUsize>, Arc<AtomicUsize>) =
            (pulled, read, most_ahead);
        let stream = counted_stream(32, MIB, pulled.clone(), read.clone(), most_ahead.clone());
        let reader = StreamReader::new(stream, runtime.handle().clone());
        let all = read_slowly(reader, &read);
        assert_eq!(all.len(), 32 * MIB);
        assert!(all.chunks(MIB).enumerate().all(|(i, c)| c.iter().all(|&b| b == i as u8)), "bytes out of order");
        // The queued chunks and the one being read fit READ_AHEAD; the task holds one more while it waits.
        let ahead = most_ahead.load(Ordering::SeqCst);
        assert!(ahead <= READ_AHEAD + MIB, "read {ahead} bytes ahead of the reader, more than {READ_AHEAD} + 1 MiB");
        // And it does read ahead (the reader does not wait for each chunk to be fetched).
        assert!(ahead >= READ_AHEAD, "read only {ahead} bytes ahead");
    }

    #[test]
    fn a_chunk_larger_than_the_budget_still_goes() {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
        let (pulled, read, most_ahead): (Arc<AtomicUsize>, Arc<AtomicUsize>, Arc<AtomicUsize>) = Default::default();
        let stream = counted_stream(4, MIB, pulled, read.clone(), most_ahead.clone());
        let reader = StreamReader::with_budget(stream, runtime.handle().clone(), 64 << 10);
        let all = read_slowly(reader, &read);
        assert_eq!(all.len(), 4 * MIB);
        // One chunk queued or being read, one held by the task.
        assert!(most_ahead.load(Ordering::SeqCst) <= 2 * MIB);
    }

    #[test]
    fn the_streams_error_reaches_the_reader() {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
        let items = vec![
            Ok(Bytes::from_static(b"abc")),
            Err(TransportError::Read { source: io::Error::other("the disk failed") }),
        ];
        let stream: ByteStream<TransportError> = Box::pin(futures_util::stream::iter(items));
        let mut reader = StreamReader::new(stream, runtime.handle().clone());
        let mut out = Vec::new();
        assert!(reader.read_to_end(&mut out).is_err());
        assert_eq!(out, b"abc");
        assert!(matches!(reader.take_error(), Some(TransportError::Read { .. })));
    }

    /// A writer that counts its `write` calls.
    #[derive(Default)]
    struct CountingWriter {
        bytes: Vec<u8>,
        writes: usize,
    }

    impl Write for CountingWriter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.writes += 1;
            self.bytes.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A stream's chunks reach the writer whole, a write each (a 100 MB layer in 1 MiB chunks is 100 writes
    /// into the store, not the 12,800 of `std::io::copy`'s 8 KiB buffer), in order.
    #[test]
    fn copy_buffered_writes_whole_chunks() {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
        let (pulled, read, most_ahead): (Arc<AtomicUsize>, Arc<AtomicUsize>, Arc<AtomicUsize>) = Default::default();
        let stream = counted_stream(8, MIB, pulled, read, most_ahead);
        let mut reader = StreamReader::new(stream, runtime.handle().clone());
        let mut out = CountingWriter::default();
        assert_eq!(copy_buffered(&mut reader, &mut out).unwrap(), 8 * MIB as u64);
        assert_eq!(out.writes, 8);
        assert!(out.bytes.chunks(MIB).enumerate().all(|(i, c)| c.iter().all(|&b| b == i as u8)), "bytes out of order");
        assert!(reader.take_error().is_none());
    }

    /// A failing stream fails the copy with the stream's own error kept for the caller.
    #[test]
    fn copy_buffered_stops_at_the_streams_error() {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
        let items = vec![
            Ok(Bytes::from_static(b"abc")),
            Err(TransportError::Read { source: io::Error::other("the disk failed") }),
        ];
        let stream: ByteStream<TransportError> = Box::pin(futures_util::stream::iter(items));
        let mut reader = StreamReader::new(stream, runtime.handle().clone());
        let mut out = CountingWriter::default();
        assert!(copy_buffered(&mut reader, &mut out).is_err());
        assert_eq!(out.bytes, b"abc");
        assert!(matches!(reader.take_error(), Some(TransportError::Read { .. })));
    }
}
