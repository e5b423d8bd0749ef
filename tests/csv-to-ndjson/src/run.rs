//! Running the attempt's `convert` with a deadline, and describing what it was given.

use std::time::Duration;

use csv_to_ndjson::{ConvertError, Stats, convert};
use grade_kit::{CheckResult, Failure, fail};
use tokio::io::AsyncRead;

use crate::ndjson::{Record, compare};

/// What `convert` returned.
pub type Outcome = Result<Stats, ConvertError>;

/// How long one small conversion may take (virtual time on a paused clock).
const DEADLINE: Duration = Duration::from_secs(10);

/// Converts everything `reader` yields into memory; fails the check if `convert` hangs.
pub async fn convert_to_vec(reader: impl AsyncRead + Unpin) -> Result<(Outcome, Vec<u8>), Failure> {
    let mut output = Vec::new();
    let outcome =
        grade_kit::time::within(DEADLINE, "convert", convert(reader, &mut output)).await?;
    Ok((outcome, output))
}

/// Converts `csv` (served in one read) and fails unless the output holds `expected`.
pub async fn expect_records(what: &str, csv: &[u8], expected: &[Record]) -> CheckResult {
    let (outcome, output) = convert_to_vec(csv).await?;
    if let Err(error) = outcome {
        fail!(
            hint = "this input is valid CSV; see the README for the rules",
            "convert returned an error for {what}: {error:?}\ninput: {}",
            show(csv)
        );
    }
    compare(&output, expected, &format!("{what}\ninput: {}", show(csv)))
}

/// CSV input as an escaped string literal, so CR, LF and odd bytes are visible.
pub fn show(csv: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(csv))
}

/// An outcome as text, for comparing two runs or showing one: the error's variant with its
/// numbers, or the output rendered record by record.
pub fn describe(outcome: &Outcome, output: &[u8]) -> String {
    match outcome {
        Ok(_) => crate::ndjson::render_output(output),
        Err(ConvertError::Io(error)) => format!("Err(Io(kind: {:?}))\n", error.kind()),
        Err(error) => format!("Err({error:?})\n"),
    }
}
