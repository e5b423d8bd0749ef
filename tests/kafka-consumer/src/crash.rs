//! Criteria `crash` and `effectively_once` through crashes: consumers killed with SIGKILL at
//! chosen moments of an event's life (before its effect, in the middle of it, after its
//! commit), replaced by a new process with the same command line, and the history judged.
//!
//! The moments come from the Redis proxy (see `proxy`) and from the group's committed offsets.
//! Each target event has an account of its own and is produced only when the process that must
//! die on it is about to start, so it cannot have been handled by an earlier one.

use std::time::Duration;

use grade_kit::env::scaled;
use grade_kit::{CheckResult, Failure};
use tokio::time::Instant;

use crate::history::{Kind, Produced, Scenario, Spec};
use crate::process::{Consumer, ensure_running};
use crate::proxy::{Proxy, Trigger};
use crate::setup::{APPLY_LIMIT, Setup, until};

/// How long a check waits for a consumer to reach the event it must die on.
const REACH: Duration = Duration::from_secs(30);

/// Waits until the proxy has fired `n` times, failing early if `victim` exits by itself.
async fn wait_fired(proxy: &Proxy, victim: &mut Consumer, n: u64, target: &Spec) -> CheckResult {
    let mut fired = proxy.fired();
    let deadline = Instant::now() + scaled(REACH);
    loop {
        if *fired.borrow_and_update() >= n {
            victim
                .wait_exit(Instant::now() + Duration::from_secs(5))
                .await;
            return Ok(());
        }
        ensure_running(victim)?;
        if Instant::now() > deadline {
            return victim.explain(Err(Failure::new(format!(
                "{} never touched event {} (account {}) in Redis within {:?}",
                victim.name,
                target.id,
                target.account,
                scaled(REACH)
            ))
            .with_hint("apply every event to <prefix>balance:<account> as the README says")));
        }
        let _ = tokio::time::timeout(Duration::from_millis(50), fired.changed()).await;
    }
}

/// `crash.kill_and_restart`: consumer A is killed just before an event's first Redis command,
/// consumer B just after the group committed past another event; consumer C finishes. Every
/// event is applied exactly once, and the committed offsets end at the partitions' ends.
pub async fn kill_and_restart() -> CheckResult {
    let setup = Setup::new().await?;
    let proxy = Proxy::start(setup.store.clone()).await?;
    let options = setup.options(&proxy.url);
    let mut scenario = Scenario::new(0xc4a5, 3);
    let mut produced: Vec<Produced> = Vec::new();

    // A dies before the effect of `first`: it must not have committed it.
    scenario.payments(15, 10);
    let first = scenario.target(0);
    scenario.payments(15, 10);
    produced.extend(scenario.produce(&setup.kafka, &setup.topic).await?);
    let mut a = Consumer::start("consumer A", &options).await?;
    proxy.arm(
        Trigger::BeforeEffect {
            id: first.id.clone(),
            account: first.account.clone(),
        },
        a.pid(),
    );
    wait_fired(&proxy, &mut a, 1, &first).await?;

    // B dies once the group has committed past `second`.
    let mut more = Scenario::new(0xc4a6, 3);
    more.payments(10, 10);
    let second = more.target(1);
    more.payments(10, 10);
    let batch = more.produce(&setup.kafka, &setup.topic).await?;
    let second_at = batch
        .iter()
        .find(|p| p.spec.id == second.id)
        .map(|p| p.offset)
        .expect("the target was produced");
    produced.extend(batch);
    let mut b = Consumer::start("consumer B", &options).await?;
    let committed = setup.committed()?;
    let wait = until(
        APPLY_LIMIT,
        "the group to commit past the second target",
        || {
            let committed = committed.clone();
            async move {
                let now = committed.read().await?;
                Ok(now[second.partition as usize].is_some_and(|c| c > second_at))
            }
        },
    )
    .await;
    b.explain(
        wait.map_err(|failure| failure.with_hint("commit offset + 1 after each event's effect")),
    )?;
    b.kill().await;

    let mut c = Consumer::start("consumer C", &options).await?;
    let ledger = setup.wait_applied(&produced, &mut [&mut c]).await?;
    let verdict = setup
        .verdict(
            &produced,
            &ledger,
            Kind::ONCE,
            &format!(
                "consumer A was killed (SIGKILL) before the first Redis command of {} ({}/{}), \
                 consumer B after the group committed past {} ({}/{second_at}), consumer C \
                 finished",
                first.id,
                first.partition,
                offset_of(&produced, &first),
                second.id,
                second.partition
            ),
            "commit offset + 1 only after the event's effect is in Redis: a replacement \
             resumes from the committed offsets, so an event committed before it was applied is \
             lost, and one applied but not committed comes back (the marker must make it a \
             no-op)",
        )
        .await;
    c.explain(verdict)?;
    setup.wait_committed_to_end(&mut c).await
}

/// `effectively_once.crash_mid_effect`: consumers are killed right after the first Redis
/// command that changed anything of a target event (its marker, its balance, or the ledger),
/// twice; a third finishes. An atomic effect survives that: the redelivered event is skipped.
pub async fn crash_mid_effect() -> CheckResult {
    let setup = Setup::new().await?;
    let proxy = Proxy::start(setup.store.clone()).await?;
    let options = setup.options(&proxy.url);
    let mut produced: Vec<Produced> = Vec::new();
    let mut targets = Vec::new();
    for (round, name) in ["consumer A", "consumer B"].into_iter().enumerate() {
        let mut scenario = Scenario::new(0xe1 + round as u64, 3);
        scenario.payments(10, 0);
        let target = scenario.target(round as i32 * 2);
        scenario.payments(10, 0);
        produced.extend(scenario.produce(&setup.kafka, &setup.topic).await?);
        let mut victim = Consumer::start(name, &options).await?;
        proxy.arm(
            Trigger::FirstTrace {
                id: target.id.clone(),
                account: target.account.clone(),
            },
            victim.pid(),
        );
        wait_fired(&proxy, &mut victim, round as u64 + 1, &target).await?;
        targets.push(format!(
            "{name} at {} ({}/{})",
            target.id,
            target.partition,
            offset_of(&produced, &target)
        ));
    }
    let mut last = Consumer::start("consumer C", &options).await?;
    let ledger = setup.wait_applied(&produced, &mut [&mut last]).await?;
    let verdict = setup
        .verdict(
            &produced,
            &ledger,
            Kind::ONCE,
            &format!(
                "killed (SIGKILL) right after the first Redis command that changed anything of \
                 an event: {}; consumer C finished",
                targets.join(", ")
            ),
            "make the marker, the balance and the ledger entry one atomic step (one Lua \
             script, or WATCH + MULTI/EXEC): a crash between two separate commands leaves a \
             marker without its effect (the event is lost) or an effect without its marker (it \
             is applied again)",
        )
        .await;
    last.explain(verdict)
}

fn offset_of(produced: &[Produced], spec: &Spec) -> i64 {
    produced
        .iter()
        .find(|p| p.spec.id == spec.id)
        .map_or(-1, |p| p.offset)
}
