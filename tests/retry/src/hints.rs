//! Server hints (`retry_after`): `ErrorClass::Transient { retry_after: Some(d) }` means "not
//! before `d`", and `max_delay` still bounds the wait.

use std::time::Duration;

use grade_kit::model::{Explore, explore};
use grade_kit::proptest::strategy::Strategy;
use grade_kit::{CheckResult, ensure};

use crate::harness::{Run, Script, Step, TICK, describe, policy, rng, run};
use crate::model::{self, Ending, Scenario, Wait};

/// Runs a scenario and pairs each wait after a hinted error with its allowed interval. Runs
/// end with a success, so that a budget bug does not fail these checks too.
async fn hinted_waits(
    s: &Scenario,
) -> Result<(Run, Vec<(usize, Wait, Duration)>), grade_kit::Failure> {
    let script = s.script();
    let expected = model::expect(&s.policy, &script);
    let run_ = run(&s.policy, &script, &mut rng(s.seed)).await?;
    let waits = run_
        .gaps()
        .into_iter()
        .zip(expected.waits)
        .enumerate()
        .filter(|(_, (_, wait))| wait.hinted)
        .map(|(n, (gap, wait))| (n, wait, gap))
        .collect();
    Ok((run_, waits))
}

fn hint(secs: u64) -> Step {
    Step::Transient(Some(Duration::from_secs(secs)))
}

/// The next call comes no earlier than the hint (or `max_delay`, if the hint is longer).
pub async fn honoured() -> CheckResult {
    // A 1 ms base: without the hint, every wait here would be a millisecond or two.
    let p = policy(5, 1, 2, 10_000);
    let hints = [3, 7, 3_600];
    let mut rng = rng(60);
    for _ in 0..5 {
        let script = Script::new(&[hint(hints[0]), hint(hints[1]), hint(hints[2]), Step::Ok]);
        let run_ = run(&p, &script, &mut rng).await?;
        ensure!(
            matches!(run_.result, Ok(4)),
            "three transient errors with retry_after hints, then success (max_retries = 5): \
             expected Ok(4), got {}",
            describe(&run_.result)
        );
        for (n, (gap, secs)) in run_.gaps().into_iter().zip(hints).enumerate() {
            let floor = Duration::from_secs(secs).min(p.max_delay);
            ensure!(
                gap >= floor,
                hint = "use the hint as a lower bound on the wait (capped at max_delay): \
                        wait max(hint, jittered backoff), or the hint itself",
                "with {p:?}, the error before retry {n} said retry_after = {secs}s, but the \
                 next call came {gap:?} later; expected at least {floor:?}"
            );
        }
    }

    // The model part: the wait is measured from the moment the failing call *returned*, with
    // slow calls, hints of 0, under, at and far beyond max_delay, and any policy.
    explore(
        Explore::new(0x4AF7).cases(300),
        model::transient_scenario(Ending::Success),
        |s| async move {
            let (_, waits) = hinted_waits(&s).await?;
            for (n, wait, gap) in waits {
                ensure!(
                    gap >= wait.lo,
                    hint = "the hint is a floor on the time between the failure and the next \
                            call (capped at max_delay): count it from when the call failed, \
                            not from when it started",
                    "before retry {n} the error said retry_after = {:?}; the next call came \
                     {gap:?} after the failure; expected at least {:?}",
                    hint_of(&s, n),
                    wait.lo
                );
            }
            Ok(())
        },
    )
    .await
}

/// The hint of the error before retry `n`.
fn hint_of(s: &Scenario, n: usize) -> Option<Duration> {
    match s.script().step(n as u32 + 1).0 {
        Step::Transient(hint) => hint,
        _ => None,
    }
}

/// A hint longer than `max_delay` is cut to `max_delay`.
pub async fn capped() -> CheckResult {
    let p = policy(5, 1, 2, 10_000);
    let hints = [3_600, 86_400];
    let mut rng = rng(61);
    let script = Script::new(&[hint(hints[0]), hint(hints[1]), Step::Ok]);
    let run_ = run(&p, &script, &mut rng).await?;
    for (n, (gap, secs)) in run_.gaps().into_iter().zip(hints).enumerate() {
        ensure!(
            gap <= p.max_delay + TICK,
            hint = "cap the hint too: max_delay bounds every wait, whoever asked for it",
            "with {p:?}, the error before retry {n} said retry_after = {secs}s and the next \
             call came {gap:?} later, beyond max_delay"
        );
    }

    // The model part: after a hinted error the wait is at most max_delay, for any policy and
    // hint (0, under, at and far beyond max_delay). Whether the jittered part stays under its
    // ceiling is `cap.grows_exponentially`'s question, not this one.
    //
    // The policies keep every uncapped ceiling far under the cap (base 1 ms, factor at most 3,
    // at most 9 retries, max_delay at least 60 s > 1 ms · 3^10): a backoff ceiling computed
    // wrongly, or jitter overshooting the cap, is the `cap` criterion's mistake, and must not
    // push a hinted wait past max_delay here.
    explore(
        Explore::new(0x4AF8).cases(300),
        model::transient_scenario(Ending::Success).prop_map(|mut s| {
            s.policy.base = Duration::from_millis(1);
            s.policy.factor = s.policy.factor.min(3);
            s.policy.max_delay = Duration::from_millis(60_000 + s.seed % 60_000);
            s
        }),
        |s| async move {
            let (_, waits) = hinted_waits(&s).await?;
            for (n, wait, gap) in waits {
                ensure!(
                    gap <= s.policy.max_delay + TICK,
                    hint = "cap the hint at max_delay, then wait max(hint, jittered backoff) or \
                            the capped hint itself: never more than max_delay",
                    "with {:?}, before retry {n} the error said retry_after = {:?}; the next \
                     call came {gap:?} after the failure; expected at most max_delay = {:?} \
                     (here, at most {:?})",
                    s.policy,
                    hint_of(&s, n),
                    s.policy.max_delay,
                    wait.hi
                );
            }
            Ok(())
        },
    )
    .await
}
