//! Criteria `at_least_once`, `effectively_once` (without crashes) and `ordering`: one consumer,
//! seeded events, and the history it leaves.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use grade_kit::{CheckResult, Failure, fail};

use crate::history::{Kind, Produced, Scenario};
use crate::process::Consumer;
use crate::setup::Setup;

const ONCE_HINT: &str = "apply each event in one atomic step (a Lua script: SET the marker NX \
                         with its TTL, and only if it was set, INCRBY the balance and RPUSH the \
                         ledger entry), and commit offset + 1 after it";

/// `at_least_once.all_applied`: 60 events, half produced before the consumer starts and half
/// while it runs, are each applied once, and the committed offsets end at the partitions' ends.
pub async fn all_applied() -> CheckResult {
    let setup = Setup::new().await?;
    let mut scenario = Scenario::new(0xa11, 3);
    scenario.payments(60, 0);
    let (before, after) = scenario.specs.split_at(30);
    let mut produced = crate::history::produce(&setup.kafka, &setup.topic, before).await?;
    let mut consumer = Consumer::start("the consumer", &setup.direct()).await?;
    produced.extend(crate::history::produce(&setup.kafka, &setup.topic, after).await?);
    let ledger = setup.wait_applied(&produced, &mut [&mut consumer]).await?;
    let verdict = setup
        .verdict(
            &produced,
            &ledger,
            Kind::ONCE,
            "one consumer, 60 events on 3 partitions (30 produced before it started)",
            ONCE_HINT,
        )
        .await;
    consumer.explain(verdict)?;
    setup.wait_committed_to_end(&mut consumer).await
}

/// `at_least_once.commit_after_effect`: while one consumer works through 90 slow events (60-90
/// ms each, longer than librdkafka's 5 s auto-commit interval in all), the group's committed
/// offsets are sampled every few milliseconds; at no moment may a partition's committed offset
/// cover an event that is not applied yet.
pub async fn commit_after_effect() -> CheckResult {
    let setup = Setup::new().await?;
    let mut scenario = Scenario::new(0xc0a, 3);
    for _ in 0..90 {
        scenario.payments(1, 0);
        let last = scenario.specs.last_mut().expect("just added");
        last.hold_ms = 60 + (last.amount.unsigned_abs() % 31);
    }
    let produced = scenario.produce(&setup.kafka, &setup.topic).await?;
    let committed = setup.committed()?;
    let store = setup.store.clone();
    let violation: Arc<Mutex<Option<String>>> = Arc::default();
    let offsets: HashMap<(i32, i64), String> = produced
        .iter()
        .map(|p| ((p.spec.partition, p.offset), p.spec.id.clone()))
        .collect();
    let mut consumer = Consumer::start("the consumer", &setup.direct()).await?;
    let sampler = tokio::spawn({
        let violation = Arc::clone(&violation);
        async move {
            loop {
                // Committed offsets first, the ledger second: anything applied before the
                // commit is then in the ledger that is read.
                let (Ok(now), Ok(ledger)) = (committed.read().await, store.ledger().await) else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let applied: BTreeSet<(i32, i64)> =
                    ledger.iter().map(|a| (a.partition, a.offset)).collect();
                for (partition, committed) in now.iter().enumerate() {
                    let Some(committed) = *committed else {
                        continue;
                    };
                    let partition = partition as i32;
                    let missing: Vec<String> = (0..committed)
                        .filter(|o| !applied.contains(&(partition, *o)))
                        .filter_map(|o| {
                            offsets.get(&(partition, o)).map(|id| format!("{o} ({id})"))
                        })
                        .collect();
                    if !missing.is_empty() {
                        *violation.lock().unwrap_or_else(PoisonError::into_inner) = Some(format!(
                            "the group's committed offset of partition {partition} was \
                             {committed} while offset(s) {} were not applied yet: a crash at \
                             that moment would lose them",
                            missing.join(", ")
                        ));
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    });
    let ledger = setup.wait_applied(&produced, &mut [&mut consumer]).await;
    sampler.abort();
    let ledger = ledger?;
    if let Some(violation) = violation
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    {
        return consumer.explain(Err(Failure::new(violation).with_hint(
            "turn off enable.auto.commit (librdkafka's default commits what you have only \
             received, on a timer) and commit offset + 1 after the effect",
        )));
    }
    let verdict = setup
        .verdict(
            &produced,
            &ledger,
            &[Kind::Lost],
            "one consumer, 90 slow events",
            ONCE_HINT,
        )
        .await;
    consumer.explain(verdict)
}

/// `effectively_once.duplicates`: events produced again with the same id (on their own
/// partition and on another) change nothing the second time.
pub async fn duplicates() -> CheckResult {
    let setup = Setup::new().await?;
    let mut scenario = Scenario::new(0xd0b, 3);
    scenario.payments(30, 0);
    for (index, other) in [
        (2, false),
        (5, true),
        (9, false),
        (14, true),
        (20, false),
        (27, false),
    ] {
        let partition = scenario.specs[index].partition;
        let to = if other {
            (partition + 1) % 3
        } else {
            partition
        };
        scenario.duplicate(index, to);
    }
    scenario.payments(10, 0);
    scenario.duplicate(33, scenario.specs[33].partition);
    let produced = scenario.produce(&setup.kafka, &setup.topic).await?;
    let mut consumer = Consumer::start("the consumer", &setup.direct()).await?;
    let ledger = setup.wait_applied(&produced, &mut [&mut consumer]).await?;
    let verdict = setup
        .verdict(
            &produced,
            &ledger,
            &[Kind::Double, Kind::Balance, Kind::Lost],
            "40 events, 7 of them produced twice with the same id (3 of those on another \
             partition)",
            "keep a marker per event id (<prefix>seen:<id>) and skip an event whose marker \
             exists, whatever partition it comes from",
        )
        .await;
    consumer.explain(verdict)?;
    setup.wait_committed_to_end(&mut consumer).await
}

/// `effectively_once.marker_ttl`: every applied event's marker exists with a TTL of about
/// `--dedupe-ttl-secs`.
pub async fn marker_ttl() -> CheckResult {
    let setup = Setup::new().await?;
    let mut scenario = Scenario::new(0x771, 3);
    scenario.payments(12, 0);
    let produced = scenario.produce(&setup.kafka, &setup.topic).await?;
    let options = setup.direct();
    let ttl = options.dedupe_ttl.as_secs() as i64;
    let mut consumer = Consumer::start("the consumer", &options).await?;
    setup.wait_applied(&produced, &mut [&mut consumer]).await?;
    for event in produced.iter().map(|p: &Produced| &p.spec) {
        let key = format!("{}seen:{}", setup.store.prefix(), event.id);
        match setup.store.marker_ttl(&event.id).await? {
            None => fail!(
                hint =
                    "name the marker <prefix>seen:<id> and set it in the same step as the effect",
                "after {} was applied there is no key {key}",
                event.id
            ),
            Some(-1) => fail!(
                hint = "set the marker with its TTL (SET key 1 NX EX <ttl>): markers without one \
                        fill Redis forever",
                "{key} has no TTL (--dedupe-ttl-secs {ttl})"
            ),
            Some(left) if left > ttl || left < ttl - 120 => {
                return Err(Failure::new(format!("{key} has the wrong TTL"))
                    .with_expected(format!("about {ttl} s (--dedupe-ttl-secs {ttl})"))
                    .with_actual(format!("{left} s"))
                    .with_hint("the TTL is --dedupe-ttl-secs, in seconds"));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// `ordering.per_partition`: 60 events of a few accounts per partition, some slower than
/// others, are applied in offset order within each partition.
pub async fn per_partition() -> CheckResult {
    let setup = Setup::new().await?;
    let mut scenario = Scenario::new(0x0bd, 3);
    scenario.payments(60, 25);
    let produced = scenario.produce(&setup.kafka, &setup.topic).await?;
    let mut consumer = Consumer::start("the consumer", &setup.direct()).await?;
    let ledger = setup.wait_applied(&produced, &mut [&mut consumer]).await?;
    let verdict = setup
        .verdict(
            &produced,
            &ledger,
            &[Kind::Order],
            "60 events on 3 partitions taking 0-25 ms each",
            "apply the messages of a partition one after the other, in the order they come: \
             work on several at once only across partitions",
        )
        .await;
    consumer.explain(verdict)
}
