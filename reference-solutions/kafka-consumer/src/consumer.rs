//! The consumer loop: receive a message, take it through the pipeline, commit it; and the
//! shutdown race around it.
//!
//! One message at a time. Kafka hands over each partition's messages in offset order, and a
//! loop that finishes one before taking the next keeps that order for the effects too. It also
//! keeps the offset rule simple: when the message at `offset` is finished, everything before it
//! on its partition is, so `offset + 1` is safe to commit.
//!
//! Shutdown, from the first signal:
//! 1. take no new message;
//! 2. finish the message in hand, effect and commit, if that can be done within the
//!    shutdown deadline (counted from the signal);
//! 3. commit anything finished and not committed yet, then leave the group (closing the
//!    consumer does both: its revoke callback commits, then it sends LeaveGroup), so the other
//!    members take the partitions over at once instead of after a session timeout.
//!
//! If the deadline passes first, the message in hand is abandoned *uncommitted*: it will be
//! redelivered to whoever owns its partition next, and the dedupe marker covers the case where
//! its effect did go through.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Message, OwnedMessage};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::pipeline::{Finished, Pipeline, at};
use crate::rebalance::{Commit, Context};
use crate::{Config, Exit, kafka};

/// The consumer type: rdkafka's async consumer with our rebalance callbacks.
pub(crate) type KafkaConsumer = StreamConsumer<Context>;

/// After a consumer error, how long to wait before asking for the next message (librdkafka
/// recovers from most errors on its own; this only keeps a persistent one from spinning).
const ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Creates the consumer and subscribes it to `config.topic`. Joining the group happens in the
/// background, and partitions arrive through the rebalance callbacks.
pub(crate) fn subscribe(
    config: &Config,
    metrics: Arc<Metrics>,
) -> Result<KafkaConsumer, KafkaError> {
    let consumer: KafkaConsumer = kafka::consumer_config(config)
        // We commit, and only offsets whose work is done. Auto-commit commits the consumer's
        // position on a timer, whether the messages before it were applied or not: a crash
        // after such a commit loses them.
        .set("enable.auto.commit", "false")
        .create_with_context(Context::new(&config.topic, metrics))?;
    consumer.subscribe(&[&config.topic])?;
    Ok(consumer)
}

/// Consumes until `shutdown` is cancelled, then finishes the message in hand within
/// `deadline` of the signal (see the module docs).
pub(crate) async fn consume(
    consumer: &Arc<KafkaConsumer>,
    pipeline: &Pipeline,
    metrics: &Metrics,
    shutdown: &CancellationToken,
    deadline: Duration,
) -> Exit {
    // Fires `deadline` after the signal. It is only polled while a message is in hand, and
    // then continuously, so its sleep starts as the signal arrives.
    let deadline = async {
        shutdown.cancelled().await;
        tokio::time::sleep(deadline).await;
    };
    let mut deadline = std::pin::pin!(deadline);

    loop {
        let received = tokio::select! {
            // Checked first: after the signal, take no new message even if one is ready.
            biased;
            () = shutdown.cancelled() => break,
            received = consumer.recv() => received,
        };
        let message = match received {
            // A copy of the message: the loop holds it across long awaits, and need not pin
            // librdkafka's buffer meanwhile.
            Ok(message) => message.detach(),
            Err(error) => {
                eprintln!("kafka: {error}");
                tokio::time::sleep(ERROR_PAUSE).await;
                continue;
            }
        };
        let received_at = Instant::now();
        let finish = async {
            let finished = pipeline.handle(&message).await;
            commit(consumer, &message).await;
            finished
        };
        tokio::select! {
            finished = finish => {
                metrics.observe_processing(received_at.elapsed());
                log(&message, finished);
            }
            () = &mut deadline => {
                eprintln!(
                    "shutdown deadline passed: abandoning {} uncommitted",
                    at(&message),
                );
                return Exit::DeadlineExceeded;
            }
        }
    }

    // Nothing should be pending (each message is committed as it finishes), unless a commit
    // failed along the way: this is its last chance.
    let consumer = Arc::clone(consumer);
    match tokio::task::spawn_blocking(move || consumer.context().commit_pending(&*consumer)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => eprintln!("final commit failed: {error}"),
        Err(error) => eprintln!("final commit panicked: {error}"),
    }
    Exit::Drained
}

/// Commits past `message`, which is finished, if its partition is still ours.
async fn commit(consumer: &Arc<KafkaConsumer>, message: &OwnedMessage) {
    let (partition, next) = (message.partition(), message.offset() + 1);
    let consumer = Arc::clone(consumer);
    // A synchronous commit blocks until the broker answers: not on a runtime worker thread.
    let committed = tokio::task::spawn_blocking(move || {
        consumer
            .context()
            .commit_finished(&*consumer, partition, next)
    })
    .await;
    match committed {
        Ok(Commit::Done) => {}
        Ok(Commit::NotOwned) => {
            eprintln!("{}: partition no longer ours, not committing", at(message));
        }
        Ok(Commit::Failed(error)) => {
            eprintln!(
                "{}: commit failed, will retry with the next: {error}",
                at(message)
            );
        }
        Err(error) => eprintln!("{}: commit panicked: {error}", at(message)),
    }
}

fn log(message: &OwnedMessage, finished: Finished) {
    let what = match finished {
        Finished::Applied => "applied",
        Finished::Duplicate => "duplicate, skipped",
        Finished::DeadLettered => "dead-lettered",
    };
    eprintln!("{}: {what}", at(message));
}

/// Leaves the group: dropping the last handle on the consumer closes it, which runs the revoke
/// callback (committing anything finished) and sends LeaveGroup.
///
/// The caller must have stopped everything else holding the consumer; if something still does,
/// the consumer closes when that lets go.
pub(crate) async fn close(consumer: Arc<KafkaConsumer>) {
    if let Ok(consumer) = Arc::try_unwrap(consumer) {
        // Closing waits for the broker: keep it off the runtime's worker threads too.
        let _ = tokio::task::spawn_blocking(move || drop(consumer)).await;
        eprintln!("left the group");
    }
}
