//! Acceptance suite for the `rate-limiter` exercise: a sliding-window rate limiter in Redis,
//! as tower middleware, keyed per client.
//!
//! Every check runs against a real Redis (the grader's, `GRADE_REDIS_URL`), in a key namespace
//! of its own (`GRADE_KEY_PREFIX`), and serves the attempt's middleware on a loopback port to a
//! real HTTP client, except where calling it directly makes a concurrency check deterministic.
//! Time is the attempt's injected clock, driven by the suite: windows pass instantly and
//! boundaries are hit to the millisecond, at any millisecond. Only the TTL and outage checks
//! wait on real time.
//!
//! # Layout
//! - `harness`: the clock, limiters, Redis inspection.
//! - `http`: the middleware on a real server (or called directly), and who calls it.
//! - `fields`: lenient parsing of `RateLimit-Policy`, `RateLimit` and `Retry-After`.
//! - `proxy`: a round-trip-counting proxy, a Redis that never answers, a closed port.
//! - `model`: the sliding window as an executable model, seeded request schedules, and the
//!   runner that judges each decision against the attempt's own history.
//! - `window`, `atomic` (with `multi_instance`), `responses`, `keys`, `memory`,
//!   `unavailable`, `metrics`: the checks, one module per criterion.

mod atomic;
mod fields;
mod harness;
mod http;
mod keys;
mod memory;
mod metrics;
mod model;
mod proxy;
mod responses;
mod unavailable;
mod window;

use grade_kit::check;

fn main() {
    grade_kit::main(vec![
        check(
            "window.boundary",
            "window",
            "at most limit requests in any window: a burst just before a fixed-window boundary \
             and one 200 ms after it, then seeded schedules at arbitrary milliseconds (never \
             allowed while limit requests count)",
        )
        .tokio(window::boundary),
        check(
            "window.expiry_edge",
            "window",
            "a request made at s counts at s + window - 1 ms and no longer at s + window; \
             seeded schedules: never rejected while fewer than limit requests count",
        )
        .tokio(window::expiry_edge),
        check(
            "atomic.burst",
            "atomic",
            "requests at one instant all count, and 60 concurrent requests (three rounds) \
             never get more than limit through",
        )
        .tokio(atomic::burst),
        check(
            "atomic.one_round_trip",
            "atomic",
            "each decision, allowed or rejected, costs one Redis round trip (counted by a proxy)",
        )
        .tokio(atomic::one_round_trip),
        check(
            "multi_instance.combined",
            "multi_instance",
            "two servers with their own limiter instances, sharing one Redis, enforce one \
             combined limit, even at one instant and with one server's decision held in Redis \
             between any two of its commands",
        )
        .tokio(atomic::combined),
        check(
            "responses.problem_json",
            "responses",
            "over the limit: 429 with an application/problem+json body (type, title, status, \
             detail), without calling the inner service",
        )
        .tokio(responses::problem_json),
        check(
            "responses.retry_after",
            "responses",
            "Retry-After is whole seconds, rounded up and truthful: a retry after it succeeds, \
             one a second earlier fails; seeded schedules against the model",
        )
        .tokio(responses::retry_after_check),
        check(
            "responses.ratelimit_headers",
            "responses",
            "RateLimit-Policy (q, w) and RateLimit (r, t) on allowed and rejected responses, \
             with exact values; seeded schedules against the model",
        )
        .tokio(responses::ratelimit_headers),
        check(
            "keys.api_key",
            "keys",
            "API keys are separate clients, one client from any address, and apart from \
             anonymous requests, even a key that reads like an address",
        )
        .tokio(keys::api_key),
        check(
            "keys.peer_ip",
            "keys",
            "without an API key (or with an empty one) the client is its peer IP, whatever the \
             port",
        )
        .tokio(keys::peer_ip),
        check(
            "memory.ttl",
            "memory",
            "every key expires, about one window after the client's last decision, a \
             rejection included",
        )
        .tokio(memory::ttl),
        check(
            "memory.trimmed",
            "memory",
            "after 20 windows of steady traffic a client's stored entries are still at most \
             2 × limit",
        )
        .tokio(memory::trimmed),
        check(
            "unavailable.fail_open",
            "unavailable",
            "Redis refusing connections, fail open: requests pass without RateLimit fields and \
             redis_errors counts them",
        )
        .tokio(unavailable::fail_open),
        check(
            "unavailable.fail_closed",
            "unavailable",
            "Redis refusing connections, fail closed: requests get 503 and redis_errors counts \
             them",
        )
        .tokio(unavailable::fail_closed),
        check(
            "unavailable.timeout",
            "unavailable",
            "a Redis that never answers: every request is answered soon after redis_timeout \
             (connecting included), and redis_errors counts them",
        )
        .tokio(unavailable::timeout),
        check(
            "metrics.counters",
            "metrics",
            "each policy's allowed and rejected counters match its decisions exactly, and \
             count nothing Redis did not decide",
        )
        .tokio(metrics::counters),
    ])
}
