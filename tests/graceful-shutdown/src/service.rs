//! The attempt's binary as a real child process, and what the checks observe of it.
//!
//! [`Service::start`] runs the binary the grader built (`grade_kit::env::attempt_bin`) with a
//! fresh key prefix and events file, reads the `listening on <address>` line from its stdout,
//! and waits until `/livez` answers 200. The check then drives traffic and jobs at it, sends
//! real signals ([`Service::signal`]) and waits for it to exit ([`Service::wait_exit`]).
//!
//! Whatever happens, the process does not outlive the check: dropping the [`Service`] kills it
//! (SIGKILL) and deletes its Redis keys and events file. Its stderr is kept, and
//! [`Service::explain`] appends the last lines to a failure: a panic message or the service's
//! own log often says more than the symptom.

use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use grade_kit::env::scaled;
use grade_kit::{CheckResult, Failure, fail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::events::{self, Event};
use crate::http::{self, HttpError, Response};
use crate::queue::Queue;

/// The signal every check but `signals.sigterm_drains` stops the service with.
///
/// The README pins that SIGTERM and SIGINT start the same drain. Stopping with SIGINT here and
/// with SIGTERM in one check of its own makes each failure name one cause: a service that only
/// awaits `tokio::signal::ctrl_c()` (the classic mistake, fine on a laptop, fatal in a pod)
/// fails exactly `signals.sigterm_drains`, which says why, instead of every check at once.
pub const STOP: Signal = Signal::SIGINT;

/// How long the service may take to print its address and answer `/livez`.
const STARTUP: Duration = Duration::from_secs(10);
/// How long the check waits for work it started to reach the service.
const SETTLE: Duration = Duration::from_secs(5);
/// How much of the service's stderr a failure shows.
const LOG_LINES: usize = 12;

/// Numbers the services one check starts, so that several can run at once (a model check runs
/// its scenarios side by side) without sharing Redis keys or an events file.
static STARTED: AtomicUsize = AtomicUsize::new(0);

/// How to run the service.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// `--workers`.
    pub workers: usize,
    /// `--drain-deadline-ms`, already scaled by the caller where it matters.
    pub deadline: Duration,
}

/// A running service, killed when dropped.
pub struct Service {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its Redis queue.
    pub queue: Queue,
    child: Child,
    pid: Pid,
    events: PathBuf,
    stderr: Arc<Mutex<String>>,
    exit: Option<(ExitStatus, Instant)>,
}

impl Service {
    /// Starts the binary and waits until it serves.
    pub async fn start(options: Options) -> Result<Self, Failure> {
        let binary = grade_kit::env::attempt_bin("graceful-shutdown")?;
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        // Under the check's own prefix, so the grader's cleanup still covers it.
        let prefix = format!("{}s{n}:", grade_kit::services::key_prefix());
        let redis_url = grade_kit::services::redis_url();
        let mut queue = Queue::connect(&redis_url, &prefix).await?;
        queue.clear().await?;
        let events = grade_kit::env::scratch_dir().join(format!(
            "graceful-shutdown-{}-{n}-pool.jsonl",
            std::process::id()
        ));
        let mut child = Command::new(&binary)
            .args([
                "--port",
                "0",
                "--redis-url",
                &redis_url,
                "--key-prefix",
                &prefix,
            ])
            .args(["--workers", &options.workers.to_string()])
            .args([
                "--drain-deadline-ms",
                &options.deadline.as_millis().to_string(),
            ])
            .arg("--pool-events")
            .arg(&events)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| Failure::new(format!("cannot start {}: {error}", binary.display())))?;
        let pid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw)
            .ok_or_else(|| Failure::new("the service exited as soon as it started"))?;

        // Both pipes are drained for the whole life of the process: a service whose output
        // nobody reads would block on a full pipe (or die of EPIPE) at the worst moment.
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
        let log = Arc::clone(&stderr);
        tokio::spawn(async move {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stderr_pipe.read(&mut chunk).await {
                let text = String::from_utf8_lossy(&chunk[..n]);
                log.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push_str(&text);
            }
        });
        let (address_tx, address_rx) = tokio::sync::oneshot::channel();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        tokio::spawn(async move {
            let mut address_tx = Some(address_tx);
            while let Ok(Some(line)) = stdout.next_line().await {
                if let Some(address) = line.trim().strip_prefix("listening on ")
                    && let Some(tx) = address_tx.take()
                {
                    let _ = tx.send(address.to_owned());
                }
            }
        });

        let mut service = Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            queue,
            child,
            pid,
            events,
            stderr,
            exit: None,
        };
        let result = service.until_serving(address_rx).await;
        service.explain(result)?;
        Ok(service)
    }

    async fn until_serving(
        &mut self,
        address: tokio::sync::oneshot::Receiver<String>,
    ) -> CheckResult {
        let limit = scaled(STARTUP);
        let started = Instant::now();
        let address = match tokio::time::timeout(limit, address).await {
            Ok(Ok(address)) => address,
            // Stdout closed without the line: the process is exiting, say how.
            Ok(Err(_)) => {
                let status = tokio::time::timeout(limit, self.child.wait()).await;
                fail!(
                    "the service {} before printing `listening on <address>`",
                    describe(status.ok().and_then(Result::ok))
                );
            }
            Err(_) => fail!(
                hint = "keep main.rs printing `listening on <address>` once it is ready",
                "the service did not print `listening on <address>` within {limit:?}"
            ),
        };
        self.addr = address.parse().map_err(|_| {
            Failure::new(format!("`listening on {address}`: not a socket address"))
                .with_hint("print the address the listener is bound to, e.g. 127.0.0.1:41234")
        })?;
        loop {
            let last = match http::get(self.addr, "/livez", limit).await {
                Ok(response) if response.status == 200 => return Ok(()),
                Ok(response) => response.summary(),
                Err(error) => error.to_string(),
            };
            if let Ok(Some(status)) = self.child.try_wait() {
                fail!("the service {} while starting", describe(Some(status)));
            }
            if started.elapsed() > limit {
                fail!(
                    hint = "GET /livez must answer 200 as soon as the service serves",
                    "GET /livez did not answer 200 within {limit:?} of starting (last: {last})"
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: Signal) -> CheckResult {
        kill(self.pid, signal)
            .map_err(|error| Failure::new(format!("cannot send {signal} to the service: {error}")))
    }

    /// Waits until the process exits or `until` passes; the exit status and when it came.
    pub async fn wait_exit(&mut self, until: Instant) -> Option<(ExitStatus, Instant)> {
        if self.exit.is_none()
            && let Ok(Ok(status)) = tokio::time::timeout_at(until, self.child.wait()).await
        {
            self.exit = Some((status, Instant::now()));
        }
        self.exit
    }

    /// Sends `GET path` on a connection of its own in the background.
    pub fn spawn_get(&self, path: &str) -> JoinHandle<Result<Response, HttpError>> {
        let (addr, path) = (self.addr, path.to_owned());
        tokio::spawn(async move { http::get(addr, &path, scaled(Duration::from_secs(10))).await })
    }

    /// Keeps the service busy: enqueues `job` and starts `GET /slow?ms=<ms>` (left to run in
    /// the background), and waits until both hold a pool connection. A drain then lasts about
    /// `ms`, whether the attempt waits for its requests, its jobs, or (correctly) both.
    ///
    /// Returns when the work started: it cannot end before that instant plus `ms`.
    pub async fn keep_busy(&mut self, job: &str, ms: u64) -> Result<Instant, Failure> {
        let started = Instant::now();
        self.queue.push(&[job]).await?;
        drop(self.spawn_get(&format!("/slow?ms={ms}")));
        self.wait_in_use(2, &format!("GET /slow?ms={ms} and the job {job:?}"))
            .await?;
        Ok(started)
    }

    /// The pool's events so far.
    pub fn events(&self) -> Vec<Event> {
        events::read(&self.events)
    }

    /// Waits until at least `n` pool connections are on loan at once: the sign that the
    /// requests and jobs the check started have reached the service and are working.
    pub async fn wait_in_use(&self, n: usize, what: &str) -> CheckResult {
        let limit = scaled(SETTLE);
        let started = Instant::now();
        loop {
            let in_use = events::in_use(&self.events());
            if in_use >= n {
                return Ok(());
            }
            if started.elapsed() > limit {
                fail!(
                    hint = "a /slow request holds one pool connection while it works, and so \
                            does a job: acquire it when the work starts, release it when it ends",
                    "waited {limit:?} for {what} to be in flight, holding {n} pool connections; \
                     saw {in_use}"
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Adds the last lines of the service's stderr to a failure.
    pub fn explain<T>(&self, result: Result<T, Failure>) -> Result<T, Failure> {
        result.map_err(|mut failure| {
            let log = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
            let lines: Vec<&str> = log.lines().filter(|line| !line.trim().is_empty()).collect();
            if !lines.is_empty() {
                let tail = lines[lines.len().saturating_sub(LOG_LINES)..].join("\n  ");
                failure.message = format!(
                    "{}\n\nthe service's stderr, last lines:\n  {tail}",
                    failure.message
                );
            }
            failure
        })
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        self.queue.delete_keys_blocking();
        let _ = std::fs::remove_file(&self.events);
    }
}

/// How a process ended, for messages: "exited with status 1", "was killed by SIGTERM".
pub fn describe(status: Option<ExitStatus>) -> String {
    match status {
        None => "ended (status unknown)".to_owned(),
        Some(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(signal)) => match Signal::try_from(signal) {
                Ok(signal) => format!("was killed by {signal}"),
                Err(_) => format!("was killed by signal {signal}"),
            },
            (None, None) => format!("ended ({status})"),
        },
    }
}

/// Milliseconds, for messages.
pub fn ms(duration: Duration) -> String {
    format!("{} ms", duration.as_millis())
}
