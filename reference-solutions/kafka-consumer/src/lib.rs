//! A Kafka consumer that applies payment events to balances in Redis exactly once per event id,
//! whatever happens to the processes.
//!
//! Kafka gives *at-least-once* delivery, and only to a consumer that commits an offset after the
//! work it covers is done: whatever was not committed when a consumer died or lost a partition
//! is delivered again. Exactly-once *effects* then come from the other side: the effect is
//! idempotent, so a second delivery of an event changes nothing. Everything here follows from
//! those two rules:
//!
//! - **Commit after the effect, never before.** The loop commits `offset + 1` for a partition
//!   only once the message at `offset` is finished (applied, found to be a duplicate, or
//!   dead-lettered). A crash at any instant leaves the committed offset at or behind the work.
//! - **Make the effect idempotent and atomic.** One Lua script sets the event's dedupe marker
//!   and, only if it was absent, changes the balance and appends to the ledger. Redis runs a
//!   script as one command, so no crash leaves a marker without its effect or the reverse.
//! - **Never commit what is not ours.** A partition taken away by a rebalance belongs to
//!   another member now; a late commit from us would rewind its progress. Finished work is
//!   committed *before* the partition goes, in the rebalance callback, and the loop checks
//!   ownership before each commit.
//!
//! One message at a time, in the order Kafka hands them over: that alone keeps each partition
//! in offset order. Throughput is not the point of this exercise; a faster consumer would run
//! one sequential worker per partition, with the same rules.
//!
//! # Layout
//! - [`event`], [`hook`], [`kafka`]: provided by the exercise (the event, the grader's
//!   processing hook, the client settings its broker needs).
//! - `consumer`: the loop (receive, handle, commit) and the shutdown race.
//! - `rebalance`: the `ConsumerContext`, which knows the partitions this process owns and
//!   commits finished work before a partition goes.
//! - `pipeline`: what each message goes through: parse, process with retries, then apply or
//!   dead-letter.
//! - `ledger`: the atomic, idempotent effect in Redis.
//! - `dead_letter`: the producer of the dead-letter topic.
//! - `metrics`: the Prometheus registry, the `/metrics` endpoint and the lag refresher, which
//!   asks the broker through a client of its own.
//! - this module: the API `main` uses, and [`run`], which wires the parts and tears them down
//!   in order.

mod consumer;
mod dead_letter;
pub mod event;
pub mod hook;
pub mod kafka;
mod ledger;
mod metrics;
mod pipeline;
mod rebalance;

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::Consumer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use event::{Event, ParseError};
pub use hook::ProcessingError;

use crate::dead_letter::DeadLetters;
use crate::ledger::Ledger;
use crate::metrics::{LagProbe, Metrics};
use crate::pipeline::Pipeline;

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
    let registry = Arc::new(Metrics::new());

    // The endpoint comes up first and goes down last, so a scrape during startup or during the
    // drain still gets an answer.
    let stop_serving = CancellationToken::new();
    let server = tokio::spawn(metrics::serve(
        metrics,
        Arc::clone(&registry),
        stop_serving.clone(),
    ));

    // Everything that can fail at startup fails here, before we join the group: a process that
    // joins and then dies would hold partitions for nothing.
    let ledger = Ledger::connect(&config).await?;
    let dead_letters = DeadLetters::new(&config)?;
    let pipeline = Pipeline::new(&config, ledger, dead_letters);
    let consumer = Arc::new(consumer::subscribe(&config, Arc::clone(&registry))?);

    // The lag gauge is refreshed by a task of its own, not by the loop: the loop may be stuck on
    // one slow message for a long time, and that is exactly when lag matters.
    let probe = LagProbe::new(&config, Arc::clone(consumer.context()))?;
    let stop_refreshing = CancellationToken::new();
    let refresher = tokio::spawn(metrics::refresh_lag(
        probe,
        config.metrics_interval,
        stop_refreshing.clone(),
    ));

    let exit = consumer::consume(
        &consumer,
        &pipeline,
        &registry,
        &shutdown,
        config.shutdown_deadline,
    )
    .await;

    // Tear down in dependency order: the refresher reads the consumer's partitions, so it
    // stops first; the consumer leaves the group; the endpoint goes last.
    stop_refreshing.cancel();
    let _ = refresher.await;
    consumer::close(consumer).await;
    stop_serving.cancel();
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => eprintln!("metrics server failed: {error}"),
        Err(error) => eprintln!("metrics server panicked: {error}"),
    }
    Ok(exit)
}
