//! The service as a process: parses the command line, installs the signal handlers, and runs
//! [`graceful_shutdown::run`] until it has drained. Yours to change: signal handling is part of
//! the exercise. Keep the command line and the `listening on` line: the grader uses both.
//!
//! ```text
//! graceful-shutdown --port 0 --redis-url redis://127.0.0.1:6379 --key-prefix demo: \
//!     --workers 2 --drain-deadline-ms 3000 --pool-events /tmp/pool.jsonl
//! ```
//!
//! Once the handlers are installed and the listener is bound it prints one line to stdout,
//! `listening on <address>`: the grader reads the address (and the port, when `--port 0` let
//! the system choose) from it. Exit status: 0 after a complete drain, 1 when the drain deadline
//! cut it short, 2 when the service could not start.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use graceful_shutdown::{Config, Error, Exit, Pool, Signal};
use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedReceiver;

/// Everything in flight finished before the deadline.
const EXIT_DRAINED: u8 = 0;
/// The drain deadline passed with work still running; that work was abandoned.
const EXIT_DEADLINE: u8 = 1;
/// The service could not start (bind, Redis, the events file).
const EXIT_ERROR: u8 = 2;

/// An HTTP service with queue workers that drains on SIGTERM or SIGINT.
#[derive(Debug, Parser)]
struct Args {
    /// Port to listen on, on 127.0.0.1 (0: any free port; see the `listening on` line).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The Redis server holding the job queue.
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// Prefix of every Redis key the service touches.
    #[arg(long, default_value = "graceful-shutdown:")]
    key_prefix: String,
    /// Number of queue workers.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// How long a drain may last, from the first signal, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    drain_deadline_ms: u64,
    /// Where the connection pool records its events (JSON lines).
    #[arg(long)]
    pool_events: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match serve(args).await {
        Ok(Exit::Drained) => ExitCode::from(EXIT_DRAINED),
        Ok(Exit::DeadlineExceeded) => ExitCode::from(EXIT_DEADLINE),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

async fn serve(args: Args) -> Result<Exit, Error> {
    let listener = TcpListener::bind(("127.0.0.1", args.port)).await?;
    let pool = Pool::open(&args.pool_events)?;
    // Before announcing the address: until a handler is installed, SIGTERM and SIGINT kill the
    // process outright, and whoever reads the line may signal at once.
    let signals = shutdown_signals()?;
    println!("listening on {}", listener.local_addr()?);
    let config = Config {
        redis_url: args.redis_url,
        key_prefix: args.key_prefix,
        workers: args.workers,
        drain_deadline: Duration::from_millis(args.drain_deadline_ms),
    };
    graceful_shutdown::run(listener, config, pool, signals).await
}

/// Installs handlers for SIGTERM and SIGINT and forwards every signal received, the first and
/// any later one, to the service.
fn shutdown_signals() -> std::io::Result<UnboundedReceiver<Signal>> {
    todo!(
        "install handlers for SIGTERM and SIGINT (tokio::signal::unix) and forward every signal \
         received to the service through a channel"
    )
}
