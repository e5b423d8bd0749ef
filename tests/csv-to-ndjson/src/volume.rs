//! Criteria `backpressure` and `memory`: the conversion streams.
//!
//! Streaming has two halves, each with its own check. Backpressure: when the writer stops
//! accepting bytes, reading stops too, soon (the input read ahead of the writer is bounded).
//! Bounded memory: a gigabyte passes through while the process's peak resident memory stays
//! small. Reading the whole input first, or collecting all output before writing it, fails
//! both; an attempt can also fail just one (a huge read-ahead buffer; a buffer that grows
//! without ever being cleared).

use std::time::Duration;

use grade_kit::mem::{human_bytes, peak_rss_bytes};
use grade_kit::{Check, CheckResult, check, ensure, ensure_eq, fail};

use crate::generator::{AtEnd, Generator, VerifyingSink};
use crate::streams::StallingWriter;

/// What the stalled writer accepts before it stops reading.
const ACCEPTED: u64 = 1 << 20;
/// How much input may be read beyond what the writer accepted.
const READ_AHEAD: u64 = 8 << 20;
/// What the input source offers before it, too, stalls.
const OFFERED: u64 = 64 << 20;

/// Input size for the memory check, and the peak resident memory allowed while converting it.
const ONE_GIB: u64 = 1 << 30;
const PEAK_RSS: u64 = 100 << 20;

pub fn checks() -> Vec<Check> {
    vec![
        check(
            "backpressure.stalled_writer",
            "backpressure",
            "With a writer that accepts 1 MiB and then stalls for an hour of virtual time, at \
             most 8 MiB more input than that is read.",
        )
        .hint(
            "read the next chunk only after the output of the previous one was written \
             (awaited write_all); never buffer all output, never read ahead without bound",
        )
        .paused(stalled_writer),
        check(
            "memory.one_gib",
            "memory",
            "Converting 1 GiB of generated CSV keeps peak resident memory under 100 MiB (a \
             volume check: it takes several seconds).",
        )
        .hint(
            "hold only one read chunk, the record being parsed and a bounded batch of output; \
             clear buffers after use",
        )
        .paused(one_gib),
    ]
}

async fn stalled_writer() -> CheckResult {
    let mut input = Generator::new(OFFERED, AtEnd::Stall);
    let mut output = StallingWriter::new(ACCEPTED);
    // On the paused clock the hour passes as soon as every task is idle, i.e. once the
    // conversion is blocked on the writer (or on the input, having read all it was offered).
    let run = csv_to_ndjson::convert(&mut input, &mut output);
    if let Ok(outcome) = tokio::time::timeout(Duration::from_secs(3600), run).await {
        fail!(
            "convert returned {outcome:?} although the input never ended and the writer was \
             stalled"
        );
    }
    ensure!(
        output.accepted > 0,
        hint = "write output as records complete (in batches if you like), not all at the end",
        "the writer accepted nothing while convert read {} of input",
        human_bytes(input.produced)
    );
    ensure!(
        input.produced <= output.accepted + READ_AHEAD,
        "convert read {} of input while the stalled writer had accepted only {} (at most {} \
         more may be read ahead)",
        human_bytes(input.produced),
        human_bytes(output.accepted),
        human_bytes(READ_AHEAD)
    );
    Ok(())
}

async fn one_gib() -> CheckResult {
    let mut input = Generator::new(ONE_GIB, AtEnd::Eof);
    let mut output = VerifyingSink::new(100_003);
    let run = csv_to_ndjson::convert(&mut input, &mut output);
    let outcome = grade_kit::time::within(Duration::from_secs(3600), "convert", run).await?;
    if let Err(error) = outcome {
        fail!("convert failed on generated input: {error:?}");
    }
    if let Some(problem) = output.problem {
        fail!("{problem}");
    }
    ensure_eq!(
        output.lines,
        input.records(),
        "NDJSON lines written for {} records of input",
        input.records()
    );
    let Some(peak) = peak_rss_bytes() else {
        fail!("cannot measure this process's peak resident memory on this platform");
    };
    ensure!(
        peak < PEAK_RSS,
        "peak resident memory was {} while converting {} (limit {})",
        human_bytes(peak),
        human_bytes(input.produced),
        human_bytes(PEAK_RSS)
    );
    Ok(())
}
