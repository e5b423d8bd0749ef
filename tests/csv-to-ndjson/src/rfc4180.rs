//! Criterion `rfc4180`: RFC 4180 CSV in, one JSON object of strings per record out.
//!
//! Each check feeds its inputs in a single read (reads split anywhere are `chunking`'s) and
//! compares the output structurally (see [`crate::ndjson`]). The inputs of each check exercise
//! one feature and keep clear of the others, so a failure points at one thing: `records` is
//! the CSV grammar (fields, quotes, line breaks, the end of input), on ASCII text with keys in
//! alphabetical order and no BOM; `text` is what JSON strings must escape and non-ASCII text;
//! `key_order`, `bom` and `stats` are what their names say.
//!
//! `records` is model-based: after a few worked examples it converts a few hundred seeded
//! documents and compares each result with [`crate::model::parse`], an executable spec of the
//! README's rules; the smallest failing document is shown with a diff.

use grade_kit::model::{Explore, explore};
use grade_kit::{Check, CheckResult, check, ensure_eq, ensure_text_eq, fail};

use crate::model::{self, Text};
use crate::ndjson::rec;
use crate::run::{convert_to_vec, describe, expect_records, show};

pub fn checks() -> Vec<Check> {
    vec![
        check(
            "rfc4180.records",
            "rfc4180",
            "CSV records for any valid input: empty, unquoted and quoted fields (commas, \
             doubled quotes, CR, LF and CRLF inside quotes), CRLF and LF record ends, a last \
             record with or without a final line break (ending in an empty or a quoted field \
             too), header-only and empty input; worked examples, then seeded documents \
             compared with a model of the rules.",
        )
        .hint(
            "the last record may end at end of input instead of at a line break, and then its \
             last field (empty, or quoted) still counts; inside quotes `\"\"` stands for one \
             `\"` and every other byte is data",
        )
        .paused(records),
        check(
            "rfc4180.text",
            "rfc4180",
            "Values are JSON strings: non-ASCII text kept, quotes, backslashes and control \
             characters escaped.",
        )
        .hint("let serde_json encode each key and value instead of escaping by hand")
        .paused(text),
        check(
            "rfc4180.key_order",
            "rfc4180",
            "Keys appear in header order, not sorted.",
        )
        .hint(
            "serde_json::Map sorts its keys (unless its preserve_order feature is on); write \
             the object key by key",
        )
        .paused(key_order),
        check(
            "rfc4180.bom",
            "rfc4180",
            "A UTF-8 byte-order mark at the start is stripped from the first key; U+FEFF \
             elsewhere is data.",
        )
        .hint("the input may start with the bytes EF BB BF, which are not part of the first key")
        .paused(bom),
        check(
            "rfc4180.stats",
            "rfc4180",
            "Stats count data records (not the header), bytes read and bytes written, also when \
             the output is written in several batches.",
        )
        .hint("records counts NDJSON lines written: the header is not one")
        .paused(stats),
    ]
}

async fn records() -> CheckResult {
    expect_records(
        "unquoted fields",
        b"a,b,c\n1,2,3\nx,,z\n,,\n one , two ,three\n",
        &[
            rec(&[("a", "1"), ("b", "2"), ("c", "3")]),
            rec(&[("a", "x"), ("b", ""), ("c", "z")]),
            rec(&[("a", ""), ("b", ""), ("c", "")]),
            rec(&[("a", " one "), ("b", " two "), ("c", "three")]),
        ],
    )
    .await?;
    expect_records(
        "input without a final line break",
        b"a,b\n1,2\n3,4",
        &[
            rec(&[("a", "1"), ("b", "2")]),
            rec(&[("a", "3"), ("b", "4")]),
        ],
    )
    .await?;
    expect_records(
        "input ending right after a comma (an empty last field, no final line break)",
        b"a,b,c\n1,2,\n3,,",
        &[
            rec(&[("a", "1"), ("b", "2"), ("c", "")]),
            rec(&[("a", "3"), ("b", ""), ("c", "")]),
        ],
    )
    .await?;
    expect_records(
        "input ending in a quoted field (no final line break)",
        b"a,b\n1,\"x\"\"\"\n\"\",\"\"",
        &[
            rec(&[("a", "1"), ("b", "x\"")]),
            rec(&[("a", ""), ("b", "")]),
        ],
    )
    .await?;
    expect_records("a single column", b"id\n7\n", &[rec(&[("id", "7")])]).await?;
    expect_records(
        "quoted fields",
        concat!(
            "\"a, first\",b,c\n",
            "\"x, y\",\"say \"\"hi\"\"\",\"\"\n",
            "\"\"\"\",plain,\"a\"\"b\"\"c\"\n",
            "\"\",\"\",\"Zurich, \"\"CH\"\"\"\n",
        )
        .as_bytes(),
        &[
            rec(&[("a, first", "x, y"), ("b", "say \"hi\""), ("c", "")]),
            rec(&[("a, first", "\""), ("b", "plain"), ("c", "a\"b\"c")]),
            rec(&[("a, first", ""), ("b", ""), ("c", "Zurich, \"CH\"")]),
        ],
    )
    .await?;
    expect_records(
        "CRLF record ends",
        b"a,b\r\n1,2\r\nx,\r\n",
        &[
            rec(&[("a", "1"), ("b", "2")]),
            rec(&[("a", "x"), ("b", "")]),
        ],
    )
    .await?;
    expect_records(
        "LF and CRLF record ends mixed",
        b"a,b\n1,2\r\n3,4\n",
        &[
            rec(&[("a", "1"), ("b", "2")]),
            rec(&[("a", "3"), ("b", "4")]),
        ],
    )
    .await?;
    expect_records(
        "line breaks inside quoted fields",
        b"a,b\n\"line 1\nline 2\",x\r\n\"crlf\r\ninside\",\"\r\n\"\r\n\"\n\",\"a\r\nb\"\n",
        &[
            rec(&[("a", "line 1\nline 2"), ("b", "x")]),
            rec(&[("a", "crlf\r\ninside"), ("b", "\r\n")]),
            rec(&[("a", "\n"), ("b", "a\r\nb")]),
        ],
    )
    .await?;
    expect_records("a header and no records", b"a,b\n", &[]).await?;
    expect_records("a header without a line break", b"a,b", &[]).await?;
    expect_records("empty input", b"", &[]).await?;

    // Any valid document: the examples above are a few points of this space.
    explore(
        Explore::new(0x4180_C5F0).cases(400),
        model::valid(Text::Ascii, false),
        |doc| async move {
            let csv = doc.encode();
            let expected = model::parse(&csv);
            if let Err(error) = &expected {
                fail!("suite bug: the model rejects a generated valid document: {error:?}");
            }
            let (outcome, output) = convert_to_vec(&csv[..]).await?;
            ensure_text_eq!(
                describe(&outcome, &output),
                model::describe(&expected),
                "wrong result for valid CSV read in one go (expected: what the README's rules \
                 give, one record per line, rendered canonically)\ninput: {}",
                show(&csv)
            );
            Ok(())
        },
    )
    .await
}

async fn text() -> CheckResult {
    expect_records(
        "non-ASCII text and characters JSON must escape",
        "city,note\nZürich,naïve café ☕ 𝄞\n東京,back\\slash\ttab\u{1}ctl /slash\n".as_bytes(),
        &[
            rec(&[("city", "Zürich"), ("note", "naïve café ☕ 𝄞")]),
            rec(&[
                ("city", "東京"),
                ("note", "back\\slash\ttab\u{1}ctl /slash"),
            ]),
        ],
    )
    .await?;
    expect_records(
        "keys that JSON must escape",
        "a\\b,c\u{7f}\u{1f}d\n1,2\n".as_bytes(),
        &[rec(&[("a\\b", "1"), ("c\u{7f}\u{1f}d", "2")])],
    )
    .await
}

async fn key_order() -> CheckResult {
    expect_records(
        "a header that is not in alphabetical order",
        b"zeta,alpha,mid,beta\n1,2,3,4\nz,a,m,b\n",
        &[
            rec(&[("zeta", "1"), ("alpha", "2"), ("mid", "3"), ("beta", "4")]),
            rec(&[("zeta", "z"), ("alpha", "a"), ("mid", "m"), ("beta", "b")]),
        ],
    )
    .await
}

async fn bom() -> CheckResult {
    expect_records(
        "input starting with a UTF-8 BOM",
        "\u{feff}id,name\n1,x\n".as_bytes(),
        &[rec(&[("id", "1"), ("name", "x")])],
    )
    .await?;
    expect_records(
        "a BOM before a quoted first key",
        "\u{feff}\"id\",name\n1,x\n".as_bytes(),
        &[rec(&[("id", "1"), ("name", "x")])],
    )
    .await?;
    expect_records(
        "U+FEFF inside a value (only a BOM at the very start is stripped)",
        "id,name\n1,\u{feff}x\n".as_bytes(),
        &[rec(&[("id", "1"), ("name", "\u{feff}x")])],
    )
    .await?;
    expect_records("a BOM and nothing else", "\u{feff}".as_bytes(), &[]).await
}

async fn stats() -> CheckResult {
    // Enough records that the output is larger than any sensible write buffer (and the input
    // than any single read), so bytes written before the end are counted too.
    let many: Vec<u8> = std::iter::once(&b"a,b\n"[..])
        .chain(std::iter::repeat_n(
            &b"1234567890,abcdefghijklmnopqrstuvwxyz\n"[..],
            10_000,
        ))
        .flatten()
        .copied()
        .collect();
    let cases: [(&str, &[u8], u64); 5] = [
        (
            "a BOM, CRLF, and a record spanning two lines",
            "\u{feff}a,b\r\n1,2\r\n\"x\r\ny\",z\r\n3,\r\n".as_bytes(),
            3,
        ),
        ("a header and no records", b"a,b\n", 0),
        ("empty input", b"", 0),
        ("one record", b"a\n1\n", 1),
        (
            "10 000 records (about 400 KB in, 500 KB out)",
            &many,
            10_000,
        ),
    ];
    for (what, csv, records) in cases {
        let input = if csv.len() > 200 {
            format!(
                "{:?} and 9 999 more like it",
                "a,b\n1234567890,abcdefghijklmnopqrstuvwxyz\n"
            )
        } else {
            show(csv)
        };
        let (outcome, output) = convert_to_vec(csv).await?;
        let stats = match outcome {
            Ok(stats) => stats,
            Err(error) => {
                grade_kit::fail!("convert returned an error for {what}: {error:?}\ninput: {input}")
            }
        };
        // Field by field, so an attempt may add fields of its own to `Stats`.
        let shown = |records, read, written| {
            format!("records: {records}, bytes_read: {read}, bytes_written: {written}")
        };
        ensure_eq!(
            shown(stats.records, stats.bytes_read, stats.bytes_written),
            shown(records, csv.len() as u64, output.len() as u64),
            "wrong Stats for {what} (bytes_written is compared with the {} bytes your convert \
             wrote)\ninput: {input}",
            output.len()
        );
    }
    Ok(())
}
