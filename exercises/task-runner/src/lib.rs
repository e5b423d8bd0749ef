//! A concurrency-limited task runner with cancellation.
//!
//! Run a list of async tasks with at most `limit` of them in flight, and return the results in
//! input order. See the README for the full prompt and the acceptance criteria.
//!
//! The types below are the API the acceptance suite uses: keep their signatures. Replace the
//! `todo!()`s, and add private helpers (or modules, or dependencies) as you see fit.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

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
        _tasks: impl IntoIterator<Item = Task<T, E>>,
    ) -> Result<Vec<T>, RunError<E>>
    where
        T: Send + 'static,
        E: Send + 'static,
    {
        todo!(
            "run the tasks with at most `limit` in flight; on the first error cancel the others, \
             start no more, and return it"
        )
    }

    /// Settle-all: every task runs to completion; each outcome is reported in input order.
    ///
    /// Only [`RunError::InvalidLimit`] and [`RunError::Cancelled`] end such a run early.
    pub async fn run_settled<T, E>(
        &self,
        _tasks: impl IntoIterator<Item = Task<T, E>>,
    ) -> Result<Vec<Result<T, E>>, RunError<E>>
    where
        T: Send + 'static,
        E: Send + 'static,
    {
        todo!(
            "run every task with at most `limit` in flight and report each outcome in input order"
        )
    }
}
