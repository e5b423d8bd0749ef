//! What each message goes through before it may be committed: parse, process (with retries),
//! then apply the effect or dead-letter it.
//!
//! Two kinds of failure, handled in opposite ways:
//!
//! - **The message's own failures** are final after a bounded effort. A payload that does not
//!   parse never will: it is dead-lettered at once. A processing hook that keeps failing is
//!   retried `max_attempts` times in all, with doubling backoff, then dead-lettered. Either
//!   way the message is finished and its partition moves on.
//! - **Infrastructure failures** (Redis unreachable, the dead-letter topic not accepting) say
//!   nothing about the message. Giving up would mean committing past a message whose outcome
//!   is not recorded anywhere: lost. So they are retried until they succeed. Meanwhile the
//!   partition waits and the lag gauge shows it; a shutdown still ends the wait (the loop races
//!   the whole pipeline against the shutdown deadline).

use std::fmt::Display;
use std::time::Duration;

use rdkafka::message::{Message, OwnedMessage};

use crate::dead_letter::DeadLetters;
use crate::ledger::Ledger;
use crate::{Config, Event, ProcessingError, hook};

/// The first wait before retrying an infrastructure failure.
const INFRA_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between two tries at an infrastructure failure.
const INFRA_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// How a message was finished: in every case it may be committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finished {
    /// Its effect was applied.
    Applied,
    /// Its event was applied before (a redelivery or a duplicate): nothing changed.
    Duplicate,
    /// It went to the dead-letter topic, unapplied.
    DeadLettered,
}

/// Parses, processes and applies messages.
pub(crate) struct Pipeline {
    ledger: Ledger,
    dead_letters: DeadLetters,
    max_attempts: u32,
    retry_backoff: Duration,
}

impl Pipeline {
    pub(crate) fn new(config: &Config, ledger: Ledger, dead_letters: DeadLetters) -> Self {
        Self {
            ledger,
            dead_letters,
            max_attempts: config.max_attempts.max(1),
            retry_backoff: config.retry_backoff,
        }
    }

    /// Takes `message` through the pipeline until it is finished.
    pub(crate) async fn handle(&self, message: &OwnedMessage) -> Finished {
        // A message with no payload (a tombstone) does not parse either.
        let event = match Event::parse(message.payload().unwrap_or_default()) {
            Ok(event) => event,
            Err(error) => {
                eprintln!("{}: {error}", at(message));
                return self.dead_letter(message, &error).await;
            }
        };
        if let Err(error) = self.process(&event).await {
            return self.dead_letter(message, &error).await;
        }
        let (partition, offset) = (message.partition(), message.offset());
        let applied = until_ok("apply the effect", async || {
            self.ledger.apply(&event, partition, offset).await
        })
        .await;
        if applied {
            Finished::Applied
        } else {
            Finished::Duplicate
        }
    }

    /// Runs the processing hook up to `max_attempts` times, waiting `retry_backoff` before the
    /// second attempt and twice as long before each later one. Returns the last error if every
    /// attempt failed.
    async fn process(&self, event: &Event) -> Result<(), ProcessingError> {
        let mut backoff = self.retry_backoff;
        let mut attempt = 1;
        loop {
            match hook::process(event).await {
                Ok(()) => return Ok(()),
                Err(error) if attempt >= self.max_attempts => {
                    eprintln!("{error}: giving up after {attempt} attempts");
                    return Err(error);
                }
                Err(error) => {
                    eprintln!("{error}: retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = backoff.saturating_mul(2);
                    attempt += 1;
                }
            }
        }
    }

    async fn dead_letter(&self, message: &OwnedMessage, error: &dyn Display) -> Finished {
        let error = error.to_string();
        until_ok("dead-letter", async || {
            self.dead_letters.send(message, &error).await
        })
        .await;
        Finished::DeadLettered
    }
}

/// Runs `attempt` until it succeeds, waiting longer after each failure (up to
/// [`INFRA_BACKOFF_MAX`]).
async fn until_ok<T, E: Display>(what: &str, mut attempt: impl AsyncFnMut() -> Result<T, E>) -> T {
    let mut backoff = INFRA_BACKOFF;
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(error) => {
                eprintln!("could not {what}: {error}; trying again in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(INFRA_BACKOFF_MAX);
            }
        }
    }
}

/// `<topic>/<partition>@<offset>`, for log lines.
pub(crate) fn at(message: &OwnedMessage) -> String {
    format!(
        "{}/{}@{}",
        message.topic(),
        message.partition(),
        message.offset()
    )
}
