//! Criterion `errors`: malformed input and failing streams end in the right `ConvertError`.
//!
//! The numbering is pinned by the README: record 0 is the header, record 1 the first data
//! record; `line` is the 1-based line on which the record starts, counting every LF (also
//! inside quotes) and a CRLF once. Each malformed-input check places its errors after records
//! that span one line each, so it judges the error kind and the record number; the
//! `line_numbers` check puts records spanning several lines before each error, and judges only
//! the numbers: first in worked examples, then in seeded malformed documents (one defect each,
//! records with CRLF and LF ends and line breaks inside quotes before it) whose first error's
//! record and line come from the model ([`crate::model::parse`]).

use std::io::ErrorKind;

use csv_to_ndjson::ConvertError::{self, InvalidUtf8, RaggedRow, StrayQuote, UnterminatedQuote};
use grade_kit::model::{Explore, explore};
use grade_kit::{Check, CheckResult, check, ensure, ensure_eq, ensure_text_eq, fail};

use crate::model::{self, Text};
use crate::ndjson::render_output;
use crate::run::{convert_to_vec, describe, show};
use crate::streams::{FailingReader, FailingWriter};

const NUMBERING: &str = "record 0 is the header, record 1 the first data record; line is the \
                         1-based line the record starts on";

pub fn checks() -> Vec<Check> {
    vec![
        check(
            "errors.ragged_row",
            "errors",
            "A record with fewer or more fields than the header is RaggedRow, with both counts.",
        )
        .hint(NUMBERING)
        .paused(ragged_row),
        check(
            "errors.unterminated_quote",
            "errors",
            "Input ending inside a quoted field is UnterminatedQuote, naming the record it is in.",
        )
        .hint("at end of input, being inside quotes is an error, not the end of a field")
        .paused(unterminated_quote),
        check(
            "errors.stray_quote",
            "errors",
            "A quote inside an unquoted field, or text right after a closing quote, is \
             StrayQuote.",
        )
        .hint("a quote may only open a field or, inside a quoted field, be doubled or close it")
        .paused(stray_quote),
        check(
            "errors.invalid_utf8",
            "errors",
            "A field that is not valid UTF-8 (header or record) is InvalidUtf8, not replaced.",
        )
        .hint("validate each field with std::str::from_utf8; do not use from_utf8_lossy")
        .paused(invalid_utf8),
        check(
            "errors.line_numbers",
            "errors",
            "Errors name the record and the line it starts on, counting LFs inside quoted \
             fields and a CRLF once; worked examples, then seeded malformed documents compared \
             with a model of the rules.",
        )
        .hint(NUMBERING)
        .paused(line_numbers),
        check(
            "errors.io",
            "errors",
            "A failing reader or writer ends the conversion with ConvertError::Io of the same \
             kind.",
        )
        .hint("propagate read and write errors with `?`; a read error is not end of input")
        .paused(io),
    ]
}

async fn ragged_row() -> CheckResult {
    let short = RaggedRow {
        record: 2,
        line: 3,
        expected: 3,
        found: 2,
    };
    expect_error("a short record", b"a,b,c\n1,2,3\n4,5\n6,7,8\n", short).await?;
    let long = RaggedRow {
        record: 2,
        line: 3,
        expected: 2,
        found: 3,
    };
    expect_error("a long record", b"a,b\n1,2\n3,4,5\n", long).await?;
    let first = RaggedRow {
        record: 1,
        line: 2,
        expected: 2,
        found: 1,
    };
    expect_error("a short first record", b"a,b\n1\n", first).await
}

async fn unterminated_quote() -> CheckResult {
    let quote = UnterminatedQuote { record: 2, line: 3 };
    expect_error("an unclosed quote", b"a,b\n1,2\n3,\"abc\n", quote).await?;
    let doubled = UnterminatedQuote { record: 1, line: 2 };
    expect_error(
        "input ending after a doubled quote",
        b"a,b\n1,\"x\"\"\n",
        doubled,
    )
    .await?;
    let header = UnterminatedQuote { record: 0, line: 1 };
    expect_error("an unclosed quote in the header", b"\"a,b\n1,2\n", header).await
}

async fn stray_quote() -> CheckResult {
    let inside = StrayQuote { record: 1, line: 2 };
    expect_error("a quote inside an unquoted field", b"a,b\n1,x\"y\n", inside).await?;
    let after = StrayQuote { record: 2, line: 3 };
    expect_error("text after a closing quote", b"a,b\n1,2\n\"x\"y,3\n", after).await?;
    let header = StrayQuote { record: 0, line: 1 };
    expect_error("a quote inside a header field", b"a\"b,c\n1,2\n", header).await
}

async fn invalid_utf8() -> CheckResult {
    let value = InvalidUtf8 { record: 2, line: 3 };
    expect_error("a byte that is never UTF-8", b"a,b\n1,2\n3,\xFF\n", value).await?;
    let truncated = InvalidUtf8 { record: 1, line: 2 };
    expect_error("a truncated character", b"a,b\n\xE2\x82,x\n", truncated).await?;
    let split = InvalidUtf8 { record: 1, line: 2 };
    expect_error("a character cut by a comma", b"a,b\n\xC3,\xA9\n", split).await?;
    let header = InvalidUtf8 { record: 0, line: 1 };
    expect_error("a header that is not UTF-8", b"a,\xC3\x28\n1,2\n", header).await
}

/// Judges only the numbers: whichever malformed-input error the attempt returns, its record
/// and line must be right. The kind is the other checks' business, so that one wrong kind does
/// not fail this check too.
async fn line_numbers() -> CheckResult {
    let cases: [(&str, &[u8], u64, u64); 4] = [
        (
            "a ragged record after records spanning two lines each",
            b"a,b\n\"x\ny\",1\n\"p\nq\",2\n3,4,5\n",
            3,
            6,
        ),
        (
            "a stray quote after CRLF line ends and a CRLF inside quotes",
            b"a,b\r\n1,2\r\n\"multi\r\nline\",3\r\n4,x\"\r\n",
            3,
            5,
        ),
        (
            "an unclosed quote after a multi-line record",
            b"a,b\n\"one\ntwo\",1\n3,\"never\nclosed\n",
            2,
            4,
        ),
        (
            "invalid UTF-8 after a record spanning three lines",
            b"a,b\r\n\"1\r\n2\n3\",x\r\n\xFF,y\r\n",
            2,
            5,
        ),
    ];
    let mut judged = 0;
    for (what, csv, record, line) in cases {
        let (outcome, _) = convert_to_vec(csv).await?;
        let Some(position) = outcome.as_ref().err().and_then(position) else {
            continue;
        };
        judged += 1;
        ensure_eq!(
            position,
            format!("record {record}, line {line}"),
            "wrong record or line in the error for {what} ({NUMBERING}): {outcome:?}\ninput: {}",
            show(csv)
        );
    }
    ensure!(
        judged > 0,
        hint = "make the other errors checks pass first",
        "none of the malformed inputs gave an error with a record and line"
    );

    // Any malformed document with one defect: the first error's record and line are the
    // model's. As above, an attempt that accepts the input, or reports an I/O error, is
    // judged by the other checks, not here; so is one that already gets the valid records
    // before the defect wrong (an `rfc4180` bug, not a numbering one).
    explore(
        Explore::new(0xE440_0125).cases(300),
        model::malformed(Text::Ascii, false),
        |doc| async move {
            let csv = doc.encode();
            let expected = model::parse(&csv);
            let Some(expected_position) = expected.as_ref().err().and_then(position) else {
                fail!("suite bug: the model accepts a generated malformed document");
            };
            let (outcome, _) = convert_to_vec(&csv[..]).await?;
            let Some(actual) = outcome.as_ref().err().and_then(position) else {
                return Ok(());
            };
            if let Some(valid) = doc.before_defect() {
                let valid = valid.encode();
                let (outcome, output) = convert_to_vec(&valid[..]).await?;
                if describe(&outcome, &output) != model::describe(&model::parse(&valid)) {
                    return Ok(());
                }
            }
            ensure_eq!(
                actual,
                expected_position,
                "wrong record or line in the error ({NUMBERING}): you returned {outcome:?}, \
                 the first error is {}\ninput: {}",
                model::describe(&expected).trim_end(),
                show(&csv)
            );
            Ok(())
        },
    )
    .await
}

/// The record and line a malformed-input error names.
fn position(error: &ConvertError) -> Option<String> {
    match error {
        RaggedRow { record, line, .. }
        | UnterminatedQuote { record, line }
        | StrayQuote { record, line }
        | InvalidUtf8 { record, line } => Some(format!("record {record}, line {line}")),
        ConvertError::Io(_) => None,
    }
}

async fn io() -> CheckResult {
    let csv = b"a,b\n1,2\n";
    let reader = FailingReader {
        data: csv,
        kind: ErrorKind::ConnectionReset,
    };
    let (outcome, output) = convert_to_vec(reader).await?;
    ensure_text_eq!(
        describe(&outcome, &output),
        "Err(Io(kind: ConnectionReset))\n",
        "the reader failed with ConnectionReset after {}",
        show(csv)
    );

    let writer = FailingWriter {
        kind: ErrorKind::BrokenPipe,
    };
    let outcome = grade_kit::time::within(
        std::time::Duration::from_secs(10),
        "convert",
        csv_to_ndjson::convert(&csv[..], writer),
    )
    .await?;
    ensure_text_eq!(
        describe(&outcome, b""),
        "Err(Io(kind: BrokenPipe))\n",
        "every write and flush failed with BrokenPipe, converting {}",
        show(csv)
    );
    Ok(())
}

/// Converts `csv` in one read and fails unless `convert` returns exactly `expected`.
async fn expect_error(what: &str, csv: &[u8], expected: ConvertError) -> CheckResult {
    let (outcome, output) = convert_to_vec(csv).await?;
    let actual = match &outcome {
        Ok(_) => format!("Ok, with output:\n{}", render_output(&output)),
        Err(_) => describe(&outcome, &output),
    };
    ensure_text_eq!(
        actual,
        format!("Err({expected:?})\n"),
        "wrong result for {what}\ninput: {}",
        show(csv)
    );
    Ok(())
}
