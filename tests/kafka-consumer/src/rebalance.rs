//! Criterion `rebalance`: two consumers in one group, one joining while the other works, or
//! one leaving (SIGTERM) while the other works. Judged from the history, the group's committed
//! offsets over time, and which process attempted which event, and how often (each process's
//! hook file).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use grade_kit::env::scaled;
use grade_kit::{CheckResult, Failure};
use nix::sys::signal::Signal;
use tokio::time::Instant;

use crate::history::{Kind, Produced, Scenario};
use crate::process::{Consumer, describe, ensure_running};
use crate::setup::Setup;
use crate::store::Applied;

/// How many times an event may be processed again after it was finished. None:
/// a partition moves only after its old owner's revoke callback returned, and a commit sent
/// before that (even an asynchronous one) reaches the broker before the new owner asks where
/// to start.
const REDELIVERY_SLACK: usize = 0;

/// How soon after a member leaves the other must be working on its partitions. A clean leave
/// takes about half a second on the grader's broker; an unclean one waits for the session
/// timeout (6 s, set in kafka.rs) and a rebalance after it.
const TAKEOVER: Duration = Duration::from_secs(4);

/// `count` events of 30-50 ms each over three partitions (about 4 s of work per 100 events).
fn workload(seed: u64, count: usize) -> Scenario {
    let mut scenario = Scenario::new(seed, 3);
    scenario.payments(count, 0);
    for spec in &mut scenario.specs {
        spec.hold_ms = 30 + spec.amount.unsigned_abs() % 21;
    }
    scenario
}

/// Starts consumer B once A is working, and produces a second batch of events on every
/// partition at once, so that whichever partitions B is given still have work when it gets
/// them (A may have drained some by then: it reads one partition's batch at a time).
async fn second_member(
    setup: &Setup,
    options: &crate::process::Options,
    produced: &mut Vec<Produced>,
    seed: u64,
) -> Result<Consumer, Failure> {
    let b = Consumer::start("consumer B", options).await?;
    produced.extend(
        workload(seed, 120)
            .produce(&setup.kafka, &setup.topic)
            .await?,
    );
    Ok(b)
}

/// Waits until `consumer` has attempted at least one event: it owns partitions.
async fn until_working(consumer: &mut Consumer) -> CheckResult {
    let deadline = Instant::now() + scaled(Duration::from_secs(20));
    loop {
        if !consumer.attempts().is_empty() {
            return Ok(());
        }
        ensure_running(consumer)?;
        if Instant::now() > deadline {
            return consumer.explain(Err(Failure::new(format!(
                "{} processed nothing within {:?} of joining the group",
                consumer.name,
                scaled(Duration::from_secs(20))
            ))));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Events processed again after they were finished: the hook succeeded for them more than
/// once, in one process or across both. Nothing fails and nothing crashes in these checks, so
/// a correct consumer calls the hook once per event; a second successful call means the
/// event was read again after it was done, because its offset was not committed before its
/// partition moved (to the other member, or back to the same one after a rebalance).
fn redone(produced: &[Produced], ledger: &[Applied], consumers: &[&Consumer]) -> Vec<String> {
    let applied: HashSet<&str> = ledger.iter().map(|a| a.id.as_str()).collect();
    let mut successes: HashMap<String, usize> = HashMap::new();
    for consumer in consumers {
        for attempt in consumer.attempts().into_iter().filter(|a| a.ok) {
            *successes.entry(attempt.id).or_default() += 1;
        }
    }
    let place: HashMap<&str, (i32, i64)> = produced
        .iter()
        .map(|p| (p.spec.id.as_str(), (p.spec.partition, p.offset)))
        .collect();
    let mut again: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for (id, count) in &successes {
        if *count > 1 + REDELIVERY_SLACK
            && applied.contains(id.as_str())
            && let Some(&(p, offset)) = place.get(id.as_str())
        {
            again.entry(p).or_default().push(offset);
        }
    }
    again
        .into_iter()
        .map(|(p, mut offsets)| {
            offsets.sort_unstable();
            let shown: Vec<String> = offsets.iter().take(4).map(i64::to_string).collect();
            format!(
                "partition {p}: {} events (offsets {}{})",
                offsets.len(),
                shown.join(", "),
                if offsets.len() > 4 { ", …" } else { "" }
            )
        })
        .collect()
}

/// `rebalance.clean_leave`: B joins while A works; once both are idle A gets SIGTERM. A exits
/// 0, B takes over A's partitions at once (new events on every partition are applied within
/// 4 s), nothing is lost or applied twice, and nothing A finished is processed again (A
/// committed it before its partitions moved).
pub async fn clean_leave() -> CheckResult {
    let setup = Setup::new().await?;
    let mut produced = workload(0x1ea, 90)
        .produce(&setup.kafka, &setup.topic)
        .await?;
    let options = setup.direct();
    let mut a = Consumer::start("consumer A", &options).await?;
    until_working(&mut a).await?;
    let mut b = second_member(&setup, &options, &mut produced, 0x1eb).await?;
    until_working(&mut b).await?;
    // Both idle: what A finished and has not committed yet must be committed on the way out.
    setup.wait_applied(&produced, &mut [&mut a, &mut b]).await?;
    a.signal(Signal::SIGTERM)?;
    let allowed = options.shutdown_deadline + scaled(Duration::from_secs(3));
    let deadline = Instant::now() + allowed;
    match a.wait_exit(deadline).await {
        Some((status, _)) if status.success() => {}
        Some((status, _)) => {
            return a.explain(Err(Failure::new(format!(
                "consumer A {} after SIGTERM, expected 0 once it left the group",
                describe(Some(status))
            ))));
        }
        None => {
            return a.explain(Err(Failure::new(format!(
                "consumer A was still running {allowed:?} after SIGTERM (--shutdown-deadline-ms \
                 {})",
                options.shutdown_deadline.as_millis()
            ))
            .with_hint(
                "on shutdown.cancelled(), finish the message in hand, commit, close the \
                 consumer and return",
            )));
        }
    }
    // B must own every partition at once: new events on each are applied within TAKEOVER. A
    // member that exits without leaving the group keeps its partitions until its session
    // times out (6 s), and the rebalance after that takes seconds more.
    let mut last = Scenario::new(0x1ec, 3);
    for partition in 0..3 {
        last.payment(partition, 0);
        last.payment(partition, 0);
    }
    let fresh = last.produce(&setup.kafka, &setup.topic).await?;
    let takeover = Instant::now() + scaled(TAKEOVER);
    loop {
        let ledger = setup.store.ledger().await?;
        if fresh
            .iter()
            .all(|p| ledger.iter().any(|a| a.id == p.spec.id))
        {
            break;
        }
        ensure_running(&mut b)?;
        if Instant::now() > takeover {
            let waiting: Vec<String> = fresh
                .iter()
                .filter(|p| !ledger.iter().any(|a| a.id == p.spec.id))
                .map(|p| format!("{}/{}", p.spec.partition, p.offset))
                .collect();
            return b.explain(Err(Failure::new(format!(
                "after consumer A exited, events on its partitions waited more than {:?} for \
                 consumer B: {} were still not applied. A did not leave the group, so the \
                 broker kept its partitions until its session timed out",
                scaled(TAKEOVER),
                waiting.join(", ")
            ))
            .with_hint(
                "close the consumer on shutdown (drop it, or unsubscribe and drop it: \
                 closing sends LeaveGroup) instead of exiting with it still open",
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    produced.extend(fresh);
    let ledger = setup.wait_applied(&produced, &mut [&mut b]).await?;
    let verdict = setup
        .verdict(
            &produced,
            &ledger,
            Kind::ONCE,
            "90 events, then 120 more as consumer B joined while A worked; then A got \
             SIGTERM and B carried on alone with 6 more",
            "on SIGTERM, leave the group (close the consumer) so its partitions move at once; \
             the events must still be applied exactly once",
        )
        .await;
    b.explain(verdict)?;
    let again = redone(&produced, &ledger, &[&a, &b]);
    if !again.is_empty() {
        return b.explain(Err(Failure::new(format!(
            "events were processed again after they had been finished (applied): {}. Their \
             offsets were not committed before their partitions moved",
            again.join("; ")
        ))
        .with_hint(
            "commit what you finished in ConsumerContext::pre_rebalance (on revoke) and \
                    before closing the consumer on shutdown",
        )));
    }
    Ok(())
}

/// `rebalance.join`: B joins while A works; both carry on. The group's committed offsets never
/// move backwards (no stale commit for a partition A no longer owns), nothing is lost or
/// applied twice, and B does not redo what A finished.
pub async fn join() -> CheckResult {
    let setup = Setup::new().await?;
    let mut produced = workload(0x701, 90)
        .produce(&setup.kafka, &setup.topic)
        .await?;
    let options = setup.direct();
    let committed = setup.committed()?;
    let backwards: Arc<Mutex<Option<String>>> = Arc::default();
    let sampler = tokio::spawn({
        let backwards = Arc::clone(&backwards);
        async move {
            let mut highest: Vec<Option<i64>> = Vec::new();
            loop {
                if let Ok(now) = committed.read().await {
                    highest.resize(now.len(), None);
                    for (p, (seen, now)) in highest.iter_mut().zip(&now).enumerate() {
                        if let (Some(before), Some(now)) = (*seen, *now)
                            && now < before
                        {
                            *backwards.lock().unwrap_or_else(PoisonError::into_inner) =
                                Some(format!(
                                    "the group's committed offset of partition {p} went back \
                                     from {before} to {now}"
                                ));
                            return;
                        }
                        if now.is_some() {
                            *seen = *now;
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    });
    let mut a = Consumer::start("consumer A", &options).await?;
    until_working(&mut a).await?;
    let mut b = second_member(&setup, &options, &mut produced, 0x702).await?;
    until_working(&mut b).await?;
    let ledger = setup.wait_applied(&produced, &mut [&mut a, &mut b]).await;
    sampler.abort();
    let ledger = ledger?;
    if let Some(problem) = backwards
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    {
        return a.explain(Err(Failure::new(format!(
            "{problem} after consumer B joined: a consumer committed an old offset for a \
             partition that had moved to the other"
        ))
        .with_hint(
            "commit only partitions you still own: drop the revoked partitions' pending \
                    offsets in pre_rebalance, after committing them there",
        )));
    }
    let verdict = setup
        .verdict(
            &produced,
            &ledger,
            Kind::ONCE,
            "90 events, then 120 more as consumer B joined the group while consumer A worked",
            "apply each event once: the marker makes a redelivered event a no-op",
        )
        .await;
    a.explain(verdict)?;
    let again = redone(&produced, &ledger, &[&a, &b]);
    if !again.is_empty() {
        return a.explain(Err(Failure::new(format!(
            "events were processed again after they had been finished (applied), when consumer \
             B joined: {}. Their offsets were not committed before their partitions moved",
            again.join("; ")
        ))
        .with_hint(
            "commit what you finished in ConsumerContext::pre_rebalance (on revoke)",
        )));
    }
    Ok(())
}
