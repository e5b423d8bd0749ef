//! The model: an executable spec of the prompt's CSV rules, and the seeded documents and reads
//! the model-based checks try.
//!
//! [`parse`] is a small whole-input parser written from the README's rules alone (not from the
//! reference solution): it reads the CSV in memory, record by record, and says what `convert`
//! must produce, the records or the first error with its record and line. It is deliberately
//! unlike a streaming solution (recursive descent over a slice, with look-ahead), so the two
//! do not share a mistake.
//!
//! The strategies put the edges into every document by construction, not by luck: empty
//! fields, quoted fields holding commas, quotes, CR, LF and CRLF, a last record with and
//! without a final line break that ends in an empty or a quoted field, CRLF and LF record
//! ends, and (where reads are split) multi-byte characters and a BOM. Malformed documents
//! carry exactly one defect, so their first error is well defined. [`Reads`] splits the bytes
//! of a document into reads, preferring the places a read boundary can hurt: inside a doubled
//! quote, between CR and LF, inside a multi-byte character or the BOM.
//!
//! Left out on purpose, because the README leaves them open: blank lines (so a one-column
//! document never has an empty value), a lone CR outside quotes, duplicate keys.

use std::fmt;

use csv_to_ndjson::ConvertError::{self, InvalidUtf8, RaggedRow, StrayQuote, UnterminatedQuote};
use grade_kit::proptest::prelude::*;
use grade_kit::proptest::sample::Index;

use crate::ndjson::{Record, render_expected};
use crate::streams::Step;

/// The UTF-8 byte-order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// What `convert` must do with `input`, per the README: the data records as (key, value)
/// pairs, or the first error.
pub fn parse(input: &[u8]) -> Result<Vec<Record>, ConvertError> {
    let input = input.strip_prefix(BOM).unwrap_or(input);
    let mut cursor = Cursor {
        input,
        pos: 0,
        line: 1,
    };
    let mut keys: Option<Vec<String>> = None;
    let mut records = Vec::new();
    let mut record = 0;
    // Every record starts at a byte; end of input right after a line break (or an empty
    // input) starts none, which is how a final line break is optional.
    while cursor.pos < input.len() {
        let line = cursor.line;
        let fields = cursor.record().map_err(|kind| kind.at(record, line))?;
        let mut text = Vec::with_capacity(fields.len());
        if let Some(keys) = &keys
            && fields.len() != keys.len()
        {
            return Err(RaggedRow {
                record,
                line,
                expected: keys.len(),
                found: fields.len(),
            });
        }
        for field in fields {
            match String::from_utf8(field) {
                Ok(field) => text.push(field),
                Err(_) => return Err(InvalidUtf8 { record, line }),
            }
        }
        match &keys {
            None => keys = Some(text),
            Some(keys) => records.push(keys.iter().cloned().zip(text).collect()),
        }
        record += 1;
    }
    Ok(records)
}

/// The model's verdict rendered like [`crate::run::describe`] renders the attempt's.
pub fn describe(verdict: &Result<Vec<Record>, ConvertError>) -> String {
    match verdict {
        Ok(records) => render_expected(records),
        Err(error) => format!("Err({error:?})\n"),
    }
}

/// A malformed-input error before its record and line are known.
enum Malformed {
    Stray,
    Unterminated,
}

impl Malformed {
    fn at(self, record: u64, line: u64) -> ConvertError {
        match self {
            Malformed::Stray => StrayQuote { record, line },
            Malformed::Unterminated => UnterminatedQuote { record, line },
        }
    }
}

struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
    /// 1 + the LFs consumed so far.
    line: u64,
}

impl Cursor<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.input.get(self.pos + ahead).copied()
    }

    /// One record's raw fields; consumes its line break, if it has one.
    fn record(&mut self) -> Result<Vec<Vec<u8>>, Malformed> {
        let mut fields = Vec::new();
        loop {
            fields.push(if self.peek(0) == Some(b'"') {
                self.quoted()?
            } else {
                self.unquoted()?
            });
            match (self.peek(0), self.peek(1)) {
                (Some(b','), _) => self.pos += 1,
                (Some(b'\n'), _) => {
                    self.pos += 1;
                    self.line += 1;
                    return Ok(fields);
                }
                (Some(b'\r'), Some(b'\n')) => {
                    self.pos += 2;
                    self.line += 1;
                    return Ok(fields);
                }
                (None, _) => return Ok(fields),
                // After a closing quote: anything but a comma, a line end or the end.
                _ => return Err(Malformed::Stray),
            }
        }
    }

    /// An unquoted field: every byte up to a comma, an LF or a CRLF. A quote is malformed.
    fn unquoted(&mut self) -> Result<Vec<u8>, Malformed> {
        let mut field = Vec::new();
        loop {
            match (self.peek(0), self.peek(1)) {
                (None | Some(b',' | b'\n'), _) | (Some(b'\r'), Some(b'\n')) => return Ok(field),
                (Some(b'"'), _) => return Err(Malformed::Stray),
                (Some(byte), _) => {
                    field.push(byte);
                    self.pos += 1;
                }
            }
        }
    }

    /// A quoted field, from its opening quote to its closing one; `""` is one quote, and
    /// every other byte (CR and LF included) is data.
    fn quoted(&mut self) -> Result<Vec<u8>, Malformed> {
        self.pos += 1;
        let mut field = Vec::new();
        loop {
            match (self.peek(0), self.peek(1)) {
                (None, _) => return Err(Malformed::Unterminated),
                (Some(b'"'), Some(b'"')) => {
                    field.push(b'"');
                    self.pos += 2;
                }
                (Some(b'"'), _) => {
                    self.pos += 1;
                    return Ok(field);
                }
                (Some(byte), _) => {
                    if byte == b'\n' {
                        self.line += 1;
                    }
                    field.push(byte);
                    self.pos += 1;
                }
            }
        }
    }
}

/// One field as written in a generated document.
#[derive(Debug, Clone)]
pub enum Field {
    /// Written as is (no comma, quote, CR or LF in it).
    Plain(String),
    /// Written in quotes, with its quotes doubled.
    Quoted(String),
    /// Raw bytes, for the defects of malformed documents.
    Raw(Vec<u8>),
}

impl Field {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Field::Plain(text) => out.extend_from_slice(text.as_bytes()),
            Field::Quoted(text) => {
                out.push(b'"');
                out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
                out.push(b'"');
            }
            Field::Raw(bytes) => out.extend_from_slice(bytes),
        }
    }
}

/// How a row ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Lf,
    CrLf,
    /// End of input, no line break (only ever the last row).
    Eof,
}

/// A generated CSV document: the header row first, then the data rows.
#[derive(Clone)]
pub struct Doc {
    pub bom: bool,
    pub rows: Vec<(Vec<Field>, End)>,
    /// In a malformed document, the row holding the defect (0 = the header).
    pub defect_row: Option<usize>,
}

impl Doc {
    /// The rows before the defect, a valid document of their own (every row of a malformed
    /// document ends with a line break); `None` for a valid document.
    pub fn before_defect(&self) -> Option<Doc> {
        self.defect_row.map(|row| Doc {
            bom: self.bom,
            rows: self.rows[..row].to_vec(),
            defect_row: None,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.bom {
            out.extend_from_slice(BOM);
        }
        for (fields, end) in &self.rows {
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                field.encode(&mut out);
            }
            out.extend_from_slice(match end {
                End::Lf => b"\n",
                End::CrLf => b"\r\n",
                End::Eof => b"",
            });
        }
        out
    }
}

/// Shown as the CSV it encodes, so a shrunk scenario reads as an input.
impl fmt::Debug for Doc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", crate::run::show(&self.encode()))
    }
}

/// The multi-byte characters documents may hold: two, three and four bytes long, and two that
/// look like a BOM to a byte-at-a-time matcher. `ﻉ` (U+FEC9, `EF BB 89`) starts like one and
/// then is not, so a BOM check that drops the bytes it held back when the match fails mangles
/// a header that begins with it; U+FEFF itself is data anywhere but at the very start, so only
/// one BOM may be stripped.
const MULTI_BYTE: [&str; 5] = ["é", "東", "𝄞", "\u{FEC9}", "\u{FEFF}"];

/// Which characters a document may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    /// ASCII only: for checks where multi-byte text is not the point.
    Ascii,
    /// Also two-, three- and four-byte characters, for reads cut inside one.
    MultiByte,
}

fn plain_text(text: Text) -> BoxedStrategy<String> {
    let mut pieces = vec!["a", "b", "z", "0", "9", " "];
    if text == Text::MultiByte {
        pieces.extend(MULTI_BYTE);
    }
    prop::collection::vec(prop::sample::select(pieces), 1..4)
        .prop_map(|p| p.concat())
        .boxed()
}

fn quoted_text(text: Text) -> BoxedStrategy<String> {
    let mut pieces = vec!["a", " ", ",", "\"", "\r", "\n", "\r\n", "\"\""];
    if text == Text::MultiByte {
        pieces.extend(MULTI_BYTE);
    }
    prop::collection::vec(prop::sample::select(pieces), 1..4)
        .prop_map(|p| p.concat())
        .boxed()
}

/// A value; empty ones only when `may_be_empty` (never in a one-column document, where an
/// empty record is a blank line, which the README leaves open).
fn value(text: Text, may_be_empty: bool) -> BoxedStrategy<Field> {
    if may_be_empty {
        prop_oneof![
            3 => plain_text(text).prop_map(Field::Plain),
            2 => Just(Field::Plain(String::new())),
            3 => quoted_text(text).prop_map(Field::Quoted),
            1 => Just(Field::Quoted(String::new())),
        ]
        .boxed()
    } else {
        prop_oneof![
            plain_text(text).prop_map(Field::Plain),
            quoted_text(text).prop_map(Field::Quoted),
        ]
        .boxed()
    }
}

/// Key `i`: a letter of its own first (`a`, `b`, …), so keys are distinct and in alphabetical
/// order (key order has a check of its own), then anything, quoted or not.
fn key(i: usize, text: Text) -> BoxedStrategy<Field> {
    let first = char::from(b'a' + i as u8).to_string();
    let quoted_first = first.clone();
    prop_oneof![
        plain_text(text).prop_map(move |rest| Field::Plain(format!("{first}{rest}"))),
        quoted_text(text).prop_map(move |rest| Field::Quoted(format!("{quoted_first}{rest}"))),
    ]
    .boxed()
}

fn line_end() -> BoxedStrategy<End> {
    prop_oneof![Just(End::Lf), Just(End::CrLf)].boxed()
}

/// The end of the last row: no line break half of the time, the case the README calls out.
fn last_end() -> BoxedStrategy<End> {
    prop_oneof![2 => Just(End::Eof), 1 => Just(End::Lf), 1 => Just(End::CrLf)].boxed()
}

/// Rows of `cols` fields: the header and up to `max_records` records, each with its end.
fn rows(cols: usize, text: Text, max_records: usize) -> BoxedStrategy<Vec<(Vec<Field>, End)>> {
    let header: Vec<BoxedStrategy<Field>> = (0..cols).map(|i| key(i, text)).collect();
    let record = prop::collection::vec(value(text, cols > 1), cols);
    (
        (header, line_end()),
        prop::collection::vec((record, line_end()), 0..=max_records),
    )
        .prop_map(|(header, records)| {
            let mut rows = vec![header];
            rows.extend(records);
            rows
        })
        .boxed()
}

/// Valid documents: one to four columns, up to five records, the last row's line break
/// optional. A BOM only when `bom` allows it.
pub fn valid(text: Text, bom: bool) -> BoxedStrategy<Doc> {
    let bom = if bom {
        any::<bool>().boxed()
    } else {
        Just(false).boxed()
    };
    (
        bom,
        (1usize..=4).prop_flat_map(move |cols| rows(cols, text, 5)),
        last_end(),
    )
        .prop_map(|(bom, mut rows, last)| {
            if let Some(row) = rows.last_mut() {
                row.1 = last;
            }
            Doc {
                bom,
                rows,
                defect_row: None,
            }
        })
        .boxed()
}

/// The one thing wrong with a malformed document.
#[derive(Debug, Clone)]
pub enum Defect {
    /// One field more than the header.
    TooMany,
    /// One field fewer (in a one-column document: one more).
    TooFew,
    /// `ab"c`.
    QuoteInUnquoted,
    /// `"ab"c`.
    TextAfterClosingQuote,
    /// A field that is not UTF-8.
    NotUtf8(&'static [u8]),
    /// A quote opened in this record and never closed: the input ends inside it.
    Unterminated(String),
}

fn defect() -> BoxedStrategy<Defect> {
    prop_oneof![
        Just(Defect::TooMany),
        Just(Defect::TooFew),
        Just(Defect::QuoteInUnquoted),
        Just(Defect::TextAfterClosingQuote),
        prop::sample::select(vec![
            &b"\xFF"[..],
            b"x\xC3",
            b"\xE2\x82",
            b"\xC3(",
            b"\"a\n\xF0\x9D\x84\"",
        ])
        .prop_map(Defect::NotUtf8),
        prop::collection::vec(
            prop::sample::select(vec!["a", ",", "\n", "\r\n", "\"\""]),
            0..4
        )
        .prop_map(|p| Defect::Unterminated(p.concat())),
    ]
    .boxed()
}

/// Malformed documents: a valid one whose rows all end with a line break (the end of input
/// without one is the `rfc4180` checks' business), with one defect in one record (the header
/// too, except for the field count, which the header defines).
pub fn malformed(text: Text, bom: bool) -> BoxedStrategy<Doc> {
    let bom = if bom {
        any::<bool>().boxed()
    } else {
        Just(false).boxed()
    };
    (
        bom,
        (1usize..=4).prop_flat_map(move |cols| rows(cols, text, 4)),
        defect(),
        any::<Index>(),
        any::<Index>(),
    )
        .prop_map(|(bom, mut rows, defect, row, field)| {
            let ragged = matches!(defect, Defect::TooMany | Defect::TooFew);
            // A ragged header is no defect of its own, so a field count defect goes in a record.
            let row = if ragged {
                if rows.len() == 1 {
                    rows.push(rows[0].clone());
                }
                1 + row.index(rows.len() - 1)
            } else {
                row.index(rows.len())
            };
            let fields = &mut rows[row].0;
            let at = field.index(fields.len());
            match defect {
                Defect::TooFew if fields.len() > 1 => {
                    fields.pop();
                    // One empty field left would be a blank line, which the README leaves open.
                    if let [Field::Plain(only)] = fields.as_mut_slice()
                        && only.is_empty()
                    {
                        only.push('x');
                    }
                }
                Defect::TooMany | Defect::TooFew => fields.push(Field::Plain("x".into())),
                Defect::QuoteInUnquoted => fields[at] = Field::Raw(b"ab\"c".to_vec()),
                Defect::TextAfterClosingQuote => fields[at] = Field::Raw(b"\"ab\"c".to_vec()),
                Defect::NotUtf8(bytes) => fields[at] = Field::Raw(bytes.to_vec()),
                Defect::Unterminated(rest) => {
                    fields.truncate(at);
                    fields.push(Field::Raw(format!("\"{rest}").into_bytes()));
                    rows[row].1 = End::Eof;
                    rows.truncate(row + 1);
                }
            }
            Doc {
                bom,
                rows,
                defect_row: Some(row),
            }
        })
        .boxed()
}

/// How a document's bytes are split into reads.
#[derive(Debug, Clone)]
pub enum Reads {
    /// One byte per read.
    OneByte,
    /// Reads cut at these places: `(true, i)` is the `i`-th place where a cut hurts (see
    /// [`Reads::plan`]), `(false, i)` any place. With `pending`, every read is preceded by
    /// one that returns `Pending`.
    Cuts {
        cuts: Vec<(bool, Index)>,
        pending: bool,
    },
}

pub fn reads() -> BoxedStrategy<Reads> {
    prop_oneof![
        1 => Just(Reads::OneByte),
        4 => (prop::collection::vec((any::<bool>(), any::<Index>()), 1..6), any::<bool>())
            .prop_map(|(cuts, pending)| Reads::Cuts { cuts, pending }),
    ]
    .boxed()
}

impl Reads {
    /// The read sizes for `input`.
    pub fn plan(&self, input: &[u8]) -> Vec<Step> {
        let len = input.len();
        let cuts = match self {
            Reads::OneByte => return vec![Step::Bytes(1); len],
            Reads::Cuts { .. } if len < 2 => return Vec::new(),
            Reads::Cuts { cuts, .. } => cuts,
        };
        let sore = sore_spots(input);
        let mut at: Vec<usize> = cuts
            .iter()
            .map(|(sore_spot, i)| match (sore_spot, sore.is_empty()) {
                (true, false) => sore[i.index(sore.len())],
                _ => 1 + i.index(len - 1),
            })
            .collect();
        at.sort_unstable();
        at.dedup();
        let pending = matches!(self, Reads::Cuts { pending: true, .. });
        let mut plan = Vec::new();
        let mut from = 0;
        for cut in at.into_iter().chain([len]) {
            if pending {
                plan.push(Step::Pending);
            }
            plan.push(Step::Bytes(cut - from));
            from = cut;
        }
        plan
    }
}

/// Places (byte offsets) where a read boundary cuts something in half: a doubled quote, a
/// CRLF, a multi-byte character, the BOM.
fn sore_spots(input: &[u8]) -> Vec<usize> {
    (1..input.len())
        .filter(|&i| {
            let (before, after) = (input[i - 1], input[i]);
            (before == b'"' && after == b'"')
                || (before == b'\r' && after == b'\n')
                || (0x80..0xC0).contains(&after)
                || (i < BOM.len() && input.starts_with(BOM))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use grade_kit::proptest::strategy::ValueTree;
    use grade_kit::proptest::test_runner::TestRunner;

    fn parsed(input: &str) -> String {
        describe(&parse(input.as_bytes()))
    }

    #[test]
    fn the_readme_examples() {
        assert_eq!(
            parsed("a,b\n\"x\ny\",1\n3,4,5\n"),
            "Err(RaggedRow { record: 2, line: 4, expected: 2, found: 3 })\n"
        );
        assert_eq!(parsed("a,b\n1,"), "{\"a\": \"1\", \"b\": \"\"}\n");
        assert_eq!(parsed("a,b\n\"x\",\"\""), "{\"a\": \"x\", \"b\": \"\"}\n");
        assert_eq!(
            parsed("\u{feff}\"i\"\"d\"\r\n\"1\r\n\"\r\n"),
            "{\"i\\\"d\": \"1\\r\\n\"}\n"
        );
        assert_eq!(parsed(""), "");
        assert_eq!(parsed("a,b"), "");
        assert_eq!(
            parsed("a,b\n1,\"x\"\"\n"),
            "Err(UnterminatedQuote { record: 1, line: 2 })\n"
        );
        assert_eq!(
            parsed("a,b\n1,\"x\"y\n"),
            "Err(StrayQuote { record: 1, line: 2 })\n"
        );
        assert_eq!(
            parsed("a,b\n1,x\"y\n"),
            "Err(StrayQuote { record: 1, line: 2 })\n"
        );
        assert_eq!(
            describe(&parse(b"a,b\r\n\"1\r\n2\n3\",x\r\n\xFF,y\r\n")),
            "Err(InvalidUtf8 { record: 2, line: 5 })\n"
        );
    }

    /// The generators and the model agree: valid documents parse, every malformed one fails.
    #[test]
    fn generated_documents_are_what_they_claim() {
        let mut runner = TestRunner::deterministic();
        for _ in 0..2000 {
            for text in [Text::Ascii, Text::MultiByte] {
                let doc = valid(text, true).new_tree(&mut runner).unwrap().current();
                let verdict = parse(&doc.encode());
                assert!(verdict.is_ok(), "{doc:?}: {verdict:?}");
                assert_eq!(verdict.unwrap().len(), doc.rows.len() - 1, "{doc:?}");
                let doc = malformed(text, true)
                    .new_tree(&mut runner)
                    .unwrap()
                    .current();
                let verdict = parse(&doc.encode());
                assert!(verdict.is_err(), "{doc:?}");
            }
        }
    }

    #[test]
    fn plans_cover_the_input() {
        let mut runner = TestRunner::deterministic();
        let input = "\u{feff}a,\"\"\"\"\r\n𝄞".as_bytes();
        for _ in 0..500 {
            let plan = reads().new_tree(&mut runner).unwrap().current().plan(input);
            let total: usize = plan
                .iter()
                .map(|step| match step {
                    Step::Bytes(n) => *n,
                    Step::Pending => 0,
                })
                .sum();
            assert_eq!(total, input.len(), "{plan:?}");
        }
    }
}
