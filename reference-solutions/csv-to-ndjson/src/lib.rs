//! Streaming CSV to NDJSON: the reference solution.
//!
//! [`convert`] reads RFC 4180 CSV from any [`AsyncRead`] and writes NDJSON to any
//! [`AsyncWrite`]: the header row gives the keys, every later record becomes one JSON object on
//! its own line, keys in header order, every value a JSON string.
//!
//! # Layout
//! - this module: the I/O loop. It owns the two buffers (a fixed read chunk and a batch of
//!   encoded output) and decides when to read and when to write. That is where streaming,
//!   bounded memory and backpressure come from.
//! - [`parser`]: a byte-level state machine that turns chunks of CSV into NDJSON lines. It
//!   knows nothing about I/O, which is what makes it correct across chunk boundaries: every
//!   piece of "where am I in the grammar" lives in its fields, never in a local variable of a
//!   read loop.
//!
//! # Why not read lines?
//! The tempting design, `lines()` and `split(',')`, breaks on the first quoted field that holds
//! a comma or a line break, and reading the whole input first breaks on the first input that
//! does not fit in memory. A state machine fed one chunk at a time handles both: it needs only
//! the record currently being parsed in memory, and it does not care where a read ends.

mod parser;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use parser::Parser;

/// How much input one read asks for. Small enough that the input read ahead of a stalled
/// writer stays tiny, large enough that per-read overhead (a syscall, a task hop for
/// `tokio::fs::File`) is amortised.
const READ_CHUNK: usize = 64 * 1024;

/// Encoded output is written once this much has accumulated. Batching turns thousands of tiny
/// per-record writes into a few large ones; the bound keeps memory flat.
const WRITE_BATCH: usize = 64 * 1024;

/// What a successful conversion did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Data records converted, i.e. NDJSON lines written (the header is not counted).
    pub records: u64,
    /// Bytes read from the input, including a byte-order mark if there was one.
    pub bytes_read: u64,
    /// Bytes written to the output.
    pub bytes_written: u64,
}

/// Why a conversion stopped.
///
/// `record` is 0 for the header row and 1 for the first data record (so record *n* is the one
/// that would have become the *n*-th NDJSON line). `line` is the 1-based line on which that
/// record starts; every LF counts, including LFs inside quoted fields, and a CRLF is one line
/// end.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// A record has a different number of fields than the header.
    #[error("record {record} (line {line}) has {found} fields, the header has {expected}")]
    RaggedRow {
        /// The record's number (0 = header).
        record: u64,
        /// The line the record starts on (1-based).
        line: u64,
        /// Number of fields in the header.
        expected: usize,
        /// Number of fields in this record.
        found: usize,
    },
    /// The input ended inside a quoted field.
    #[error("record {record} (line {line}) has a quoted field that is never closed")]
    UnterminatedQuote {
        /// The record's number (0 = header).
        record: u64,
        /// The line the record starts on (1-based).
        line: u64,
    },
    /// A quote inside an unquoted field, or anything but a comma or line end right after a
    /// closing quote.
    #[error("record {record} (line {line}) has a stray quote")]
    StrayQuote {
        /// The record's number (0 = header).
        record: u64,
        /// The line the record starts on (1-based).
        line: u64,
    },
    /// A field is not valid UTF-8.
    #[error("record {record} (line {line}) is not valid UTF-8")]
    InvalidUtf8 {
        /// The record's number (0 = header).
        record: u64,
        /// The line the record starts on (1-based).
        line: u64,
    },
    /// Reading the input or writing the output failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Converts CSV read from `input` into NDJSON written to `output`.
///
/// Flushes `output` before returning `Ok`, but does not shut it down: the caller owns it and
/// may write more to it.
pub async fn convert<R, W>(mut input: R, mut output: W) -> Result<Stats, ConvertError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut parser = Parser::new();
    let mut chunk = vec![0; READ_CHUNK];
    let mut encoded = Vec::with_capacity(WRITE_BATCH);
    let mut stats = Stats::default();

    // Backpressure falls out of the loop's shape: we read only after the previous batch was
    // accepted by `write_all`. A writer that stalls stalls the loop, so at most one chunk of
    // input (and its encoding) is ever held. Reading in a separate task into an unbounded
    // queue would lose exactly that property.
    loop {
        let n = input.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        stats.bytes_read += n as u64;
        parser.feed(&chunk[..n], &mut encoded)?;
        if encoded.len() >= WRITE_BATCH {
            output.write_all(&encoded).await?;
            stats.bytes_written += encoded.len() as u64;
            encoded.clear();
        }
    }

    // End of input may complete a last record that had no final line break, or reveal that a
    // quoted field was never closed.
    parser.finish(&mut encoded)?;
    output.write_all(&encoded).await?;
    stats.bytes_written += encoded.len() as u64;

    // Writers such as `BufWriter` or `tokio::fs::File` may still hold data; without a flush it
    // can be lost when the writer is dropped. Shutting down would be wrong: the caller may
    // want to write more to the same stream (a trailer, the next file).
    output.flush().await?;

    stats.records = parser.records_converted();
    Ok(stats)
}
