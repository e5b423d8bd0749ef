//! The payment gateway the attempt calls: the side effect every check counts.
//!
//! Each call does what the check scripted for it ([`Step`]): succeed, fail with a 5xx, hold
//! until a [`Gate`] opens, or hang forever. Calls are counted as they *start*, in a watch
//! channel, so a check can wait for "the first request reached the gateway" or notice a second
//! call the moment it happens.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use grade_kit::Failure;
use idempotency::{Charge, ChargeRequest, Gateway, GatewayError};
use tokio::sync::watch;

use crate::harness::REQUEST_LIMIT;

/// What the gateway does on one call.
#[derive(Debug, Clone)]
pub enum Step {
    /// Return `Charge { id: "ch_<call number>" }`.
    Succeed,
    /// Return a `GatewayError` with this status.
    Fail(u16),
    /// Wait until the gate opens, then succeed.
    Hold(Gate),
    /// Never return: the caller is stuck in the call (the check then drops it).
    Hang,
}

/// A gate [`Step::Hold`] calls wait on; opening it lets them all through.
#[derive(Debug, Clone)]
pub struct Gate(watch::Sender<bool>);

impl Gate {
    /// A closed gate.
    pub fn new() -> Self {
        Self(watch::channel(false).0)
    }

    /// Lets every held call (and every later one) through.
    pub fn open(&self) {
        self.0.send_replace(true);
    }

    async fn wait(&self) {
        let mut open = self.0.subscribe();
        // The sender lives in `self`, so this cannot fail while we wait.
        let _ = open.wait_for(|open| *open).await;
    }
}

/// The payment gateway the attempt calls: scripted per call, every call counted.
#[derive(Clone)]
pub struct TestGateway(Arc<GatewayState>);

struct GatewayState {
    /// Steps for the next calls, in order; `fallback` once they run out.
    script: Mutex<VecDeque<Step>>,
    fallback: Mutex<Step>,
    /// How many calls have started.
    calls: watch::Sender<usize>,
}

impl TestGateway {
    /// A gateway whose every call succeeds.
    pub fn new() -> Self {
        Self(Arc::new(GatewayState {
            script: Mutex::new(VecDeque::new()),
            fallback: Mutex::new(Step::Succeed),
            calls: watch::channel(0).0,
        }))
    }

    /// The next call does `step` (after any steps queued before it).
    pub fn then(&self, step: Step) {
        lock(&self.0.script).push_back(step);
    }

    /// Every call after the queued ones does `step`.
    pub fn otherwise(&self, step: Step) {
        *lock(&self.0.fallback) = step;
    }

    /// How many calls have started so far.
    pub fn calls(&self) -> usize {
        *self.0.calls.borrow()
    }

    /// A receiver that sees the call count change.
    pub fn watch_calls(&self) -> watch::Receiver<usize> {
        self.0.calls.subscribe()
    }

    /// Waits until at least `n` calls have started.
    pub async fn wait_for_calls(&self, n: usize, what: &str) -> Result<(), Failure> {
        let mut calls = self.watch_calls();
        grade_kit::time::within(REQUEST_LIMIT, what, calls.wait_for(|&c| c >= n))
            .await?
            .map(|_| ())
            .map_err(|_| Failure::new("the gateway's call counter closed"))
    }
}

impl Gateway for TestGateway {
    async fn charge(&self, _request: ChargeRequest) -> Result<Charge, GatewayError> {
        // Take this call's step *before* counting it: a check that waits for "the first call
        // started" and then sends another request must not let that request's call take the
        // step scripted for the first one.
        let (step, number) = {
            let mut script = lock(&self.0.script);
            let step = script
                .pop_front()
                .unwrap_or_else(|| lock(&self.0.fallback).clone());
            let mut number = 0;
            self.0.calls.send_modify(|calls| {
                *calls += 1;
                number = *calls;
            });
            (step, number)
        };
        match step {
            Step::Succeed => {}
            Step::Fail(status) => {
                return Err(GatewayError {
                    status,
                    message: format!("upstream unavailable (call {number})"),
                });
            }
            Step::Hold(gate) => gate.wait().await,
            Step::Hang => std::future::pending::<()>().await,
        }
        Ok(Charge {
            id: format!("ch_{number}"),
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
