//! Acceptance suite for the `idempotency` exercise: a payment endpoint made safe to retry with
//! the `Idempotency-Key` header, keys in a real Redis.
//!
//! Each check builds the attempt's router against the grader's Redis (`GRADE_REDIS_URL`), with
//! the check's own key prefix (`GRADE_KEY_PREFIX`), serves it on a loopback port, and talks to
//! it over real HTTP connections. The side effect is the suite's [`harness::TestGateway`]: it
//! counts calls and can fail, hold or hang them. Checks run on real time (Redis cannot see
//! tokio's paused clock); the two about expiry wait about a second each.
//!
//! # Layout
//! - `gateway`: the scripted, counting payment gateway (the side effect).
//! - `harness`: the server, the HTTP client and shared assertions.
//! - `replay`: replays, reused keys, per-client scope and which outcomes are stored
//!   (`replay`, `mismatch`, `scope`, `errors`).
//! - `validation`: the header itself (`validation`).
//! - `concurrency`: one side effect under a burst of concurrent requests (`concurrent`).
//! - `expiry`: the TTL of responses and the lease of in-flight requests (`ttl`, `lease`).
//! - `model`: model-based checks, seeded scenarios compared with an executable model
//!   (`concurrent.model`: requests arriving at each step of a first request's life;
//!   `mismatch.model`: retries whose body differs in one byte of any field).
//! - `proxy`: a TCP proxy in front of Redis that holds the attempt between two round trips.

mod concurrency;
mod expiry;
mod gateway;
mod harness;
mod model;
mod proxy;
mod replay;
mod validation;

use grade_kit::check;

fn main() {
    grade_kit::main(vec![
        check(
            "replay.same_response",
            "replay",
            "a retry with the same key and body gets the original status, Content-Type and body, \
             marked `Idempotent-Replayed: true` (the first response has no such header), without \
             a second gateway call; a new key charges again",
        )
        .tokio(replay::same_response),
        check(
            "concurrent.one_side_effect",
            "concurrent",
            "16 concurrent requests with one key (8 rounds): exactly one gateway call, and 409 \
             at once for the others, and for a late one, while it is in flight",
        )
        .tokio(concurrency::one_side_effect),
        check(
            "concurrent.model",
            "concurrent",
            "seeded scenarios: retries and other keys sent while the first request's charge is \
             held (409), in the gap after its completion's first Redis write, held open by a \
             proxy (409 or its response, never a second charge), and after it (its response); \
             compared with a model of the statuses and the charge count",
        )
        .tokio(model::concurrent_model),
        check(
            "mismatch.rejected",
            "mismatch",
            "the same key with a different body gets a 422 problem without a gateway call, and \
             the stored response is unchanged",
        )
        .tokio(replay::rejected),
        check(
            "mismatch.model",
            "mismatch",
            "seeded scenarios: after a payment, retries with its key and the same body, or a \
             body one byte different in the amount, the currency or the description: the same \
             bytes are replayed, any other body gets 422, nothing is charged again",
        )
        .tokio(model::mismatch_model),
        check(
            "validation.missing_key",
            "validation",
            "a request without Idempotency-Key gets 400 with an application/problem+json body \
             and no gateway call",
        )
        .tokio(validation::missing_key),
        check(
            "validation.key_format",
            "validation",
            "empty, 256-character, space, tab and non-ASCII keys get 400 and no gateway call; \
             keys of 1 and 255 visible ASCII characters are accepted",
        )
        .tokio(validation::key_format),
        check(
            "scope.per_client",
            "scope",
            "two clients sending the same key string make two payments, and each retry replays \
             its own client's response",
        )
        .tokio(replay::per_client),
        check(
            "errors.failure_stored",
            "errors",
            "when the gateway fails, the endpoint answers 502 with a problem, and a retry gets \
             it again (status, Content-Type and body) without calling the gateway",
        )
        .tokio(replay::failure_stored),
        check(
            "errors.validation_not_stored",
            "errors",
            "requests rejected by body validation store nothing: the corrected request with the \
             same key runs",
        )
        .tokio(replay::validation_not_stored),
        check(
            "ttl.expires",
            "ttl",
            "within the TTL (500 ms) a retry is replayed; after it the same key makes a new \
             payment (real time, about 1 s)",
        )
        .tokio(expiry::expires),
        check(
            "lease.expires",
            "lease",
            "after a request dies mid-charge, retries get 409 while its lease (800 ms) runs and \
             are processed after it (real time, about 1.5 s)",
        )
        .tokio(expiry::lease_expires),
    ])
}
