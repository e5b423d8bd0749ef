//! A Kafka consumer that applies payment events to balances in Redis exactly once per event id,
//! whatever happens to the processes. See README.md for the task, the pinned semantics and the
//! acceptance criteria.
//!
//! The items below are the API the provided `main` uses: keep their names and signatures (add
//! private fields, helpers and modules as you like). Implement [`run`].

pub mod event;
pub mod hook;
pub mod kafka;

use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use event::{Event, ParseError};
pub use hook::ProcessingError;

/// The command line, parsed by `main`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Kafka bootstrap servers, `host:port[,host:port…]`.
    pub brokers: String,
    /// The topic of payment events.
    pub topic: String,
    /// The consumer group every process of this service joins.
    pub group: String,
    /// The Redis server holding balances, markers and the ledger.
    pub redis_url: String,
    /// Prefix of every Redis key the consumer touches.
    pub key_prefix: String,
    /// Where messages that cannot be processed go.
    pub dead_letter_topic: String,
    /// Attempts at processing one message before it is dead-lettered (at least 1).
    pub max_attempts: u32,
    /// The wait before the second attempt; each later wait doubles.
    pub retry_backoff: Duration,
    /// How long a dedupe marker lives.
    pub dedupe_ttl: Duration,
    /// How often the lag gauge is refreshed.
    pub metrics_interval: Duration,
    /// How long shutdown may take, from the signal.
    pub shutdown_deadline: Duration,
}

/// How `run` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Shut down cleanly: the message in hand finished and committed, the group left.
    Drained,
    /// The shutdown deadline passed with a message unfinished; it was not committed.
    DeadlineExceeded,
}

/// Why the consumer could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Kafka client failed (bad settings, the broker unreachable at start…).
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// Redis failed in a way the consumer cannot ride out.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// The metrics server failed.
    #[error("metrics server: {0}")]
    Io(#[from] std::io::Error),
}

/// Consumes `config.topic` in `config.group` until `shutdown` is cancelled: parse, process,
/// apply each event once, commit after the effect, dead-letter what cannot be processed, and
/// serve metrics on `metrics`.
pub async fn run(
    config: Config,
    metrics: TcpListener,
    shutdown: CancellationToken,
) -> Result<Exit, Error> {
    let _ = (config, metrics, shutdown);
    todo!("consume, apply once, commit after the effect (see README.md)")
}
