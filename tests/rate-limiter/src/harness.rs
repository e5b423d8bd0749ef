//! What every check builds on: a clock the suite drives, limiters in their own key namespace,
//! and a Redis connection to look at what the attempt stored. (`http` mounts the limiter.)
//!
//! Time: the attempt takes "now" from [`TestClock`], which only moves when a check moves it.
//! Redis keeps real time, but the attempt is asked to pass the clock's time to Redis, so
//! windows of a minute pass in a microsecond and every boundary is hit to the millisecond.
//! Times are chosen near the real clock and windows are aligned to multiples of their length,
//! so that a check not about fixed windows cannot be failed by one (see `window`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use grade_kit::Failure;
use rate_limiter::{Clock, Config, FailureMode, RateLimiter};

use crate::http::{API_KEY, REQUEST_LIMIT};

/// A clock that stands still until the check moves it, in whole milliseconds.
#[derive(Debug)]
pub struct TestClock {
    now_ms: AtomicU64,
}

impl TestClock {
    /// A clock reading `ms` since the epoch.
    pub fn at(ms: u64) -> Arc<Self> {
        Arc::new(Self {
            now_ms: AtomicU64::new(ms),
        })
    }

    /// Sets the time, in ms since the epoch.
    pub fn set(&self, ms: u64) {
        self.now_ms.store(ms, Ordering::SeqCst);
    }

    /// Moves the time forward.
    pub fn advance(&self, by: Duration) {
        self.now_ms
            .fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.now_ms.load(Ordering::SeqCst))
    }
}

/// The real time in ms since the epoch.
pub fn real_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The first multiple of `window` after the real time: a boundary of every fixed window.
pub fn aligned(window: Duration) -> u64 {
    let w = window.as_millis() as u64;
    (real_now_ms() / w + 1) * w
}

/// A policy with the suite's settings: its own key namespace (`<check prefix><namespace>:`),
/// the API key in `x-api-key`, fail closed (so a Redis problem shows as a 503, never as a
/// silently allowed request) and a Redis budget generous enough for a loaded machine.
pub fn config(namespace: &str, policy: &str, limit: u32, window_secs: u64) -> Config {
    let mut config = Config::new(policy, limit, Duration::from_secs(window_secs));
    config.key_prefix = namespace_prefix(namespace);
    config.api_key_header = axum::http::HeaderName::from_static(API_KEY);
    config.failure_mode = FailureMode::Closed;
    config.redis_timeout = grade_kit::env::scaled(Duration::from_secs(2));
    config
}

/// The key prefix of one namespace of this check.
pub fn namespace_prefix(namespace: &str) -> String {
    format!("{}{namespace}:", grade_kit::services::key_prefix())
}

/// `RateLimiter::new` against the grader's Redis, as a check result.
pub fn limiter(config: Config, clock: &Arc<TestClock>) -> Result<RateLimiter, Failure> {
    limiter_at(&grade_kit::services::redis_url(), config, clock)
}

/// `RateLimiter::new` against the Redis at `url`.
pub fn limiter_at(
    url: &str,
    config: Config,
    clock: &Arc<TestClock>,
) -> Result<RateLimiter, Failure> {
    let clock: Arc<dyn Clock> = clock.clone();
    RateLimiter::new(url, config.clone(), clock).map_err(|error| {
        Failure::new(format!(
            "RateLimiter::new({url:?}, {config:?}) failed: {error}"
        ))
        .with_hint("`new` must accept any valid configuration, and must not connect to Redis")
    })
}

/// A connection to the grader's Redis, for looking at the attempt's keys.
pub async fn redis() -> Result<redis::aio::MultiplexedConnection, Failure> {
    let url = grade_kit::services::redis_url();
    let client = redis::Client::open(url.as_str())
        .map_err(|e| Failure::new(format!("bad Redis URL {url:?}: {e}")))?;
    grade_kit::time::within(
        REQUEST_LIMIT,
        "connecting to Redis",
        client.get_multiplexed_async_connection(),
    )
    .await?
    .map_err(|e| Failure::new(format!("the suite cannot reach Redis at {url}: {e}")))
}

/// Every key whose name starts with `prefix`.
pub async fn keys_under(
    redis: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
) -> Result<Vec<String>, Failure> {
    let pattern = format!("{}*", escape_glob(prefix));
    let mut keys = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(redis)
            .await
            .map_err(|e| Failure::new(format!("SCAN failed: {e}")))?;
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    keys.sort();
    keys.dedup();
    Ok(keys)
}

fn escape_glob(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            '*' | '?' | '[' | ']' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

/// `ms` as an offset from `base`, for messages: `B + 1.5 s`, `B - 100 ms`.
pub fn at(base: u64, ms: u64) -> String {
    let (sign, delta) = if ms >= base {
        ("+", ms - base)
    } else {
        ("-", base - ms)
    };
    if delta % 1000 == 0 {
        format!("B {sign} {} s", delta / 1000)
    } else if delta < 1000 {
        format!("B {sign} {delta} ms")
    } else {
        format!("B {sign} {}.{:03} s", delta / 1000, delta % 1000)
    }
}
