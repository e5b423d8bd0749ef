//! Deadlines for the code under test.
//!
//! A check that awaits candidate code must never wait forever: a deadlock should read as "did
//! not finish within 5s" with a hint, not as the grader's blunt per-check timeout. Under a paused
//! clock ([`crate::CheckBuilder::paused`]) these deadlines are virtual and exact; under real time
//! they are stretched by the grader's `--timeout-scale` (see [`crate::env::scaled`]).

use std::future::Future;
use std::time::Duration;

use crate::Failure;

/// Awaits `fut`, failing with a message naming `what` if it takes longer than `limit`.
///
/// `limit` is scaled by `--timeout-scale` only when the clock is real; virtual time needs no
/// slack.
pub async fn within<T>(
    limit: Duration,
    what: &str,
    fut: impl Future<Output = T>,
) -> Result<T, Failure> {
    let limit = if clock_is_paused() {
        limit
    } else {
        crate::env::scaled(limit)
    };
    tokio::time::timeout(limit, fut).await.map_err(|_| {
        Failure::new(format!("{what} did not finish within {limit:?}"))
            .with_hint("look for a deadlock, a lost wake-up, or a loop that never yields")
    })
}

/// Whether the check running in this process is on a paused clock.
fn clock_is_paused() -> bool {
    crate::run::CLOCK_PAUSED.load(std::sync::atomic::Ordering::Relaxed)
}
