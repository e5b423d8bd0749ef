//! Declaring checks: an id, the criterion it evidences, a description, and a body that runs on
//! the runtime the check asks for.
//!
//! The runtime is part of the declaration because it decides what time means in the check:
//! [`CheckBuilder::paused`] runs on a current-thread tokio runtime whose clock is paused, so
//! `sleep(Duration::from_secs(60))` completes instantly and exactly (tokio auto-advances the
//! clock when every task is idle). That makes time-dependent behaviour testable without flakes.
//! [`CheckBuilder::tokio`] runs on a multi-threaded runtime with real time, for checks that need
//! real parallelism, sockets or child processes; [`CheckBuilder::sync`] needs no runtime at all.

use std::future::Future;
use std::pin::Pin;

use grade_protocol::CheckInfo;

use crate::CheckResult;

type BoxedFuture = Pin<Box<dyn Future<Output = CheckResult>>>;

/// How a check's body is run.
pub(crate) enum Body {
    /// Plain code on the main thread.
    Sync(Box<dyn Fn() -> CheckResult>),
    /// A future on a current-thread runtime with tokio's clock paused.
    Paused(Box<dyn Fn() -> BoxedFuture>),
    /// A future on a multi-threaded runtime with real time.
    Tokio(Box<dyn Fn() -> BoxedFuture>),
}

/// One check of a suite: what it is ([`CheckInfo`]) and how to run it.
pub struct Check {
    pub(crate) info: CheckInfo,
    pub(crate) body: Body,
}

impl Check {
    /// The check's declaration, as `--grade-list` reports it.
    pub fn info(&self) -> &CheckInfo {
        &self.info
    }
}

/// Starts declaring a check.
///
/// `id` is stable and unique within the suite (`criterion.name` by convention), `criterion` is
/// the id of an acceptance criterion from the exercise's metadata, and `description` is one
/// sentence that says what the check establishes.
pub fn check(id: &str, criterion: &str, description: &str) -> CheckBuilder {
    CheckBuilder {
        info: CheckInfo {
            id: id.to_owned(),
            criterion: criterion.to_owned(),
            description: description.to_owned(),
            hint: None,
        },
    }
}

/// A check being declared; finish with [`sync`](Self::sync), [`paused`](Self::paused) or
/// [`tokio`](Self::tokio).
pub struct CheckBuilder {
    info: CheckInfo,
}

impl CheckBuilder {
    /// The hint shown when this check fails and the failure carries none of its own.
    pub fn hint(mut self, hint: &str) -> Self {
        self.info.hint = Some(hint.to_owned());
        self
    }

    /// A check that needs no async runtime.
    pub fn sync(self, body: impl Fn() -> CheckResult + 'static) -> Check {
        Check {
            info: self.info,
            body: Body::Sync(Box::new(body)),
        }
    }

    /// A check on a current-thread runtime with the clock paused (virtual time).
    pub fn paused<F, Fut>(self, body: F) -> Check
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = CheckResult> + 'static,
    {
        Check {
            info: self.info,
            body: Body::Paused(Box::new(move || Box::pin(body()))),
        }
    }

    /// A check on a multi-threaded runtime with real time.
    pub fn tokio<F, Fut>(self, body: F) -> Check
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = CheckResult> + 'static,
    {
        Check {
            info: self.info,
            body: Body::Tokio(Box::new(move || Box::pin(body()))),
        }
    }
}
