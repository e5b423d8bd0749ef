//! An HTTP endpoint that creates payments, made safe to retry with the `Idempotency-Key`
//! header, the keys stored in Redis. See README.md for the task, the pinned semantics and the
//! acceptance criteria.
//!
//! The types below are the API the acceptance suite uses: keep their names and signatures.
//! Implement [`router`] (and add private helpers or modules as you like). [`Problem`] is
//! ready to use for every error response.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

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
#[allow(unused_variables)] // The stub ignores its arguments: remove this with the `todo!`.
pub async fn router<G: Gateway>(config: Config, gateway: G) -> Result<Router, BoxError> {
    todo!(
        "connect to Redis and return a Router with POST /payments that stores each client's \
         Idempotency-Key in Redis (a leased lock while in flight, then the response with a TTL) \
         so a retry replays the first response instead of charging twice"
    )
}
