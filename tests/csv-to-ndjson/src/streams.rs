//! Instrumented readers and writers the checks hand to `convert`.
//!
//! Each one plays a part a real stream plays: a socket that delivers a few bytes at a time and
//! sometimes has nothing ready ([`ChunkedReader`]), a peer that stops reading
//! ([`StallingWriter`]), a disk that fails ([`FailingReader`], [`FailingWriter`]). The checks
//! judge by what happened at the stream, whatever the attempt does inside.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A small seeded PRNG (SplitMix64): reproducible chunkings without a dependency.
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    /// A value in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % bound
    }
}

/// One step of a [`ChunkedReader`]'s plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The next read returns (at most) this many bytes.
    Bytes(usize),
    /// The next read has nothing ready: it returns `Pending` (and asks to be polled again).
    Pending,
}

/// Serves `data` in the chunk sizes its plan gives, then whatever is left in one read.
///
/// A read asks for at most the caller's buffer size, so a chunk larger than the buffer is
/// served over several reads; it never merges two chunks into one read.
pub struct ChunkedReader<'a> {
    data: &'a [u8],
    plan: std::vec::IntoIter<Step>,
    left_in_chunk: usize,
}

impl<'a> ChunkedReader<'a> {
    pub fn new(data: &'a [u8], plan: Vec<Step>) -> Self {
        ChunkedReader {
            data,
            plan: plan.into_iter(),
            left_in_chunk: 0,
        }
    }
}

impl AsyncRead for ChunkedReader<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.left_in_chunk == 0 {
            match this.plan.next() {
                Some(Step::Pending) => {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Some(Step::Bytes(n)) => this.left_in_chunk = n,
                None => this.left_in_chunk = this.data.len(),
            }
        }
        let n = this.left_in_chunk.min(buf.remaining()).min(this.data.len());
        buf.put_slice(&this.data[..n]);
        this.data = &this.data[n..];
        this.left_in_chunk -= n;
        Poll::Ready(Ok(()))
    }
}

/// Accepts `capacity` bytes, then stays `Pending` for good, like a peer that stopped reading.
pub struct StallingWriter {
    capacity: u64,
    pub accepted: u64,
}

impl StallingWriter {
    pub fn new(capacity: u64) -> Self {
        StallingWriter {
            capacity,
            accepted: 0,
        }
    }
}

impl AsyncWrite for StallingWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let room = self.capacity - self.accepted;
        if room == 0 {
            return Poll::Pending;
        }
        let n = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        self.accepted += n as u64;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.accepted == self.capacity {
            Poll::Pending
        } else {
            Poll::Ready(Ok(()))
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

/// Serves `data`, then fails every read with `kind`.
pub struct FailingReader<'a> {
    pub data: &'a [u8],
    pub kind: io::ErrorKind,
}

impl AsyncRead for FailingReader<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.data.is_empty() {
            return Poll::Ready(Err(io::Error::new(self.kind, "injected read failure")));
        }
        let n = self.data.len().min(buf.remaining());
        buf.put_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Poll::Ready(Ok(()))
    }
}

/// Fails every write and flush with `kind`.
pub struct FailingWriter {
    pub kind: io::ErrorKind,
}

impl AsyncWrite for FailingWriter {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(io::Error::new(self.kind, "injected write failure")))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Err(io::Error::new(self.kind, "injected flush failure")))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}
