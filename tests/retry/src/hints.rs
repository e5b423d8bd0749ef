//! Server hints (`retry_after`): `ErrorClass::Transient { retry_after: Some(d) }` means "not
//! before `d`", and `max_delay` still bounds the wait.

use std::time::Duration;

use grade_kit::{CheckResult, ensure};

use crate::harness::{Script, Step, TICK, describe, policy, rng, run};

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
    Ok(())
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
    Ok(())
}
