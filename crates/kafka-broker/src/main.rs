//! The Kafka-protocol broker the grader starts for exercises that need one.
//!
//! This is tansu's own command line (`grade-kafka-broker broker --listener-url … --storage-engine
//! memory://tansu/`), built from the workspace with only its in-memory storage engine. The
//! grader runs it on a free port in its own process group and kills the group when the run
//! ends, like the private `redis-server`; nothing is written to disk.
//!
//! tansu's binary also installs an OpenTelemetry/tracing pipeline; the grader reads nothing the
//! broker logs, so this one stays silent and starts faster.

use std::process::ExitCode;

use tansu_cli::Cli;
use tansu_sans_io::ErrorCode;

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::main().await {
        Ok(ErrorCode::None) => ExitCode::SUCCESS,
        Ok(code) => {
            eprintln!("grade-kafka-broker: the broker stopped with {code}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("grade-kafka-broker: {error}");
            ExitCode::FAILURE
        }
    }
}
