//! Cancellation (`cancel`): a cancelled token stops the loop at once, and no call follows.

use std::time::Duration;

use grade_kit::{CheckResult, ensure, ensure_eq};
use retry::RetryError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::harness::{Log, Script, TICK, describe, policy, rng, run_with};

/// A token cancelled before the call: `Cancelled`, and the operation is never called.
pub async fn before_start() -> CheckResult {
    let p = policy(3, 1, 2, 100);
    let token = CancellationToken::new();
    token.cancel();
    let run_ = run_with(
        &p,
        &Script::always_transient(),
        &mut rng(50),
        &token,
        &mut (),
        &Log::default(),
    )
    .await?;
    ensure_eq!(
        run_.calls.len(),
        0,
        hint = "check cancel.is_cancelled() before every attempt, the first one included",
        "calls made with a token that was already cancelled"
    );
    ensure!(
        matches!(run_.result, Err(RetryError::Cancelled)),
        "a token that was already cancelled: expected Err(Cancelled), got {}",
        describe(&run_.result)
    );
    Ok(())
}

/// Cancelling during a backoff sleep returns `Cancelled` at that instant, with no more calls.
pub async fn during_sleep() -> CheckResult {
    // The ceiling is 500 days, so the first wait is shorter than the 1 ms after which we
    // cancel with probability 1 ms / 500 days ≈ 2e-11: the cancellation lands in the sleep.
    let day = 24 * 3600 * 1000;
    let p = policy(3, 500 * day, 2, 500 * day);
    let token = CancellationToken::new();
    let log = Log::default();
    let canceller = async {
        log.call_returned().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        token.cancel();
        Instant::now()
    };
    let retrying = async {
        run_with(
            &p,
            &Script::always_transient(),
            &mut rng(51),
            &token,
            &mut (),
            &log,
        )
        .await
    };
    let (cancelled_at, run_) = grade_kit::time::within(
        Duration::from_secs(60),
        "retry(), cancelled 1 ms into a backoff sleep of up to 500 days,",
        async { tokio::join!(canceller, retrying) },
    )
    .await
    .map_err(|failure| {
        failure.with_hint(
            "race the sleep against cancellation: tokio::select! { _ = cancel.cancelled() => …, \
             _ = tokio::time::sleep(delay) => … }",
        )
    })?;
    let run_ = run_?;
    ensure_eq!(
        run_.calls.len(),
        1,
        hint = "once the token is cancelled, no new attempt may start",
        "calls made when the token was cancelled during the first backoff sleep"
    );
    ensure!(
        matches!(run_.result, Err(RetryError::Cancelled)),
        "cancelled during a backoff sleep: expected Err(Cancelled), got {}",
        describe(&run_.result)
    );
    let late = run_.finished - cancelled_at;
    ensure!(
        late < TICK,
        hint = "wake up on cancellation itself (cancel.cancelled()), not by polling the token",
        "retry() returned {late:?} after the token was cancelled; expected it to return at once"
    );
    Ok(())
}
