//! `POST /payments`, step by step.
//!
//! The order of the steps is the design:
//!
//! 1. **Who is asking** (`Authorization: Bearer <client>`): keys are scoped per client, so
//!    this comes before any lookup.
//! 2. **The key** (`Idempotency-Key`): required on this endpoint, 1 to 255 visible ASCII
//!    characters. A request without a usable key is rejected before Redis is touched, so it
//!    leaves nothing behind.
//! 3. **Claim or replay**: one atomic script decides between running the request, replaying
//!    the stored response, 409 (in flight) and 422 (same key, different body).
//! 4. **Validate the body**. After the claim, so that a retry of a *completed* request is
//!    answered from the record whatever its body. A request rejected here ran nothing: the
//!    claim is released, not completed, and a corrected retry with the same key will run.
//! 5. **Charge**, then **store** whatever came of it, 201 or 502, before answering. A crash
//!    between the two leaves the key claimed until the lease runs out; see the crate docs.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::store::{Begin, Store, StoredResponse, fingerprint};
use crate::{ChargeRequest, Gateway, Payment, PaymentRequest, Problem};

/// The header a replayed response carries (Stripe's name, which the IETF draft's examples use).
const REPLAYED: &str = "idempotent-replayed";

/// Keys longer than this are rejected (Stripe's limit).
const MAX_KEY_LEN: usize = 255;

/// What every request needs: the records and the gateway.
pub(crate) struct App<G> {
    pub store: Store,
    pub gateway: G,
}

/// The endpoint.
pub(crate) async fn create_payment<G: Gateway>(
    State(app): State<Arc<App<G>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client = match client_id(&headers) {
        Ok(client) => client,
        Err(problem) => return problem.into_response(),
    };
    let key = match idempotency_key(&headers) {
        Ok(key) => key,
        Err(problem) => return problem.into_response(),
    };
    let lease = match app.store.begin(client, key, &fingerprint(&body)).await {
        Ok(Begin::Acquired(lease)) => lease,
        Ok(Begin::Done(stored)) => return replay(stored),
        Ok(Begin::InFlight) => {
            return Problem::new(
                StatusCode::CONFLICT,
                "a request with this Idempotency-Key is in progress; retry later",
            )
            .into_response();
        }
        Ok(Begin::Mismatch) => {
            return Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "this Idempotency-Key was used with a different request body",
            )
            .into_response();
        }
        // Without the store there is no safe way to run the request: refuse it, unrecorded.
        Err(error) => {
            return Problem::new(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
                .into_response();
        }
    };

    let request = match validate(&body) {
        Ok(request) => request,
        Err(problem) => {
            // Nothing happened: forget the key, so a corrected retry runs. If the release
            // fails, the lease frees the key later; the client's answer is the same.
            let _ = app.store.release(lease).await;
            return problem.into_response();
        }
    };

    let response = charge(&app.gateway, request).await;
    // Store before answering: once the client has an answer, its retries must get the same
    // one. If storing fails (Redis down, or the lease ran out under a slow gateway), the
    // client still gets its answer; the key frees itself when the lease expires.
    let _ = app.store.complete(lease, &response).await;
    respond(response)
}

/// Calls the gateway once and turns the outcome into the response to store and send.
async fn charge<G: Gateway>(gateway: &G, request: PaymentRequest) -> StoredResponse {
    let charge = ChargeRequest {
        amount: request.amount,
        currency: request.currency.clone(),
    };
    match gateway.charge(charge).await {
        Ok(charge) => {
            let payment = Payment {
                id: format!("pay_{:024x}", rand::random::<u128>() >> 32),
                amount: request.amount,
                currency: request.currency,
                status: "succeeded".to_owned(),
                charge_id: charge.id,
            };
            StoredResponse {
                status: StatusCode::CREATED,
                content_type: "application/json".to_owned(),
                body: serde_json::to_string(&payment).unwrap_or_default(),
            }
        }
        // The request ran and failed: that is its outcome, stored and replayed like a success.
        // Letting a retry call the gateway again would be a second charge attempt for one key
        // (and the first may have gone through on the gateway's side after all).
        Err(error) => problem_response(Problem::new(
            StatusCode::BAD_GATEWAY,
            format!("the payment gateway failed: {error}"),
        )),
    }
}

/// The client's id: the bearer token, as is (authenticating it is out of scope here).
fn client_id(headers: &HeaderMap) -> Result<&str, Problem> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            Problem::new(
                StatusCode::UNAUTHORIZED,
                "send `Authorization: Bearer <client id>`",
            )
        })
}

/// The `Idempotency-Key`: required, 1 to 255 visible ASCII characters (0x21..=0x7E).
///
/// The IETF draft makes the value a structured-field string (`"..."`, quotes included);
/// Stripe and most clients send a bare token. We take the value as sent: a quoted key is just a
/// key with quotes in it, which is still unique per operation.
fn idempotency_key(headers: &HeaderMap) -> Result<&str, Problem> {
    let Some(value) = headers.get("idempotency-key") else {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "this endpoint requires an Idempotency-Key header",
        ));
    };
    let bytes = value.as_bytes();
    let valid = (1..=MAX_KEY_LEN).contains(&bytes.len())
        && bytes.iter().all(|byte| byte.is_ascii_graphic());
    match value.to_str() {
        Ok(key) if valid => Ok(key),
        _ => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
        )),
    }
}

/// Parses and validates the body: 400 with the reason when it is not a valid payment.
fn validate(body: &[u8]) -> Result<PaymentRequest, Problem> {
    let request: PaymentRequest = serde_json::from_slice(body)
        .map_err(|error| Problem::new(StatusCode::BAD_REQUEST, format!("invalid JSON: {error}")))?;
    if request.amount < 1 {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "amount must be at least 1 (minor units)",
        ));
    }
    if request.currency.len() != 3 || !request.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "currency must be three uppercase letters",
        ));
    }
    Ok(request)
}

fn problem_response(problem: Problem) -> StoredResponse {
    StoredResponse {
        status: problem.status,
        content_type: "application/problem+json".to_owned(),
        body: problem.body(),
    }
}

/// A first answer: the response as stored.
fn respond(stored: StoredResponse) -> Response {
    let mut response = (stored.status, stored.body).into_response();
    if let Ok(content_type) = HeaderValue::from_str(&stored.content_type) {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    response
}

/// A replay: the stored response, marked so the client can tell it was not run again.
fn replay(stored: StoredResponse) -> Response {
    let mut response = respond(stored);
    response
        .headers_mut()
        .insert(REPLAYED, HeaderValue::from_static("true"));
    response
}
