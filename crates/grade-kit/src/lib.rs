//! `grade-kit`: the library acceptance suites are written with.
//!
//! A suite is a binary whose `main` hands a list of [`Check`]s to [`main`]. Each check belongs to
//! one acceptance criterion of the exercise, runs in a process of its own (the grader re-executes
//! the suite binary once per check, see `grade-protocol`), and ends in a [`CheckResult`]:
//! `Ok(())`, or a [`Failure`] that tells the candidate what is wrong, expected vs actual, and how
//! to go about fixing it.
//!
//! ```no_run
//! use grade_kit::{check, ensure_eq, CheckResult};
//!
//! async fn doubles() -> CheckResult {
//!     ensure_eq!(2 * 2, 4, "2 * 2 should be 4");
//!     Ok(())
//! }
//!
//! fn main() {
//!     grade_kit::main(vec![
//!         check("arith.doubles", "arith", "doubling works").paused(doubles),
//!     ]);
//! }
//! ```
//!
//! # Layout
//! - [`check`](mod@check): declaring checks and the runtime each one runs on.
//! - [`assert`]: the `ensure*` macros and text diffs.
//! - [`run`]: the suite's `main`, speaking the protocol (and a small dev-mode runner).
//! - [`time`], [`mem`], [`env`]: helpers for deadlines, memory measurement and the
//!   environment the grader provides.
//! - [`services`]: connection details of provisioned services (Redis, a Kafka broker).
//! - [`resp`]: the Redis wire protocol, for suites that proxy an attempt's Redis traffic.
//! - [`model`]: model-based checks: seeded scenarios compared with an executable spec, the
//!   smallest failing one shown.
//!
//! [`proptest`] is re-exported so suites write strategies with the same version the kit drives.

pub mod assert;
pub mod check;
pub mod env;
pub mod mem;
pub mod model;
pub mod resp;
pub mod run;
pub mod services;
pub mod time;

pub use check::{Check, CheckBuilder, check};
pub use grade_protocol::Failure;
pub use proptest;
pub use run::main;

/// What a check returns: `Ok(())` when the attempt behaves, a [`Failure`] otherwise.
pub type CheckResult = Result<(), Failure>;

/// Adds a hint to a failing result, unless the failure already carries one.
pub trait WithHint {
    /// Attaches `hint` to the failure, if this is one and it has no hint yet.
    fn hint(self, hint: &str) -> Self;
}

impl<T> WithHint for Result<T, Failure> {
    fn hint(self, hint: &str) -> Self {
        self.map_err(|failure| {
            if failure.hint.is_some() {
                failure
            } else {
                failure.with_hint(hint)
            }
        })
    }
}
