//! Large inputs without large memory: a CSV generator and a verifying NDJSON sink.
//!
//! The volume checks stream a gigabyte through the attempt. Neither the input nor the output
//! may ever exist in the suite's memory, or the suite itself would break the memory bound it
//! is judging. So the input is produced record by record as it is read ([`Generator`]), and
//! the output is counted and spot-checked as it is written ([`VerifyingSink`]): record `n` is
//! a pure function of `n` ([`expected_record`]), so any line can be verified on its own.
//!
//! The data is deliberately plain CSV (quoted fields with commas and non-ASCII text, LF line
//! ends, keys in alphabetical order): these checks judge volume and transport, and leave the
//! finer points of the format to the `rfc4180` checks.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::ndjson::{Record, render_expected, render_output};

/// The header row of generated input.
const HEADER: &[u8] = b"city,id,name,note,score\n";

/// Cities as written in the CSV, and as the value they stand for.
const CITIES: [(&str, &str); 5] = [
    ("Berlin", "Berlin"),
    ("\"Zürich, CH\"", "Zürich, CH"),
    ("東京", "東京"),
    ("São Paulo", "São Paulo"),
    ("\"New York, NY\"", "New York, NY"),
];

const NAMES: [&str; 7] = ["ada", "grace", "Łukasz", "ünïcödé", "o'brien", "x", ""];

/// Long notes, so that a gigabyte is millions of records rather than tens of millions: the
/// check is about volume, and per-record overhead would only make it slower.
const NOTES: [(&str, &str); 3] = [
    (
        "\"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt\"",
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt",
    ),
    (
        "Größere Mengen werden wöchentlich geliefert und im Lager am Hafen bis zur Abholung gelagert",
        "Größere Mengen werden wöchentlich geliefert und im Lager am Hafen bis zur Abholung gelagert",
    ),
    (
        "\"東京の倉庫から出荷され、翌日に到着する予定です。追跡番号は, メールでお知らせします\"",
        "東京の倉庫から出荷され、翌日に到着する予定です。追跡番号は, メールでお知らせします",
    ),
];

/// Bytes generated ahead per refill.
const BATCH: usize = 64 * 1024;

/// The record generated input holds as its `n`-th data record (1-based).
pub fn expected_record(n: u64) -> Record {
    let mut record = Record::with_capacity(5);
    record.push(("city".into(), CITIES[(n % 5) as usize].1.into()));
    record.push(("id".into(), format!("{n:010}")));
    record.push(("name".into(), NAMES[(n % 7) as usize].into()));
    record.push(("note".into(), NOTES[(n % 3) as usize].1.into()));
    record.push(("score".into(), (n * 37 % 1000).to_string()));
    record
}

/// What a [`Generator`] does once it has produced its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtEnd {
    /// Reports end of input.
    Eof,
    /// Stays `Pending` for good, like a client that stopped sending.
    Stall,
}

/// Generates CSV: a header, then records 1, 2, … until at least `limit` bytes were produced
/// (the last record is always whole).
pub struct Generator {
    limit: u64,
    at_end: AtEnd,
    next_record: u64,
    batch: Vec<u8>,
    pos: usize,
    /// Bytes handed to the reader so far.
    pub produced: u64,
}

impl Generator {
    pub fn new(limit: u64, at_end: AtEnd) -> Self {
        Generator {
            limit,
            at_end,
            next_record: 1,
            batch: HEADER.to_vec(),
            pos: 0,
            produced: 0,
        }
    }

    /// Data records generated so far.
    pub fn records(&self) -> u64 {
        self.next_record - 1
    }

    /// Fills the next batch; false when the limit is reached.
    fn refill(&mut self) -> bool {
        self.batch.clear();
        self.pos = 0;
        while self.batch.len() < BATCH && self.produced + (self.batch.len() as u64) < self.limit {
            let n = self.next_record;
            let batch = &mut self.batch;
            batch.extend_from_slice(CITIES[(n % 5) as usize].0.as_bytes());
            batch.push(b',');
            push_decimal(batch, n, 10);
            batch.push(b',');
            batch.extend_from_slice(NAMES[(n % 7) as usize].as_bytes());
            batch.push(b',');
            batch.extend_from_slice(NOTES[(n % 3) as usize].0.as_bytes());
            batch.push(b',');
            push_decimal(batch, n * 37 % 1000, 1);
            batch.push(b'\n');
            self.next_record += 1;
        }
        !self.batch.is_empty()
    }
}

/// Appends `value` in decimal, zero-padded to at least `width` digits.
fn push_decimal(out: &mut Vec<u8>, mut value: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut start = digits.len();
    while value > 0 || digits.len() - start < width {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    out.extend_from_slice(&digits[start..]);
}

impl AsyncRead for Generator {
    /// Fills the caller's whole buffer, as a file would: a large read must not come back
    /// short, or an attempt that reads too far ahead would go unnoticed.
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        while buf.remaining() > 0 {
            if this.pos == this.batch.len() && !this.refill() {
                break;
            }
            let n = (this.batch.len() - this.pos).min(buf.remaining());
            buf.put_slice(&this.batch[this.pos..this.pos + n]);
            this.pos += n;
            this.produced += n as u64;
        }
        if buf.filled().len() == before && this.at_end == AtEnd::Stall {
            // Never woken: nothing more is coming.
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }
}

/// Longest output line the sink buffers for verification; a longer one is a problem in itself.
const MAX_LINE: usize = 1 << 20;

/// Counts NDJSON bytes and lines, and verifies every `sample_every`-th line (starting with the
/// first) against [`expected_record`]. Holds at most one line.
pub struct VerifyingSink {
    sample_every: u64,
    line: Vec<u8>,
    pub bytes: u64,
    /// Complete lines seen.
    pub lines: u64,
    /// The first thing found wrong, if any.
    pub problem: Option<String>,
}

impl VerifyingSink {
    pub fn new(sample_every: u64) -> Self {
        VerifyingSink {
            sample_every,
            line: Vec::new(),
            bytes: 0,
            lines: 0,
            problem: None,
        }
    }

    fn take(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let sampled = self.lines.is_multiple_of(self.sample_every) && self.problem.is_none();
            let end = bytes.iter().position(|&b| b == b'\n');
            let piece = &bytes[..end.unwrap_or(bytes.len())];
            if sampled {
                self.line.extend_from_slice(piece);
                if self.line.len() > MAX_LINE {
                    self.problem = Some(format!(
                        "output line {} is longer than {MAX_LINE} bytes",
                        self.lines + 1
                    ));
                }
            }
            let Some(end) = end else { break };
            if sampled {
                self.verify_line();
            }
            self.lines += 1;
            bytes = &bytes[end + 1..];
        }
    }

    fn verify_line(&mut self) {
        let n = self.lines + 1;
        self.line.push(b'\n');
        let actual = render_output(&self.line);
        let expected = render_expected(&[expected_record(n)]);
        if actual != expected && self.problem.is_none() {
            self.problem = Some(format!(
                "output line {n} should be record {n}: expected {expected:?}, got {actual:?}"
            ));
        }
        self.line.clear();
    }
}

impl AsyncWrite for VerifyingSink {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.take(buf);
        self.bytes += buf.len() as u64;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
