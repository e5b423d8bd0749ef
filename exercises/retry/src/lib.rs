//! Retry an async operation on transient errors, with capped exponential backoff and full
//! jitter. See README.md for the task, the pinned semantics and the acceptance criteria.
//!
//! The types below are the API the acceptance suite uses: keep their names and signatures.
//! Implement [`retry`] (and add private helpers or modules as you like).
//!
//! Use tokio's clock (`tokio::time::sleep`, `tokio::time::Instant`), not `std::time::Instant`:
//! the suite runs on a paused clock, where only tokio's time moves.

use std::future::Future;
use std::time::Duration;

use rand::Rng;
use tokio_util::sync::CancellationToken;

/// How many times to retry, and how the wait between attempts grows.
///
/// The delay before retry `n` (`n = 0` for the first retry) is drawn uniformly from
/// `[0, min(max_delay, base · factor^n)]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Retries after the first attempt: `max_retries = N` means at most `N + 1` calls.
    pub max_retries: u32,
    /// The ceiling of the first retry's delay.
    pub base: Duration,
    /// How much the ceiling grows per retry (`1` keeps it constant).
    pub factor: u32,
    /// No delay ever exceeds this, whatever the retry number, the jitter or a server's hint.
    pub max_delay: Duration,
}

/// What the caller's classifier says about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Worth retrying. `retry_after` is the server's "not before" hint, if it gave one.
    Transient {
        /// Wait at least this long before the next attempt (capped at `max_delay`).
        retry_after: Option<Duration>,
    },
    /// Retrying cannot help: fail now.
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
        /// The error of the last attempt.
        last_error: E,
        /// How many calls were made: `max_retries + 1`.
        attempts: u32,
    },
    /// The cancellation token fired before the operation succeeded.
    #[error("cancelled")]
    Cancelled,
}

/// How a single attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptOutcome {
    /// The operation returned `Ok`.
    Success,
    /// The operation failed with an error classified as transient.
    Transient,
    /// The operation failed with an error classified as permanent.
    Permanent,
}

/// How a whole [`retry`] call ended: one per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Some attempt succeeded.
    Success,
    /// An attempt failed permanently.
    Permanent,
    /// Every allowed attempt failed transiently.
    Exhausted,
    /// The cancellation token fired.
    Cancelled,
}

/// Receives events from a [`retry`] call. Every method defaults to doing nothing.
///
/// Pass `&mut ()` when you don't need one.
pub trait Observer {
    /// An attempt finished. `attempt` counts from 1; `latency` is how long the operation took,
    /// on tokio's clock.
    fn on_attempt(&mut self, attempt: u32, latency: Duration, outcome: AttemptOutcome) {
        let _ = (attempt, latency, outcome);
    }

    /// A retry is about to sleep for `delay`: the wait actually taken, after jitter, the
    /// server's hint and the cap.
    fn on_retry_scheduled(&mut self, delay: Duration) {
        let _ = delay;
    }

    /// The call is over. Called exactly once per call, whatever the ending.
    fn on_finish(&mut self, outcome: Outcome) {
        let _ = outcome;
    }
}

/// The observer that records nothing.
impl Observer for () {}

/// Calls `op` until it succeeds, fails permanently, runs out of retries, or `cancel` fires.
///
/// `classify` sorts errors into transient and permanent. The delay before retry `n` (0-based)
/// is uniform in `[0, min(max_delay, base · factor^n)]`, drawn from `rng`, and at least the
/// error's `retry_after` hint (capped at `max_delay`). `observer` hears about every attempt,
/// every scheduled retry and the final outcome.
#[allow(unused_variables)] // The stub ignores its arguments: remove this with the `todo!`.
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
    todo!(
        "call `op` until it succeeds, fails permanently or runs out of retries, sleeping a \
         full-jitter backoff between attempts, honouring `retry_after` and `cancel`, and \
         reporting to `observer`"
    )
}
