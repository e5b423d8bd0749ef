//! The dead-letter topic: where messages that cannot be processed go, so they stop blocking
//! their partition without being lost.
//!
//! A dead letter carries the original key and payload, so it can be replayed as is once the
//! cause is fixed, and headers saying where it came from and why it failed:
//! `x-original-topic`, `x-original-partition`, `x-original-offset` (decimal strings) and
//! `x-error`.
//!
//! The loop commits past a message only once its dead letter is *delivered* (acknowledged by
//! the broker), not merely queued in the producer: a crash in between would otherwise lose the
//! message from both topics.

use std::time::Duration;

use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::{Config, kafka};

/// How long librdkafka keeps trying to deliver one dead letter before reporting a failure
/// (the caller then tries again).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// The producer of the dead-letter topic.
pub(crate) struct DeadLetters {
    producer: FutureProducer,
    topic: String,
}

impl DeadLetters {
    pub(crate) fn new(config: &Config) -> Result<Self, KafkaError> {
        let producer = kafka::producer_config(config)
            .set(
                "message.timeout.ms",
                DELIVERY_TIMEOUT.as_millis().to_string(),
            )
            .create()?;
        Ok(Self {
            producer,
            topic: config.dead_letter_topic.clone(),
        })
    }

    /// Produces `message` to the dead-letter topic with `error` as its reason, and waits until
    /// the broker has it.
    pub(crate) async fn send(&self, message: &OwnedMessage, error: &str) -> Result<(), KafkaError> {
        let partition = message.partition().to_string();
        let offset = message.offset().to_string();
        let headers = OwnedHeaders::new_with_capacity(4)
            .insert(header("x-original-topic", message.topic()))
            .insert(header("x-original-partition", &partition))
            .insert(header("x-original-offset", &offset))
            .insert(header("x-error", error));
        let mut record = FutureRecord::<[u8], [u8]>::to(&self.topic).headers(headers);
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(payload) = message.payload() {
            record = record.payload(payload);
        }
        // The timeout is for a full local queue; delivery itself is bounded by
        // `message.timeout.ms`.
        self.producer
            .send(record, DELIVERY_TIMEOUT)
            .await
            .map(|_delivery| ())
            .map_err(|(error, _message)| error)
    }
}

fn header<'a>(key: &'a str, value: &'a str) -> Header<'a, &'a str> {
    Header {
        key,
        value: Some(value),
    }
}
