//! Which calls happen: classification (`classify`) and the retry budget (`budget`).
//!
//! Delays do not matter here; the fixed cases use a 1 ms base so the runs are short even in
//! virtual time. Each check also explores seeded scenarios against the model
//! (`crate::model`): any factor, hints, slow calls, huge budgets, and a permanent error at
//! any position, the last allowed call included.

use grade_kit::model::{Explore, explore};
use grade_kit::{CheckResult, ensure, ensure_eq, fail};
use retry::RetryError;

use crate::harness::{OpError, Run, Script, Step, T, describe, policy, rng, run};
use crate::model::{self, Ending};

/// `max_retries` values the budget checks try, including the `0` edge.
const BUDGETS: [u32; 5] = [0, 1, 2, 3, 7];

/// Transient errors are retried; a permanent one ends the call at once and is returned as is.
pub async fn transient_and_permanent() -> CheckResult {
    let p = policy(5, 1, 2, 100);
    let mut rng = rng(1);

    let run_ = run(&p, &Script::new(&[T, T, Step::Ok]), &mut rng).await?;
    ensure!(
        matches!(run_.result, Ok(3)) && run_.calls.len() == 3,
        hint = "a transient error (ErrorClass::Transient) must be retried",
        "the operation fails transiently twice, then succeeds: expected Ok(3) after 3 calls, \
         got {} after {} calls",
        describe(&run_.result),
        run_.calls.len()
    );

    for script in [vec![Step::Permanent], vec![T, T, Step::Permanent]] {
        let run_ = run(&p, &Script::new(&script), &mut rng).await?;
        let failing_call = script.len() as u32;
        let expected = OpError {
            call: failing_call,
            step: Step::Permanent,
        };
        ensure!(
            matches!(&run_.result, Err(RetryError::Permanent(e)) if *e == expected)
                && run_.calls.len() == script.len(),
            hint = "stop at the first error the classifier calls Permanent and return it as \
                    RetryError::Permanent(error), without retrying it",
            "script {script:?} (max_retries = 5): expected Err(Permanent({expected})) after \
             {failing_call} calls, got {} after {} calls",
            describe(&run_.result),
            run_.calls.len()
        );
    }

    // The model part judges the attempt by its own calls, so that a budget off by one (which
    // `budget.total_calls` reports) does not fail this check: whenever a call of the attempt
    // fails permanently, that call is the last and its error comes back as `Permanent`, even
    // on the last call the budget allows (where checking the budget before classifying the
    // error wrongly gives `Exhausted`).
    explore(
        Explore::new(0xC1A5).cases(300),
        model::permanent_scenario(),
        |s| async move {
            let run_ = run(&s.policy, &s.script(), &mut crate::harness::rng(s.seed)).await?;
            let failed_permanently = run_
                .calls
                .iter()
                .position(|call| call.step == Step::Permanent && call.end.is_some());
            if let Some(index) = failed_permanently {
                let call = index as u32 + 1;
                let expected = Err(RetryError::Permanent(OpError {
                    call,
                    step: Step::Permanent,
                }));
                ensure_eq!(
                    model::summary(run_.calls.len(), &run_.result),
                    model::summary(index + 1, &expected),
                    hint = "classify every failed call before anything else, the budget check \
                            included: a permanent error is returned as Permanent at once, even \
                            on the last allowed call (max_retries = 0 included)",
                    "what retry() did once call {call} failed permanently"
                );
            }
            Ok(())
        },
    )
    .await
}

/// The number of calls and the kind of ending, without the `Exhausted` fields (those are
/// `budget.exhausted_error`'s).
fn calls_and_ending(calls: usize, result: &Result<u32, RetryError<OpError>>) -> String {
    let ending = match result {
        Ok(value) => format!("Ok({value})"),
        Err(RetryError::Permanent(_)) => "Err(Permanent(..))".to_owned(),
        Err(RetryError::Exhausted { .. }) => "Err(Exhausted { .. })".to_owned(),
        Err(RetryError::Cancelled) => "Err(Cancelled)".to_owned(),
    };
    format!("{calls} calls, then {ending}")
}

/// `max_retries = N` means at most `N + 1` calls, and success on call `N + 1` is success.
pub async fn total_calls() -> CheckResult {
    let mut rng = rng(2);
    for n in BUDGETS {
        let p = policy(n, 1, 2, 100);
        let run_ = run(&p, &Script::always_transient(), &mut rng).await?;
        ensure_eq!(
            run_.calls.len(),
            n as usize + 1,
            hint = "max_retries counts retries, not calls: one first attempt plus N retries",
            "an operation that always fails transiently, max_retries = {n}: number of calls"
        );
        ensure!(
            matches!(run_.result, Err(RetryError::Exhausted { .. })),
            "an operation that always fails transiently, max_retries = {n}: expected \
             Err(Exhausted {{ .. }}), got {}",
            describe(&run_.result)
        );

        let mut steps = vec![T; n as usize];
        steps.push(Step::Ok);
        let run_ = run(&p, &Script::new(&steps), &mut rng).await?;
        ensure!(
            matches!(run_.result, Ok(value) if value == n + 1) && run_.calls.len() == steps.len(),
            hint = "the last allowed attempt is a real attempt: if it succeeds, return its value",
            "max_retries = {n}, the operation fails {n} times then succeeds: expected Ok({}) \
             after {} calls, got {} after {} calls",
            n + 1,
            n + 1,
            describe(&run_.result),
            run_.calls.len()
        );
    }

    // The model part: budgets from 0 to u32::MAX, any factor, retry_after hints (a retry with a
    // hint counts like any other), slow calls. No permanent errors: those are `classify`'s.
    explore(
        Explore::new(0xB0D6).cases(300),
        model::transient_scenario(Ending::Any),
        |s| async move {
            let script = s.script();
            let expected = model::expect(&s.policy, &script);
            let run_ = run(&s.policy, &script, &mut crate::harness::rng(s.seed)).await?;
            ensure_eq!(
                calls_and_ending(run_.calls.len(), &run_.result),
                calls_and_ending(expected.calls, &expected.result),
                hint = "max_retries = N allows N + 1 calls whatever the errors say (a retry \
                        with a retry_after hint counts too); success on the last one is success",
                "calls made and how retry() ended, with max_retries = {}",
                s.policy.max_retries
            );
            Ok(())
        },
    )
    .await
}

/// Exhaustion returns at once with the last error and the number of calls made.
pub async fn exhausted_error() -> CheckResult {
    let mut rng = rng(3);
    for n in BUDGETS {
        let p = policy(n, 1, 2, 100);
        let run_ = run(&p, &Script::always_transient(), &mut rng).await?;
        let made = run_.calls.len() as u32;
        let Err(RetryError::Exhausted {
            last_error,
            attempts,
        }) = &run_.result
        else {
            fail!(
                "an operation that always fails transiently, max_retries = {n}: expected \
                 Err(Exhausted {{ .. }}), got {}",
                describe(&run_.result)
            );
        };
        ensure_eq!(
            last_error.call,
            made,
            hint = "keep the most recent error: it is the freshest news about the dependency",
            "max_retries = {n}: Exhausted.last_error should be the error of the last call \
             (call {made}); it is the error of call"
        );
        ensure_eq!(
            *attempts,
            made,
            hint = "attempts counts calls (the first one included), not retries",
            "max_retries = {n}: Exhausted.attempts after {made} calls"
        );
        let trailing_wait = last_returned(&run_).map(|end| run_.finished - end);
        ensure!(
            trailing_wait.is_some_and(|wait| wait.is_zero()),
            hint = "check the budget after a transient failure and before sleeping: a wait \
                    after the last allowed attempt only delays the error",
            "max_retries = {n}: retry() returned {trailing_wait:?} after the last call failed; \
             expected it to return at once"
        );
    }
    Ok(())
}

fn last_returned(run_: &Run) -> Option<tokio::time::Instant> {
    run_.calls.last().and_then(|call| call.end)
}
