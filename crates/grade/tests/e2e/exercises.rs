//! The exercises themselves: references pass, stubs fail, and every fixture attempt fails
//! exactly the checks it claims, so every check is shown to catch something no other does.

use std::collections::BTreeSet;

use crate::util::{Kind, check_ids, describe_failures, failing, fixtures, grade, grade_json};

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
    for slug in crate::util::slugs() {
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
    // Two gradings at a time: builds queue on the grader's build lock anyway, so while one
    // fixture compiles the previous one's checks run (many of them wait on real time). Each
    // worker grades from its own fixed folder, so its harness is reused and cargo compiles
    // incrementally.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let found = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for worker in 0..2 {
            let (next, found, fixtures) = (&next, &found, &fixtures);
            scope.spawn(move || {
                let dir = crate::util::root().join(format!("target/e2e-attempts/{slug}-{worker}"));
                while let Some(fixture) =
                    fixtures.get(next.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
                {
                    if let Some(problem) = grade_fixture(slug, fixture, &dir) {
                        found.lock().unwrap().push(problem);
                    }
                }
            });
        }
    });
    problems.extend(found.into_inner().unwrap());
    assert!(problems.is_empty(), "{slug}:\n{}", problems.join("\n"));
}

/// Grades one fixture; a problem message unless it fails exactly its `fails` (a correct
/// attempt: none, with exit code 0).
fn grade_fixture(
    slug: &str,
    fixture: &crate::util::Fixture,
    dir: &std::path::Path,
) -> Option<String> {
    crate::util::materialize_into(slug, fixture, dir);
    let (code, report) = grade_json(&[slug, "--attempt", dir.to_str().unwrap()]);
    let expected: BTreeSet<String> = fixture.fails.iter().cloned().collect();
    let actual = failing(&report);
    let expected_code = if expected.is_empty() { 0 } else { 1 };
    (actual != expected || code != expected_code).then(|| {
        format!(
            "fixture `{}` ({}) should fail exactly {expected:?} (exit {expected_code}); exit {code}, failed:\n{}",
            fixture.name,
            fixture.description,
            describe_failures(&report)
        )
    })
}

/// Every exercise keeps attempts written from its prompt alone, not from its suite: at least
/// eight wrong ones (a red team's) and two correct ones in idioms unlike the reference. Suites
/// written against their authors' own fixtures miss the bugs the authors did not think of.
#[test]
fn every_exercise_has_red_team_attempts_and_correct_alternatives() {
    let mut problems = Vec::new();
    for slug in crate::util::finished_slugs() {
        let attempts = crate::util::attempt_fixtures(&slug);
        let count = |kind| attempts.iter().filter(|a| a.kind == Some(kind)).count();
        let (wrong, correct) = (count(Kind::Wrong), count(Kind::Correct));
        if wrong < 8 || correct < 2 {
            problems.push(format!(
                "{slug}: {wrong} wrong and {correct} correct attempts under fixtures/{slug}/attempts/ (need 8 and 2)"
            ));
        }
        // Blame the right criterion: a wrong attempt fails only checks of the criteria it
        // violates. A check of another criterion failing first means that check's inputs
        // exercise more than its own criterion.
        let criteria = crate::util::criteria_of_checks(&slug);
        for attempt in attempts.iter().filter(|a| a.kind == Some(Kind::Wrong)) {
            for check in &attempt.fails {
                match criteria.get(check) {
                    Some(criterion) if attempt.violates.contains(criterion) => {}
                    Some(criterion) => problems.push(format!(
                        "{slug}: {} violates {:?} (\"{}\") but fails `{check}` of criterion `{criterion}`",
                        attempt.name,
                        attempt.violates,
                        attempt.rule.as_deref().unwrap_or("")
                    )),
                    None => problems.push(format!(
                        "{slug}: {} lists `{check}`, which is not a check of the exercise",
                        attempt.name
                    )),
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
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
            for slug in crate::util::finished_slugs() {
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
