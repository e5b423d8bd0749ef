//! Hostile attempts: code that loops, deadlocks, aborts, overflows its stack, eats memory or
//! leaves children behind. Each must end with the right outcome, promptly, with nothing left
//! running and no temporary directory left behind.

#![cfg(target_os = "linux")]

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::{Fixture, fixtures, materialize, processes_matching};

/// The argument hostile fixtures pass to the `sleep` children they spawn, so the tests can
/// find any that survive.
const CHILD_MARKER: &str = "86399.5";

/// The marker the SIGTERM test substitutes for [`CHILD_MARKER`].
const SIGTERM_CHILD_MARKER: &str = "86398.5";

fn run_hostile(fixture: &Fixture) {
    let exercise = fixture
        .exercise
        .as_deref()
        .expect("hostile fixtures name their exercise");
    let check = fixture
        .check
        .as_deref()
        .expect("hostile fixtures name their check");
    let expected = fixture
        .outcome
        .as_deref()
        .expect("hostile fixtures name their outcome");
    let attempt = materialize(exercise, fixture);
    let tmp = tempfile::tempdir().unwrap();

    let started = Instant::now();
    let output = crate::util::grade()
        .env("TMPDIR", tmp.path())
        .args([exercise, "--check", check, "--format", "json", "--attempt"])
        .arg(attempt.path())
        .args(&fixture.args)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: no report ({e}):\n{}",
            fixture.name,
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let status = &report["checks"][0]["status"];
    assert_eq!(
        status, expected,
        "{}: {}\n{report:#}",
        fixture.name, fixture.description
    );
    let message = report["checks"][0]["message"].as_str().unwrap_or_default();
    let wanted = fixture.message.as_deref().unwrap_or_default();
    assert!(
        message.contains(wanted),
        "{}: message {message:?} should contain {wanted:?}",
        fixture.name
    );
    assert_eq!(output.status.code(), Some(1), "{}", fixture.name);
    // The build is warm by now; the check itself is bounded by its (scaled) limit.
    assert!(
        elapsed < Duration::from_secs(120),
        "{} took {elapsed:?}",
        fixture.name
    );
    assert!(
        processes_matching(CHILD_MARKER).is_empty(),
        "{}: a child outlived the check",
        fixture.name
    );
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(
        leftovers.is_empty(),
        "{}: temporary files left behind: {leftovers:?}",
        fixture.name
    );
}

#[test]
fn hostile_attempts_end_with_the_right_outcome_and_leave_nothing_behind() {
    let fixtures = fixtures("hostile");
    assert!(
        fixtures.len() >= 6,
        "expected the six hostile fixtures, found {}",
        fixtures.len()
    );
    for fixture in &fixtures {
        run_hostile(fixture);
    }
}

/// SIGTERM to the grader mid-check stops the check, its children and the grader, and removes
/// the temporary directories.
#[test]
fn sigterm_stops_everything_the_grader_started() {
    let mut fixture = fixtures("hostile")
        .into_iter()
        .find(|f| f.name == "leaves_a_child")
        .expect("the child fixture");
    // Its own marker: the hostile test above runs the same fixture in parallel, and must not
    // see this test's child (or the other way round).
    for edit in &mut fixture.edits {
        edit.replace = edit.replace.replace(CHILD_MARKER, SIGTERM_CHILD_MARKER);
    }
    let attempt = materialize(fixture.exercise.as_deref().unwrap(), &fixture);
    let tmp = tempfile::tempdir().unwrap();
    let mut grader = std::process::Command::new(assert_cmd::cargo::cargo_bin("grade"))
        .current_dir(crate::util::root())
        .env("GRADE_ROOT", crate::util::root())
        .env("TMPDIR", tmp.path())
        .args([
            fixture.exercise.as_deref().unwrap(),
            "--check",
            fixture.check.as_deref().unwrap(),
        ])
        .args(["--timeout-scale", "100", "--format", "json", "--attempt"])
        .arg(attempt.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(300);
    while processes_matching(SIGTERM_CHILD_MARKER).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the check never started its child"
        );
        assert!(
            grader.try_wait().unwrap().is_none(),
            "the grader ended before the check started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = nix::unistd::Pid::from_raw(grader.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();

    let status = crate::util::wait_for_exit(
        &mut grader,
        Duration::from_secs(10),
        "the grader after SIGTERM",
    );
    assert_eq!(status.code(), Some(130));
    assert!(
        processes_matching(SIGTERM_CHILD_MARKER).is_empty(),
        "the check's child survived SIGTERM"
    );
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
}
