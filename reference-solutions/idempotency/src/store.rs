//! The idempotency records in Redis, and the three Lua scripts that move them between states.
//!
//! One Redis hash per (client, key):
//!
//! | field         | in flight        | done                        |
//! |---------------|------------------|-----------------------------|
//! | `fingerprint` | SHA-256 of body  | SHA-256 of body             |
//! | `token`       | the owner's id   | (removed)                   |
//! | `status`, `content_type`, `body` | (absent) | the response to replay |
//!
//! and its expiry: the **lease** while in flight, the **TTL** once done.
//!
//! Why scripts: each transition reads the record and writes it depending on what it read.
//! Done as two commands, another request can slip in between (two requests both read
//! "absent" and both charge). Redis runs a script as one command, with nothing in between, in
//! one round trip. (`SET key value NX PX lease` would make the claim atomic too, but the claim
//! also has to report *what* is there when it fails, and a second GET could find the record
//! already expired or replaced.)
//!
//! Why a token: the lock can expire under a request that is merely slow. Another request may
//! then claim the key; when the slow one finishes, it must not overwrite the new owner's
//! record. Completing and releasing are conditional on still holding the token we claimed
//! with, so a request that lost its lease stores nothing (it still answers its client).

use std::time::Duration;

use axum::http::StatusCode;
use redis::Script;
use redis::aio::ConnectionManager;
use sha2::{Digest, Sha256};

use crate::{BoxError, Config};

/// Claims the key if there is no record, else reports the record.
///
/// KEYS[1]: the record. ARGV: fingerprint, token, lease in ms.
const BEGIN: &str = r"
local record = redis.call('HMGET', KEYS[1], 'fingerprint', 'status', 'content_type', 'body')
if not record[1] then
  redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1], 'token', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'acquired'}
end
if record[1] ~= ARGV[1] then return {'mismatch'} end
if not record[2] then return {'in_flight'} end
return {'done', record[2], record[3], record[4]}
";

/// Stores the response and swaps the lease for the TTL, if we still own the key.
///
/// KEYS[1]: the record. ARGV: token, status, content type, body, TTL in ms.
const COMPLETE: &str = r"
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'content_type', ARGV[3], 'body', ARGV[4])
redis.call('HDEL', KEYS[1], 'token')
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
";

/// Deletes the record, if we still own the key.
///
/// KEYS[1]: the record. ARGV: token.
const RELEASE: &str = r"
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
";

/// A response as stored and replayed: status, content type and body, nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredResponse {
    pub status: StatusCode,
    pub content_type: String,
    pub body: String,
}

/// What the record says a request should do.
#[derive(Debug)]
pub(crate) enum Begin {
    /// There was no record; we own the key now and must complete or release it.
    Acquired(Lease),
    /// Another request with this key is running (or crashed less than a lease ago).
    InFlight,
    /// The key was used with a different body.
    Mismatch,
    /// The request already ran: replay this.
    Done(StoredResponse),
}

/// Proof that we claimed a key: its record and the token we claimed it with.
#[derive(Debug)]
pub(crate) struct Lease {
    record: String,
    token: String,
}

/// The records of one service: a Redis connection, the key prefix and the two expiries.
pub(crate) struct Store {
    redis: ConnectionManager,
    prefix: String,
    ttl: Duration,
    lease: Duration,
    begin: Script,
    complete: Script,
    release: Script,
}

impl Store {
    /// Connects to `config.redis_url`.
    pub async fn connect(config: &Config) -> Result<Self, BoxError> {
        let redis = redis::Client::open(config.redis_url.as_str())?
            .get_connection_manager()
            .await?;
        Ok(Self {
            redis,
            prefix: config.key_prefix.clone(),
            ttl: config.ttl,
            lease: config.lease,
            begin: Script::new(BEGIN),
            complete: Script::new(COMPLETE),
            release: Script::new(RELEASE),
        })
    }

    /// Looks up `key` for `client` and claims it if it is free.
    pub async fn begin(
        &self,
        client: &str,
        key: &str,
        fingerprint: &str,
    ) -> redis::RedisResult<Begin> {
        let record = self.record_key(client, key);
        let token = format!("{:032x}", rand::random::<u128>());
        let reply: Vec<String> = self
            .begin
            .key(&record)
            .arg(fingerprint)
            .arg(&token)
            .arg(millis(self.lease))
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(match reply.as_slice() {
            [state] if state == "acquired" => Begin::Acquired(Lease { record, token }),
            [state] if state == "in_flight" => Begin::InFlight,
            [state] if state == "mismatch" => Begin::Mismatch,
            [state, status, content_type, body] if state == "done" => Begin::Done(StoredResponse {
                status: status
                    .parse::<u16>()
                    .ok()
                    .and_then(|code| StatusCode::from_u16(code).ok())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                content_type: content_type.clone(),
                body: body.clone(),
            }),
            other => {
                return Err(redis::RedisError::from((
                    redis::ErrorKind::Client,
                    "unexpected reply from the begin script",
                    format!("{other:?}"),
                )));
            }
        })
    }

    /// Stores `response` for replays, for the TTL. Returns false if the lease was lost.
    pub async fn complete(
        &self,
        lease: Lease,
        response: &StoredResponse,
    ) -> redis::RedisResult<bool> {
        self.complete
            .key(&lease.record)
            .arg(&lease.token)
            .arg(response.status.as_u16())
            .arg(&response.content_type)
            .arg(&response.body)
            .arg(millis(self.ttl))
            .invoke_async(&mut self.redis.clone())
            .await
    }

    /// Forgets the key: the request was rejected before it did anything.
    pub async fn release(&self, lease: Lease) -> redis::RedisResult<bool> {
        self.release
            .key(&lease.record)
            .arg(&lease.token)
            .invoke_async(&mut self.redis.clone())
            .await
    }

    /// The record's Redis key: per client, so two clients' `order-1` never meet.
    ///
    /// The client id is hashed rather than pasted in: it is a bearer token (a secret, which
    /// should not appear in key names a `SCAN` or `MONITOR` shows), and it may contain `:`,
    /// which would make client `a:b` with key `c` collide with client `a` with key `b:c`. A
    /// hex digest has a fixed length and no separator in it.
    fn record_key(&self, client: &str, key: &str) -> String {
        let client = hex(&Sha256::digest(client.as_bytes()));
        format!("{}idempotency:{client}:{key}", self.prefix)
    }
}

/// The fingerprint of a request body: SHA-256, hex.
///
/// Of the raw bytes: the same bytes always match, which is what a retry sends. A client that
/// re-serialises its JSON differently would see a 422; canonicalising the JSON first would
/// accept that too, at the cost of parsing before the lookup.
pub(crate) fn fingerprint(body: &[u8]) -> String {
    hex(&Sha256::digest(body))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Redis wants whole milliseconds; never 0, which `PEXPIRE` would take as "expire now".
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}
