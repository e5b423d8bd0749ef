//! The metrics hook: what a retry loop tells the outside world while it runs.
//!
//! Retries hide failures, which is their job and their danger: a dependency that fails 30% of
//! the time looks healthy from the caller's side until the retry budget runs out. The observer
//! is where those hidden failures become counters, latency histograms and logs.
//!
//! The trait has default (empty) methods so an implementor overrides only what it records, and
//! it deliberately sees no `T` or `E`: metrics want labels (`Success`, `Transient`...), not
//! payloads, and keeping the trait non-generic means one observer type serves every call site.

use std::time::Duration;

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

/// How a whole [`retry`](crate::retry) call ended: one per call.
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

/// Receives events from a [`retry`](crate::retry) call. Every method defaults to doing nothing.
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
