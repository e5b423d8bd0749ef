//! An HTTP service with queue workers that shuts down the way Kubernetes expects.
//!
//! When Kubernetes stops a pod it does two things at the same time: it sends the container
//! SIGTERM, and it starts removing the pod from the Service's endpoints. The second takes a
//! while to reach every kube-proxy and ingress, so for a moment traffic keeps arriving. A
//! service that exits (or even stops accepting) on the signal turns that moment into errors;
//! one that never exits is killed with SIGKILL after `terminationGracePeriodSeconds`, taking its
//! in-flight work with it. The drain in between is a short, ordered sequence:
//!
//! 1. **Flip readiness first.** `/healthz` answers 503 from the first signal on, so the
//!    kubelet takes the pod out of rotation; `/livez` keeps answering 200, or the kubelet would
//!    restart the container mid-drain.
//! 2. **Stop taking new work, keep the doors open.** New requests for work get 503; every
//!    response carries `Connection: close` so keep-alive clients reconnect elsewhere; queue
//!    workers take no new job. The listener stays open, though: the probes must still get in.
//! 3. **Finish what is in flight**: running requests get their full response, workers finish
//!    the job they hold.
//! 4. **Then close, in dependency order**: the listener and the idle connections, and last the
//!    connection pool that requests and jobs were using.
//! 5. **Within a deadline.** If the work is not done when the drain deadline (counted from the
//!    first signal) passes, abandon it and exit non-zero: a stuck request must not turn a
//!    graceful shutdown into a SIGKILL.
//!
//! Later signals change nothing: the drain has one start and one deadline.
//!
//! One [`CancellationToken`], `draining`, carries step 1 and 2 to everything that must react:
//! the health handler, the work handler and the workers read it. Two [`TaskTracker`]s count
//! what step 3 waits for.
//!
//! # Layout
//! - [`pool`]: the recording connection pool (provided by the exercise).
//! - `http`: the router, its handlers, and the middleware that counts requests and marks
//!   responses `Connection: close` while draining.
//! - `worker`: one queue worker, taking jobs with the reliable-queue pattern (`BLMOVE`).
//! - this module: configuration, the Redis keys, and [`run`], which sequences the drain.
//!
//! [`CancellationToken`]: tokio_util::sync::CancellationToken
//! [`TaskTracker`]: tokio_util::task::TaskTracker

mod http;
pub mod pool;
mod worker;

use std::fmt;
use std::future::IntoFuture;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

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
/// from `signals`, then drains (see the module docs) and closes `pool`.
///
/// Returns once the drain is over: [`Exit::Drained`] if everything in flight finished,
/// [`Exit::DeadlineExceeded`] if the deadline cut it short. A closed `signals` channel counts as
/// a signal: nobody is left who could ask us to stop, and draining is the safe reading.
pub async fn run(
    listener: TcpListener,
    config: Config,
    pool: Pool,
    mut signals: UnboundedReceiver<Signal>,
) -> Result<Exit, Error> {
    let client = redis::Client::open(config.redis_url.as_str())?;
    let keys = Keys::new(&config.key_prefix);
    let draining = CancellationToken::new();

    let workers = TaskTracker::new();
    for id in 0..config.workers {
        let worker = worker::Worker::connect(&client, id, &keys, &pool, &draining).await?;
        workers.spawn(worker.run());
    }
    workers.close();

    let requests = TaskTracker::new();
    let app = http::router(http::AppState {
        draining: draining.clone(),
        requests: requests.clone(),
        pool: pool.clone(),
    });
    // The server stops accepting only when `stop_serving` fires, at the *end* of the drain:
    // axum's graceful shutdown closes the listener at once, which would leave the kubelet's
    // probes knocking on a closed port while we are still finishing work.
    let stop_serving = CancellationToken::new();
    let server = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(stop_serving.clone().cancelled_owned())
            .into_future(),
    );

    let first = signals.recv().await;
    let deadline = Instant::now() + config.drain_deadline;
    match first {
        Some(signal) => eprintln!(
            "{signal} received: draining for at most {:?}",
            config.drain_deadline
        ),
        None => eprintln!("signal channel closed: draining"),
    }
    // Steps 1 and 2 at once: readiness flips, new work is refused, workers take no new job.
    draining.cancel();

    let mut drained = std::pin::pin!(async {
        // Step 3: wait for the requests and jobs in flight.
        requests.close();
        tokio::join!(requests.wait(), workers.wait());
        // Step 4: now stop accepting, and let hyper close the idle keep-alive connections.
        stop_serving.cancel();
        let _ = server.await;
    });
    let exit = loop {
        tokio::select! {
            () = &mut drained => break Exit::Drained,
            // Step 5. Breaking drops `drained`, and with it our wait for the stuck work; main
            // returns and the runtime cancels whatever is still running.
            () = tokio::time::sleep_until(deadline) => break Exit::DeadlineExceeded,
            // A second SIGTERM (an impatient operator, a script that signals twice) must not
            // restart anything: the deadline stays where the first signal put it.
            Some(signal) = signals.recv() => {
                eprintln!("{signal} received while draining: ignored, the deadline stands");
            }
        }
    };
    if exit == Exit::DeadlineExceeded {
        eprintln!("drain deadline passed: abandoning the work still in flight");
    }
    // Last, because everything above may use it: closing it earlier would fail the requests
    // and jobs we just waited for.
    pool.close();
    Ok(exit)
}
