//! Acceptance suite for the `csv-to-ndjson` exercise.
//!
//! Checks drive the attempt's `convert` with instrumented streams and judge what came out of
//! them: the NDJSON parsed back into ordered (key, value) pairs, the error variant with its
//! record and line numbers, the bytes a stalled writer accepted against the bytes read, the
//! peak resident memory after a gigabyte. They never look at how the attempt is built.
//!
//! # Layout
//! - [`ndjson`]: structural comparison of NDJSON output, with a readable diff.
//! - [`streams`]: chunked, stalling and failing readers and writers.
//! - [`generator`]: a CSV generator and a verifying sink for gigabyte-sized runs.
//! - [`run`]: calling `convert` with a deadline.
//! - [`model`]: an executable spec of the CSV rules, and the seeded documents and reads the
//!   model-based checks (`rfc4180.records`, `chunking.split_reads`, `errors.line_numbers`) try.
//! - [`rfc4180`], [`chunking`], [`errors`], [`volume`] (backpressure and memory),
//!   [`transport`] (io): one module per acceptance criterion, each listing its checks.

mod chunking;
mod errors;
mod generator;
mod model;
mod ndjson;
mod rfc4180;
mod run;
mod streams;
mod transport;
mod volume;

fn main() {
    let checks = [
        rfc4180::checks(),
        chunking::checks(),
        errors::checks(),
        volume::checks(),
        transport::checks(),
    ];
    grade_kit::main(checks.into_iter().flatten().collect())
}
