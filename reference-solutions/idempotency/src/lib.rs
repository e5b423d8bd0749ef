//! A payment endpoint made safe to retry with the `Idempotency-Key` header, keys in Redis.
//!
//! A client that sends `POST /payments` and sees its connection drop cannot know whether the
//! payment was made. If it retries, it may pay twice; if it does not, it may not pay at all.
//! The `Idempotency-Key` header (IETF draft `draft-ietf-httpapi-idempotency-key-header`, and
//! Stripe's API before it) fixes that: the client picks a unique key per *intended* operation
//! and sends it with every attempt, and the server promises that all attempts with that key
//! have the effect of one. The server keeps, per key, one small record in Redis that goes
//! through two states:
//!
//! ```text
//!   (no record) --SET-if-absent, with a lease--> in flight --response stored, with a TTL--> done
//!        ^                                          |                                        |
//!        +------- lease expires (process died) -----+------------ TTL expires ---------------+
//! ```
//!
//! and every request first asks the record what to do:
//!
//! - **No record**: claim the key atomically (one Lua script: "create if absent") and run the
//!   request. Checking first and claiming second, in two round trips, lets two concurrent
//!   retries both see "absent" and both charge the card: the whole point lost.
//! - **Done**: replay the stored status and body, marked `Idempotent-Replayed: true`, without
//!   calling the gateway. Errors the gateway caused (502) are replayed too: the request ran,
//!   and its outcome is what it is. Stripe does the same for 500s.
//! - **In flight**: answer `409 Conflict` at once. Waiting would tie up a connection for as
//!   long as the first attempt takes, and running it again is the double charge.
//! - **Same key, different body**: `422 Unprocessable Content`. The key is being reused for a
//!   different operation, a client bug; the stored response stays as it was. Bodies are
//!   compared by a SHA-256 fingerprint, stored in the record.
//!
//! Two expiries keep the store honest. The **TTL** bounds how long responses are kept (Stripe:
//! 24 hours): after it, the key is new again. The **lease** bounds how long a request may hold
//! the key while in flight: if the process crashes between the charge and storing the
//! response, nothing would ever release the lock, and every retry would get 409 forever.
//! With a lease, retries get 409 until it expires, and are then processed again. That re-runs
//! the side effect: the lease trades "locked forever" for "at least once after a crash", so it
//! must be longer than the slowest gateway call, and a real gateway should receive the key too
//! and deduplicate on its side (Stripe's own API does).
//!
//! What is *not* stored: requests rejected before anything happened (a missing or malformed
//! key, an invalid body). Their retries, fixed, must run; replaying the 400 would make a key
//! unusable for the request its client meant.
//!
//! # Layout
//! - this module: the public API ([`Config`], the [`Gateway`] trait, the JSON types,
//!   [`Problem`]) and [`router`].
//! - `handler`: the endpoint, step by step: identify the client, read the key, claim or
//!   replay, validate, charge, store.
//! - `store`: the Redis records and the Lua scripts that move them between states atomically.

mod handler;
mod store;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::{Deserialize, Serialize};

use crate::handler::App;
use crate::store::Store;

/// The error type of [`router`]: whatever stopped the service from starting.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How the service is set up. The suite builds one per check.
#[derive(Debug, Clone)]
pub struct Config {
    /// The Redis server, e.g. `redis://127.0.0.1:6379`.
    pub redis_url: String,
    /// Every Redis key the service creates must start with this (checks share one server).
    pub key_prefix: String,
    /// How long a finished request's response is kept for replays. After it, the key is new.
    pub ttl: Duration,
    /// How long a request in flight holds its key. If the process dies before storing the
    /// response, the key becomes usable again after this long.
    pub lease: Duration,
}

/// The body of `POST /payments`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentRequest {
    /// In minor units (cents); valid when at least 1.
    pub amount: i64,
    /// An ISO 4217 code: valid when exactly three ASCII uppercase letters.
    pub currency: String,
    /// Free text, optional.
    #[serde(default)]
    pub description: Option<String>,
}

/// The body of a `201 Created` response: the payment that was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// This service's id for the payment, unique per payment made.
    pub id: String,
    /// As requested.
    pub amount: i64,
    /// As requested.
    pub currency: String,
    /// Always `"succeeded"`: a failed charge is an error response, not a payment.
    pub status: String,
    /// The gateway's id for the charge ([`Charge::id`]).
    pub charge_id: String,
}

/// What the service asks the payment gateway to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    /// In minor units, at least 1.
    pub amount: i64,
    /// As in the request.
    pub currency: String,
}

/// A charge the gateway made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// The gateway's id for it.
    pub id: String,
}

/// The gateway failed: it answered with a 5xx status (or could not be reached).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayError {
    /// The gateway's HTTP status, e.g. 503.
    pub status: u16,
    /// What it said.
    pub message: String,
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "gateway answered {}: {}", self.status, self.message)
    }
}

impl std::error::Error for GatewayError {}

/// The external payment gateway: the side effect that must not run twice. The suite
/// implements it, so it can count calls, hold them open, or make them fail.
pub trait Gateway: Send + Sync + 'static {
    /// Charges the customer. Each call that returns (or even starts) may move money.
    fn charge(
        &self,
        request: ChargeRequest,
    ) -> impl Future<Output = Result<Charge, GatewayError>> + Send;
}

/// An RFC 9457 problem: an error response with an `application/problem+json` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The response status.
    pub status: StatusCode,
    /// A human-readable explanation of this occurrence.
    pub detail: String,
}

impl Problem {
    /// A problem with this status and detail.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
        }
    }

    /// The `application/problem+json` body: `type`, `title`, `status` and `detail`.
    pub fn body(&self) -> String {
        serde_json::json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        })
        .to_string()
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let content_type = [(header::CONTENT_TYPE, "application/problem+json")];
        (self.status, content_type, self.body()).into_response()
    }
}

/// Builds the service: `POST /payments`, idempotent per client and `Idempotency-Key`, with
/// keys in Redis under `config.key_prefix`, calling `gateway` for the side effect.
///
/// Connects to Redis first, so a wrong URL fails here rather than on the first request. The
/// [`ConnectionManager`](redis::aio::ConnectionManager) behind the store is one multiplexed
/// connection shared by every request (cheap to clone, pipelines concurrent commands, and
/// reconnects by itself).
pub async fn router<G: Gateway>(config: Config, gateway: G) -> Result<Router, BoxError> {
    let store = Store::connect(&config).await?;
    let app = Arc::new(App { store, gateway });
    Ok(Router::new()
        .route("/payments", post(handler::create_payment::<G>))
        .with_state(app))
}
