//! How one check ended: a closed set of outcomes that every reporter matches exhaustively.
//!
//! The classification of a process that died without a verdict lives here too: the exit
//! status and the tail of stderr tell an abort from a stack overflow from an allocation
//! failure.

use std::time::Duration;

use grade_protocol::{Failure, Verdict};

use crate::sandbox::{Ended, Finished};

/// The end of one check.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckOutcome {
    /// Every assertion held.
    Pass,
    /// An assertion failed.
    Fail(Failure),
    /// The check ran past its time limit and was killed.
    Timeout {
        /// The (scaled) limit it exceeded.
        limit: Duration,
    },
    /// The check process died: a panic in the attempt, an abort, a signal, a stack overflow.
    Crashed(Crash),
    /// The check's processes used more resident memory than the cap.
    OutOfMemory {
        /// The cap, in bytes.
        limit: u64,
        /// The largest resident size seen, in bytes (0 when the allocator failed first).
        peak: u64,
    },
}

/// A crash, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crash {
    /// What kind of crash.
    pub kind: CrashKind,
    /// What happened, for the report.
    pub message: String,
}

/// The kinds of crash the report distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashKind {
    /// A panic in the attempt (including `todo!()`).
    Panic,
    /// `std::process::abort` or another SIGABRT.
    Abort,
    /// The stack overflowed (unbounded recursion).
    StackOverflow,
    /// Killed by another signal (SIGSEGV, SIGKILL from elsewhere, …).
    Signal,
    /// The process exited before reporting (`std::process::exit` in the attempt).
    Exit,
}

impl CheckOutcome {
    /// The stable machine name used in JSON, JUnit and the state file.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail(_) => "fail",
            Self::Timeout { .. } => "timeout",
            Self::Crashed(_) => "crashed",
            Self::OutOfMemory { .. } => "out_of_memory",
        }
    }

    /// Whether the check passed.
    pub fn is_pass(&self) -> bool {
        matches!(self, Self::Pass)
    }

    /// One line saying what happened, for the report.
    pub fn summary(&self) -> String {
        match self {
            Self::Pass => "passed".to_owned(),
            Self::Fail(failure) => failure.message.clone(),
            Self::Timeout { limit } => {
                format!(
                    "timed out after {} (possible deadlock or infinite loop)",
                    human_duration(*limit)
                )
            }
            Self::Crashed(crash) => crash.message.clone(),
            Self::OutOfMemory { limit, peak } if *peak > *limit => format!(
                "out of memory: resident memory passed the {} cap (unbounded buffering or a leak?)",
                human_bytes(*limit)
            ),
            Self::OutOfMemory { limit, .. } => format!(
                "out of memory: an allocation failed under the {} cap (unbounded buffering or a leak?)",
                human_bytes(*limit)
            ),
        }
    }

    /// Classifies a finished check process. `verdict` is what it wrote, if anything.
    pub fn classify(
        finished: &Finished,
        verdict: Option<Verdict>,
        limit: Duration,
        memory: u64,
    ) -> Self {
        let status = match finished.ended {
            Ended::TimedOut => return Self::Timeout { limit },
            Ended::MemoryExceeded => {
                return Self::OutOfMemory {
                    limit: memory,
                    peak: finished.peak_memory,
                };
            }
            // The runner abandons an interrupted run before reporting it; this only keeps the
            // classification total.
            Ended::Interrupted => {
                return Self::Crashed(Crash {
                    kind: CrashKind::Signal,
                    message: "stopped: grading was interrupted".to_owned(),
                });
            }
            Ended::Exited(status) => status,
        };
        match verdict {
            Some(Verdict::Pass) => return Self::Pass,
            Some(Verdict::Fail(failure)) => return Self::Fail(failure),
            Some(Verdict::Panicked { message, location }) => {
                let at = location.map(|l| format!(" at {l}")).unwrap_or_default();
                return Self::Crashed(Crash {
                    kind: CrashKind::Panic,
                    message: format!("panicked{at}: {message}"),
                });
            }
            None => {}
        }
        let stderr = &finished.stderr;
        if stderr.contains("memory allocation of") {
            return Self::OutOfMemory {
                limit: memory,
                peak: finished.peak_memory,
            };
        }
        use std::os::unix::process::ExitStatusExt;
        let crash = match status.signal() {
            _ if stderr.contains("has overflowed its stack") => Crash {
                kind: CrashKind::StackOverflow,
                message: "crashed: stack overflow (unbounded recursion?)".to_owned(),
            },
            Some(signal) if signal == nix::sys::signal::Signal::SIGABRT as i32 => Crash {
                kind: CrashKind::Abort,
                message: "crashed: the process aborted (SIGABRT)".to_owned(),
            },
            Some(signal) => Crash {
                kind: CrashKind::Signal,
                message: format!("crashed: killed by signal {}", signal_name(signal)),
            },
            None => Crash {
                kind: CrashKind::Exit,
                message: format!(
                    "crashed: the process exited with code {} before the check finished (does the attempt call std::process::exit?)",
                    status.code().unwrap_or(-1)
                ),
            },
        };
        Self::Crashed(crash)
    }
}

fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map_or_else(|_| signal.to_string(), |s| s.as_str().to_owned())
}

/// `1.5s`, `250ms`, `2m 5s`.
pub fn human_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        format!("{millis}ms")
    } else if millis < 60_000 {
        let secs = duration.as_secs_f64();
        if (secs - secs.round()).abs() < 0.05 {
            format!("{}s", secs.round())
        } else {
            format!("{secs:.1}s")
        }
    } else {
        format!("{}m {}s", millis / 60_000, (millis % 60_000) / 1000)
    }
}

/// `87.3 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if (value - value.round()).abs() < 0.05 {
        format!("{} {}", value.round(), UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::Captured;
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    fn finished(ended: Ended) -> Finished {
        Finished {
            ended,
            duration: Duration::from_millis(5),
            peak_memory: 0,
            stdout: Captured::default(),
            stderr: Captured::default(),
        }
    }

    const LIMIT: Duration = Duration::from_secs(5);

    #[test]
    fn a_verdict_decides_when_the_process_exited() {
        let done = finished(Ended::Exited(ExitStatus::from_raw(0)));
        assert_eq!(
            CheckOutcome::classify(&done, Some(Verdict::Pass), LIMIT, 1),
            CheckOutcome::Pass
        );
        let panicked = Verdict::Panicked {
            message: "not yet implemented".into(),
            location: Some("src/lib.rs:3:5".into()),
        };
        let outcome = CheckOutcome::classify(&done, Some(panicked), LIMIT, 1);
        assert_eq!(
            outcome.summary(),
            "panicked at src/lib.rs:3:5: not yet implemented"
        );
        assert_eq!(outcome.as_str(), "crashed");
    }

    #[test]
    fn limits_win_over_anything_written() {
        let outcome =
            CheckOutcome::classify(&finished(Ended::TimedOut), Some(Verdict::Pass), LIMIT, 1);
        assert_eq!(
            outcome.summary(),
            "timed out after 5s (possible deadlock or infinite loop)"
        );
        let outcome =
            CheckOutcome::classify(&finished(Ended::MemoryExceeded), None, LIMIT, 1 << 30);
        assert_eq!(outcome.as_str(), "out_of_memory");
    }

    #[test]
    fn deaths_without_a_verdict_are_classified_by_signal() {
        // Raw wait statuses: the low 7 bits are the terminating signal.
        let aborted = finished(Ended::Exited(ExitStatus::from_raw(6)));
        assert_eq!(
            CheckOutcome::classify(&aborted, None, LIMIT, 1).summary(),
            "crashed: the process aborted (SIGABRT)"
        );
        let segv = finished(Ended::Exited(ExitStatus::from_raw(11)));
        assert_eq!(
            CheckOutcome::classify(&segv, None, LIMIT, 1).summary(),
            "crashed: killed by signal SIGSEGV"
        );
        let exited = finished(Ended::Exited(ExitStatus::from_raw(7 << 8)));
        assert!(
            CheckOutcome::classify(&exited, None, LIMIT, 1)
                .summary()
                .contains("exited with code 7")
        );
    }

    #[test]
    fn formats_durations_and_sizes() {
        assert_eq!(human_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(human_duration(Duration::from_secs(5)), "5s");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(human_duration(Duration::from_secs(125)), "2m 5s");
        assert_eq!(human_bytes(1 << 30), "1 GiB");
        assert_eq!(human_bytes(100 << 20), "100 MiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
