//! The sliding-window log in Redis: one sorted set per client, one Lua script per decision.
//!
//! # The data
//! Each client has a sorted set whose members are the requests it was allowed, scored by the
//! millisecond they were made at. "How many requests in the last `window`" is then the number
//! of members with a score above `now - window`: exact, unlike a fixed-window counter (which
//! lets `2 × limit` through around a boundary) or a weighted two-window estimate (which is
//! only approximately right).
//!
//! # Why a script
//! A decision is read-then-write: count, and record the request only if the count is under
//! the limit. Done as two round trips (`ZCARD`, then `ZADD`), two servers, or two concurrent
//! requests on one server, can both read `limit - 1` and both write: the classic
//! check-then-act race, and under a burst it lets *everyone* through. Redis runs a Lua script
//! atomically (no other command runs in between), so the read and the write become one
//! indivisible step, and it costs one round trip instead of two or three.
//!
//! `redis::Script` sends `EVALSHA` (the script's hash, not its text) and falls back to loading
//! the script when the server answers `NOSCRIPT` (a restarted or flushed server): after the
//! first call, every decision is a single `EVALSHA` round trip.
//!
//! # Memory
//! Two things keep Redis bounded whatever the traffic: the script trims members older than the
//! window before counting (so a set never holds more than `limit` members: rejected requests
//! are not recorded), and it sets the key to expire one window after the last decision, when
//! every member would be stale anyway (so idle clients cost nothing).

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisResult, Script};

use crate::Error;

/// Trim, count, maybe record, set the TTL, and report when the oldest request leaves.
///
/// `KEYS[1]`: the client's sorted set. `ARGV`: now (ms), window (ms), limit, and a member
/// unique to this request. Returns `{allowed (0|1), count after the decision, ms until the
/// oldest counted request leaves the window}`.
const SLIDING_WINDOW: &str = r"
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])

-- A request made at s counts against every decision in [s, s + window): at now, the ones
-- made at or before now - window have left the window for good.
local cutoff = now - window
redis.call('ZREMRANGEBYSCORE', key, '-inf', cutoff)

local count = redis.call('ZCARD', key)
local allowed = 0
if count < limit then
  -- Only allowed requests are recorded: a client hammering a closed door must not keep it
  -- closed, or Retry-After would be a lie.
  redis.call('ZADD', key, now, ARGV[4])
  count = count + 1
  allowed = 1
end

-- Every member is younger than the window, so one window from now none is left to count.
-- Refreshed on every decision, so an active client's key never expires under it.
redis.call('PEXPIRE', key, window)

-- Quota frees when the oldest counted request leaves the window.
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
local reset = 0
if oldest[2] then
  reset = tonumber(oldest[2]) + window - now
end
return {allowed, count, reset}
";

/// What Redis decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    /// Whether the request is within the limit (and was recorded).
    pub allowed: bool,
    /// Quota left in the current window after this request.
    pub remaining: u32,
    /// Time until the oldest counted request leaves the window, freeing one unit of quota.
    pub reset: Duration,
}

/// The connection to Redis and the prepared script.
pub(crate) struct Store {
    connection: ConnectionManager,
    script: Script,
}

impl Store {
    /// Prepares a connection to `url` without opening it.
    ///
    /// The connection is opened by the first decision, and reopened after a failure, by
    /// redis-rs' `ConnectionManager`: starting the service must not depend on Redis being up
    /// (that is the point of a failure mode), and a dropped connection must heal by itself.
    ///
    /// Its own connect and response timeouts are set to the decision budget. The caller's
    /// `tokio::time::timeout` is what bounds a request; these bound the *shared* connection
    /// attempt, so that a connect stuck on an unresponsive server ends and the next request
    /// tries a fresh one instead of queueing behind the stuck one forever. No connection
    /// retries either: a retry loop would outlive the request that started it.
    pub(crate) fn open(url: &str, timeout: Duration) -> Result<Self, Error> {
        let client = redis::Client::open(url).map_err(|e| Error::InvalidUrl(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(0);
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| Error::InvalidUrl(e.to_string()))?;
        Ok(Self {
            connection,
            script: Script::new(SLIDING_WINDOW),
        })
    }

    /// Decides one request of the client whose set is `key`, at `now_ms`, in one round trip.
    pub(crate) async fn decide(
        &self,
        key: &str,
        now_ms: u64,
        window: Duration,
        limit: u32,
        member: &str,
    ) -> RedisResult<Decision> {
        // A `ConnectionManager` is a cheap handle on one multiplexed connection: cloning it
        // lets concurrent requests pipeline their scripts on that connection.
        let mut connection = self.connection.clone();
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        let (allowed, count, reset_ms): (u8, u32, u64) = self
            .script
            .key(key)
            .arg(now_ms)
            .arg(window_ms)
            .arg(limit)
            .arg(member)
            .invoke_async(&mut connection)
            .await?;
        Ok(Decision {
            allowed: allowed == 1,
            remaining: limit.saturating_sub(count),
            reset: Duration::from_millis(reset_ms),
        })
    }
}
