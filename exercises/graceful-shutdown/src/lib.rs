//! An HTTP service with queue workers that shuts down cleanly on SIGTERM, the way Kubernetes
//! expects. Read the README for what to build; `src/main.rs` runs it as a process.
//!
//! `pool.rs` is provided: do not change it. Everything else is yours: add modules as you like,
//! but keep the public items below (the binary uses them).

pub mod pool;

use std::fmt;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedReceiver;

pub use pool::{Pool, PoolClosed, PoolConn};

/// How the service runs: where its queue is, how many workers take jobs, how long a drain may
/// last.
#[derive(Debug, Clone)]
pub struct Config {
    /// The Redis server holding the queue, e.g. `redis://127.0.0.1:6379`.
    pub redis_url: String,
    /// Prefix of every Redis key the service uses (see [`Keys`]).
    pub key_prefix: String,
    /// Number of queue workers.
    pub workers: usize,
    /// How long the drain may take, counted from the first signal.
    pub drain_deadline: Duration,
}

/// A shutdown signal, as `main` forwards it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM: what Kubernetes (and `docker stop`, and systemd) send.
    Terminate,
    /// SIGINT: Ctrl-C in a terminal.
    Interrupt,
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Terminate => "SIGTERM",
            Self::Interrupt => "SIGINT",
        })
    }
}

/// How a drain ended; `main` turns it into the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything in flight finished before the deadline: exit 0.
    Drained,
    /// The deadline passed with work still running, which was abandoned: exit non-zero.
    DeadlineExceeded,
}

/// Why the service could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Connecting to Redis failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// An I/O error (binding, the events file).
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The Redis keys of the queue, all under the configured prefix.
///
/// A job is a string `"<id>:<milliseconds>"`. Producers `LPUSH` jobs onto `queue`; a worker
/// moves the oldest one (the right end) to `processing` with `BLMOVE queue processing RIGHT
/// LEFT`, works for that many milliseconds, then removes it from `processing` and appends it to
/// `done`, both in one `MULTI`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// Jobs waiting: `<prefix>queue`.
    pub queue: String,
    /// Jobs a worker holds: `<prefix>processing`.
    pub processing: String,
    /// Jobs finished, in the order they finished: `<prefix>done`.
    pub done: String,
}

impl Keys {
    /// The keys under `prefix`.
    pub fn new(prefix: &str) -> Self {
        Self {
            queue: format!("{prefix}queue"),
            processing: format!("{prefix}processing"),
            done: format!("{prefix}done"),
        }
    }
}

/// Serves HTTP on `listener` and runs `config.workers` queue workers until the first signal
/// from `signals`, then drains and closes `pool`.
///
/// Returns once the drain is over: [`Exit::Drained`] if everything in flight finished,
/// [`Exit::DeadlineExceeded`] if the deadline cut it short.
#[allow(unused_variables)] // The stub ignores its arguments: remove this with the `todo!`.
pub async fn run(
    listener: TcpListener,
    config: Config,
    pool: Pool,
    signals: UnboundedReceiver<Signal>,
) -> Result<Exit, Error> {
    todo!(
        "serve /livez, /healthz and /slow on the listener, run the queue workers, and on the \
         first signal drain as the README describes: readiness first, finish what is in flight \
         within the deadline, close the pool last"
    )
}
