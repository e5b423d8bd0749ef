//! The effect of an event in Redis: idempotent, and atomic.
//!
//! | key | what happens |
//! |---|---|
//! | `<prefix>seen:<id>` | the dedupe marker: `SET … NX EX ttl` |
//! | `<prefix>balance:<account>` | `INCRBY amount_cents`, only if the marker was absent |
//! | `<prefix>ledger` | `RPUSH "<id> <partition> <offset>"`, only if the marker was absent |
//!
//! **Idempotent**: the marker says "this event id was applied". A redelivered event (the
//! consumer died before committing, a partition moved, the producer sent it twice) finds its
//! marker and changes nothing.
//!
//! **Atomic**: the marker and the effect must never be seen one without the other. Sent as
//! separate commands, a crash between them either loses the event for good (marker set, no
//! effect: the redelivery is skipped as a duplicate) or applies it twice (effect, no marker).
//! Redis runs a Lua script as one command, with nothing from other clients in between and
//! nothing half-done if the client dies while it runs.
//!
//! **The TTL** bounds the memory markers take. It also bounds the dedupe window: a duplicate
//! arriving after its marker expired is applied again, so the TTL must outlast any redelivery
//! (retention of the topic, a consumer down for a weekend…).

use redis::Script;
use redis::aio::ConnectionManager;

use crate::{Config, Event};

/// Sets the marker if absent and, only then, applies the effect.
///
/// KEYS: the marker, the balance, the ledger. ARGV: TTL in seconds, amount, ledger entry.
/// Returns 1 if the event was applied, 0 if it was a duplicate.
const APPLY: &str = r"
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('INCRBY', KEYS[2], ARGV[2])
  redis.call('RPUSH', KEYS[3], ARGV[3])
  return 1
end
return 0
";

/// The balances and the ledger of one key prefix.
pub(crate) struct Ledger {
    // `ConnectionManager` reconnects on its own, and its clones share one multiplexed
    // connection: cloning it per call is cheap.
    redis: ConnectionManager,
    prefix: String,
    ttl_secs: u64,
    apply: Script,
}

impl Ledger {
    /// Connects to `config.redis_url`.
    pub(crate) async fn connect(config: &Config) -> redis::RedisResult<Self> {
        let redis = redis::Client::open(config.redis_url.as_str())?
            .get_connection_manager()
            .await?;
        Ok(Self {
            redis,
            prefix: config.key_prefix.clone(),
            // `EX 0` is an error in Redis; a marker must live at least a second.
            ttl_secs: config.dedupe_ttl.as_secs().max(1),
            apply: Script::new(APPLY),
        })
    }

    /// Applies `event`, received at `offset` of `partition`, unless it was applied before.
    /// Returns whether it was applied (false: a duplicate).
    pub(crate) async fn apply(
        &self,
        event: &Event,
        partition: i32,
        offset: i64,
    ) -> redis::RedisResult<bool> {
        let prefix = &self.prefix;
        // `Script` sends EVALSHA, and loads the script on NOSCRIPT (a fresh or restarted Redis).
        let applied: i64 = self
            .apply
            .key(format!("{prefix}seen:{}", event.id))
            .key(format!("{prefix}balance:{}", event.account))
            .key(format!("{prefix}ledger"))
            .arg(self.ttl_secs)
            .arg(event.amount_cents)
            .arg(format!("{} {partition} {offset}", event.id))
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(applied == 1)
    }
}
