//! The exercises themselves: references pass, stubs fail, and every fixture attempt fails
//! exactly the checks it claims, so every check is shown to catch something no other does.

use std::collections::BTreeSet;

use crate::util::{
    check_ids, describe_failures, failing, fixtures, grade, grade_json, materialize,
};

/// `grade verify`: each reference scores 100%, each stub is clippy-clean and fails every
/// check, and each exercise's metadata matches its suite.
#[test]
fn verify_passes_on_this_checkout() {
    let output = grade().arg("verify").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "grade verify failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for slug in ["task-runner", "retry", "csv-to-ndjson"] {
        assert!(
            stdout.contains(&format!("ok      {slug}")),
            "{slug} not verified:\n{stdout}"
        );
    }
}

/// Grades every fixture of `slug` and checks that it fails exactly its `fails`, and that every
/// check has a fixture that only it catches.
fn fixtures_fail_exactly_their_checks(slug: &str) {
    let fixtures = fixtures(slug);
    let mut problems = Vec::new();
    for check in check_ids(slug) {
        if !fixtures.iter().any(|f| f.fails == [check.clone()]) {
            problems.push(format!("no fixture fails only `{check}`"));
        }
    }
    for fixture in &fixtures {
        let attempt = materialize(slug, fixture);
        let (code, report) = grade_json(&[slug, "--attempt", attempt.path().to_str().unwrap()]);
        let expected: BTreeSet<String> = fixture.fails.iter().cloned().collect();
        let actual = failing(&report);
        if actual != expected || code != 1 {
            problems.push(format!(
                "fixture `{}` ({}) should fail exactly {expected:?}; exit {code}, failed:\n{}",
                fixture.name,
                fixture.description,
                describe_failures(&report)
            ));
        }
    }
    assert!(problems.is_empty(), "{slug}:\n{}", problems.join("\n"));
}

/// One test per exercise, so exercises are graded in parallel.
macro_rules! fixture_tests {
    ($($name:ident => $slug:literal),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                fixtures_fail_exactly_their_checks($slug);
            }
        )*

        /// Every exercise in the checkout has its fixture test above.
        #[test]
        fn every_exercise_has_a_fixture_test() {
            let listed = [$($slug),*];
            for slug in crate::util::slugs() {
                assert!(listed.contains(&slug.as_str()), "add `{slug}` to fixture_tests! in exercises.rs");
            }
        }
    };
}

fixture_tests! {
    task_runner_fixtures => "task-runner",
    retry_fixtures => "retry",
    csv_to_ndjson_fixtures => "csv-to-ndjson",
    idempotency_fixtures => "idempotency",
    graceful_shutdown_fixtures => "graceful-shutdown",
    rate_limiter_fixtures => "rate-limiter",
}

/// The stub scores 0 with status `fail` (not `error`: it builds), and every check says why.
#[test]
fn a_stub_scores_zero_with_status_fail() {
    let stub = crate::util::root().join("exercises/retry");
    let (code, report) = grade_json(&["retry", "--attempt", stub.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(report["status"], "fail");
    assert_eq!(report["score"], 0.0);
    for check in report["checks"].as_array().unwrap() {
        assert_ne!(check["status"], "pass", "{check:#}");
        assert!(
            check["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{check:#}"
        );
    }
}
