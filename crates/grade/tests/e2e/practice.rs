//! The practice loop as a candidate meets it: `start` and the clock in later reports, `hint`,
//! `reset` with its backups, `solution`, `list` / `progress`, completions, and `watch` driven
//! in a pseudo-terminal.
//!
//! None of these tests touches this checkout's `exercises/` or `.grade/`: each works in a
//! temporary copy of what it needs (the retry exercise with its reference and suite, or the
//! metadata-only exercises of `tests/fixtures/practice/`), with `GRADE_ROOT` pointing at the
//! copy. Builds share this checkout's `target/grade` (`GRADE_TARGET_DIR`), so the registry
//! dependencies compile once. Time is pinned with `GRADE_NOW_UNIX` wherever a clock is read.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;

use crate::util::root;

/// A moment to pin "now" at: 2025-03-14 09:30:05 UTC.
const T0: u64 = 1_741_944_605;

/// A temporary grade checkout holding copies of some exercises.
struct Checkout {
    dir: tempfile::TempDir,
}

impl Checkout {
    /// The workspace skeleton and the given real exercises (exercise, reference, suite).
    fn with_exercises(slugs: &[&str]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("grade-practice-")
            .tempdir()
            .unwrap();
        for file in ["Cargo.toml", "Cargo.lock"] {
            std::fs::copy(root().join(file), dir.path().join(file)).unwrap();
        }
        for folder in ["crates/grade-kit", "crates/grade-protocol"] {
            copy_tree(&root().join(folder), &dir.path().join(folder));
        }
        for slug in slugs {
            for parent in ["exercises", "reference-solutions", "tests"] {
                let from = root().join(parent).join(slug);
                copy_tree(&from, &dir.path().join(parent).join(slug));
            }
        }
        Self { dir }
    }

    /// A checkout with only the metadata-only exercises of `tests/fixtures/practice`.
    fn with_fixture_exercises() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("grade-practice-")
            .tempdir()
            .unwrap();
        std::fs::write(dir.path().join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
        let fixtures = root().join("crates/grade/tests/fixtures/practice/exercises");
        copy_tree(&fixtures, &dir.path().join("exercises"));
        Self { dir }
    }

    /// Makes the copy a git repository with everything committed: the stub `reset` restores.
    fn commit_all(&self) {
        for args in [
            &["init", "--quiet"][..],
            &["add", "--all"],
            &[
                "-c",
                "user.name=grade tests",
                "-c",
                "user.email=tests@grade.invalid",
                "commit",
                "--quiet",
                "--message",
                "the stub",
            ],
        ] {
            let status = std::process::Command::new("git")
                .args(args)
                .current_dir(self.path())
                .status()
                .expect("git runs");
            assert!(status.success(), "git {args:?} failed");
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn attempt(&self, slug: &str) -> PathBuf {
        self.path().join("exercises").join(slug)
    }

    /// `grade` in this checkout, colours off, "now" pinned at `now`.
    fn grade_at(&self, now: u64) -> Command {
        let mut command = Command::cargo_bin("grade").expect("the grade binary is built");
        command
            .current_dir(self.path())
            .env("GRADE_ROOT", self.path())
            .env("GRADE_TARGET_DIR", root().join("target/grade"))
            .env("GRADE_NOW_UNIX", now.to_string())
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100")
            .env_remove("CLICOLOR_FORCE");
        command
    }

    /// `grade progress --format json` at `now`, parsed; the entry for `slug`.
    fn progress(&self, now: u64, slug: &str) -> Value {
        let output = self
            .grade_at(now)
            .args(["progress", "--format", "json"])
            .output()
            .unwrap();
        assert_success(&output);
        let document: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(document["schema_version"], 1);
        document["exercises"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["exercise"] == slug)
            .unwrap_or_else(|| panic!("{slug} missing from {document:#}"))
            .clone()
    }

    /// Replaces the attempt's `src/` with the reference solution's.
    fn solve(&self, slug: &str) {
        let src = self.attempt(slug).join("src");
        std::fs::remove_dir_all(&src).unwrap();
        copy_tree(
            &root().join("reference-solutions").join(slug).join("src"),
            &src,
        );
    }
}

/// Copies a folder, leaving out build output and grader state.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || name == ".grade" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Snapshot settings: the temporary checkout's path varies between runs.
fn snapshot_settings(checkout: &Checkout) -> insta::Settings {
    crate::util::snapshot_settings(checkout.path())
}

#[test]
fn start_screen_snapshot() {
    let checkout = Checkout::with_fixture_exercises();
    let output = checkout
        .grade_at(T0)
        .args(["start", "alpha"])
        .output()
        .unwrap();
    assert_success(&output);
    snapshot_settings(&checkout)
        .bind(|| insta::assert_snapshot!("practice_start", stdout(&output)));
}

#[test]
fn list_screen_snapshot() {
    let checkout = Checkout::with_fixture_exercises();
    let minute = 60;
    // One exercise in each state, as the commands would have left them.
    let state = serde_json::json!({
        "version": 1,
        "exercises": {
            "alpha": {
                "last": {"status": "pass", "score": 3.0, "max_score": 3.0, "passed": 3, "total": 3, "at_unix": T0},
                "session": {"started_at_unix": T0 - 25 * minute, "budget_secs": 30 * minute,
                            "passed_at_unix": T0 - minute, "passed_within_budget": true},
                "hints_used": 1,
                "best": {"secs": 24 * minute, "within_budget": true, "hints_used": 1,
                         "solution_viewed": false, "at_unix": T0 - minute}
            },
            "bravo": {
                "last": {"status": "pass", "score": 1.0, "max_score": 1.0, "passed": 3, "total": 3, "at_unix": T0},
                "session": {"started_at_unix": T0 - 60 * minute, "budget_secs": 45 * minute,
                            "passed_at_unix": T0 - 8 * minute, "passed_within_budget": false},
                "solution_viewed_at_unix": T0 - 10 * minute,
                "best": {"secs": 52 * minute, "within_budget": false, "hints_used": 0,
                         "solution_viewed": true, "at_unix": T0 - 8 * minute}
            },
            "charlie": {
                "last": {"status": "fail", "score": 0.33, "max_score": 1.0, "passed": 1, "total": 3, "at_unix": T0},
                "session": {"started_at_unix": T0 - (12 * minute + 3), "budget_secs": 20 * minute}
            },
            "delta": {
                "last": {"status": "error", "score": 0.0, "max_score": 1.0, "passed": 0, "total": 0, "at_unix": T0}
            }
        }
    });
    std::fs::create_dir_all(checkout.path().join(".grade")).unwrap();
    std::fs::write(
        checkout.path().join(".grade/state.json"),
        serde_json::to_string_pretty(&state).unwrap(),
    )
    .unwrap();

    let output = checkout.grade_at(T0).arg("list").output().unwrap();
    assert_success(&output);
    snapshot_settings(&checkout).bind(|| insta::assert_snapshot!("practice_list", stdout(&output)));

    // `progress --format json` is the same data for scripts.
    let charlie = checkout.progress(T0, "charlie");
    assert_eq!(charlie["status"], "in_progress");
    assert_eq!(charlie["clock"]["elapsed_secs"], 12 * 60 + 3);
    assert_eq!(charlie["clock"]["stopped"], false);
    let bravo = checkout.progress(T0, "bravo");
    assert_eq!(bravo["status"], "done_over_budget");
    assert_eq!(bravo["passed_within_budget"], false);
    assert_eq!(bravo["solution_viewed"], true);
    assert_eq!(checkout.progress(T0, "echo")["status"], "not_started");
    assert_eq!(checkout.progress(T0, "delta")["clock"], Value::Null);
}

#[test]
fn the_clock_runs_from_start_shows_in_reports_and_stops_at_the_first_pass() {
    let checkout = Checkout::with_exercises(&["retry"]);
    let minute = 60;

    let output = checkout
        .grade_at(T0)
        .args(["start", "retry"])
        .output()
        .unwrap();
    assert_success(&output);
    let screen = stdout(&output);
    for expected in [
        "Retry with exponential backoff",
        "Acceptance criteria: ",
        "Time budget: 30:00. The clock is running: 0:00 of 30:00 used.",
        "cargo grade hint retry",
    ] {
        assert!(screen.contains(expected), "{expected:?} missing:\n{screen}");
    }

    // Every later report of the attempt carries the clock, and says how far over it is.
    let report = |now: u64| {
        let output = checkout
            .grade_at(now)
            .args(["retry", "--check", "classify"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
        stdout(&output)
    };
    let text = report(T0 + 28 * minute + 14);
    assert!(text.contains("clock   28:14 of 30:00 used\n"), "{text}");
    let text = report(T0 + 45 * minute + 14);
    assert!(
        text.contains("clock   45:14 used, 15:14 over the 30:00 budget"),
        "{text}"
    );

    // Starting again keeps the clock and says so.
    let output = checkout
        .grade_at(T0 + 46 * minute)
        .args(["start", "retry"])
        .output()
        .unwrap();
    assert_success(&output);
    assert!(
        stdout(&output).contains("already running: 46:00 used, 16:00 over the 30:00 budget"),
        "{}",
        stdout(&output)
    );

    // The first pass stops the clock, over budget here, and the state says so.
    checkout.solve("retry");
    let passed_at = T0 + 50 * minute;
    let output = checkout.grade_at(passed_at).arg("retry").output().unwrap();
    assert_success(&output);
    assert!(
        stdout(&output).contains("clock   passed in 50:00, 20:00 over the 30:00 budget"),
        "{}",
        stdout(&output)
    );
    let progress = checkout.progress(passed_at + 90 * minute, "retry");
    assert_eq!(progress["status"], "done_over_budget", "{progress:#}");
    assert_eq!(progress["clock"]["elapsed_secs"], 50 * minute);
    assert_eq!(progress["clock"]["stopped"], true);
    assert_eq!(progress["passed_within_budget"], false);

    // A restarted session that passes in time is within budget, and the best time.
    let t1 = T0 + 200 * minute;
    let output = checkout
        .grade_at(t1)
        .args(["start", "retry", "--restart"])
        .output()
        .unwrap();
    assert_success(&output);
    let output = checkout
        .grade_at(t1 + 10 * minute)
        .arg("retry")
        .output()
        .unwrap();
    assert_success(&output);
    assert!(
        stdout(&output).contains("clock   passed in 10:00, within the 30:00 budget"),
        "{}",
        stdout(&output)
    );
    let progress = checkout.progress(t1 + 11 * minute, "retry");
    assert_eq!(progress["status"], "done_within_budget");
    assert_eq!(progress["passed_within_budget"], true);
    assert_eq!(progress["best"]["secs"], 10 * minute);

    // Having passed, the solution opens without --force and is not recorded as "viewed".
    let output = checkout
        .grade_at(t1 + 12 * minute)
        .args(["solution", "retry"])
        .output()
        .unwrap();
    assert_success(&output);
    assert!(stdout(&output).contains("pub async fn retry"));
    assert_eq!(
        checkout.progress(t1 + 12 * minute, "retry")["solution_viewed"],
        false
    );
}

#[test]
fn each_hint_call_reveals_one_more_and_is_recorded() {
    let checkout = Checkout::with_exercises(&["retry"]);
    let total = 3;
    for call in 1..=total + 1 {
        let output = checkout
            .grade_at(T0)
            .args(["hint", "retry"])
            .output()
            .unwrap();
        assert_success(&output);
        let text = stdout(&output);
        let shown = call.min(total);
        assert!(text.contains(&format!("Hint {shown} of {total}")), "{text}");
        assert!(
            !text.contains(&format!("Hint {} of {total}", shown + 1)),
            "call {call} showed too much:\n{text}"
        );
        assert_eq!(checkout.progress(T0, "retry")["hints_used"], shown);
    }
    let text = stdout(
        &checkout
            .grade_at(T0)
            .args(["hint", "retry"])
            .output()
            .unwrap(),
    );
    assert!(text.contains("That is every hint"), "{text}");

    // A restarted session counts hints from zero again.
    assert_success(
        &checkout
            .grade_at(T0)
            .args(["start", "retry", "--restart"])
            .output()
            .unwrap(),
    );
    assert_eq!(checkout.progress(T0, "retry")["hints_used"], 0);
}

#[test]
fn the_solution_is_locked_until_a_pass_and_forcing_it_is_recorded() {
    let checkout = Checkout::with_exercises(&["retry"]);
    let output = checkout
        .grade_at(T0)
        .args(["solution", "retry"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unlocks once your attempt passes"),
        "{stderr}"
    );
    assert!(stderr.contains("--force"), "{stderr}");
    assert!(output.stdout.is_empty());

    let output = checkout
        .grade_at(T0)
        .args(["solution", "retry", "--force"])
        .output()
        .unwrap();
    assert_success(&output);
    let text = stdout(&output);
    assert!(
        text.contains("── reference-solutions/retry/src/lib.rs ──"),
        "{text}"
    );
    assert!(text.contains("pub async fn retry"), "{text}");
    assert_eq!(checkout.progress(T0, "retry")["solution_viewed"], true);
    let list = stdout(&checkout.grade_at(T0).arg("list").output().unwrap());
    assert!(list.contains("not started*"), "{list}");
    assert!(
        list.contains("* the reference solution was viewed"),
        "{list}"
    );
}

#[test]
fn reset_backs_up_restores_the_stub_and_brings_backups_back() {
    let checkout = Checkout::with_exercises(&["retry"]);
    checkout.commit_all();
    let attempt = checkout.attempt("retry");
    let lib = attempt.join("src/lib.rs");
    let stub = std::fs::read_to_string(&lib).unwrap();
    let mine = format!("{stub}\n// my first attempt\n");
    std::fs::write(&lib, &mine).unwrap();
    std::fs::write(attempt.join("src/helpers.rs"), "// a helper I added\n").unwrap();

    // Off a terminal, without --yes: refused, and nothing changes.
    let output = checkout
        .grade_at(T0)
        .args(["reset", "retry"])
        .write_stdin("y\n")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("without confirmation"), "{stderr}");
    assert!(stderr.contains("--yes"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&lib).unwrap(), mine);

    // With --yes: backed up first, then the stub, added files removed.
    let output = checkout
        .grade_at(T0)
        .args(["reset", "retry", "--yes"])
        .output()
        .unwrap();
    assert_success(&output);
    assert!(
        stdout(&output)
            .contains("Backed up your attempt (3 files) to .grade/backups/retry/20250314-093005."),
        "{}",
        stdout(&output)
    );
    assert_eq!(std::fs::read_to_string(&lib).unwrap(), stub);
    assert!(!attempt.join("src/helpers.rs").exists());
    let backup = checkout
        .path()
        .join(".grade/backups/retry/20250314-093005/files");
    assert_eq!(
        std::fs::read_to_string(backup.join("src/lib.rs")).unwrap(),
        mine
    );
    assert!(backup.join("src/helpers.rs").is_file());
    for untouched in ["exercise.toml", "README.md"] {
        assert!(attempt.join(untouched).is_file());
    }

    // Resetting the stub again has nothing to do and makes no backup.
    let output = checkout
        .grade_at(T0 + 1)
        .args(["reset", "retry", "--yes"])
        .output()
        .unwrap();
    assert_success(&output);
    assert!(
        stdout(&output).contains("nothing to do"),
        "{}",
        stdout(&output)
    );

    // A second attempt, then bring the first back: the second is backed up in turn.
    let second = format!("{stub}\n// my second attempt\n");
    std::fs::write(&lib, &second).unwrap();
    let output = checkout
        .grade_at(T0 + 60)
        .args(["reset", "retry", "--restore", "20250314-093005", "--yes"])
        .output()
        .unwrap();
    assert_success(&output);
    assert_eq!(std::fs::read_to_string(&lib).unwrap(), mine);
    assert_eq!(
        std::fs::read_to_string(attempt.join("src/helpers.rs")).unwrap(),
        "// a helper I added\n"
    );

    let output = checkout
        .grade_at(T0 + 60)
        .args(["reset", "retry", "--list"])
        .output()
        .unwrap();
    assert_success(&output);
    let list = stdout(&output);
    assert!(
        list.contains("20250314-093005  2025-03-14 09:30:05 UTC      3  before reset"),
        "{list}"
    );
    assert!(
        list.contains(
            "20250314-093105  2025-03-14 09:31:05 UTC      2  before restoring 20250314-093005"
        ),
        "{list}"
    );
    let second_backup = checkout
        .path()
        .join(".grade/backups/retry/20250314-093105/files/src/lib.rs");
    assert_eq!(std::fs::read_to_string(second_backup).unwrap(), second);

    // An unknown backup is an error that points at --list.
    let output = checkout
        .grade_at(T0)
        .args(["reset", "retry", "--restore", "20250314-093006", "--yes"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("did you mean `20250314-093005`"),
        "{stderr}"
    );
}

#[test]
fn reset_outside_a_git_checkout_says_why_and_changes_nothing() {
    let checkout = Checkout::with_exercises(&["retry"]);
    let lib = checkout.attempt("retry").join("src/lib.rs");
    std::fs::write(&lib, "// mine\n").unwrap();
    let output = checkout
        .grade_at(T0)
        .args(["reset", "retry", "--yes"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot find the stub of `retry`"),
        "{stderr}"
    );
    assert!(stderr.contains("is not a git checkout"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&lib).unwrap(), "// mine\n");
    assert!(!checkout.path().join(".grade/backups").exists());
}

#[test]
fn completions_are_printed_for_each_shell_from_anywhere() {
    let elsewhere = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete"),
        ("zsh", "#compdef grade"),
        ("fish", "complete -c grade"),
    ] {
        let output = Command::cargo_bin("grade")
            .unwrap()
            .current_dir(elsewhere.path())
            .env_remove("GRADE_ROOT")
            .args(["completions", shell])
            .output()
            .unwrap();
        assert_success(&output);
        let script = stdout(&output);
        assert!(script.contains(marker), "{shell}:\n{script}");
        assert!(script.contains("watch"), "{shell} completes subcommands");
    }
}

/// A program running in a pseudo-terminal, and the screen it draws.
struct Terminal {
    screen: Arc<Mutex<vt100::Parser>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Terminal {
    fn spawn(checkout: &Checkout, args: &[&str]) -> Self {
        use portable_pty::{CommandBuilder, PtySize, native_pty_system};
        let (rows, cols) = (400, 160);
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("a pseudo-terminal");
        let mut command = CommandBuilder::new(assert_cmd::cargo::cargo_bin("grade"));
        command.args(args);
        command.cwd(checkout.path());
        command.env("GRADE_ROOT", checkout.path());
        command.env("GRADE_TARGET_DIR", root().join("target/grade"));
        command.env("NO_COLOR", "1");
        command.env("TERM", "xterm");
        command.env_remove("CLICOLOR_FORCE");
        command.env_remove("GRADE_NOW_UNIX");
        let child = pair.slave.spawn_command(command).expect("grade starts");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let screen = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
        let parser = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                parser.lock().unwrap().process(&buffer[..n]);
            }
        });
        Self {
            screen,
            writer,
            child,
            master: pair.master,
        }
    }

    fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Polls the screen until `wanted` holds, for at most `limit`.
    fn wait_for(&self, what: &str, limit: Duration, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let contents = self.contents();
            if wanted(&contents) {
                return contents;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {limit:?}; the screen shows:\n{contents}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether the terminal is in canonical (line-at-a-time) mode, as a shell leaves it.
    fn canonical(&self) -> bool {
        let termios = self.master.get_termios().expect("termios of the pty");
        format!("{:?}", termios.local_flags).contains("ICANON")
    }

    fn press(&mut self, key: &str) {
        self.writer.write_all(key.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// Waits (boundedly) for the program to exit; whether it succeeded.
    fn exit_success(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            assert!(
                Instant::now() < deadline,
                "no exit within {limit:?}:\n{}",
                self.contents()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// On a terminal, `reset` asks; anything but yes changes nothing, yes resets.
#[test]
fn reset_asks_on_a_terminal() {
    let checkout = Checkout::with_exercises(&["retry"]);
    checkout.commit_all();
    let lib = checkout.attempt("retry").join("src/lib.rs");
    let stub = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, "// mine\n").unwrap();

    let mut terminal = Terminal::spawn(&checkout, &["reset", "retry"]);
    terminal.wait_for("the question", Duration::from_secs(30), |s| {
        s.contains("[y/N]")
    });
    terminal.press("n\r");
    terminal.wait_for("the answer", Duration::from_secs(30), |s| {
        s.contains("Nothing changed.")
    });
    assert!(terminal.exit_success(Duration::from_secs(10)));
    assert_eq!(std::fs::read_to_string(&lib).unwrap(), "// mine\n");

    let mut terminal = Terminal::spawn(&checkout, &["reset", "retry"]);
    terminal.wait_for("the question", Duration::from_secs(30), |s| {
        s.contains("[y/N]")
    });
    terminal.press("y\r");
    assert!(terminal.exit_success(Duration::from_secs(30)));
    assert_eq!(std::fs::read_to_string(&lib).unwrap(), stub);
    assert_eq!(
        std::fs::read_dir(checkout.path().join(".grade/backups/retry"))
            .unwrap()
            .count(),
        1
    );
}

/// Pids of live processes whose environment contains `needle` (a marker every process a
/// test's `grade` starts inherits), other than `except`.
fn processes_with_env(needle: &str, except: Option<u32>) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if Some(pid) == except {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|s| {
            s.rfind(')')
                .is_some_and(|i| s[i + 1..].trim_start().starts_with('Z'))
        });
        if !zombie
            && environ
                .split(|b| *b == 0)
                .any(|var| String::from_utf8_lossy(var) == needle)
        {
            pids.push(pid);
        }
    }
    pids
}

/// `grade watch` in a pseudo-terminal: the first report, a save that hangs every check,
/// a fix saved while that run is going (it is cancelled, and nothing of it survives), the new
/// report on screen within a bounded time, and `q` giving the terminal back as it was.
#[cfg(target_os = "linux")]
#[test]
fn watch_regrades_on_save_and_cancels_a_stale_run() {
    let checkout = Checkout::with_exercises(&["retry"]);
    let attempt = checkout.attempt("retry");
    let stub = std::fs::read_to_string(attempt.join("src/lib.rs")).unwrap();
    let mut terminal = Terminal::spawn(&checkout, &["watch", "retry"]);
    let marker = format!("GRADE_ROOT={}", checkout.path().display());

    // The first grading starts at once. A cold build of the suite can be slow on a busy
    // machine, so this limit is generous; the limits after a save are the ones that matter.
    terminal.wait_for("first report", Duration::from_secs(600), |s| {
        s.contains("score 0/11") && s.contains("r: grade now · q: quit")
    });
    assert!(!terminal.canonical(), "watch reads single keys");

    // An attempt whose every check hangs: its run would take minutes.
    let hanging = stub.replacen(
        "    todo!(",
        "    loop {\n        std::thread::sleep(std::time::Duration::from_secs(1));\n    }\n    todo!(",
        1,
    );
    assert_ne!(hanging, stub, "the stub's todo! moved; update this test");
    std::fs::write(attempt.join("src/lib.rs"), hanging).unwrap();
    terminal.wait_for("the hanging run's checks", Duration::from_secs(120), |s| {
        s.contains("grading (src/lib.rs changed): running")
    });

    // The fix, saved mid-run: the stale run is cancelled and the new report follows quickly.
    let saved = Instant::now();
    checkout.solve("retry");
    let screen = terminal.wait_for("the passing report", Duration::from_secs(120), |s| {
        s.contains("score 11/11 (100%)")
    });
    eprintln!(
        "the passing report showed {:?} after the save",
        saved.elapsed()
    );
    assert!(
        screen.contains("files changed") || screen.contains("changed)"),
        "{screen}"
    );
    assert!(
        !screen.contains("score 0/11"),
        "the old report is gone:\n{screen}"
    );

    // Nothing of the cancelled run is left: only watch itself has the checkout's marker.
    let watch_pid = terminal.child.process_id();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_with_env(&marker, watch_pid);
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "processes of the cancelled run survive: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The manual trigger grades again without any change.
    terminal.press("r");
    terminal.wait_for("a manual re-grade", Duration::from_secs(120), |s| {
        s.contains("(re-grade requested)") && s.contains("score 11/11 (100%)")
    });

    terminal.press("q");
    assert!(
        terminal.exit_success(Duration::from_secs(10)),
        "watch quits on q, successfully"
    );
    assert!(terminal.canonical(), "the terminal is restored");
}
