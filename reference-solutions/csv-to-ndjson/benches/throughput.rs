//! Throughput of the reference solution against the `csv` crate doing the same conversion.
//!
//! A benchmark, not a test: `cargo bench -p csv-to-ndjson-reference`. It generates a CSV file
//! (1 GiB by default; set `GRADE_BENCH_BYTES` for another size) in the system temp directory,
//! converts it to NDJSON with each contender, and prints seconds, throughput in MB/s of input
//! and peak resident memory.
//!
//! Each contender runs in a child process of its own (this same executable, re-run with
//! `CSV_BENCH_CONTENDER` set), so that each peak RSS belongs to one contender alone: a
//! process's peak never goes down, and measuring both in one process would report the larger
//! for the second. Output goes to a counting sink, so the disk is not measured on the way out.
//!
//! The contenders differ in more than the parser: the reference reads through
//! `tokio::fs::File` (every read hops to a blocking thread), while `csv` reads a `std::fs::File`
//! synchronously. That is the cost of an async API over a file, and part of what is measured.

use std::error::Error;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

type BoxError = Box<dyn Error>;

/// Set in the child processes: which contender to run.
const CONTENDER_ENV: &str = "CSV_BENCH_CONTENDER";
/// Set in the child processes: the input file.
const INPUT_ENV: &str = "CSV_BENCH_INPUT";
/// Input size in bytes, for a quicker run.
const SIZE_ENV: &str = "GRADE_BENCH_BYTES";

const CONTENDERS: [&str; 2] = ["reference", "csv-crate"];

fn main() -> Result<(), BoxError> {
    if let Ok(contender) = std::env::var(CONTENDER_ENV) {
        let input = std::env::var(INPUT_ENV)?;
        return run_contender(&contender, Path::new(&input));
    }

    let size = match std::env::var(SIZE_ENV) {
        Ok(size) => size.parse()?,
        Err(_) => 1 << 30,
    };
    let input =
        std::env::temp_dir().join(format!("csv-to-ndjson-bench-{}.csv", std::process::id()));
    let result = generate(&input, size).and_then(|records| compare(&input, records));
    let _ = std::fs::remove_file(&input);
    result
}

/// Runs every contender in a child process and prints a table of the results.
fn compare(input: &Path, records: u64) -> Result<(), BoxError> {
    let bytes = std::fs::metadata(input)?.len();
    println!(
        "input: {bytes} bytes, {records} records ({})",
        input.display()
    );
    println!(
        "{:<12} {:>9} {:>9} {:>13} {:>12}",
        "contender", "seconds", "MB/s", "output bytes", "peak RSS"
    );
    for contender in CONTENDERS {
        let child = Command::new(std::env::current_exe()?)
            .env(CONTENDER_ENV, contender)
            .env(INPUT_ENV, input)
            .output()?;
        if !child.status.success() {
            let stderr = String::from_utf8_lossy(&child.stderr);
            return Err(format!("{contender} failed ({}): {stderr}", child.status).into());
        }
        // The child prints one line: seconds, records, output bytes, peak RSS in bytes.
        let report = String::from_utf8(child.stdout)?;
        let fields: Vec<&str> = report.split_whitespace().collect();
        let [seconds, converted, written, peak] = fields[..] else {
            return Err(format!("{contender} printed {report:?}").into());
        };
        let seconds: f64 = seconds.parse()?;
        if converted.parse::<u64>()? != records {
            return Err(format!("{contender} converted {converted} records of {records}").into());
        }
        let peak_mib = peak.parse::<f64>()? / (1024.0 * 1024.0);
        let mb_per_s = bytes as f64 / seconds / 1e6;
        println!(
            "{contender:<12} {seconds:>9.2} {mb_per_s:>9.1} {written:>13} {peak_mib:>8.1} MiB"
        );
    }
    Ok(())
}

/// In a child process: converts `input` with one contender and prints its one-line report.
fn run_contender(contender: &str, input: &Path) -> Result<(), BoxError> {
    let started = Instant::now();
    let (records, written) = match contender {
        "reference" => with_reference(input)?,
        "csv-crate" => with_csv_crate(input)?,
        other => return Err(format!("unknown contender {other}").into()),
    };
    let seconds = started.elapsed().as_secs_f64();
    println!("{seconds} {records} {written} {}", peak_rss_bytes()?);
    Ok(())
}

fn with_reference(input: &Path) -> Result<(u64, u64), BoxError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let file = tokio::fs::File::open(input).await?;
        let stats = csv_to_ndjson::convert(file, tokio::io::sink()).await?;
        Ok((stats.records, stats.bytes_written))
    })
}

/// The same conversion with the `csv` crate: header row as keys, every value a JSON string,
/// keys in header order, one object per line.
fn with_csv_crate(input: &Path) -> Result<(u64, u64), BoxError> {
    let mut reader = csv::Reader::from_path(input)?;
    let keys: Vec<Vec<u8>> = reader
        .headers()?
        .iter()
        .map(|key| {
            let mut encoded = serde_json::to_vec(key)?;
            encoded.push(b':');
            Ok(encoded)
        })
        .collect::<Result<_, serde_json::Error>>()?;
    let mut output = BufWriter::with_capacity(64 * 1024, CountingSink(0));
    let mut record = csv::StringRecord::new();
    let mut records = 0;
    while reader.read_record(&mut record)? {
        output.write_all(b"{")?;
        for (i, (key, value)) in keys.iter().zip(record.iter()).enumerate() {
            if i > 0 {
                output.write_all(b",")?;
            }
            output.write_all(key)?;
            serde_json::to_writer(&mut output, value)?;
        }
        output.write_all(b"}\n")?;
        records += 1;
    }
    output.flush()?;
    Ok((records, output.get_ref().0))
}

/// Discards what is written, counting the bytes.
struct CountingSink(u64);

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// This process's peak resident set size in bytes (Linux reports KiB, macOS bytes).
fn peak_rss_bytes() -> Result<u64, BoxError> {
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)?;
    let max_rss = u64::try_from(usage.max_rss())?;
    Ok(if cfg!(target_os = "macos") {
        max_rss
    } else {
        max_rss * 1024
    })
}

/// Writes a CSV file of at least `size` bytes and returns its number of data records.
///
/// The records mix what a converter must handle: quoted fields with commas and doubled
/// quotes, non-ASCII text, empty fields, numbers.
fn generate(path: &Path, size: u64) -> Result<u64, BoxError> {
    const CITIES: [&str; 4] = ["Berlin", "\"Zürich, CH\"", "東京", "São Paulo"];
    const NOTES: [&str; 3] = [
        "\"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor\"",
        "\"She said \"\"ship it\"\" and left for the airport before anyone could answer\"",
        "Größere Mengen werden wöchentlich geliefert und im Lager am Hafen gelagert",
    ];
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    out.write_all(b"id,name,city,note,score\n")?;
    let (mut written, mut records) = (0u64, 0u64);
    while written < size {
        let n = records + 1;
        let city = CITIES[(n % 4) as usize];
        let note = NOTES[(n % 3) as usize];
        let name = if n % 10 == 0 {
            String::new()
        } else {
            format!("user{}", n % 997)
        };
        let line = format!("{n},{name},{city},{note},{}\n", n * 37 % 1000);
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
        records = n;
    }
    out.flush()?;
    Ok(records)
}
