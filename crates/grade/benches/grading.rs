//! Speed figures for the README's targets, printed rather than asserted (timed tests flake).
//!
//! `cargo bench -p grade` measures, on this machine:
//! 1. a cold `grade task-runner --reference` with an empty build cache (target: < 2 min);
//! 2. a re-grade after a one-line edit of the attempt, next to plain `cargo run` of the same
//!    suite by hand after the same edit (target: within 1.3×);
//! 3. the wall time of the retry suite's checks alone, from its JSON report (target: < 2 s).
//!
//! The edit is made to a temporary copy of the reference, never to `exercises/`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn grade_binary() -> PathBuf {
    // `cargo bench` builds the binary next to the bench executable's `deps/` folder.
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let binary = dir.join("grade");
    assert!(
        binary.is_file(),
        "build the grade binary first: {}",
        binary.display()
    );
    binary
}

fn timed(command: &mut Command) -> Duration {
    let started = Instant::now();
    let status = command.status().expect("the command runs");
    assert!(
        status.code().is_some_and(|c| c <= 1),
        "{command:?} failed: {status}"
    );
    started.elapsed()
}

fn grade(args: &[&str], target: Option<&Path>) -> Command {
    let mut command = Command::new(grade_binary());
    command
        .args(args)
        .env("GRADE_ROOT", root())
        .current_dir(root())
        .stdout(std::process::Stdio::null());
    if let Some(target) = target {
        command.env("GRADE_TARGET_DIR", target);
    }
    command
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks benches for their tests; there are none.
    }
    let cold_target = tempfile::tempdir().unwrap();
    let cold = timed(&mut grade(
        &["task-runner", "--reference"],
        Some(cold_target.path()),
    ));
    println!(
        "cold grade task-runner (empty build cache): {:.1}s   target < 120s",
        cold.as_secs_f64()
    );

    // A copy of the reference stands in for a candidate's attempt. It lives under `target/`
    // (inside the checkout, so its harness is the persistent kind a candidate gets), never in
    // `exercises/`.
    let attempt = root().join("target/bench/task-runner-attempt");
    let _ = std::fs::remove_dir_all(&attempt);
    std::fs::create_dir_all(&attempt).unwrap();
    copy(&root().join("reference-solutions/task-runner"), &attempt);
    let lib = attempt.join("src/lib.rs");
    let args = ["task-runner", "--attempt", attempt.to_str().unwrap()];
    timed(&mut grade(&args, None)); // warm the harness
    let mut edit = 0;
    let mut one_line_edit = || {
        edit += 1;
        let mut text = std::fs::read_to_string(&lib).unwrap();
        text.push_str(&format!("\n// edit {edit}\n"));
        std::fs::write(&lib, text).unwrap();
    };
    one_line_edit();
    let regrade = timed(&mut grade(&args, None));

    // The same suite by hand: plain `cargo run` of the very harness the grader generated
    // (same crates, same profile, same target folder), whose binary runs every check in a child
    // process in turn. The difference is the grader's own overhead.
    let harness = harness_of(&attempt);
    let by_hand = || {
        let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        command
            .args(["run", "-q", "--profile", "grade", "--manifest-path"])
            .arg(&harness)
            .env("CARGO_TARGET_DIR", root().join("target/grade"))
            .stdout(std::process::Stdio::null());
        command
    };
    one_line_edit();
    let plain = timed(&mut by_hand());
    one_line_edit();
    let regrade_again = timed(&mut grade(&args, None));
    let regrade = regrade.min(regrade_again);
    println!(
        "re-grade after a one-line edit: {:.2}s; the same suite by hand (cargo run): {:.2}s; ratio {:.2}   target <= 1.3",
        regrade.as_secs_f64(),
        plain.as_secs_f64(),
        regrade.as_secs_f64() / plain.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&attempt);

    let output = grade(&["retry", "--reference", "--format", "json"], None)
        .stdout(std::process::Stdio::piped())
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let checks_ms: u64 = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["duration_ms"].as_u64().unwrap())
        .sum();
    println!(
        "retry suite, sum of check wall times: {:.2}s   target < 2s",
        checks_ms as f64 / 1000.0
    );
}

/// The harness manifest the grader generated for `attempt`.
fn harness_of(attempt: &Path) -> PathBuf {
    let needle = format!("path = \"{}\"", attempt.display());
    std::fs::read_dir(root().join(".grade/harness"))
        .unwrap()
        .map(|entry| entry.unwrap().path().join("Cargo.toml"))
        .find(|manifest| std::fs::read_to_string(manifest).is_ok_and(|text| text.contains(&needle)))
        .expect("grading the attempt generated a harness")
}

fn copy(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
