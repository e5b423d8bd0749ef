//! Instrumented tasks: every check builds its tasks here and reads back what happened.
//!
//! A probe task records an event when it starts (its first poll, not the moment the runner
//! calls its closure: creating a future does no work), when it finishes, and when it notices
//! its token cancelled. It also keeps its token, so a check can ask after the run whether the
//! runner cancelled it, whatever the runner did to the task itself (let it wind down, or drop
//! it). An in-flight counter goes up on the first poll and down when the task's future ends or
//! is dropped, and remembers its peak.
//!
//! All timestamps are on tokio's paused clock, so they are exact: a task that sleeps 10ms
//! finishes at exactly 10ms after it started, and a runner that reacts to that at once does
//! so at the same instant.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use task_runner::{Task, task};
use tokio::time::{Instant, sleep};
use tokio_util::sync::CancellationToken;

/// How long a task takes to wind down once it sees its token cancelled. Real tasks take a
/// moment (closing a connection, say); it also makes sure a runner reacts to the cancellation
/// itself, not to the tasks' reaction to it.
pub const WIND_DOWN: Duration = Duration::from_millis(1);

/// How long a [`Reaction::Slow`] task takes to wind down once it sees its token cancelled:
/// far longer than any grace a check allows, so a runner that waits for it is seen waiting.
pub const SLOW_WIND_DOWN: Duration = Duration::from_secs(1);

/// What a probe task does when its token is cancelled before it is done.
///
/// Real tasks differ, and a runner must not depend on how: `run` has to stop promptly and
/// report the right error whether the tasks in flight stop at once, take their time, ignore
/// the token, or fail "in the same breath" with an error of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    /// Winds down in [`WIND_DOWN`], then returns `TaskError::Cancelled`.
    WindDown,
    /// Returns `TaskError::Cancelled` the moment it sees its token: no await in between.
    FailAtOnce,
    /// Sees its token, but takes [`SLOW_WIND_DOWN`] to wind down.
    Slow,
    /// Never looks at its token: runs to its planned outcome.
    Ignore,
}

/// The error a probe task returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskError {
    /// The task failed on its own, as planned.
    Failed(usize),
    /// The task saw its token cancelled and gave up.
    Cancelled(usize),
}

/// What a probe task does: succeed or fail after some milliseconds (unless cancelled first).
#[derive(Debug, Clone, Copy)]
pub enum Plan {
    /// Returns `Ok(value_of(index))` after this many milliseconds.
    Succeed(u64),
    /// Returns `Err(TaskError::Failed(index))` after this many milliseconds.
    Fail(u64),
}

/// The value task `index` returns on success.
pub fn value_of(index: usize) -> u64 {
    index as u64 * 10 + 7
}

/// What happened, and to which task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The task's future was polled for the first time.
    Start,
    /// The task returned `Ok`.
    Succeeded,
    /// The task returned its planned error.
    Failed,
    /// The task noticed its token cancelled.
    SawCancel,
    /// The task returned `TaskError::Cancelled` after winding down.
    GaveUp,
    /// The check cancelled the caller's token (`task` is unused).
    CallerCancelled,
}

impl Kind {
    /// Whether the task's future returned with this event.
    pub fn is_end(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::GaveUp)
    }
}

/// One recorded event; its position in [`Probe::events`] is its order.
#[derive(Debug, Clone, Copy)]
pub struct Event {
    /// Virtual time since the probe was created.
    pub at: Duration,
    /// The task's index in the input.
    pub task: usize,
    /// What happened.
    pub kind: Kind,
}

/// Shared record of a run: events, tokens, and the in-flight counter.
#[derive(Clone)]
pub struct Probe {
    inner: Arc<Inner>,
}

struct Inner {
    origin: Instant,
    running: AtomicUsize,
    peak: AtomicUsize,
    events: Mutex<Vec<Event>>,
    tokens: Mutex<Vec<(usize, CancellationToken)>>,
}

impl Probe {
    /// A fresh probe; its clock starts now.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                origin: Instant::now(),
                running: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
                events: Mutex::new(Vec::new()),
                tokens: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Virtual time since the probe was created.
    pub fn now(&self) -> Duration {
        self.inner.origin.elapsed()
    }

    /// One task per plan, indexed in order.
    pub fn tasks(&self, plans: &[Plan]) -> Vec<Task<u64, TaskError>> {
        plans
            .iter()
            .enumerate()
            .map(|(index, plan)| self.task(index, *plan))
            .collect()
    }

    /// One task per plan, indexed in order, all reacting to cancellation the same way.
    pub fn tasks_reacting(&self, plans: &[Plan], reaction: Reaction) -> Vec<Task<u64, TaskError>> {
        plans
            .iter()
            .enumerate()
            .map(|(index, plan)| self.task_with(index, *plan, reaction))
            .collect()
    }

    /// A task that follows `plan`, and winds down if its token is cancelled first.
    pub fn task(&self, index: usize, plan: Plan) -> Task<u64, TaskError> {
        self.task_with(index, plan, Reaction::WindDown)
    }

    /// A task that follows `plan`, and reacts to its token as `reaction` says.
    pub fn task_with(&self, index: usize, plan: Plan, reaction: Reaction) -> Task<u64, TaskError> {
        let probe = self.clone();
        task(move |token: CancellationToken| async move {
            let _running = probe.enter(index, &token);
            let (millis, outcome, kind) = match plan {
                Plan::Succeed(ms) => (ms, Ok(value_of(index)), Kind::Succeeded),
                Plan::Fail(ms) => (ms, Err(TaskError::Failed(index)), Kind::Failed),
            };
            let planned = async {
                sleep(Duration::from_millis(millis)).await;
                probe.record(index, kind);
                outcome
            };
            if reaction == Reaction::Ignore {
                return planned.await;
            }
            tokio::select! {
                biased;
                () = token.cancelled() => {
                    probe.record(index, Kind::SawCancel);
                    match reaction {
                        Reaction::WindDown => sleep(WIND_DOWN).await,
                        Reaction::Slow => sleep(SLOW_WIND_DOWN).await,
                        Reaction::FailAtOnce | Reaction::Ignore => {}
                    }
                    probe.record(index, Kind::GaveUp);
                    Err(TaskError::Cancelled(index))
                }
                outcome = planned => outcome,
            }
        })
    }

    /// Records that the check cancelled the caller's token.
    pub fn mark_caller_cancelled(&self) {
        self.record(usize::MAX, Kind::CallerCancelled);
    }

    /// The most tasks that were in flight at once.
    pub fn peak(&self) -> usize {
        self.inner.peak.load(Ordering::SeqCst)
    }

    /// Every event so far, in order.
    pub fn events(&self) -> Vec<Event> {
        lock(&self.inner.events).clone()
    }

    /// The position and event of the first occurrence of `kind`.
    pub fn first(&self, kind: Kind) -> Option<(usize, Event)> {
        self.events()
            .into_iter()
            .enumerate()
            .find(|(_, event)| event.kind == kind)
    }

    /// Tasks that had started, and not yet returned, once event `position` had happened.
    pub fn in_flight_at(&self, position: usize) -> Vec<usize> {
        let events = self.events();
        let before = &events[..(position + 1).min(events.len())];
        let started = before.iter().filter(|e| e.kind == Kind::Start);
        started
            .filter(|s| !before.iter().any(|e| e.task == s.task && e.kind.is_end()))
            .map(|s| s.task)
            .collect()
    }

    /// When each task started (its first poll), by index; `None`: never started.
    pub fn start_times(&self, count: usize) -> Vec<Option<Duration>> {
        let mut starts = vec![None; count];
        for event in self.events() {
            if event.kind == Kind::Start
                && let Some(slot) = starts.get_mut(event.task)
            {
                slot.get_or_insert(event.at);
            }
        }
        starts
    }

    /// When the first event of `kind` happened.
    pub fn first_time(&self, kind: Kind) -> Option<Duration> {
        self.first(kind).map(|(_, event)| event.at)
    }

    /// Tasks that started after event position `position`, with their start times.
    pub fn started_after(&self, position: usize) -> Vec<(usize, Duration)> {
        self.events()
            .iter()
            .skip(position + 1)
            .filter(|e| e.kind == Kind::Start)
            .map(|e| (e.task, e.at))
            .collect()
    }

    /// Whether task `index` received a token that is now cancelled (`None`: never started).
    pub fn token_cancelled(&self, index: usize) -> Option<bool> {
        lock(&self.inner.tokens)
            .iter()
            .find(|(task, _)| *task == index)
            .map(|(_, token)| token.is_cancelled())
    }

    fn enter(&self, index: usize, token: &CancellationToken) -> Running {
        let now_running = self.inner.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.inner.peak.fetch_max(now_running, Ordering::SeqCst);
        lock(&self.inner.tokens).push((index, token.clone()));
        self.record(index, Kind::Start);
        Running {
            inner: Arc::clone(&self.inner),
        }
    }

    fn record(&self, task: usize, kind: Kind) {
        let at = self.now();
        lock(&self.inner.events).push(Event { at, task, kind });
    }
}

/// Decrements the in-flight counter when a task's future ends or is dropped mid-flight.
struct Running {
    inner: Arc<Inner>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.inner.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Locks a probe mutex; a poisoned one only means a task panicked, and its data is still good.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A duration as a report shows it: `30ms`.
pub fn ms(duration: Duration) -> String {
    format!("{}ms", duration.as_millis())
}

/// How long any run in this suite may take, in virtual time, before it counts as stuck.
///
/// Generous on purpose: even one task at a time, 10 000 tasks of up to 13ms take about 70s of
/// virtual time, and a stuck run reaches the deadline instantly on the paused clock anyway.
pub const DEADLINE: Duration = Duration::from_secs(600);
