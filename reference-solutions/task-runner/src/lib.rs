//! A concurrency-limited task runner with cancellation (reference solution).
//!
//! [`Runner`] runs a list of async tasks with at most `limit` of them in flight, and hands the
//! results back in input order, whatever order the tasks finish in. Two modes share one engine:
//!
//! - [`Runner::run`] is *fail-fast*: the first task to fail (by completion time, not by index)
//!   ends the run; the tasks still running are told to stop and the queued ones never start.
//! - [`Runner::run_settled`] is *settle-all*: every task runs and every outcome is reported.
//!
//! # The mechanism
//!
//! One driver loop owns every piece of state: the queue of tasks not yet started, a
//! [`JoinSet`] of tasks in flight, and one result slot per input. Each turn of the loop does two
//! things:
//!
//! 1. **Refill**: start queued tasks until `limit` are in flight (or the queue is empty).
//! 2. **Wait** for whichever comes first: the caller's cancellation token, or *any* in-flight
//!    task finishing ([`JoinSet::join_next`] yields tasks in completion order).
//!
//! Because the loop refills right after every single completion, a freed slot is reused at
//! once: a slow task only ever occupies its own slot. The classic mistake is to run the input in
//! chunks of `limit` (`chunks(limit)` + `join_all`): each chunk waits for its slowest member and
//! the other `limit - 1` slots sit idle meanwhile.
//!
//! Since a single loop starts and reaps tasks, there is no shared counter to get wrong: the
//! number in flight *is* `in_flight.len()`. (The other common design, every task spawned up
//! front behind a `Semaphore` of `limit` permits, works too but hides a race: the permit a
//! failing task releases can go straight to a queued task before the driver has even seen the
//! error, so a task starts after the run has failed. Cancelling the token in the failing task,
//! before its permit is released, closes that window.)
//!
//! # Cancellation
//!
//! Every task receives a clone of one *run token*, a child of the caller's token
//! ([`Runner::cancel`]). Cancelling the parent cancels the child, so the tasks see an external
//! cancellation directly; cancelling the child (on a fail-fast error) leaves the caller's token
//! alone, which matters when the caller shares that token with other work.
//!
//! Cancellation is cooperative: a task only stops early if it watches its token. So on the way
//! out the runner does both: it cancels the run token (which also reaches any work a task handed
//! its token to) and aborts the futures still in the [`JoinSet`], waiting for them to be gone so
//! that nothing the run started outlives it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The future a task returns once started, boxed so tasks of different types fit in one list.
pub type TaskFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

/// A task not yet started: given the run's cancellation token, it returns the work to await.
///
/// Taking the token as an argument (rather than capturing one) means a task cannot forget to
/// listen to the run it belongs to. Build one from a closure with [`task`].
pub type Task<T, E> = Box<dyn FnOnce(CancellationToken) -> TaskFuture<T, E> + Send>;

/// Boxes a closure `|token| async move { ... }` into a [`Task`].
pub fn task<T, E, F, Fut>(f: F) -> Task<T, E>
where
    F: FnOnce(CancellationToken) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
{
    Box::new(move |token| Box::pin(f(token)))
}

/// Why a run ended without results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunError<E> {
    /// `limit` was 0: no task could ever start, so the run is refused instead of hanging.
    InvalidLimit,
    /// The caller's cancellation token was cancelled before every task finished.
    Cancelled,
    /// Fail-fast only: the first task to fail, with its position in the input.
    Task {
        /// Index of the failed task in the input list.
        index: usize,
        /// The error the task returned.
        error: E,
    },
}

impl<E: fmt::Display> fmt::Display for RunError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidLimit => f.write_str("the concurrency limit must be at least 1"),
            Self::Cancelled => f.write_str("the run was cancelled"),
            Self::Task { index, error } => write!(f, "task {index} failed: {error}"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for RunError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Task { error, .. } => Some(error),
            Self::InvalidLimit | Self::Cancelled => None,
        }
    }
}

/// Runs tasks with at most `limit` in flight.
///
/// The fields are public and checked when a run starts, so a `limit` of 0 is reported as
/// [`RunError::InvalidLimit`] rather than making the run wait forever for a free slot.
#[derive(Debug, Clone)]
pub struct Runner {
    /// The most tasks running at the same time; must be at least 1.
    pub limit: usize,
    /// Cancelling this token stops the run: see [`RunError::Cancelled`].
    pub cancel: CancellationToken,
}

/// What the first task error does to a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Stop everything and report that error.
    FailFast,
    /// Record it and carry on.
    SettleAll,
}

impl Runner {
    /// A runner with the given limit and a token nobody else holds (clone `cancel` to keep one).
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            cancel: CancellationToken::new(),
        }
    }

    /// Fail-fast: every task's value in input order, or the first error by completion time.
    pub async fn run<T, E>(
        &self,
        tasks: impl IntoIterator<Item = Task<T, E>>,
    ) -> Result<Vec<T>, RunError<E>>
    where
        T: Send + 'static,
        E: Send + 'static,
    {
        let outcomes = self.drive(tasks, Mode::FailFast).await?;
        // In fail-fast mode `drive` returns early on the first error, so every outcome here is
        // `Ok`; mapping rather than unwrapping keeps that a property of the types, not a promise.
        outcomes
            .into_iter()
            .enumerate()
            .map(|(index, outcome)| outcome.map_err(|error| RunError::Task { index, error }))
            .collect()
    }

    /// Settle-all: every task runs to completion; each outcome is reported in input order.
    ///
    /// Only [`RunError::InvalidLimit`] and [`RunError::Cancelled`] end such a run early.
    pub async fn run_settled<T, E>(
        &self,
        tasks: impl IntoIterator<Item = Task<T, E>>,
    ) -> Result<Vec<Result<T, E>>, RunError<E>>
    where
        T: Send + 'static,
        E: Send + 'static,
    {
        self.drive(tasks, Mode::SettleAll).await
    }

    /// The engine behind both modes: refill, wait for the next event, repeat.
    async fn drive<T, E>(
        &self,
        tasks: impl IntoIterator<Item = Task<T, E>>,
        mode: Mode,
    ) -> Result<Vec<Result<T, E>>, RunError<E>>
    where
        T: Send + 'static,
        E: Send + 'static,
    {
        let mut queued = tasks.into_iter().enumerate().peekable();
        // Without this check a limit of 0 never starts anything, and the loop below waits
        // forever for a completion that cannot come.
        if self.limit == 0 {
            return Err(RunError::InvalidLimit);
        }
        let run_token = self.cancel.child_token();
        // A backstop for the exit we do not control: if the caller drops this future mid-run
        // (a timeout around it, say), the guard still cancels the tasks' token, so work they
        // handed it to stops too. (Dropping the `JoinSet` aborts the tasks themselves.)
        let _cancel_tasks_on_exit = run_token.clone().drop_guard();

        let mut in_flight = JoinSet::new();
        // One slot per started task, filled as tasks finish in whatever order: writing to the
        // task's own index is what makes the output order the input order.
        let mut outcomes: Vec<Option<Result<T, E>>> = Vec::new();

        loop {
            // Refill: a freed slot is reused at once, not when a whole "batch" is done.
            while in_flight.len() < self.limit {
                let Some((index, task)) = queued.next() else {
                    break;
                };
                outcomes.push(None);
                // Calling the closure starts the task; the index travels with its future so
                // the loop knows which slot a completion belongs to.
                let future = task(run_token.clone());
                in_flight.spawn(async move { (index, future.await) });
            }
            // Nothing running and nothing queued: every task has finished.
            if in_flight.is_empty() && queued.peek().is_none() {
                break;
            }

            tokio::select! {
                // `biased` polls the branches in order: once the caller has cancelled, the run
                // ends as `Cancelled` even if a task happens to finish in the same instant.
                biased;
                () = self.cancel.cancelled() => {
                    in_flight.shutdown().await;
                    return Err(RunError::Cancelled);
                }
                Some(joined) = in_flight.join_next() => {
                    // A panicking task is a bug in that task, not an outcome: re-raise it in
                    // the caller rather than turn it into a value nobody asked for.
                    let (index, outcome) = joined
                        .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()));
                    match outcome {
                        Err(error) if mode == Mode::FailFast => {
                            // Stop the others: the token tells cooperative tasks (and anything
                            // they passed it to); `shutdown` aborts the futures and waits until
                            // they are gone. Queued tasks are dropped, never started.
                            run_token.cancel();
                            in_flight.shutdown().await;
                            return Err(RunError::Task { index, error });
                        }
                        outcome => outcomes[index] = Some(outcome),
                    }
                }
            }
        }

        Ok(outcomes
            .into_iter()
            .map(|slot| slot.expect("the loop only ends once every started task has finished"))
            .collect())
    }
}
