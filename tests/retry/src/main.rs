//! Acceptance suite for the `retry` exercise: retries with capped exponential backoff and full
//! jitter, cancellation, server hints and a metrics hook.
//!
//! Every check runs on tokio's paused clock: hours of backoff take microseconds, and the wait
//! between two calls is measured exactly (to tokio's 1 ms timer resolution).
//!
//! # Layout
//! - `harness`: the scripted operation, the recording observer and the runner.
//! - `calls`: which calls happen (`classify`, `budget`).
//! - `backoff`: how long the waits are (`cap`, `jitter`), judged statistically where random.
//! - `cancel`, `hints`, `observe`: cancellation, `retry_after` hints, the observer.
//! - `model`: the executable spec (calls, ending, allowed wait intervals) and the scenario
//!   strategies the model-based parts of the checks explore.

mod backoff;
mod calls;
mod cancel;
mod harness;
mod hints;
mod model;
mod observe;

use grade_kit::check;

fn main() {
    grade_kit::main(vec![
        check(
            "classify.transient_and_permanent",
            "classify",
            "transient errors are retried; a permanent error is returned at once, after exactly \
             one call for it",
        )
        .paused(calls::transient_and_permanent),
        check(
            "budget.total_calls",
            "budget",
            "max_retries = N means at most N + 1 calls (N = 0, 1, 2, 3, 7), and success on the \
             last allowed call is success",
        )
        .paused(calls::total_calls),
        check(
            "budget.exhausted_error",
            "budget",
            "running out of retries returns Exhausted at once, with the last call's error and \
             the number of calls made",
        )
        .paused(calls::exhausted_error),
        check(
            "cap.never_exceeded",
            "cap",
            "no wait exceeds max_delay, jitter included",
        )
        .paused(backoff::never_exceeded),
        check(
            "cap.saturates",
            "cap",
            "up to 200 retries at factor 2 (and 100 at factor 10): no panic, no overflow, the \
             ceiling stays at max_delay",
        )
        .paused(backoff::saturates),
        check(
            "cap.grows_exponentially",
            "cap",
            "the longest wait before retry n tracks min(max_delay, base · factor^n) \
             (statistical, 1000 runs)",
        )
        .paused(backoff::grows_exponentially),
        check(
            "jitter.spread",
            "jitter",
            "waits are uniform over [0, ceiling]: deciles evenly filled over 4000 waits; equal \
             jitter and no jitter fail",
        )
        .paused(backoff::spread),
        check(
            "jitter.rng",
            "jitter",
            "all randomness comes from the rng argument (a counting rng is drawn from; equal \
             seeds give equal waits), and a zero ceiling gives zero waits without panicking",
        )
        .paused(backoff::rng_argument),
        check(
            "cancel.before_start",
            "cancel",
            "an already-cancelled token returns Cancelled without calling the operation",
        )
        .paused(cancel::before_start),
        check(
            "cancel.during_sleep",
            "cancel",
            "cancelling during a backoff sleep returns Cancelled at that instant, with no \
             further call",
        )
        .paused(cancel::during_sleep),
        check(
            "retry_after.honoured",
            "retry_after",
            "after an error with retry_after = d, the next call comes no earlier than \
             min(d, max_delay)",
        )
        .paused(hints::honoured),
        check(
            "retry_after.capped",
            "retry_after",
            "a retry_after hint longer than max_delay is cut to max_delay",
        )
        .paused(hints::capped),
        check(
            "observe.attempts",
            "observe",
            "on_attempt is called once per attempt with its number, exact latency and outcome",
        )
        .paused(observe::attempts),
        check(
            "observe.retries",
            "observe",
            "on_retry_scheduled is called once per retry with the wait actually taken",
        )
        .paused(observe::retries),
        check(
            "observe.finish",
            "observe",
            "on_finish is called exactly once with the outcome retry() returned, on every way \
             out",
        )
        .paused(observe::finish),
    ])
}
