//! Criterion `chunking`: the result does not depend on how the input is split into reads.
//!
//! A reader may return any number of bytes, so a quote, a doubled quote, a CRLF pair, a
//! multi-byte character or the byte-order mark can be cut anywhere. The check is
//! differential: it converts each input once in a single read, then again under many
//! splittings (one byte per read, every possible split into two reads, seeded random sizes
//! with `Pending` reads mixed in), and requires the same result every time: the same records,
//! or the same error with the same numbers. It does not judge the one-read result itself;
//! the `rfc4180` and `errors` checks do.
//!
//! Then it explores: seeded documents, valid (with multi-byte text, a BOM or not, a last
//! record with or without a line break) and malformed (one defect each), each split into
//! reads that cut where it hurts (inside `""`, CRLF, a multi-byte character, the BOM) or one
//! byte at a time. The split result must equal the model's ([`crate::model::parse`]) when the
//! one-read result does, and the one-read result otherwise: a document the attempt gets wrong
//! even in one read is the other criteria's to report.

use grade_kit::model::{Explore, explore};
use grade_kit::proptest::prelude::*;
use grade_kit::{Check, CheckResult, check, ensure_text_eq, fail};

use crate::model::{self, Doc, Reads, Text};
use crate::run::{convert_to_vec, describe, show};
use crate::streams::{ChunkedReader, SplitMix, Step};

pub fn checks() -> Vec<Check> {
    vec![
        check(
            "chunking.split_reads",
            "chunking",
            "The same records (or the same error) whether the input arrives in one read, one \
             byte per read, split in two at every position, or in seeded random chunks; then \
             seeded valid and malformed documents split where it hurts, compared with a model \
             of the rules.",
        )
        .hint(
            "keep all parser state (inside quotes? just saw a quote? just saw a CR? partial \
             BOM? partial UTF-8 character?) between reads, not in locals of one read",
        )
        .paused(split_reads),
    ]
}

/// Valid input packed with things a read boundary can cut in half.
const VALID: &str = concat!(
    "\u{feff}id,\"na\"\"me\",city\r\n",
    "1,\"Zoë \"\"Z\"\" Ærø\",\"São Paulo, BR\"\r\n",
    "2,\"multi\r\nline\nvalue\",東京\r\n",
    "3,,\"𝄞 clef\"\r\n",
    "4,\"\",x\n",
    "5,plain,\"tail \"\"quote\"\"\"\r\n",
);

/// Invalid inputs: each error must carry the same numbers however the input is split.
const INVALID: [&[u8]; 4] = [
    b"a,b\r\n\"x\r\ny\",1\r\n2,ab\"c\r\n",
    b"a,b\n\"\xC3\xA9\n\xC3\xBC\",\xE2\x82\xAC\n\xF0\x9D\x84\x9E,\xF0\x9D\x84\n",
    b"a,b\n1,\"open \"\"quoted\"\"\r\nfield\n",
    b"a,b\r\n\"1\r\n\",2,3\r\n",
];

async fn split_reads() -> CheckResult {
    let valid = VALID.as_bytes();
    let (outcome, _) = convert_to_vec(valid).await?;
    if let Err(error) = outcome {
        fail!(
            hint = "make the rfc4180 checks pass first",
            "converting valid input in a single read failed: {error:?}\ninput: {}",
            show(valid)
        );
    }
    same_result_however_split(valid).await?;
    for input in INVALID {
        same_result_however_split(input).await?;
    }
    let documents = prop_oneof![
        2 => model::valid(Text::MultiByte, true),
        1 => model::malformed(Text::MultiByte, true),
    ];
    explore(
        Explore::new(0xC4_0C4E).cases(300),
        (documents, model::reads()).prop_map(|(doc, reads)| Split { doc, reads }),
        |Split { doc, reads }| async move {
            let csv = doc.encode();
            let (outcome, output) = convert_to_vec(&csv[..]).await?;
            let in_one_read = describe(&outcome, &output);
            let modelled = model::describe(&model::parse(&csv));
            let (expected, which) = if in_one_read == modelled {
                (
                    modelled,
                    "the README's rules give, as your one-read result does",
                )
            } else {
                (in_one_read, "the one-read result")
            };
            let plan = reads.plan(&csv);
            let (outcome, output) = convert_to_vec(ChunkedReader::new(&csv, plan.clone())).await?;
            ensure_text_eq!(
                describe(&outcome, &output),
                expected,
                "reading the input in these reads gave a different result than reading it in \
                 one go (expected: what {which})\ninput: {}\nreads: {}",
                show(&csv),
                show_plan(&plan)
            );
            Ok(())
        },
    )
    .await
}

/// A document and how its bytes are split into reads.
#[derive(Clone)]
struct Split {
    doc: Doc,
    reads: Reads,
}

/// Shown as the input and its read sizes, the way the candidate would reproduce it.
impl std::fmt::Debug for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let csv = self.doc.encode();
        write!(
            f,
            "input: {}\nreads: {}",
            show(&csv),
            show_plan(&self.reads.plan(&csv))
        )
    }
}

/// Converts `input` in one read, then under every splitting, and compares the results.
async fn same_result_however_split(input: &[u8]) -> CheckResult {
    let (outcome, output) = convert_to_vec(input).await?;
    let in_one_read = describe(&outcome, &output);
    for (how, plan) in splittings(input.len()) {
        let (outcome, output) = convert_to_vec(ChunkedReader::new(input, plan.clone())).await?;
        let split = describe(&outcome, &output);
        ensure_text_eq!(
            split,
            in_one_read,
            "reading the input {how} gave a different result than reading it in one go \
             (expected: the one-read result)\ninput: {}\nreads: {}",
            show(input),
            show_plan(&plan)
        );
    }
    Ok(())
}

/// Every way the check splits an input of `len` bytes, with a description of each.
fn splittings(len: usize) -> Vec<(String, Vec<Step>)> {
    let mut all = vec![("one byte per read".to_owned(), vec![Step::Bytes(1); len])];
    for at in 1..len {
        all.push((
            format!("in two reads split after byte {at}"),
            vec![Step::Bytes(at)],
        ));
    }
    for seed in 1..=16 {
        let mut rng = SplitMix::new(seed);
        let largest = [2, 3, 5, 8, 16][(seed % 5) as usize];
        let (mut plan, mut covered) = (Vec::new(), 0);
        while covered < len {
            if rng.below(4) == 0 {
                plan.push(Step::Pending);
            }
            let size = 1 + rng.below(largest) as usize;
            plan.push(Step::Bytes(size));
            covered += size;
        }
        all.push((
            format!("in random chunks of 1..={largest} bytes (seed {seed})"),
            plan,
        ));
    }
    all
}

/// The read sizes of a plan, `-` for a read that returned `Pending`; long plans are cut.
fn show_plan(plan: &[Step]) -> String {
    const SHOWN: usize = 40;
    if plan.iter().all(|step| *step == Step::Bytes(1)) {
        return "1 byte each".to_owned();
    }
    if let [Step::Bytes(first)] = plan {
        return format!("{first} bytes, then the rest");
    }
    let steps: Vec<String> = plan
        .iter()
        .take(SHOWN)
        .map(|step| match step {
            Step::Bytes(n) => n.to_string(),
            Step::Pending => "-".to_owned(),
        })
        .collect();
    let more = if plan.len() > SHOWN { ", …" } else { "" };
    format!(
        "[{}{more}] bytes (- is a read that returned Pending)",
        steps.join(", ")
    )
}
