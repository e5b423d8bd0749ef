//! One grading run of `grade watch`, as a child process that can be cancelled cleanly.
//!
//! Watch re-executes the grade binary itself (`grade <exercise> --color …`) rather than
//! grading in-process. A child process is the unit the operating system knows how to stop:
//! it runs in a process group of its own, and cancelling it is SIGTERM to that group. The
//! child's own handler then kills every process group *it* started (cargo, the checks) and
//! exits; if it has not exited after [`GRACE`], SIGKILL follows. Nothing of a cancelled run
//! survives it, and the watcher itself never blocks on a grading.
//!
//! The child's output is read to the end on threads of its own, so a huge report (or a
//! child that prints without end) can never stall it or the watcher: stdout is kept up to
//! [`KEEP_BYTES`] (a report is far smaller; check output in it is already bounded) and
//! stderr is forwarded line by line as progress, keeping only its last lines.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Sender};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::sandbox;

/// How long a cancelled grading may take to stop its own processes before SIGKILL.
pub const GRACE: Duration = Duration::from_secs(2);

/// How much of the child's stdout is kept.
pub const KEEP_BYTES: usize = 8 << 20;

/// Lines of stderr kept for when the child fails without a report.
const STDERR_LINES: usize = 40;

/// What a grading child reports to the watcher.
#[derive(Debug)]
pub enum ChildEvent {
    /// A progress line from the child's stderr ("building retry…", "running 15 checks…").
    Progress {
        /// Which grading it comes from.
        generation: u64,
        /// The line.
        line: String,
    },
    /// The child exited.
    Finished {
        /// Which grading it was.
        generation: u64,
        /// What it left.
        result: Finished,
    },
}

/// A finished grading child.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Its exit code (`None` when a signal ended it).
    pub code: Option<i32>,
    /// Its stdout: the report.
    pub stdout: String,
    /// The last lines of its stderr.
    pub stderr_tail: String,
    /// From spawn to exit.
    pub duration: Duration,
}

/// A running grading child.
#[derive(Debug)]
pub struct Grading {
    /// Increases with every grading; events of older ones are stale.
    pub generation: u64,
    pgid: i32,
    terminated_at: Option<Instant>,
    killed: bool,
}

impl Grading {
    /// Spawns `command` in its own process group; its events go to `to` through `wrap`.
    pub fn spawn<T: Send + 'static>(
        mut command: Command,
        generation: u64,
        to: Sender<T>,
        wrap: impl Fn(ChildEvent) -> T + Send + Sync + Clone + 'static,
    ) -> std::io::Result<Self> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = sandbox::spawn_in_group(&mut command)?;
        let pgid = i32::try_from(child.id()).expect("pids fit in i32");
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");

        let (stdout_tx, stdout_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut buffer = [0u8; 64 * 1024];
            let mut dropped = 0usize;
            loop {
                match stdout.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let room = KEEP_BYTES.saturating_sub(kept.len()).min(n);
                        kept.extend_from_slice(&buffer[..room]);
                        dropped += n - room;
                    }
                }
            }
            let mut text = String::from_utf8_lossy(&kept).into_owned();
            if dropped > 0 {
                text.push_str(&format!(
                    "\n[… {dropped} more bytes of output not shown …]\n"
                ));
            }
            let _ = stdout_tx.send(text);
        });

        let (stderr_tx, stderr_rx) = mpsc::channel();
        let progress_to = to.clone();
        let progress_wrap = wrap.clone();
        std::thread::spawn(move || {
            let mut tail = VecDeque::new();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = progress_to.send(progress_wrap(ChildEvent::Progress {
                    generation,
                    line: line.clone(),
                }));
                tail.push_back(line);
                if tail.len() > STDERR_LINES {
                    tail.pop_front();
                }
            }
            let _ = stderr_tx.send(Vec::from(tail).join("\n"));
        });

        std::thread::spawn(move || {
            let status = child.wait();
            let duration = started.elapsed();
            // The pipes close when the child exits, unless something it started inherited
            // them; a bounded wait keeps such a straggler from holding up the report.
            let stdout = stdout_rx
                .recv_timeout(Duration::from_secs(2))
                .unwrap_or_default();
            let stderr_tail = stderr_rx
                .recv_timeout(Duration::from_millis(500))
                .unwrap_or_default();
            let result = Finished {
                code: status.ok().and_then(|s| s.code()),
                stdout,
                stderr_tail,
                duration,
            };
            let _ = to.send(wrap(ChildEvent::Finished { generation, result }));
        });

        Ok(Self {
            generation,
            pgid,
            terminated_at: None,
            killed: false,
        })
    }

    /// Asks the grading to stop (SIGTERM to its group), once.
    pub fn cancel(&mut self, now: Instant) {
        if self.terminated_at.is_none() {
            self.terminated_at = Some(now);
            let _ = killpg(Pid::from_raw(self.pgid), Signal::SIGTERM);
        }
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.terminated_at.is_some()
    }

    /// When SIGKILL is due, for a cancelled grading not yet killed.
    pub fn kill_deadline(&self) -> Option<Instant> {
        self.terminated_at
            .filter(|_| !self.killed)
            .map(|at| at + GRACE)
    }

    /// Sends SIGKILL to the group once the grace period after SIGTERM has passed.
    pub fn enforce(&mut self, now: Instant) {
        if self.kill_deadline().is_some_and(|deadline| now >= deadline) {
            self.killed = true;
            let _ = killpg(Pid::from_raw(self.pgid), Signal::SIGKILL);
        }
    }
}
