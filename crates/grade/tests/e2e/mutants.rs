//! `grade mutants`: the real binary with the real cargo-mutants over the retry reference.
//!
//! cargo-mutants is not skipped when missing: CI installs it (`.ci/run`), and a developer
//! without it gets a failure that says how to install it. A full sweep takes minutes, so the
//! sweep here is `--in-diff` a one-line change of `Policy::ceiling`, a handful of mutants.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use serde_json::Value;

use crate::util::{grade, root};

/// Fails the test, with the install command, unless cargo-mutants runs.
fn require_cargo_mutants() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = std::process::Command::new(cargo)
        .args(["mutants", "--version"])
        .output();
    match output {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "cargo-mutants is not installed, and `grade mutants` needs it: \
             cargo install cargo-mutants --locked (.ci/run installs it)\n{}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(error) => panic!("cannot run cargo: {error}"),
    }
}

/// A diff that says the `if` of `Policy::ceiling` was just edited: its old side is the line
/// with `max_delay` spelled `cap`, its new side the line as the reference has it now (so it
/// still applies after unrelated edits move the line). Zero lines of context.
fn ceiling_diff() -> String {
    let file = "reference-solutions/retry/src/policy.rs";
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    let (index, line) = text
        .lines()
        .enumerate()
        .find(|(_, line)| line.contains("if ceiling >= self.max_delay"))
        .unwrap_or_else(|| {
            panic!(
                "{file} has no `if ceiling >= self.max_delay` line any more: point this test \
                 at another line of the reference whose mutants the suite catches"
            )
        });
    let number = index + 1;
    format!(
        "--- a/{file}\n+++ b/{file}\n@@ -{number},1 +{number},1 @@\n-{}\n+{line}\n",
        line.replace("max_delay", "cap")
    )
}

fn write_temp(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new().suffix(".diff").tempfile().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

fn json_of(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}); exit {:?}\nstdout:\n{}\nstderr:\n{}",
            output.status.code(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn assert_valid(report: &Value) {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/mutants.v1.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid");
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn an_in_diff_sweep_of_retry_grades_the_touched_mutants_and_catches_some() {
    require_cargo_mutants();
    let diff = write_temp(&ceiling_diff());
    let output = grade()
        .args(["mutants", "retry", "--in-diff"])
        .arg(diff.path())
        .args(["--format", "json", "--jobs", "2"])
        .output()
        .unwrap();
    let report = json_of(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_valid(&report);

    let counts = &report["counts"];
    let count = |key: &str| counts[key].as_u64().unwrap();
    let mutants = report["mutants"].as_array().unwrap();
    assert!(count("total") >= 1, "the diff touches mutants:\n{report:#}");
    assert_eq!(count("total") as usize, mutants.len());
    assert_eq!(
        count("caught") + count("equivalent") + count("survived") + count("unviable"),
        count("total")
    );
    assert!(
        count("caught") >= 1,
        "the cap checks catch some mutant of Policy::ceiling:\n{report:#}"
    );
    assert!(
        report["listed"].as_u64().unwrap() > count("total"),
        "only the touched mutants are graded"
    );
    for mutant in mutants {
        assert_eq!(mutant["file"], "reference-solutions/retry/src/policy.rs");
        assert_eq!(mutant["function"], "Policy::ceiling");
        if mutant["status"] == "caught" {
            assert!(
                !mutant["failing_checks"].as_array().unwrap().is_empty(),
                "{mutant:#}"
            );
        }
        assert!(
            mutant["diff"]
                .as_str()
                .unwrap()
                .contains("changed by cargo-mutants")
        );
        // Progress: one line per mutant as it finishes, on stderr.
        let name = mutant["name"].as_str().unwrap();
        assert!(
            stderr.lines().any(|l| l.contains(name)),
            "no progress line for {name}:\n{stderr}"
        );
    }
    let expected = if count("survived") == 0 { 0 } else { 1 };
    assert_eq!(output.status.code(), Some(expected), "{stderr}");
    assert_eq!(report["passed"], expected == 0);
}

#[test]
fn a_diff_that_touches_no_mutant_grades_nothing_and_passes() {
    require_cargo_mutants();
    let empty = write_temp("");
    let output = grade()
        .args(["mutants", "retry", "--in-diff"])
        .arg(empty.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("No mutant to grade"), "{stdout}");
    assert!(
        stdout.contains("no unexplained survivor · 0 graded"),
        "{stdout}"
    );
}

#[test]
fn without_cargo_mutants_it_stops_with_the_install_command() {
    // A `cargo` that knows no `mutants` subcommand, as a real one without cargo-mutants says.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("cargo");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'error: no such command: `mutants`' >&2\nexit 101\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();

    let output = grade()
        .args(["mutants", "retry"])
        .env("CARGO", &fake)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("cargo-mutants is not installed"),
        "{stderr}"
    );
    assert!(stderr.contains("no such command: `mutants`"), "{stderr}");
    assert!(
        stderr.contains("cargo install cargo-mutants --locked"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn doctor_reports_cargo_mutants_as_optional() {
    require_cargo_mutants();
    let output = grade().arg("doctor").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("Optional tools"), "{stdout}");
    assert!(
        stdout.contains("ok       cargo-mutants ") && stdout.contains("(for `grade mutants`)"),
        "{stdout}"
    );
}
