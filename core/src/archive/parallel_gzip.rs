//! A gzip writer that compresses on every core, as pigz and containers/image's pgzip do: the input is cut into
//! [`BLOCK`]s, each deflated on a worker thread (primed with the 32 KiB before it, so the ratio stays close
//! to a single-threaded stream's) and ended with a sync flush, the last one with the final block; the pieces
//! are written in order as one gzip member (header, the deflate stream, CRC-32 and length), which every gzip
//! reader reads as it reads any other.
//!
//! Memory stays flat: at most two blocks per worker are in flight. The output is the same for the same input
//! and level, whatever the number of workers.
//!
//! What it is not: a reader, or a choice of when to compress (hoist compresses only layers it makes, and those
//! the user asks to have compressed).

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::{Compress, Compression, Crc, FlushCompress};

/// How much input each worker deflates at a time.
pub const BLOCK: usize = 1 << 20;
/// The window a block is primed with: deflate's 32 KiB.
const DICT: usize = 32 << 10;

struct Job {
    dict: Vec<u8>,
    input: Vec<u8>,
    last: bool,
    reply: SyncSender<io::Result<Vec<u8>>>,
}

/// Writes a gzip stream of what is written to it into `W`; call [`ParallelGzip::finish`] at the end.
pub struct ParallelGzip<W: Write> {
    out: Option<W>,
    level: Compression,
    buf: Vec<u8>,
    dict: Vec<u8>,
    crc: Crc,
    jobs: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
    pending: VecDeque<Receiver<io::Result<Vec<u8>>>>,
    in_flight: usize,
    header_written: bool,
}

impl<W: Write> ParallelGzip<W> {
    /// A writer with one worker per core (at least one, at most 8).
    pub fn new(out: W, level: Compression) -> ParallelGzip<W> {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
        ParallelGzip::with_workers(out, level, n)
    }

    pub fn with_workers(out: W, level: Compression, workers: usize) -> ParallelGzip<W> {
        let workers = workers.max(1);
        let (tx, rx) = sync_channel::<Job>(workers);
        let rx = Arc::new(Mutex::new(rx));
        let handles = (0..workers)
            .map(|_| {
                let rx = rx.clone();
                std::thread::spawn(move || {
                    loop {
                        let job = match rx.lock().unwrap_or_else(|e| e.into_inner()).recv() {
                            Ok(j) => j,
                            Err(_) => return,
                        };
                        let _ = job.reply.send(deflate_block(level, &job.dict, &job.input, job.last));
                    }
                })
            })
            .collect();
        ParallelGzip {
            out: Some(out),
            level,
            buf: Vec::with_capacity(BLOCK),
            dict: Vec::new(),
            crc: Crc::new(),
            jobs: Some(tx),
            workers: handles,
            pending: VecDeque::new(),
            in_flight: workers * 2,
            header_written: false,
        }
    }

    fn out(&mut self) -> &mut W {
        self.out.as_mut().expect("a writer is used until finished")
    }

    fn write_header(&mut self) -> io::Result<()> {
        if !self.header_written {
            self.header_written = true;
            let xfl = if self.level.level() <= 1 {
                4
            } else if self.level.level() >= 9 {
                2
            } else {
                0
            };
            // gzip, deflate, no flags, mtime 0, the level hint, OS unknown (as flate2 writes it).
            let header = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255];
            self.out().write_all(&header)?;
        }
        Ok(())
    }

    /// Hands the buffered input to a worker (the last block when `last`), writing finished blocks in order.
    fn dispatch(&mut self, last: bool) -> io::Result<()> {
        self.write_header()?;
        while self.pending.len() >= self.in_flight {
            self.write_oldest()?;
        }
        let input = std::mem::replace(&mut self.buf, Vec::with_capacity(if last { 0 } else { BLOCK }));
        // Every block but the last is BLOCK long, so the next one's window is this one's tail.
        let dict = std::mem::replace(&mut self.dict, input[input.len().saturating_sub(DICT)..].to_vec());
        let (reply, rx) = sync_channel(1);
        let jobs = self.jobs.as_ref().expect("workers run until finished");
        jobs.send(Job { dict, input, last, reply }).map_err(|_| io::Error::other("gzip worker stopped"))?;
        self.pending.push_back(rx);
        Ok(())
    }

    fn write_oldest(&mut self) -> io::Result<()> {
        let Some(rx) = self.pending.pop_front() else { return Ok(()) };
        let block = rx.recv().map_err(|_| io::Error::other("gzip worker stopped"))??;
        self.out().write_all(&block)
    }

    /// Ends the stream (the last block, CRC-32 and length) and gives back the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.dispatch(true)?;
        while !self.pending.is_empty() {
            self.write_oldest()?;
        }
        let (crc, len) = (self.crc.sum(), self.crc.amount());
        let mut trailer = [0u8; 8];
        trailer[..4].copy_from_slice(&crc.to_le_bytes());
        trailer[4..].copy_from_slice(&len.to_le_bytes());
        self.out().write_all(&trailer)?;
        self.out().flush()?;
        Ok(self.out.take().expect("finished once"))
    }
}

impl<W: Write> Drop for ParallelGzip<W> {
    fn drop(&mut self) {
        self.pending.clear();
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(BLOCK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        self.crc.update(&data[..n]);
        if self.buf.len() == BLOCK {
            self.dispatch(false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One block as raw deflate: ends on a byte boundary (sync flush), or with the final block when `last`.
fn deflate_block(level: Compression, dict: &[u8], input: &[u8], last: bool) -> io::Result<Vec<u8>> {
    let mut c = Compress::new(level, false);
    if !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let mut out = Vec::with_capacity(input.len() + input.len() / 16 + 64);
    let flush = if last { FlushCompress::Finish } else { FlushCompress::Sync };
    loop {
        let consumed = c.total_in() as usize;
        if out.capacity() - out.len() < 64 {
            out.reserve(input.len() / 4 + 64);
        }
        let status = c.compress_vec(&input[consumed..], &mut out, flush).map_err(io::Error::other)?;
        let done = c.total_in() as usize == input.len();
        match status {
            flate2::Status::StreamEnd => return Ok(out),
            _ if done && !last && out.capacity() > out.len() => return Ok(out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        // GzDecoder reads one member: the output must be a single gzip member.
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(gz).read_to_end(&mut out).unwrap();
        out
    }

    fn data(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        // Half text-like (compressible, with matches across blocks), half pseudo-random.
        (0..n)
            .map(|i| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                if (i / 4096) % 2 == 0 { b"hoist layer "[i % 12] } else { (x >> 56) as u8 }
            })
            .collect()
    }

    #[test]
    fn round_trips_every_size_around_the_block_boundaries() {
        for n in [0, 1, 100, DICT - 1, DICT + 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + BLOCK / 2] {
            let input = data(n, n as u64);
            for workers in [1, 3] {
                let mut w = ParallelGzip::with_workers(Vec::new(), Compression::fast(), workers);
                // Odd-sized writes, as a tar writer makes them.
                for chunk in input.chunks(70_001) {
                    w.write_all(chunk).unwrap();
                }
                let gz = w.finish().unwrap();
                assert_eq!(gunzip(&gz), input, "{n} bytes, {workers} workers");
            }
        }
    }

    #[test]
    fn same_bytes_for_any_number_of_workers_and_close_to_a_single_stream() {
        let input = data(5 * BLOCK + 123, 7);
        let run = |workers| {
            let mut w = ParallelGzip::with_workers(Vec::new(), Compression::fast(), workers);
            w.write_all(&input).unwrap();
            w.finish().unwrap()
        };
        let (one, four) = (run(1), run(4));
        assert_eq!(one, four);
        let mut single = flate2::write::GzEncoder::new(Vec::new(), Compression::fast());
        single.write_all(&input).unwrap();
        let single = single.finish().unwrap();
        assert!(one.len() <= single.len() + single.len() / 50, "{} vs {}", one.len(), single.len());
    }
}
