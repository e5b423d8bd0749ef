//! Acceptance suite for the `kafka-consumer` exercise: a consumer-group member that applies
//! payment events to balances in Redis exactly once per event id, whatever happens to it.
//!
//! Every check creates topics and a consumer group of its own on the broker the grader
//! provides, produces seeded events, and runs the attempt's own binary as one or more real
//! processes with a fresh key prefix. It kills them (SIGKILL, some at moments chosen by watching
//! their Redis traffic through a proxy), stops them (SIGTERM), starts replacements, and judges
//! from outside, on the history: the ledger and balances in Redis, the group's committed offsets
//! (sampled while the consumer works, where it matters), the dead-letter topic, the processing
//! hook's record of every attempt, and the metrics endpoint.
//!
//! # Layout
//! - `broker`: the suite's Kafka clients (topics, producing, committed offsets, reading back).
//! - `process`: the attempt's binary as a process; `store`: what it wrote to Redis.
//! - `history`: seeded scenarios and the history checker; `setup`: what every check shares.
//! - `proxy`: the Redis proxy that kills a consumer at a precise moment of an effect.
//! - `delivery`: `at_least_once`, `effectively_once` (duplicates, marker TTL), `ordering`.
//! - `crash`: `crash`, and `effectively_once` through crashes.
//! - `rebalance`, `poison`, `metrics`, `shutdown`: the criteria of the same names.

mod broker;
mod crash;
mod delivery;
mod history;
mod metrics;
mod poison;
mod process;
mod proxy;
mod rebalance;
mod setup;
mod shutdown;
mod store;

use grade_kit::check;

fn main() {
    grade_kit::main(vec![
        check(
            "at_least_once.all_applied",
            "at_least_once",
            "one consumer, 60 events on 3 partitions (half produced before it starts, half \
             while it runs): each applied once, balances right, and the group's committed \
             offsets end at each partition's end offset",
        )
        .tokio(delivery::all_applied),
        check(
            "at_least_once.commit_after_effect",
            "at_least_once",
            "while one consumer works through 90 slow events (over 6 s, longer than \
             librdkafka's auto-commit interval), the group's committed offsets, sampled every \
             few milliseconds, never cover an event that is not applied yet",
        )
        .tokio(delivery::commit_after_effect),
        check(
            "effectively_once.duplicates",
            "effectively_once",
            "40 events, 7 of them produced a second time with the same id (3 of those on \
             another partition): each id changes its balance once",
        )
        .tokio(delivery::duplicates),
        check(
            "effectively_once.crash_mid_effect",
            "effectively_once",
            "two consumers in turn are killed with SIGKILL right after the first Redis command \
             that changed anything of a chosen event (its marker, its balance or the ledger); \
             a third finishes: every event applied exactly once",
        )
        .tokio(crash::crash_mid_effect),
        check(
            "effectively_once.marker_ttl",
            "effectively_once",
            "every applied event's marker <prefix>seen:<id> exists, with a TTL of about \
             --dedupe-ttl-secs",
        )
        .tokio(delivery::marker_ttl),
        check(
            "crash.kill_and_restart",
            "crash",
            "consumer A is killed (SIGKILL) just before an event's first Redis command, \
             consumer B just after the group committed past another event; replacements with \
             the same command line finish: nothing lost, nothing applied twice, committed \
             offsets at the end",
        )
        .tokio(crash::kill_and_restart),
        check(
            "rebalance.clean_leave",
            "rebalance",
            "consumer B joins while A works (90 events, then 120 more as B starts); once both are \
             idle A gets SIGTERM: A exits 0, B takes over its partitions at once (new events on \
             each are applied within 4 s), every event is applied once, and no event is \
             processed again after it was finished",
        )
        .tokio(rebalance::clean_leave),
        check(
            "rebalance.join",
            "rebalance",
            "consumer B joins while A works (90 events, then 120 more as B starts): the group's \
             committed offsets never move backwards, every event is applied once, and no event \
             is processed again after it was finished",
        )
        .tokio(rebalance::join),
        check(
            "ordering.per_partition",
            "ordering",
            "60 events taking 0-25 ms each, on 3 partitions: within each partition the ledger \
             lists them in offset order",
        )
        .tokio(delivery::per_partition),
        check(
            "poison.dead_letter",
            "poison",
            "a message whose processing always fails is attempted --max-attempts (3) times, \
             200 ms then 400 ms apart, then dead-lettered once with its key, payload and the \
             x-original-topic/-partition/-offset and x-error headers; the 8 events behind it \
             are applied and the committed offsets reach the end",
        )
        .tokio(poison::dead_letter),
        check(
            "poison.transient",
            "poison",
            "a message whose first two attempts fail is applied once, on the third, and never \
             dead-lettered",
        )
        .tokio(poison::transient),
        check(
            "poison.malformed",
            "poison",
            "a payload that is not JSON and one that is JSON but not an event are each \
             dead-lettered once with their headers, and the events behind them are applied",
        )
        .tokio(poison::malformed),
        check(
            "metrics.lag",
            "metrics",
            "while the consumer is held up 6 s in one event and 5 more arrive behind it, \
             kafka_consumer_lag{partition=\"0\"} shows end offset minus committed offset within \
             three refresh intervals and 1.5 s, and 0 once it has caught up",
        )
        .tokio(metrics::lag_check),
        check(
            "metrics.latency_count",
            "metrics",
            "after 20 events, 2 duplicates and an unparsable message, \
             kafka_consumer_processing_seconds_count is 23",
        )
        .tokio(metrics::latency_count),
        check(
            "shutdown.drain",
            "shutdown",
            "SIGTERM while a 1.5 s event is in hand: it is applied and committed (offset + 1), \
             no later event is taken, and the process exits 0 within the 4 s deadline",
        )
        .tokio(shutdown::drain),
        check(
            "shutdown.deadline",
            "shutdown",
            "SIGTERM while an 8 s event is in hand, with a 1.5 s deadline: the process exits 1 \
             at the deadline, not before, without committing the unfinished event",
        )
        .tokio(shutdown::deadline),
    ]);
}
