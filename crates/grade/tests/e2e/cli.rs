//! Arguments, errors and exit codes, as a user meets them.

use predicates::prelude::*;

use crate::util::{grade, grade_json, root};

#[test]
fn help_teaches_usage_and_exit_codes() {
    grade()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes:"))
        .stdout(predicate::str::contains("cargo grade task-runner"))
        .stdout(predicate::str::contains("--timeout-scale"));
}

#[test]
fn no_arguments_is_a_usage_error() {
    grade()
        .assert()
        .code(4)
        .stderr(predicate::str::contains("Usage:"));
}

#[test]
fn an_unknown_exercise_suggests_the_closest() {
    grade()
        .arg("task-runer")
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "unknown exercise `task-runer`; did you mean `task-runner`?",
        ));
}

#[test]
fn outside_a_checkout_says_where_to_run() {
    let elsewhere = tempfile::tempdir().unwrap();
    grade()
        .env_remove("GRADE_ROOT")
        .current_dir(elsewhere.path())
        .arg("list")
        .assert()
        .code(4)
        .stderr(predicate::str::contains("cannot find the grade checkout"));
}

#[test]
fn bad_option_values_are_rejected_before_building() {
    grade()
        .args(["retry", "--timeout-scale", "0"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("--timeout-scale"));
    grade()
        .args(["retry", "--jobs", "0"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("--jobs"));
    grade()
        .args(["retry", "--attempt", "/definitely/not/here"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("no such folder"));
}

#[test]
fn an_attempt_without_a_crate_is_rejected() {
    let empty = tempfile::tempdir().unwrap();
    grade()
        .args(["retry", "--attempt"])
        .arg(empty.path())
        .assert()
        .code(4)
        .stderr(predicate::str::contains("has no Cargo.toml"));
}

#[test]
fn list_shows_every_exercise_with_budget_and_checks() {
    let assert = grade().arg("list").assert().success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    for slug in crate::util::slugs() {
        let line = stdout
            .lines()
            .find(|line| line.starts_with(slug.as_str()))
            .unwrap_or_else(|| panic!("{slug} missing:\n{stdout}"));
        assert!(line.contains('m'), "no budget in {line:?}");
    }
}

#[test]
fn an_unknown_check_is_an_error_with_a_suggestion() {
    let reference = root().join("reference-solutions/retry");
    grade()
        .args(["retry", "--check", "no-such-check", "--attempt"])
        .arg(&reference)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("no check matches `no-such-check`"));
}

#[test]
fn an_attempt_that_does_not_compile_reports_the_diagnostics() {
    let attempt = tempfile::tempdir().unwrap();
    crate::util::copy_crate(&root().join("reference-solutions/retry"), attempt.path());
    let lib = attempt.path().join("src/lib.rs");
    let mut text = std::fs::read_to_string(&lib).unwrap();
    text.push_str("\npub fn broken() -> u32 { \"not a number\" }\n");
    std::fs::write(&lib, text).unwrap();

    let (code, report) = grade_json(&["retry", "--attempt", attempt.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{report:#}");
    assert_eq!(report["status"], "error");
    assert_eq!(report["build"]["culprit"], "attempt");
    let diagnostics = report["build"]["diagnostics"][0].as_str().unwrap();
    assert!(diagnostics.contains("mismatched types"), "{diagnostics}");
    assert!(report["checks"].as_array().unwrap().is_empty());
}

#[test]
fn an_attempt_that_changed_the_api_blames_the_api() {
    let attempt = tempfile::tempdir().unwrap();
    crate::util::copy_crate(&root().join("reference-solutions/retry"), attempt.path());
    // Keep only the crate's doc comment: it compiles, but offers none of the API.
    std::fs::write(
        attempt.path().join("src/lib.rs"),
        "//! An attempt that deleted everything.\n",
    )
    .unwrap();
    for entry in std::fs::read_dir(attempt.path().join("src")).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != "lib.rs" {
            std::fs::remove_file(path).unwrap();
        }
    }
    let (code, report) = grade_json(&["retry", "--attempt", attempt.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{report:#}");
    assert_eq!(report["build"]["culprit"], "suite");
    assert!(report["message"].as_str().unwrap().contains("public API"));
}
