//! Criterion `shutdown`: SIGTERM while the consumer is inside a slow event. Judged from the exit
//! status and when it came, the ledger, and the group's committed offsets.

use std::time::Duration;

use grade_kit::env::scaled;
use grade_kit::{CheckResult, Failure};
use nix::sys::signal::Signal;
use tokio::time::Instant;

use crate::history::{Produced, Scenario};
use crate::process::{Consumer, describe, ms};
use crate::setup::{Setup, until};

/// Starts a consumer on `scenario` (everything on partition 0) and waits until the events before
/// the slow one are applied and it has been inside the slow one for a moment.
async fn inside_slow_event(
    setup: &Setup,
    scenario: &Scenario,
    before: usize,
    deadline: Duration,
) -> Result<(Consumer, Vec<Produced>), Failure> {
    let produced = scenario.produce(&setup.kafka, &setup.topic).await?;
    let mut options = setup.direct();
    options.shutdown_deadline = deadline;
    let consumer = Consumer::start("the consumer", &options).await?;
    let firsts: Vec<String> = produced[..before]
        .iter()
        .map(|p| p.spec.id.clone())
        .collect();
    let wait = until(
        Duration::from_secs(20),
        "the events before the slow one to be applied",
        || {
            let (store, firsts) = (setup.store.clone(), firsts.clone());
            async move {
                let ledger = store.ledger().await?;
                Ok(firsts.iter().all(|id| ledger.iter().any(|a| &a.id == id)))
            }
        },
    )
    .await;
    consumer.explain(wait)?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok((consumer, produced))
}

/// `shutdown.drain`: SIGTERM while a 1.5 s event is in hand: it is finished (applied and
/// committed: partition 0's committed offset is its offset + 1), no later event is taken, and
/// the process exits 0 soon after the event ends, within `--shutdown-deadline-ms` (4 s).
pub async fn drain() -> CheckResult {
    let setup = Setup::new().await?;
    let mut scenario = Scenario::new(0x5d, 3);
    for _ in 0..3 {
        scenario.payment(0, 0);
    }
    let slow = scenario.payment(0, 1_500).clone();
    for _ in 0..6 {
        scenario.payment(0, 0);
    }
    let deadline = Duration::from_secs(4);
    let (mut consumer, produced) = inside_slow_event(&setup, &scenario, 3, deadline).await?;
    let slow_at = produced[3].offset;
    let signalled = Instant::now();
    consumer.signal(Signal::SIGTERM)?;
    let allowed = deadline + scaled(Duration::from_secs(2));
    let Some((status, exited)) = consumer.wait_exit(signalled + allowed).await else {
        return consumer.explain(Err(Failure::new(format!(
            "the consumer was still running {} after SIGTERM (--shutdown-deadline-ms {})",
            ms(allowed),
            deadline.as_millis()
        ))
        .with_hint(
            "on shutdown.cancelled(), finish the message in hand, commit it, close the \
                    consumer and return Exit::Drained",
        )));
    };
    let ledger = setup.store.ledger().await?;
    if !ledger.iter().any(|a| a.id == slow.id) {
        return consumer.explain(Err(Failure::new(format!(
            "the consumer {} {} after SIGTERM without finishing the event in hand ({}, 0/{slow_at}, \
             1.5 s of processing): it was not applied",
            describe(Some(status)),
            ms(exited - signalled),
            slow.id
        ))
        .with_hint("let the message in hand finish (effect and commit) before leaving: stop \
                    taking new messages, not the one you hold")));
    }
    if !status.success() {
        return consumer.explain(Err(Failure::new(format!(
            "the consumer finished the event in hand but {} {} after SIGTERM, expected 0",
            describe(Some(status)),
            ms(exited - signalled)
        ))
        .with_hint("return Exit::Drained after a clean shutdown: main exits 0")));
    }
    let committed = setup.committed()?.read().await?[0];
    let expected = slow_at + 1;
    if committed != Some(expected) {
        let hint = match committed {
            Some(c) if c > expected => {
                "after the signal, take no new message: finish the one \
                                        in hand, commit it, and leave"
            }
            _ => "commit the message in hand (offset + 1) before closing the consumer",
        };
        return Err(Failure::new(format!(
            "after SIGTERM during {} (0/{slow_at}) and a clean exit, partition 0's committed \
             offset is wrong",
            slow.id
        ))
        .with_expected(expected.to_string())
        .with_actual(committed.map_or("nothing committed".to_owned(), |c| c.to_string()))
        .with_hint(hint));
    }
    Ok(())
}

/// `shutdown.deadline`: SIGTERM while an 8 s event is in hand, with `--shutdown-deadline-ms`
/// 1500: the process exits 1 at the deadline (not before), without committing or applying the
/// unfinished event.
pub async fn deadline() -> CheckResult {
    let setup = Setup::new().await?;
    let mut scenario = Scenario::new(0x5e, 3);
    for _ in 0..2 {
        scenario.payment(0, 0);
    }
    let slow = scenario.payment(0, 8_000).clone();
    for _ in 0..3 {
        scenario.payment(0, 0);
    }
    let deadline = Duration::from_millis(1_500);
    let (mut consumer, produced) = inside_slow_event(&setup, &scenario, 2, deadline).await?;
    let slow_at = produced[2].offset;
    let signalled = Instant::now();
    consumer.signal(Signal::SIGTERM)?;
    let slack = scaled(Duration::from_millis(1_500));
    let Some((status, exited)) = consumer.wait_exit(signalled + deadline + slack).await else {
        return consumer.explain(Err(Failure::new(format!(
            "the consumer was still running {} after SIGTERM, with --shutdown-deadline-ms {} \
             and the message in hand needing 8 s",
            ms(deadline + slack),
            deadline.as_millis()
        ))
        .with_hint(
            "race the message in hand against the deadline (tokio::select! with \
                    sleep_until(signal + deadline)) and return Exit::DeadlineExceeded when it \
                    passes",
        )));
    };
    let took = exited - signalled;
    if took + Duration::from_millis(100) < deadline {
        return consumer.explain(Err(Failure::new(format!(
            "the consumer {} {} after SIGTERM, before the {} ms deadline, with the message in \
             hand unfinished",
            describe(Some(status)),
            ms(took),
            deadline.as_millis()
        ))
        .with_hint(
            "give the message in hand until the deadline: leave early only once it is \
                    done",
        )));
    }
    if status.code() != Some(1) {
        return consumer.explain(Err(Failure::new(format!(
            "the deadline passed with a message unfinished, and the consumer {} ({} after \
             SIGTERM), expected exit status 1",
            describe(Some(status)),
            ms(took)
        ))
        .with_hint("return Exit::DeadlineExceeded: main exits 1")));
    }
    let committed = setup.committed()?.read().await?[0];
    if committed.is_some_and(|c| c > slow_at) {
        return Err(Failure::new(format!(
            "the consumer gave up on {} (0/{slow_at}) at the deadline but committed past it \
             (committed offset {}): the event would never be applied",
            slow.id,
            committed.unwrap_or_default()
        ))
        .with_hint(
            "commit only what is finished: an abandoned message stays uncommitted so the \
                    next owner reads it again",
        ));
    }
    Ok(())
}
