//! The metrics hook (`observe`): what the observer hears must match what happened.
//!
//! Each check compares the observer's record with the truth the suite measured itself (the
//! calls the operation saw, the gaps between them, the value `retry` returned), so a bug
//! elsewhere (say, an off-by-one budget) does not also fail these checks: only lying to, or
//! forgetting, the observer does.

use std::time::Duration;

use grade_kit::{CheckResult, ensure, ensure_eq};
use retry::{AttemptOutcome, Outcome, RetryError};
use tokio_util::sync::CancellationToken;

use crate::harness::{Log, Recorder, Script, Step, T, TICK, policy, rng, run_with};

/// One `on_attempt` per completed call, numbered from 1, with the exact latency and outcome.
pub async fn attempts() -> CheckResult {
    let scenarios = [
        (5, Script::timed(&[(T, 30), (T, 70), (Step::Ok, 110)])),
        (5, Script::timed(&[(T, 20), (Step::Permanent, 40)])),
        (1, Script::timed(&[(T, 5), (T, 15)])),
    ];
    let mut rng = rng(70);
    for (max_retries, script) in scenarios {
        let p = policy(max_retries, 1, 2, 1_000);
        let mut recorder = Recorder::default();
        let log = Log::default();
        let token = CancellationToken::new();
        let run_ = run_with(&p, &script, &mut rng, &token, &mut recorder, &log).await?;
        let expected: Vec<(u32, Duration, AttemptOutcome)> = run_
            .calls
            .iter()
            .enumerate()
            .filter_map(|(i, call)| {
                let outcome = match call.step {
                    Step::Ok => AttemptOutcome::Success,
                    Step::Transient(_) => AttemptOutcome::Transient,
                    Step::Permanent => AttemptOutcome::Permanent,
                };
                Some((i as u32 + 1, call.end? - call.start, outcome))
            })
            .collect();
        ensure_eq!(
            recorder.attempts,
            expected,
            hint = "call on_attempt after every attempt with its 1-based number, the latency \
                    measured with tokio::time::Instant (std::time::Instant ignores the paused \
                    clock) and how it ended",
            "on_attempt calls for a run whose calls were {:?} (latencies in ms: {:?})",
            run_.calls.iter().map(|c| c.step).collect::<Vec<_>>(),
            expected.iter().map(|e| e.1.as_millis()).collect::<Vec<_>>()
        );
    }
    Ok(())
}

/// One `on_retry_scheduled` per retry, with the wait actually taken (hint included).
pub async fn retries() -> CheckResult {
    let p = policy(5, 100, 2, 10_000);
    let script = Script::new(&[
        T,
        Step::Transient(Some(Duration::from_secs(2))),
        T,
        Step::Ok,
    ]);
    let mut rng = rng(71);
    for _ in 0..5 {
        let mut recorder = Recorder::default();
        let token = CancellationToken::new();
        let run_ = run_with(
            &p,
            &script,
            &mut rng,
            &token,
            &mut recorder,
            &Log::default(),
        )
        .await?;
        let gaps = run_.gaps();
        ensure_eq!(
            recorder.scheduled.len(),
            gaps.len(),
            hint = "call on_retry_scheduled once per retry, just before sleeping",
            "on_retry_scheduled calls for a run with {} calls ({} waits between them)",
            run_.calls.len(),
            gaps.len()
        );
        for (n, (&reported, &gap)) in recorder.scheduled.iter().zip(&gaps).enumerate() {
            ensure!(
                reported <= gap && gap <= reported + TICK,
                hint = "report the delay you actually sleep: after jitter, the retry_after \
                        hint and the cap",
                "before retry {n} on_retry_scheduled reported {reported:?}, but the next call \
                 came {gap:?} later (steps {:?})",
                script_steps(&run_)
            );
        }
        // "Before sleeping": each event comes at the instant the failed call returned.
        for (n, (at, call)) in recorder.scheduled_at.iter().zip(&run_.calls).enumerate() {
            ensure!(
                call.end == Some(*at),
                hint = "call on_retry_scheduled before the sleep, not after it",
                "on_retry_scheduled for retry {n} came {:?} after the failed call returned; \
                 expected it before sleeping",
                call.end.map(|end| *at - end)
            );
        }
    }

    // Cancelled during the sleep: the retry was scheduled (and reported) before the sleep
    // began, so the observer heard about it even though the retry never happens.
    let p = policy(3, 60_000, 2, 60_000);
    let mut recorder = Recorder::default();
    let token = CancellationToken::new();
    let log = Log::default();
    let script = Script::always_transient();
    let canceller = async {
        log.call_returned().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        token.cancel();
    };
    let retrying = run_with(&p, &script, &mut rng, &token, &mut recorder, &log);
    let ((), run_) = tokio::join!(canceller, retrying);
    let run_ = run_?;
    if run_.calls.len() == 1 && matches!(run_.result, Err(RetryError::Cancelled)) {
        ensure_eq!(
            recorder.scheduled.len(),
            1,
            hint = "call on_retry_scheduled before sleeping: a sleep cut short by cancellation \
                    was still scheduled",
            "on_retry_scheduled calls when the token was cancelled 1 ms into the first backoff \
             sleep (of up to 60 s)"
        );
    }
    Ok(())
}

/// `on_finish` exactly once, with the outcome `retry` returned, however the call ends.
pub async fn finish() -> CheckResult {
    let mut rng = rng(72);
    let p = policy(1, 60_000, 2, 60_000);
    let scenarios: [(&str, Script, bool, bool); 5] = [
        ("success", Script::new(&[T, Step::Ok]), false, false),
        (
            "permanent",
            Script::new(&[T, Step::Permanent]),
            false,
            false,
        ),
        ("exhausted", Script::always_transient(), false, false),
        (
            "cancelled before start",
            Script::always_transient(),
            true,
            false,
        ),
        (
            "cancelled during a sleep",
            Script::always_transient(),
            false,
            true,
        ),
    ];
    for (name, script, cancel_first, cancel_in_sleep) in scenarios {
        let mut recorder = Recorder::default();
        let token = CancellationToken::new();
        if cancel_first {
            token.cancel();
        }
        let log = Log::default();
        let canceller = async {
            if cancel_in_sleep {
                log.call_returned().await;
                tokio::time::sleep(Duration::from_millis(1)).await;
                token.cancel();
            }
        };
        let retrying = run_with(&p, &script, &mut rng, &token, &mut recorder, &log);
        let ((), run_) = tokio::join!(canceller, retrying);
        let run_ = run_?;
        let expected = match &run_.result {
            Ok(_) => Outcome::Success,
            Err(RetryError::Permanent(_)) => Outcome::Permanent,
            Err(RetryError::Exhausted { .. }) => Outcome::Exhausted,
            Err(RetryError::Cancelled) => Outcome::Cancelled,
        };
        ensure_eq!(
            recorder.finished,
            vec![expected],
            hint = "call on_finish exactly once per retry() call, on every way out (success, \
                    permanent, exhausted, cancelled): wrap the loop and report its result in \
                    one place",
            "on_finish calls for the \"{name}\" scenario"
        );
    }
    Ok(())
}

fn script_steps(run_: &crate::harness::Run) -> Vec<Step> {
    run_.calls.iter().map(|call| call.step).collect()
}
