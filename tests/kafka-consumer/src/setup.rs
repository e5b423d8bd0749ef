//! What every check starts from: its own topics and group, the attempt's key prefix, and the
//! waits and verdicts most checks share.

use std::time::Duration;

use grade_kit::env::scaled;
use grade_kit::{CheckResult, Failure, fail};
use tokio::time::Instant;

use crate::broker::{self, Committed, Kafka};
use crate::history::{self, Kind, Produced};
use crate::process::{Consumer, Options, ensure_running};
use crate::store::{Applied, Store};

/// Partitions of every check's topic.
pub const PARTITIONS: i32 = 3;
/// How long a check waits for the events it produced to be applied.
pub const APPLY_LIMIT: Duration = Duration::from_secs(30);
/// How long the check keeps watching after the last expected event appeared, to catch late
/// double effects.
const SETTLE: Duration = Duration::from_millis(500);

/// One check's topics, group and keys.
pub struct Setup {
    pub kafka: Kafka,
    pub topic: String,
    pub dead_letter_topic: String,
    pub group: String,
    pub store: Store,
}

impl Setup {
    /// Creates the check's topic (three partitions) and dead-letter topic (one).
    pub async fn new() -> Result<Self, Failure> {
        let mut kafka = Kafka::connect()?;
        let topic = broker::name("payments");
        let dead_letter_topic = broker::name("payments.dlq");
        kafka.create_topic(&topic, PARTITIONS).await?;
        kafka.create_topic(&dead_letter_topic, 1).await?;
        let store = Store::connect(&grade_kit::services::key_prefix()).await?;
        Ok(Self {
            kafka,
            topic,
            dead_letter_topic,
            group: broker::name("ledger"),
            store,
        })
    }

    /// The command line of a consumer of this check, talking to Redis at `redis_url`.
    pub fn options(&self, redis_url: &str) -> Options {
        Options {
            brokers: self.kafka.brokers().to_owned(),
            topic: self.topic.clone(),
            group: self.group.clone(),
            redis_url: redis_url.to_owned(),
            key_prefix: self.store.prefix().to_owned(),
            dead_letter_topic: self.dead_letter_topic.clone(),
            max_attempts: 3,
            retry_backoff: Duration::from_millis(100),
            dedupe_ttl: Duration::from_secs(3_600),
            metrics_interval: Duration::from_millis(200),
            shutdown_deadline: Duration::from_secs(5),
        }
    }

    /// The command line of a consumer talking to the grader's Redis directly.
    pub fn direct(&self) -> Options {
        self.options(&grade_kit::services::redis_url())
    }

    /// A watcher of this check's group's committed offsets.
    pub fn committed(&self) -> Result<Committed, Failure> {
        self.kafka
            .committed_watcher(&self.group, &self.topic, PARTITIONS)
    }

    /// Waits until every event of `produced` that must be applied is in the ledger (or
    /// [`APPLY_LIMIT`] passes), failing early if one of `running` exits, then watches a little
    /// longer for late double effects. Returns the ledger.
    pub async fn wait_applied(
        &self,
        produced: &[Produced],
        running: &mut [&mut Consumer],
    ) -> Result<Vec<Applied>, Failure> {
        let wanted: Vec<&str> = history::to_apply(produced)
            .iter()
            .map(|p| p.spec.id.as_str())
            .collect();
        let deadline = Instant::now() + scaled(APPLY_LIMIT);
        loop {
            let ledger = self.store.ledger().await?;
            if wanted.iter().all(|id| ledger.iter().any(|a| a.id == *id)) {
                break;
            }
            for consumer in running.iter_mut() {
                ensure_running(consumer)?;
            }
            if Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(SETTLE).await;
        self.store.ledger().await
    }

    /// The history verdict on the problems of `kinds`.
    pub async fn verdict(
        &self,
        produced: &[Produced],
        ledger: &[Applied],
        kinds: &[Kind],
        context: &str,
        hint: &str,
    ) -> CheckResult {
        let accounts: Vec<&str> = produced.iter().map(|p| p.spec.account.as_str()).collect();
        let balances = self.store.balances(accounts).await?;
        let problems: Vec<String> = history::judge(produced, ledger, &balances)
            .into_iter()
            .filter(|(kind, _)| kinds.contains(kind))
            .map(|(_, line)| line)
            .collect();
        if problems.is_empty() {
            return Ok(());
        }
        let applied = history::to_apply(produced).len();
        Err(Failure::new(format!(
            "{context}: {} records produced, {applied} events to apply once each.\n{}",
            produced.len(),
            problems.join("\n")
        ))
        .with_hint(hint))
    }

    /// Waits until the group's committed offset of every partition equals its end offset.
    pub async fn wait_committed_to_end(&self, consumer: &mut Consumer) -> CheckResult {
        let ends = self.kafka.end_offsets(&self.topic, PARTITIONS).await?;
        let committed = self.committed()?;
        let deadline = Instant::now() + scaled(Duration::from_secs(5));
        loop {
            let now = committed.read().await?;
            let done = now
                .iter()
                .zip(&ends)
                .all(|(c, end)| *end == 0 || *c == Some(*end));
            if done {
                return Ok(());
            }
            if Instant::now() > deadline {
                let describe: Vec<String> = now
                    .iter()
                    .zip(&ends)
                    .enumerate()
                    .filter(|(_, (c, end))| **end != 0 && **c != Some(**end))
                    .map(|(p, (c, end))| {
                        format!(
                            "partition {p}: committed {}, end offset {end}",
                            c.map_or("nothing".to_owned(), |c| c.to_string())
                        )
                    })
                    .collect();
                let hint = if now.iter().zip(&ends).any(|(c, end)| *c == Some(end - 1)) {
                    "commit the offset of the next message to read: the last finished offset + 1"
                } else {
                    "commit every message you finish (after its effect), including skipped \
                     duplicates and dead-lettered ones"
                };
                return consumer.explain(Err(Failure::new(format!(
                    "every event was applied, but {:?} later the group's committed offsets are \
                     not at the end of the partitions: {}",
                    scaled(Duration::from_secs(5)),
                    describe.join("; ")
                ))
                .with_hint(hint)));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Waits until `ready` returns true, polling every 20 ms, or fails with `what` after `limit`.
pub async fn until<F, Fut>(limit: Duration, what: &str, mut ready: F) -> CheckResult
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, Failure>>,
{
    let deadline = Instant::now() + scaled(limit);
    loop {
        if ready().await? {
            return Ok(());
        }
        if Instant::now() > deadline {
            fail!("waited {:?} for {what}", scaled(limit));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
