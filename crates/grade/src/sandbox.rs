//! Running one untrusted process: its own process group, a wall-clock timeout, a resident
//! memory cap, bounded output capture, and nothing left behind.
//!
//! The check process is the leader of a new process group, so anything candidate code spawns
//! (a `sleep 1000`, a helper server) is in the same group and dies with it: when the check ends
//! for any reason the whole group gets SIGKILL. Resident memory is sampled from outside (the
//! sum over the group, from `/proc` on Linux, `ps` elsewhere) and the group is killed when it
//! passes the cap; the suite also caps its own address space as a backstop against allocation
//! bursts faster than sampling (see `grade-kit`).
//!
//! Output goes to pipes drained by threads that keep only the first and last bytes, so a check
//! printing gigabytes neither blocks nor fills memory or disk.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::interrupt;

/// How many bytes of each stream are kept: this much of the start and this much of the end.
pub const KEEP_BYTES: usize = 2048;

/// Limits for one process.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock limit.
    pub timeout: Duration,
    /// Resident memory cap for the whole process group, in bytes.
    pub memory: u64,
}

/// How the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It exited (normally or by a signal it received from elsewhere).
    Exited(ExitStatus),
    /// It ran past the timeout and was killed.
    TimedOut,
    /// Its group's resident memory passed the cap and it was killed.
    MemoryExceeded,
    /// The grader was interrupted and killed it.
    Interrupted,
}

/// Everything observed about a finished process.
#[derive(Debug)]
pub struct Finished {
    /// How it ended.
    pub ended: Ended,
    /// Wall-clock time from spawn to end.
    pub duration: Duration,
    /// The largest group-resident memory sampled, in bytes.
    pub peak_memory: u64,
    /// Captured stdout.
    pub stdout: Captured,
    /// Captured stderr.
    pub stderr: Captured,
}

/// A bounded capture of one output stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    head: Vec<u8>,
    tail: Vec<u8>,
    total: u64,
}

impl Captured {
    fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        if self.head.len() < KEEP_BYTES {
            let take = bytes.len().min(KEEP_BYTES - self.head.len());
            self.head.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        self.tail.extend_from_slice(bytes);
        if self.tail.len() > 2 * KEEP_BYTES {
            self.tail.drain(..self.tail.len() - KEEP_BYTES);
        }
    }

    /// Total bytes the stream produced.
    #[cfg(test)]
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The kept text, with a visible note where the middle was dropped.
    pub fn text(&self) -> String {
        let tail_start = self.tail.len().saturating_sub(KEEP_BYTES);
        let tail = &self.tail[tail_start..];
        let kept = (self.head.len() + tail.len()) as u64;
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if kept < self.total {
            text.push_str(&format!("\n[… {} bytes truncated …]\n", self.total - kept));
        }
        text.push_str(&String::from_utf8_lossy(tail));
        text
    }

    /// Whether the kept text contains `needle`.
    pub fn contains(&self, needle: &str) -> bool {
        self.text().contains(needle)
    }
}

/// Spawns `command` as the leader of a new process group.
pub fn spawn_in_group(command: &mut Command) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    command.process_group(0).spawn()
}

/// A registered process group: killed on interrupt while registered, and killed (with
/// everything left in it) when dropped.
pub struct Registration {
    pgid: i32,
}

impl Registration {
    /// Registers the group led by `pid`.
    pub fn new(pid: u32) -> Self {
        let pgid = i32::try_from(pid).expect("pids fit in i32");
        interrupt::register(pgid);
        Self { pgid }
    }

    fn kill(&self) {
        let _ = killpg(Pid::from_raw(self.pgid), Signal::SIGKILL);
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.kill();
        interrupt::unregister(self.pgid);
    }
}

/// Runs `command` to completion under `limits`, capturing its output.
pub fn run(command: &mut Command, limits: Limits) -> std::io::Result<Finished> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = spawn_in_group(command)?;
    let group = Registration::new(child.id());
    let stdout = drain(child.stdout.take().expect("stdout is piped"));
    let stderr = drain(child.stderr.take().expect("stderr is piped"));

    let mut peak_memory = 0;
    let mut next_sample = started;
    let mut pause = Duration::from_millis(2);
    let ended = loop {
        if let Some(status) = child.try_wait()? {
            break if interrupt::requested() {
                Ended::Interrupted
            } else {
                Ended::Exited(status)
            };
        }
        let now = Instant::now();
        if interrupt::requested() {
            break Ended::Interrupted;
        }
        if now - started >= limits.timeout {
            break Ended::TimedOut;
        }
        if now >= next_sample {
            peak_memory = peak_memory.max(group_resident_bytes(group.pgid));
            if peak_memory > limits.memory {
                break Ended::MemoryExceeded;
            }
            next_sample = now + SAMPLE_EVERY;
        }
        std::thread::sleep(pause);
        // Most checks finish in milliseconds: poll fast at first, then back off.
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    let duration = started.elapsed();
    // Whatever happened, nothing in the group survives the check.
    group.kill();
    let _ = child.wait();
    drop(group);
    Ok(Finished {
        ended,
        duration,
        peak_memory,
        stdout: collect(stdout),
        stderr: collect(stderr),
    })
}

/// How often resident memory is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(25);

type Drain = (Arc<Mutex<Captured>>, JoinHandle<()>);

fn drain(mut stream: impl Read + Send + 'static) -> Drain {
    let captured = Arc::new(Mutex::new(Captured::default()));
    let sink = Arc::clone(&captured);
    let handle = std::thread::spawn(move || {
        let mut buffer = [0u8; 8192];
        while let Ok(n) = stream.read(&mut buffer) {
            if n == 0 {
                break;
            }
            if let Ok(mut captured) = sink.lock() {
                captured.push(&buffer[..n]);
            }
        }
    });
    (captured, handle)
}

/// Collects a drained stream. A process that escaped the group (`setsid`) may hold the pipe
/// open forever; the reader is then abandoned after a short grace period rather than waited on.
fn collect((captured, handle): Drain) -> Captured {
    let deadline = Instant::now() + Duration::from_millis(500);
    while !handle.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    captured.lock().map(|c| c.clone()).unwrap_or_default()
}

/// Resident memory of every process in group `pgid`, in bytes.
#[cfg(target_os = "linux")]
pub fn group_resident_bytes(pgid: i32) -> u64 {
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096) as u64;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
        .filter_map(|stat| parse_stat(&stat))
        .filter(|&(group, _)| group == pgid)
        .map(|(_, rss_pages)| rss_pages * page)
        .sum()
}

/// `(pgrp, rss in pages)` from a `/proc/<pid>/stat` line. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted from the last `)`.
#[cfg(target_os = "linux")]
fn parse_stat(stat: &str) -> Option<(i32, u64)> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: state(3) ppid(4) pgrp(5) … rss(24); index = field number - 3.
    Some((fields.get(2)?.parse().ok()?, fields.get(21)?.parse().ok()?))
}

/// Resident memory of every process in group `pgid`, in bytes (via `ps`).
#[cfg(not(target_os = "linux"))]
pub fn group_resident_bytes(pgid: i32) -> u64 {
    let Ok(output) = Command::new("ps").args(["-A", "-o", "pgid=,rss="]).output() else {
        return 0;
    };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            Some((
                fields.next()?.parse::<i32>().ok()?,
                fields.next()?.parse::<u64>().ok()?,
            ))
        })
        .filter(|&(group, _)| group == pgid)
        .map(|(_, kib)| kib * 1024)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, limits: Limits) -> Finished {
        run(Command::new("sh").args(["-c", script]), limits).unwrap()
    }

    const GENEROUS: Limits = Limits {
        timeout: Duration::from_secs(20),
        memory: 1 << 30,
    };

    #[test]
    fn captures_output_and_exit_status() {
        let finished = sh("echo out; echo err >&2; exit 3", GENEROUS);
        assert!(matches!(finished.ended, Ended::Exited(status) if status.code() == Some(3)));
        assert_eq!(finished.stdout.text(), "out\n");
        assert_eq!(finished.stderr.text(), "err\n");
    }

    #[test]
    fn kills_the_whole_group_on_timeout() {
        let marker = tempfile::NamedTempFile::new().unwrap();
        let script = format!("sleep 30 & echo $! > {}; wait", marker.path().display());
        let limits = Limits {
            timeout: Duration::from_millis(300),
            ..GENEROUS
        };
        let finished = sh(&script, limits);
        assert_eq!(finished.ended, Ended::TimedOut);
        assert!(finished.duration < Duration::from_secs(5));
        let child: i32 = std::fs::read_to_string(marker.path())
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The background `sleep` was in the group: it must be gone (or a zombie being reaped).
        let alive = std::fs::read_to_string(format!("/proc/{child}/stat"))
            .map(|stat| !stat.contains(") Z"))
            .unwrap_or(false);
        assert!(!alive, "the child {child} outlived its check");
    }

    #[test]
    fn kills_a_group_over_its_memory_cap() {
        // `tail /dev/zero` buffers an endless line: resident memory grows until killed.
        let limits = Limits {
            timeout: Duration::from_secs(20),
            memory: 64 << 20,
        };
        let finished = sh("tail /dev/zero", limits);
        assert_eq!(finished.ended, Ended::MemoryExceeded);
        assert!(finished.peak_memory > 64 << 20);
    }

    #[test]
    fn bounds_captured_output_with_a_visible_note() {
        let finished = sh("yes hello | head -c 1000000", GENEROUS);
        assert_eq!(finished.stdout.total(), 1_000_000);
        let text = finished.stdout.text();
        assert!(text.len() < 3 * KEEP_BYTES, "{} bytes kept", text.len());
        assert!(text.contains("bytes truncated"), "{text}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn parses_stat_lines_with_awkward_names() {
        let stat = "42 (a) b (c)) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 1 100 250 18446744073709551615";
        assert_eq!(parse_stat(stat), Some((42, 250)));
    }
}
