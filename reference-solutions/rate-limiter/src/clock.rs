//! Where "now" comes from.
//!
//! A sliding window is all about time, and time is the one input a test cannot control unless
//! the code asks for it through a seam. So the limiter never calls `SystemTime::now()` itself:
//! it asks a [`Clock`], and it sends the answer to Redis as a script argument.
//!
//! That second half matters as much as the first. Redis has its own clock (`TIME`), and a
//! script could read it instead of taking `now` as an argument; then a test could not drive
//! time, and two application servers with skewed clocks would still agree. We take the
//! trade-off the other way: the application's clock is the source of truth, which makes the
//! limiter exactly testable, at the price of trusting the servers' clocks to be in sync
//! (NTP keeps them within milliseconds, far below any sensible window).

use std::time::SystemTime;

/// The limiter's source of the current time.
///
/// Implement it to drive time in tests; use [`SystemClock`] in production.
pub trait Clock: Send + Sync + 'static {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;
}

/// The real clock: `SystemTime::now()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// `time` as whole milliseconds since the Unix epoch: the unit the Redis script works in.
///
/// Milliseconds are exact for the scores of a sorted set (Redis scores are doubles, exact for
/// integers up to 2^53, i.e. for the next 285,000 years of milliseconds). A time before the
/// epoch, which only a broken clock produces, counts as the epoch.
pub(crate) fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}
