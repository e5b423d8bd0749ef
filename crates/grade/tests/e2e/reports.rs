//! The reports as users and CI see them: human and JUnit snapshots, JSON against its schema.

use crate::util::{fixtures, grade, grade_json, materialize, root};

/// Durations, temporary paths and the checkout's location vary between runs; everything
/// else in a report must not.
fn stable_settings() -> insta::Settings {
    let mut settings = crate::util::snapshot_settings(&root());
    settings.add_filter(r" *\b\d+(\.\d+)?(ms|s)\b", " [T]");
    settings.add_filter(r"\b\d+m \d+s\b", "[T]");
    settings.add_filter(r#"time="[0-9.]+""#, r#"time="[T]""#);
    settings.add_filter(r#"timestamp="[^"]+""#, r#"timestamp="[TS]""#);
    settings.add_filter(r"/[^\s]*fixture-[A-Za-z0-9_-]+", "[ATTEMPT]");
    settings
}

/// The fixture used for report snapshots: one failing check with a text diff.
fn snapshot_fixture() -> (tempfile::TempDir, String) {
    let fixture = fixtures("csv-to-ndjson")
        .into_iter()
        .find(|f| f.name == "bom-not-stripped")
        .expect("the bom-not-stripped fixture");
    let attempt = materialize("csv-to-ndjson", &fixture);
    let path = attempt.path().to_str().unwrap().to_owned();
    (attempt, path)
}

#[test]
fn human_report_snapshot() {
    let (_attempt, path) = snapshot_fixture();
    let output = grade()
        .args(["csv-to-ndjson", "--check", "rfc4180", "--attempt", &path])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    stable_settings()
        .bind(|| insta::assert_snapshot!("human_report", String::from_utf8_lossy(&output.stdout)));
}

#[test]
fn junit_report_snapshot() {
    let (_attempt, path) = snapshot_fixture();
    let output = grade()
        .args([
            "csv-to-ndjson",
            "--check",
            "rfc4180",
            "--format",
            "junit",
            "--attempt",
            &path,
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    stable_settings()
        .bind(|| insta::assert_snapshot!("junit_report", String::from_utf8_lossy(&output.stdout)));
}

#[test]
fn json_reports_match_the_schema() {
    let schema_path = root().join("crates/grade/schema/report.v1.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid");

    let (_attempt, failing_attempt) = snapshot_fixture();
    let reference = root().join("reference-solutions/retry");
    let runs: [(&str, Vec<&str>); 3] = [
        (
            "passing",
            vec!["retry", "--attempt", reference.to_str().unwrap()],
        ),
        (
            "failing",
            vec![
                "csv-to-ndjson",
                "--check",
                "rfc4180",
                "--attempt",
                &failing_attempt,
            ],
        ),
        (
            "repeated",
            vec![
                "retry",
                "--repeat",
                "2",
                "--check",
                "classify",
                "--attempt",
                reference.to_str().unwrap(),
            ],
        ),
    ];
    for (name, args) in runs {
        let (_, report) = grade_json(&args);
        let errors: Vec<String> = validator
            .iter_errors(&report)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{name} report does not match the schema:\n{}\n{report:#}",
            errors.join("\n")
        );
    }
    let (_, report) = grade_json(&["retry", "--attempt", reference.to_str().unwrap()]);
    assert_eq!(report["status"], "pass");
    assert_eq!(report["score"], report["max_score"]);
}

#[test]
fn output_file_gets_the_report_and_stdout_stays_empty() {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("report.xml");
    let reference = root().join("reference-solutions/retry");
    let output = grade()
        .args([
            "retry", "--check", "classify", "--format", "junit", "--output",
        ])
        .arg(&file)
        .arg("--attempt")
        .arg(&reference)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.stdout.is_empty());
    let xml = std::fs::read_to_string(&file).unwrap();
    assert!(xml.contains("<testsuite name=\"retry\""), "{xml}");
    assert!(xml.contains("failures=\"0\""), "{xml}");
}
