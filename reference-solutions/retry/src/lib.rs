//! Retrying an async operation on transient errors, with capped exponential backoff and full
//! jitter.
//!
//! A retry loop looks like five lines and hides four classic bugs, each guarded against below:
//!
//! - **Retrying what cannot succeed.** A permanent error (bad request, not found, auth) is
//!   returned at once; only errors the caller classifies as transient are retried.
//! - **An off-by-one budget.** `max_retries = N` means one first attempt plus `N` retries: at
//!   most `N + 1` calls. We count *retries* (0-based, which is also the backoff exponent) and
//!   check the budget after a transient failure, before sleeping.
//! - **Unbounded or synchronised waits.** The delay grows exponentially up to a cap, without
//!   ever overflowing, and is drawn uniformly below that ceiling ("full jitter") so clients
//!   that failed together do not retry together. See [`policy`](Policy).
//! - **Sleeping through a shutdown.** Every wait races the [`CancellationToken`]; a cancelled
//!   caller gets [`RetryError::Cancelled`] immediately, and no new attempt starts.
//!
//! Time is tokio's ([`tokio::time::sleep`], [`tokio::time::Instant`]), never `std::time`'s:
//! that is what lets tests run hours of backoff on a paused clock in microseconds.
//!
//! # Layout
//! - `policy`: [`Policy`], the ceiling `min(max_delay, base · factor^n)` and the jitter.
//! - `observer`: the [`Observer`] metrics hook and the outcome labels it receives.
//! - this module: error classification, [`RetryError`] and the loop itself, [`retry`].

mod observer;
mod policy;

use std::future::Future;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use observer::{AttemptOutcome, Observer, Outcome};
pub use policy::Policy;

/// What the caller's classifier says about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Worth retrying (timeouts, 503s, connection resets). `retry_after` is the server's
    /// "not before" hint (an HTTP `Retry-After` header, say), if it gave one.
    Transient {
        /// Wait at least this long before the next attempt (capped at `max_delay`).
        retry_after: Option<Duration>,
    },
    /// Retrying cannot help (400s, not found, bad credentials): fail now.
    Permanent,
}

/// Why [`retry`] gave up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetryError<E> {
    /// An attempt failed with an error classified as permanent.
    #[error("permanent error: {0}")]
    Permanent(E),
    /// Every allowed attempt failed transiently.
    #[error("gave up after {attempts} attempts: {last_error}")]
    Exhausted {
        /// The error of the last attempt (the freshest news about the dependency).
        last_error: E,
        /// How many calls were made: `max_retries + 1`.
        attempts: u32,
    },
    /// The cancellation token fired before the operation succeeded.
    #[error("cancelled")]
    Cancelled,
}

/// Calls `op` until it succeeds, fails permanently, runs out of retries, or `cancel` fires.
///
/// `classify` sorts errors into transient and permanent. The delay before retry `n` (0-based)
/// is uniform in `[0, min(max_delay, base · factor^n)]`, drawn from `rng`, and at least the
/// error's `retry_after` hint (capped at `max_delay`). `observer` hears about every attempt,
/// every scheduled retry and the final outcome.
pub async fn retry<T, E, Op, Fut>(
    policy: &Policy,
    classify: impl Fn(&E) -> ErrorClass,
    rng: &mut (impl Rng + ?Sized),
    cancel: &CancellationToken,
    observer: &mut (impl Observer + ?Sized),
    op: Op,
) -> Result<T, RetryError<E>>
where
    Op: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let result = retry_loop(policy, classify, rng, cancel, observer, op).await;
    // One exit point for the observer: every `return` in the loop passes through here, so no
    // early return can forget to report the ending.
    observer.on_finish(match &result {
        Ok(_) => Outcome::Success,
        Err(RetryError::Permanent(_)) => Outcome::Permanent,
        Err(RetryError::Exhausted { .. }) => Outcome::Exhausted,
        Err(RetryError::Cancelled) => Outcome::Cancelled,
    });
    result
}

async fn retry_loop<T, E, Op, Fut>(
    policy: &Policy,
    classify: impl Fn(&E) -> ErrorClass,
    rng: &mut (impl Rng + ?Sized),
    cancel: &CancellationToken,
    observer: &mut (impl Observer + ?Sized),
    mut op: Op,
) -> Result<T, RetryError<E>>
where
    Op: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    // `retry` is the number of retries already made: 0 before the first call. It is both the
    // budget counter and the backoff exponent, which keeps the two from drifting apart.
    let mut retry: u32 = 0;
    loop {
        // A token cancelled before we start (or while an attempt ran) means: do not call again.
        if cancel.is_cancelled() {
            return Err(RetryError::Cancelled);
        }
        let attempt = retry.saturating_add(1);
        let started = Instant::now();
        // Race the attempt against cancellation too: a caller that is shutting down does not
        // want the answer, and dropping the future is how async Rust stops an operation.
        // `biased` checks the token first, so a cancelled caller never sees a fresh result.
        let result = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(RetryError::Cancelled),
            result = op() => result,
        };
        let latency = started.elapsed();

        let error = match result {
            Ok(value) => {
                observer.on_attempt(attempt, latency, AttemptOutcome::Success);
                return Ok(value);
            }
            Err(error) => error,
        };
        let retry_after = match classify(&error) {
            ErrorClass::Permanent => {
                observer.on_attempt(attempt, latency, AttemptOutcome::Permanent);
                return Err(RetryError::Permanent(error));
            }
            ErrorClass::Transient { retry_after } => {
                observer.on_attempt(attempt, latency, AttemptOutcome::Transient);
                retry_after
            }
        };

        // The budget check sits here, after a transient failure and before any sleep: with
        // `max_retries = N` the (N+1)-th failure ends the loop without a pointless last wait.
        if retry >= policy.max_retries {
            return Err(RetryError::Exhausted {
                last_error: error,
                attempts: attempt,
            });
        }

        let delay = policy.delay(retry, retry_after, rng);
        observer.on_retry_scheduled(delay);
        // The wait is where a retry loop spends almost all its time, so it is where
        // cancellation must be able to interrupt it.
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(RetryError::Cancelled),
            () = tokio::time::sleep(delay) => {}
        }
        retry += 1;
    }
}
