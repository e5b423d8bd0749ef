//! Client settings the grader's broker needs.
//!
//! **Provided: do not change this file.** Start your consumer and your dead-letter producer
//! from these and add your own settings on top (`enable.auto.commit`, `enable.partition.eof`,
//! timeouts… are yours to decide).
//!
//! Why each pinned setting is here:
//! - `batch.num.messages = 1`, `linger.ms = 0` (producer): the grader's broker (tansu) loses
//!   track of the records inside a multi-record batch: a consumer resuming from an offset inside
//!   one would skip the rest. One record per batch avoids it; a production Kafka does not care.
//! - `partition.assignment.strategy = range`: with the cooperative assignor that broker can
//!   hand one partition to two members for a few seconds, which would make correct consumers
//!   apply events twice.
//! - `auto.offset.reset = earliest`: a group that has committed nothing starts at the first
//!   event, not at the end of the topic.
//! - `session.timeout.ms = 6000`, `max.poll.interval.ms = 15000`: a member that was killed
//!   never leaves; the broker holds a rebalance open for it until the rebalance timeout, which
//!   librdkafka sends as `max.poll.interval.ms` (5 minutes by default). 15 s lets a replacement
//!   take over soon after a crash, and still leaves a slow message (the grader's take up to 8 s)
//!   plenty of time: a consumer that does not poll for longer than that leaves the group.
//! - `fetch.wait.max.ms = 100`: the broker holds a fetch open until data arrives or this much
//!   time passes, and requests on the same connection (a watermark or committed-offset query
//!   from your metrics task, say) wait behind it. 100 ms keeps them quick.

use rdkafka::ClientConfig;

use crate::Config;

/// Settings for the consumer of `config.topic` in `config.group`.
pub fn consumer_config(config: &Config) -> ClientConfig {
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", &config.brokers)
        .set("group.id", &config.group)
        .set("partition.assignment.strategy", "range")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("max.poll.interval.ms", "15000")
        .set("fetch.wait.max.ms", "100");
    client
}

/// Settings for a producer (the dead-letter topic's).
pub fn producer_config(config: &Config) -> ClientConfig {
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", &config.brokers)
        .set("batch.num.messages", "1")
        .set("linger.ms", "0");
    client
}
