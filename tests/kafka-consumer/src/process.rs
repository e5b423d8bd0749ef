//! The attempt's binary as a real consumer process.
//!
//! [`Consumer::start`] runs the binary the grader built with the check's topics, group and key
//! prefix, and waits for its `metrics on <address>` line. The check then lets it work, sends it
//! real signals, kills it with SIGKILL, and waits for it to exit. Whatever happens, a process
//! does not outlive its check: dropping the [`Consumer`] kills it.
//!
//! Each process records the processing hook's calls in a file of its own (`GRADE_HOOK_EVENTS`),
//! so a check can tell which process attempted which event, and when.

use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use grade_kit::env::scaled;
use grade_kit::{CheckResult, Failure};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// How long a process may take to print `metrics on <address>`.
const STARTUP: Duration = Duration::from_secs(15);
/// How much of a process's stderr a failure shows.
const LOG_LINES: usize = 10;

static STARTED: AtomicUsize = AtomicUsize::new(0);

/// The command line of one consumer process.
#[derive(Debug, Clone)]
pub struct Options {
    pub brokers: String,
    pub topic: String,
    pub group: String,
    pub redis_url: String,
    pub key_prefix: String,
    pub dead_letter_topic: String,
    pub max_attempts: u32,
    pub retry_backoff: Duration,
    pub dedupe_ttl: Duration,
    pub metrics_interval: Duration,
    pub shutdown_deadline: Duration,
}

/// One attempt at processing an event, as the hook recorded it.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub at_us: u64,
    pub id: String,
    pub ok: bool,
}

/// A running consumer process, killed when dropped.
pub struct Consumer {
    /// A name for messages: "consumer A".
    pub name: String,
    /// Its metrics endpoint.
    pub metrics: SocketAddr,
    child: Child,
    pid: Pid,
    hook_events: PathBuf,
    stderr: Arc<Mutex<String>>,
    exit: Option<(ExitStatus, Instant)>,
}

impl Consumer {
    /// Starts a consumer process and waits until its metrics listener is bound.
    pub async fn start(name: &str, options: &Options) -> Result<Self, Failure> {
        let binary = grade_kit::env::attempt_bin("kafka-consumer")?;
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let hook_events = grade_kit::env::scratch_dir().join(format!(
            "kafka-consumer-{}-{n}-hook.jsonl",
            std::process::id()
        ));
        let mut child = Command::new(&binary)
            .args(["--brokers", &options.brokers])
            .args(["--topic", &options.topic])
            .args(["--group", &options.group])
            .args(["--redis-url", &options.redis_url])
            .args(["--key-prefix", &options.key_prefix])
            .args(["--dead-letter-topic", &options.dead_letter_topic])
            .args(["--metrics-addr", "127.0.0.1:0"])
            .args(["--max-attempts", &options.max_attempts.to_string()])
            .args([
                "--retry-backoff-ms",
                &options.retry_backoff.as_millis().to_string(),
            ])
            .args([
                "--dedupe-ttl-secs",
                &options.dedupe_ttl.as_secs().to_string(),
            ])
            .args([
                "--metrics-interval-ms",
                &options.metrics_interval.as_millis().to_string(),
            ])
            .args([
                "--shutdown-deadline-ms",
                &options.shutdown_deadline.as_millis().to_string(),
            ])
            .env("GRADE_HOOK_EVENTS", &hook_events)
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
            .ok_or_else(|| Failure::new(format!("{name} exited as soon as it started")))?;

        // Both pipes are drained for the whole life of the process, so it never blocks on a
        // full pipe.
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
        let log = Arc::clone(&stderr);
        tokio::spawn(async move {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stderr_pipe.read(&mut chunk).await {
                let text = String::from_utf8_lossy(&chunk[..n]);
                let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
                log.push_str(&text);
                // Keep the tail only: a chatty consumer must not grow the suite's memory.
                if log.len() > 64 * 1024 {
                    let cut = log.len() - 32 * 1024;
                    let cut = (cut..log.len())
                        .find(|&i| log.is_char_boundary(i))
                        .unwrap_or(0);
                    log.drain(..cut);
                }
            }
        });
        let (address_tx, address_rx) = tokio::sync::oneshot::channel();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        tokio::spawn(async move {
            let mut address_tx = Some(address_tx);
            while let Ok(Some(line)) = stdout.next_line().await {
                if let Some(address) = line.trim().strip_prefix("metrics on ")
                    && let Some(tx) = address_tx.take()
                {
                    let _ = tx.send(address.to_owned());
                }
            }
        });

        let mut consumer = Self {
            name: name.to_owned(),
            metrics: SocketAddr::from(([127, 0, 0, 1], 0)),
            child,
            pid,
            hook_events,
            stderr,
            exit: None,
        };
        let limit = scaled(STARTUP);
        let address = match tokio::time::timeout(limit, address_rx).await {
            Ok(Ok(address)) => address,
            Ok(Err(_)) => {
                let status = tokio::time::timeout(limit, consumer.child.wait()).await;
                let result = Err(Failure::new(format!(
                    "{name} {} before printing `metrics on <address>`",
                    describe(status.ok().and_then(Result::ok))
                )));
                return consumer.explain(result);
            }
            Err(_) => {
                return consumer.explain(Err(Failure::new(format!(
                    "{name} did not print `metrics on <address>` within {limit:?}"
                ))
                .with_hint("keep the provided main.rs: it prints that line")));
            }
        };
        consumer.metrics = address
            .parse()
            .map_err(|_| Failure::new(format!("`metrics on {address}`: not a socket address")))?;
        Ok(consumer)
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: Signal) -> CheckResult {
        kill(self.pid, signal).map_err(|error| {
            Failure::new(format!("cannot send {signal} to {}: {error}", self.name))
        })
    }

    /// The process id, for a proxy that kills it at a precise moment.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Kills the process with SIGKILL and reaps it.
    pub async fn kill(&mut self) {
        let _ = self.signal(Signal::SIGKILL);
        self.wait_exit(Instant::now() + Duration::from_secs(5))
            .await;
    }

    /// Waits until the process exits or `until` passes: its exit status and when it came.
    pub async fn wait_exit(&mut self, until: Instant) -> Option<(ExitStatus, Instant)> {
        if self.exit.is_none()
            && let Ok(Ok(status)) = tokio::time::timeout_at(until, self.child.wait()).await
        {
            self.exit = Some((status, Instant::now()));
        }
        self.exit
    }

    /// Whether the process has exited (without waiting).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none()
            && let Ok(Some(status)) = self.child.try_wait()
        {
            self.exit = Some((status, Instant::now()));
        }
        self.exit.map(|(status, _)| status)
    }

    /// Every call of the processing hook in this process so far.
    pub fn attempts(&self) -> Vec<Attempt> {
        let text = std::fs::read_to_string(&self.hook_events).unwrap_or_default();
        text.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|v| {
                Some(Attempt {
                    at_us: v.get("at_us")?.as_u64()?,
                    id: v.get("id")?.as_str()?.to_owned(),
                    ok: v.get("ok")?.as_bool()?,
                })
            })
            .collect()
    }

    /// Adds the last lines of the process's stderr to a failure.
    pub fn explain<T>(&self, result: Result<T, Failure>) -> Result<T, Failure> {
        result.map_err(|mut failure| {
            let log = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
            let lines: Vec<&str> = log.lines().filter(|line| !line.trim().is_empty()).collect();
            if !lines.is_empty() {
                let tail = lines[lines.len().saturating_sub(LOG_LINES)..].join("\n  ");
                failure.message = format!(
                    "{}\n\n{}'s stderr, last lines:\n  {tail}",
                    failure.message, self.name
                );
            }
            failure
        })
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_file(&self.hook_events);
    }
}

/// How a process ended, for messages: "exited with status 1", "was killed by SIGKILL".
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

/// Fails unless `consumer` is still running: a check that expects it to work says so early,
/// with its stderr, instead of waiting for events that will never come.
pub fn ensure_running(consumer: &mut Consumer) -> CheckResult {
    if let Some(status) = consumer.exited() {
        let result = Err(Failure::new(format!(
            "{} {} while it should be consuming",
            consumer.name,
            describe(Some(status))
        )));
        return consumer.explain(result);
    }
    Ok(())
}

/// Milliseconds, for messages.
pub fn ms(duration: Duration) -> String {
    format!("{} ms", duration.as_millis())
}
