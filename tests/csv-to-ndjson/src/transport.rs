//! Criterion `io`: the conversion works over real streams, not only in-memory buffers.
//!
//! A file through `tokio::fs::File` (its reads and writes hop to a blocking thread, and a
//! write is only complete once flushed), and a TCP connection over loopback (bytes arrive in
//! whatever segments the network makes, and the reader is often `Pending`). The TCP check also
//! holds `convert` to its contract of flushing but not shutting down its output: the server
//! writes a trailer line on the same connection after `convert` returns.

use std::time::Duration;

use csv_to_ndjson::convert;
use grade_kit::time::within;
use grade_kit::{Check, CheckResult, check, fail};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};

use crate::generator::{AtEnd, Generator, expected_record};
use crate::ndjson::{Record, compare, rec};

/// Size of the generated input: several reads' worth.
const INPUT_BYTES: u64 = 1 << 20;

pub fn checks() -> Vec<Check> {
    vec![
        check(
            "io.file",
            "io",
            "Converts a 1 MiB file read through tokio::fs::File into a file written through a \
             BufWriter, complete once convert returns.",
        )
        .hint("flush the output before returning: a BufWriter or a tokio File may still hold data")
        .tokio(file),
        check(
            "io.tcp",
            "io",
            "Converts a request body arriving over TCP into the response on the same \
             connection, which stays open for a trailer written after convert returns.",
        )
        .hint("flush the output, but do not shut it down: the caller owns it")
        .tokio(tcp),
    ]
}

/// Generated CSV and the records it holds.
async fn generated_input() -> Result<(Vec<u8>, Vec<Record>), grade_kit::Failure> {
    let mut generator = Generator::new(INPUT_BYTES, AtEnd::Eof);
    let mut csv = Vec::new();
    if let Err(error) = generator.read_to_end(&mut csv).await {
        fail!("the suite could not generate its input: {error}");
    }
    let records = (1..=generator.records()).map(expected_record).collect();
    Ok((csv, records))
}

async fn file() -> CheckResult {
    let (csv, expected) = generated_input().await?;
    let dir = grade_kit::env::scratch_dir();
    let pid = std::process::id();
    let (input_path, output_path) = (
        dir.join(format!("csv-to-ndjson-{pid}-input.csv")),
        dir.join(format!("csv-to-ndjson-{pid}-output.ndjson")),
    );
    let result = convert_files(&csv, &input_path, &output_path).await;
    let _ = std::fs::remove_file(&input_path);
    let _ = std::fs::remove_file(&output_path);
    let output = result?;
    compare(&output, &expected, "a file converted into a file")
}

/// Writes `csv` to `input_path`, converts it into `output_path`, and returns what was written.
async fn convert_files(
    csv: &[u8],
    input_path: &std::path::Path,
    output_path: &std::path::Path,
) -> Result<Vec<u8>, grade_kit::Failure> {
    let setup = async {
        tokio::fs::write(input_path, csv).await?;
        let input = tokio::fs::File::open(input_path).await?;
        let output = tokio::fs::File::create(output_path).await?;
        std::io::Result::Ok((input, output))
    };
    let (input, output) = match setup.await {
        Ok(files) => files,
        Err(error) => fail!("the suite could not set up its files: {error}"),
    };
    // A buffer larger than anything a single write of the attempt is likely to pass: whatever
    // is not flushed at the end is certainly still in it, and lost when it is dropped.
    let output = BufWriter::with_capacity(2 << 20, output);
    let outcome = within(Duration::from_secs(20), "convert", convert(input, output)).await?;
    if let Err(error) = outcome {
        fail!("convert failed on a file of valid CSV: {error:?}");
    }
    match tokio::fs::read(output_path).await {
        Ok(output) => Ok(output),
        Err(error) => fail!("the suite could not read the output file: {error}"),
    }
}

const TRAILER: &[u8] = b"{\"trailer\":\"written after convert returned\"}\n";

async fn tcp() -> CheckResult {
    let (csv, mut expected) = generated_input().await?;
    expected.push(rec(&[("trailer", "written after convert returned")]));
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(error) => fail!("the suite could not listen on loopback: {error}"),
    };
    let address = match listener.local_addr() {
        Ok(address) => address,
        Err(error) => fail!("the suite could not read its listening address: {error}"),
    };
    let client = tokio::spawn(client(address, csv));

    let exchange = async {
        let (stream, _) = listener.accept().await?;
        let (body, mut response) = stream.into_split();
        let outcome = convert(body, &mut response).await;
        let trailer = response.write_all(TRAILER).await;
        // Dropping the write half closes it, so the client sees the end of the response.
        drop(response);
        std::io::Result::Ok((outcome, trailer))
    };
    let (outcome, trailer) = match within(Duration::from_secs(20), "the exchange", exchange).await?
    {
        Ok(results) => results,
        Err(error) => fail!("the suite's server failed: {error}"),
    };
    if let Err(error) = outcome {
        fail!("convert failed on a request body of valid CSV: {error:?}");
    }
    if let Err(error) = trailer {
        fail!(
            hint = "convert must not shut down its output: the caller may write more",
            "writing a trailer to the connection after convert returned failed: {error}"
        );
    }
    let response = match within(Duration::from_secs(20), "the client", client).await? {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => fail!("the suite's client failed: {error}"),
        Err(error) => fail!("the suite's client task failed: {error}"),
    };
    compare(
        &response,
        &expected,
        "a request body converted into the response, then a trailer",
    )
}

/// Sends `body` in uneven pieces with short pauses, closes its sending side, and reads the
/// whole response meanwhile (reading only afterwards could deadlock once both directions'
/// socket buffers are full).
async fn client(address: std::net::SocketAddr, body: Vec<u8>) -> std::io::Result<Vec<u8>> {
    let stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (mut reader, mut writer) = stream.into_split();
    let send = async move {
        let sizes = [1, 7, 4096, 3, 65_536, 100, 20_000];
        let mut rest = &body[..];
        for size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (piece, tail) = rest.split_at((*size).min(rest.len()));
            writer.write_all(piece).await?;
            rest = tail;
            if *size < 10 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        writer.shutdown().await
    };
    let receive = async move {
        let mut response = Vec::new();
        reader.read_to_end(&mut response).await?;
        std::io::Result::Ok(response)
    };
    let (sent, received) = tokio::join!(send, receive);
    sent?;
    received
}
