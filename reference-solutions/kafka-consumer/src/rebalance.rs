//! The consumer's context: which partitions this process owns, what it finished on them, and
//! the rebalance callbacks that keep both right.
//!
//! Ownership is the whole point. When a rebalance takes a partition away, its next owner
//! starts from the partition's committed offset, so:
//!
//! - work we finished but did not commit yet must be committed **before** the partition goes
//!   (`pre_rebalance` on a revoke), or the new owner redoes it (harmless thanks to the dedupe
//!   marker, but wasteful);
//! - once it is gone we must **never** commit it again: a late commit from us would move the
//!   new owner's committed offset back to ours, and a crash of the new owner would then replay
//!   everything in between.
//!
//! Both the loop and the callbacks go through one [`Mutex`] around [`Partitions`], and the
//! loop commits while holding it, so "do we still own it?" and "commit it" are one step that
//! no revoke can fall between. (With a single loop, rdkafka runs the callbacks inside
//! `recv()`, never in the middle of a message; the lock makes that an enforced rule instead of
//! an accident of how the loop is written.)
//!
//! Commits here are synchronous (`CommitMode::Sync`), so they block the calling thread until
//! the broker answers: the loop calls them from `spawn_blocking`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::metrics::Metrics;

/// The partitions of our topic this process owns, each with the offset to commit next if the
/// work it covers is finished but the commit has not gone through yet (a commit failed, or the
/// loop has not reached it).
#[derive(Debug, Default)]
struct Partitions {
    owned: BTreeMap<i32, Option<i64>>,
}

/// The rdkafka context of our consumer: shared by the loop, the lag refresher and librdkafka's
/// rebalance callbacks.
pub(crate) struct Context {
    topic: String,
    partitions: Mutex<Partitions>,
    metrics: Arc<Metrics>,
}

/// What became of a request to commit a finished message.
#[derive(Debug)]
pub(crate) enum Commit {
    /// Committed (together with anything else finished and uncommitted).
    Done,
    /// The partition is no longer ours: nothing was committed, and nothing must be.
    NotOwned,
    /// The broker refused or could not be reached; the offset stays pending and goes with the
    /// next commit, the next revoke or the shutdown.
    Failed(KafkaError),
}

impl Context {
    pub(crate) fn new(topic: &str, metrics: Arc<Metrics>) -> Self {
        Self {
            topic: topic.to_owned(),
            partitions: Mutex::default(),
            metrics,
        }
    }

    /// The topic this consumer reads.
    pub(crate) fn topic(&self) -> &str {
        &self.topic
    }

    /// The partitions this process owns now.
    pub(crate) fn owned(&self) -> Vec<i32> {
        self.lock().owned.keys().copied().collect()
    }

    /// Records that everything before `next` on `partition` is finished, and commits it along
    /// with anything else pending, unless the partition is no longer ours. Blocks until the
    /// broker answers.
    pub(crate) fn commit_finished<C>(&self, consumer: &C, partition: i32, next: i64) -> Commit
    where
        C: Consumer<Self>,
    {
        let mut partitions = self.lock();
        match partitions.owned.get_mut(&partition) {
            Some(pending) => *pending = Some(next),
            None => return Commit::NotOwned,
        }
        match self.commit_pending_locked(consumer, &mut partitions) {
            Ok(()) => Commit::Done,
            Err(error) => Commit::Failed(error),
        }
    }

    /// Commits whatever is finished and not committed yet, on the partitions we own. Blocks
    /// until the broker answers.
    pub(crate) fn commit_pending<C>(&self, consumer: &C) -> KafkaResult<()>
    where
        C: Consumer<Self>,
    {
        let mut partitions = self.lock();
        self.commit_pending_locked(consumer, &mut partitions)
    }

    /// Sets the lag gauge of each partition in `lags` that is still ours. The lag refresher
    /// measures without the lock (it takes a broker round trip); checking ownership again here,
    /// under the lock a revoke takes too, keeps it from bringing back the series of a partition
    /// revoked in the meantime.
    pub(crate) fn set_lags(&self, lags: &[(i32, i64)]) {
        let partitions = self.lock();
        for &(partition, lag) in lags {
            if partitions.owned.contains_key(&partition) {
                self.metrics.set_lag(partition, lag);
            }
        }
    }

    /// [`Self::commit_pending`], for callers that hold the lock already.
    fn commit_pending_locked<C>(&self, consumer: &C, partitions: &mut Partitions) -> KafkaResult<()>
    where
        C: Consumer<Self>,
    {
        let mut offsets = TopicPartitionList::new();
        for (&partition, pending) in &partitions.owned {
            if let Some(next) = *pending {
                offsets.add_partition_offset(&self.topic, partition, Offset::Offset(next))?;
            }
        }
        if offsets.count() == 0 {
            return Ok(());
        }
        // `commit` commits exactly the offsets we give it, not the consumer's position: the
        // position runs ahead of the work (it is where the next fetch starts).
        consumer.commit(&offsets, CommitMode::Sync)?;
        for pending in partitions.owned.values_mut() {
            *pending = None;
        }
        Ok(())
    }

    /// The partitions of our topic in `list`.
    fn ours(&self, list: &TopicPartitionList) -> Vec<i32> {
        list.elements()
            .iter()
            .filter(|element| element.topic() == self.topic)
            .map(|element| element.partition())
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Partitions> {
        // A panic while holding the lock leaves nothing half-updated that matters: the map
        // is only ever inserted into, removed from, or has a value replaced.
        self.partitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl ClientContext for Context {
    /// librdkafka reports errors it recovers from on its own (a broker connection dropped, a
    /// coordinator moved) here; worth a line on stderr when a check fails.
    fn error(&self, error: KafkaError, reason: &str) {
        eprintln!("kafka: {error}: {reason}");
    }
}

impl ConsumerContext for Context {
    /// Before partitions are taken away: commit what we finished on them, then forget them.
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(revoked) = rebalance else {
            return;
        };
        let revoked = self.ours(revoked);
        let mut partitions = self.lock();
        // A *lost* assignment (the group already moved on without us, e.g. after a session
        // timeout) has new owners already: committing now would be exactly the stale commit we
        // must avoid. The work is redone by them, and the dedupe marker makes that harmless.
        if consumer.assignment_lost() {
            eprintln!("partitions {revoked:?} lost: not committing on them");
        } else if let Err(error) = self.commit_pending_locked(consumer, &mut partitions) {
            eprintln!("commit before revoking {revoked:?} failed: {error}");
        }
        for partition in &revoked {
            partitions.owned.remove(partition);
            self.metrics.forget_partition(*partition);
        }
        eprintln!("revoked partitions {revoked:?}");
    }

    /// After partitions are assigned: they are ours from now on.
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(assigned) => {
                let assigned = self.ours(assigned);
                let mut partitions = self.lock();
                for partition in &assigned {
                    partitions.owned.entry(*partition).or_insert(None);
                }
                eprintln!("assigned partitions {assigned:?}");
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(error) => eprintln!("rebalance failed: {error}"),
        }
    }
}
