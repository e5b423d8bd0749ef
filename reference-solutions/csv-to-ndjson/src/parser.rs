//! The CSV state machine: chunks of bytes in, NDJSON lines out.
//!
//! The parser is fed whatever each read returned, so a quote, a CRLF pair, a doubled quote or
//! a multi-byte character may be split between two calls to [`Parser::feed`]. It copes by
//! keeping every bit of progress in its fields:
//!
//! - [`State`] says where in the CSV grammar the last byte left us. A CR at the end of one
//!   chunk becomes `State::Cr`, and the LF at the start of the next completes it.
//! - Field contents are raw bytes until the record ends. UTF-8 is validated per *field*, not per
//!   chunk, so a character split across reads is whole again by the time it is checked.
//! - The byte-order mark is matched byte by byte ([`BomSkipper`]), so it is stripped even when
//!   it arrives one byte per read.
//!
//! Only the record being parsed is held in memory: one record's field bytes plus the offsets
//! where its fields end. That is the memory bound of the whole conversion (one record can be
//! arbitrarily long, but that is the input's doing, not ours).
//!
//! Numbering, as the errors report it: record 0 is the header, record 1 the first data record.
//! Lines are 1-based and count every LF, including LFs inside quoted fields; an error names
//! the line on which its record *starts*, which is where a person should start looking.

use crate::ConvertError;

/// The UTF-8 encoding of U+FEFF, which some tools put at the start of a file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Where in the CSV grammar the parser stands, between two bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing of the current record seen yet.
    RecordStart,
    /// Right after a comma: a new field starts, quoted or not.
    FieldStart,
    /// Inside a field that did not start with a quote.
    Unquoted,
    /// Inside a quoted field, where commas and line breaks are data.
    Quoted,
    /// A quote inside a quoted field: either it closes the field, or it is the first half of a
    /// doubled quote (`""`). Only the next byte can tell, and it may be in the next chunk.
    QuoteInQuoted,
    /// A CR outside quotes: the first half of a CRLF record end, or a lone CR.
    Cr,
}

/// Incremental CSV parser that appends NDJSON lines to a caller's buffer.
pub(crate) struct Parser {
    state: State,
    bom: BomSkipper,
    /// The current record's field contents, back to back, unescaped.
    data: Vec<u8>,
    /// Where each finished field of the current record ends in `data`.
    ends: Vec<usize>,
    /// The header's keys, each already encoded as a JSON string followed by `:`, so that every
    /// record reuses the encoding. `None` until the header row has been parsed.
    keys: Option<Vec<Vec<u8>>>,
    /// Number of the record being parsed: 0 for the header.
    record: u64,
    /// The current line: 1 + the number of LFs seen so far.
    line: u64,
    /// The line on which the current record started, for error reports.
    record_line: u64,
}

impl Parser {
    pub(crate) fn new() -> Self {
        Parser {
            state: State::RecordStart,
            bom: BomSkipper::default(),
            data: Vec::new(),
            ends: Vec::new(),
            keys: None,
            record: 0,
            line: 1,
            record_line: 1,
        }
    }

    /// Parses the next chunk of input, appending a line to `out` for each record it completes.
    pub(crate) fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), ConvertError> {
        let (replay, chunk) = self.bom.strip(chunk);
        self.parse(replay, out)?;
        self.parse(chunk, out)
    }

    /// Ends the input: completes a last record that had no line break after it, or reports a
    /// quoted field that was never closed.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), ConvertError> {
        // An input shorter than a BOM that began like one: those bytes were data after all.
        let replay = self.bom.give_up();
        self.parse(replay, out)?;
        match self.state {
            State::RecordStart => Ok(()),
            State::Quoted => Err(ConvertError::UnterminatedQuote {
                record: self.record,
                line: self.record_line,
            }),
            _ => self.end_record(out),
        }
    }

    /// How many data records have been converted (the header is record 0, not a data record).
    pub(crate) fn records_converted(&self) -> u64 {
        self.record.saturating_sub(1)
    }

    fn parse(&mut self, mut bytes: &[u8], out: &mut Vec<u8>) -> Result<(), ConvertError> {
        while let Some(&byte) = bytes.first() {
            // Fast path: inside a field, copy the whole run of ordinary bytes at once. This is
            // where almost all input goes, so it is worth not looking at one byte at a time.
            let run = match self.state {
                State::Quoted => bytes.iter().position(|&b| b == b'"'),
                State::Unquoted => bytes
                    .iter()
                    .position(|&b| matches!(b, b',' | b'"' | b'\r' | b'\n')),
                _ => Some(0),
            }
            .unwrap_or(bytes.len());
            if run > 0 {
                let (text, rest) = bytes.split_at(run);
                if self.state == State::Quoted {
                    // A line break inside quotes is data, but it still starts a new line.
                    self.line += text.iter().filter(|&&b| b == b'\n').count() as u64;
                }
                self.data.extend_from_slice(text);
                bytes = rest;
                continue;
            }
            self.step(byte, out)?;
            bytes = &bytes[1..];
        }
        Ok(())
    }

    /// Advances the state machine by one structural byte.
    fn step(&mut self, byte: u8, out: &mut Vec<u8>) -> Result<(), ConvertError> {
        if self.state == State::RecordStart {
            self.record_line = self.line;
        }
        match (self.state, byte) {
            // `parse` copied every other byte of a quoted field, so this one is a quote: it
            // closes the field, or it is the first half of a doubled quote.
            (State::Quoted, _) => self.state = State::QuoteInQuoted,
            (State::QuoteInQuoted, b'"') => {
                // `""` inside quotes is one literal quote.
                self.data.push(b'"');
                self.state = State::Quoted;
            }
            (State::Cr, b'\n') => {
                self.line += 1;
                self.end_record(out)?;
            }
            (State::Cr, _) => {
                // A lone CR ends a record too (old Mac files), but only LF counts as a line.
                self.end_record(out)?;
                self.step(byte, out)?;
            }
            (_, b',') => {
                self.ends.push(self.data.len());
                self.state = State::FieldStart;
            }
            (_, b'\n') => {
                self.line += 1;
                self.end_record(out)?;
            }
            (_, b'\r') => self.state = State::Cr,
            (State::RecordStart | State::FieldStart, b'"') => self.state = State::Quoted,
            // A quote that does not open a field is not data: `ab"c` is malformed.
            (State::Unquoted, b'"') => return Err(self.stray_quote()),
            (State::RecordStart | State::FieldStart | State::Unquoted, _) => {
                self.data.push(byte);
                self.state = State::Unquoted;
            }
            // After a closing quote only a comma or a line end may follow: `"ab"c` is as
            // malformed as `ab"c`.
            (State::QuoteInQuoted, _) => return Err(self.stray_quote()),
        }
        Ok(())
    }

    fn stray_quote(&self) -> ConvertError {
        ConvertError::StrayQuote {
            record: self.record,
            line: self.record_line,
        }
    }

    /// Completes the current record: the header becomes the keys, any other record an NDJSON
    /// line in `out`.
    fn end_record(&mut self, out: &mut Vec<u8>) -> Result<(), ConvertError> {
        self.ends.push(self.data.len());
        let (record, line) = (self.record, self.record_line);
        let utf8_error = || ConvertError::InvalidUtf8 { record, line };

        let mut start = 0;
        match &self.keys {
            None => {
                let mut keys = Vec::with_capacity(self.ends.len());
                for &end in &self.ends {
                    let key =
                        std::str::from_utf8(&self.data[start..end]).map_err(|_| utf8_error())?;
                    let mut encoded = serde_json::to_vec(key).map_err(std::io::Error::from)?;
                    encoded.push(b':');
                    keys.push(encoded);
                    start = end;
                }
                self.keys = Some(keys);
            }
            Some(keys) => {
                if self.ends.len() != keys.len() {
                    return Err(ConvertError::RaggedRow {
                        record,
                        line,
                        expected: keys.len(),
                        found: self.ends.len(),
                    });
                }
                // If a value turns out not to be UTF-8, the half-written line is taken back, so
                // `out` only ever holds whole records.
                let line_start = out.len();
                out.push(b'{');
                for (i, (key, &end)) in keys.iter().zip(&self.ends).enumerate() {
                    let value = std::str::from_utf8(&self.data[start..end]).map_err(|_| {
                        out.truncate(line_start);
                        utf8_error()
                    })?;
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(key);
                    // serde_json does the escaping: quotes, backslashes, control characters.
                    serde_json::to_writer(&mut *out, value).map_err(std::io::Error::from)?;
                    start = end;
                }
                out.extend_from_slice(b"}\n");
            }
        }

        self.record += 1;
        self.data.clear();
        self.ends.clear();
        self.state = State::RecordStart;
        Ok(())
    }
}

/// Strips a UTF-8 byte-order mark from the very start of the input, however it is split.
///
/// It holds back bytes while they could still be a BOM: after `EF BB` arrives in one read we
/// cannot know yet whether `BF` follows. If a byte breaks the match, the held-back bytes were
/// data and are handed back to be parsed first ("replayed").
#[derive(Default)]
struct BomSkipper {
    /// How many bytes of the BOM matched so far.
    matched: usize,
    /// Whether the question is settled: BOM stripped, or the input does not start with one.
    done: bool,
}

impl BomSkipper {
    /// Returns the held-back bytes to parse first (if the match just failed) and the rest of
    /// `chunk` to parse after them.
    fn strip<'a>(&mut self, mut chunk: &'a [u8]) -> (&'static [u8], &'a [u8]) {
        while !self.done {
            let Some((&byte, rest)) = chunk.split_first() else {
                break;
            };
            if byte != BOM[self.matched] {
                return (self.give_up(), chunk);
            }
            self.matched += 1;
            self.done = self.matched == BOM.len();
            chunk = rest;
        }
        (&[], chunk)
    }

    /// Stops looking for a BOM, returning the bytes held back so far.
    fn give_up(&mut self) -> &'static [u8] {
        let held = if self.done {
            &[][..]
        } else {
            &BOM[..self.matched]
        };
        self.done = true;
        held
    }
}
