//! The consumer as a process: parses the command line, binds the metrics listener, turns the
//! first SIGTERM or SIGINT into a cancelled [`CancellationToken`], and runs
//! [`kafka_consumer::run`].
//!
//! **Provided: do not change this file.** The grader starts the binary with this command line
//! and reads the `metrics on <address>` line it prints once the listener is bound.
//!
//! ```text
//! kafka-consumer --brokers 127.0.0.1:9092 --topic payments --group ledger \
//!     --redis-url redis://127.0.0.1:6379 --key-prefix demo: --dead-letter-topic payments.dlq \
//!     --metrics-addr 127.0.0.1:0
//! ```
//!
//! Exit status: 0 after a clean shutdown, 1 when the shutdown deadline cut it short, 2 when
//! the consumer could not run.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use kafka_consumer::{Config, Exit};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Applies payment events from Kafka to balances in Redis, once per event.
#[derive(Debug, Parser)]
struct Args {
    /// Kafka bootstrap servers, host:port[,host:port…].
    #[arg(long)]
    brokers: String,
    /// The topic of payment events.
    #[arg(long)]
    topic: String,
    /// The consumer group.
    #[arg(long)]
    group: String,
    /// The Redis server holding balances, dedupe markers and the ledger.
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// Prefix of every Redis key the consumer touches.
    #[arg(long, default_value = "payments:")]
    key_prefix: String,
    /// Where messages that cannot be processed go.
    #[arg(long)]
    dead_letter_topic: String,
    /// Address of the Prometheus metrics endpoint (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:9464")]
    metrics_addr: SocketAddr,
    /// Attempts at processing one message before it is dead-lettered.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    max_attempts: u32,
    /// Wait before the second attempt, in milliseconds; each later wait doubles.
    #[arg(long, default_value_t = 100)]
    retry_backoff_ms: u64,
    /// Lifetime of a dedupe marker, in seconds.
    #[arg(long, default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..))]
    dedupe_ttl_secs: u64,
    /// How often the lag gauge is refreshed, in milliseconds.
    #[arg(long, default_value_t = 1_000)]
    metrics_interval_ms: u64,
    /// How long shutdown may take from the signal, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    shutdown_deadline_ms: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = Config {
        brokers: args.brokers,
        topic: args.topic,
        group: args.group,
        redis_url: args.redis_url,
        key_prefix: args.key_prefix,
        dead_letter_topic: args.dead_letter_topic,
        max_attempts: args.max_attempts,
        retry_backoff: Duration::from_millis(args.retry_backoff_ms),
        dedupe_ttl: Duration::from_secs(args.dedupe_ttl_secs),
        metrics_interval: Duration::from_millis(args.metrics_interval_ms),
        shutdown_deadline: Duration::from_millis(args.shutdown_deadline_ms),
    };
    let shutdown = CancellationToken::new();
    if let Err(error) = forward_signals(shutdown.clone()) {
        eprintln!("kafka-consumer: cannot install signal handlers: {error}");
        return ExitCode::from(2);
    }
    let metrics = match TcpListener::bind(args.metrics_addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("kafka-consumer: cannot bind {}: {error}", args.metrics_addr);
            return ExitCode::from(2);
        }
    };
    match metrics.local_addr() {
        Ok(address) => println!("metrics on {address}"),
        Err(error) => {
            eprintln!("kafka-consumer: {error}");
            return ExitCode::from(2);
        }
    }
    match kafka_consumer::run(config, metrics, shutdown).await {
        Ok(Exit::Drained) => ExitCode::SUCCESS,
        Ok(Exit::DeadlineExceeded) => ExitCode::from(1),
        Err(error) => {
            eprintln!("kafka-consumer: {error}");
            ExitCode::from(2)
        }
    }
}

/// Cancels `shutdown` on the first SIGTERM or SIGINT; later signals are received and ignored,
/// so they neither kill the process nor start anything again.
fn forward_signals(shutdown: CancellationToken) -> std::io::Result<()> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            if !shutdown.is_cancelled() {
                eprintln!("kafka-consumer: signal received, shutting down");
                shutdown.cancel();
            }
        }
    });
    Ok(())
}
