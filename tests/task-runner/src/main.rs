//! Acceptance suite for the `task-runner` exercise.
//!
//! Every check drives the attempt's `Runner` with instrumented tasks ([`probe`]) on tokio's
//! paused clock, so durations are exact and the whole suite takes about a second of wall time.
//! Checks judge what the probe observed (which tasks ran when, what their tokens said), not how
//! the runner is built: a `JoinSet`, `FuturesUnordered`, a semaphore or a worker pool all pass.
//!
//! # Layout
//! - [`probe`]: instrumented tasks, events, in-flight counting.
//! - [`model`]: the executable schedule model and seeded scenarios the model-based checks share.
//! - [`limit`], [`order`], [`eager`], [`errors`], [`cancel`], [`edges`]: one module per
//!   acceptance criterion, each listing its checks.

mod cancel;
mod eager;
mod edges;
mod errors;
mod limit;
mod model;
mod order;
mod probe;

fn main() {
    let checks = [
        limit::checks(),
        order::checks(),
        eager::checks(),
        errors::checks(),
        cancel::checks(),
        edges::checks(),
    ];
    grade_kit::main(checks.into_iter().flatten().collect())
}
