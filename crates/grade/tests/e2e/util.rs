//! Helpers: the `grade` command, fixtures and their materialised attempts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde::Deserialize;
use serde_json::Value;

/// The checkout's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the checkout exists")
}

/// `grade`, run from the checkout's root with colours off.
pub fn grade() -> Command {
    let mut command = Command::cargo_bin("grade").expect("the grade binary is built");
    command
        .current_dir(root())
        .env("GRADE_ROOT", root())
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE");
    command
}

/// An attempt the grader must judge in a known way.
///
/// Two forms: a `<name>.toml` of search/replace edits to the reference solution (the authors'
/// fixtures: one planted bug each), or a folder `attempts/<name>/` holding a whole crate and a
/// `fixture.toml` (attempts written from the prompt alone, by a red team, or correct
/// alternatives in another idiom). Both say exactly which checks the attempt fails; a correct
/// attempt fails none.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// The bug (or, for a correct attempt, the idiom), in one sentence.
    pub description: String,
    /// Exactly the checks this attempt fails (for exercise fixtures; empty for a correct one).
    #[serde(default)]
    pub fails: Vec<String>,
    /// For whole-crate attempts: `wrong` or `correct`.
    #[serde(default)]
    pub kind: Option<Kind>,
    /// For whole-crate attempts: the criteria its author meant it to violate.
    #[serde(default)]
    pub violates: Vec<String>,
    /// For whole-crate attempts: the sentence of the prompt it breaks.
    #[serde(default)]
    pub rule: Option<String>,
    /// For an attempt that is another attempt with one mistake: the folder name of that
    /// attempt (in the same `attempts/`); the crate is a copy of it with `edit`s applied, so the
    /// fixture shows the mistake as a diff instead of a second copy of every line.
    #[serde(default)]
    pub base: Option<String>,
    /// For hostile fixtures: the exercise, the one check to run, its expected status.
    #[serde(default)]
    pub exercise: Option<String>,
    #[serde(default)]
    pub check: Option<String>,
    #[serde(default)]
    pub outcome: Option<String>,
    /// For hostile fixtures: text the check's message must contain.
    #[serde(default)]
    pub message: Option<String>,
    /// Extra arguments for `grade`.
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(rename = "edit", default)]
    pub edits: Vec<Edit>,
    /// File name, for messages.
    #[serde(skip)]
    pub name: String,
    /// For whole-crate attempts: the folder holding the crate.
    #[serde(skip)]
    pub crate_dir: Option<PathBuf>,
}

/// What a whole-crate attempt is meant to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Breaks a rule of the prompt: must fail exactly `fails` (never empty).
    Wrong,
    /// Follows the prompt in another idiom: must pass every check.
    Correct,
}

/// One search/replace edit.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    #[serde(default = "default_file")]
    pub file: String,
    pub find: String,
    pub replace: String,
}

fn default_file() -> String {
    "src/lib.rs".to_owned()
}

/// Every fixture of `folder`: the edit fixtures `crates/grade/tests/fixtures/<folder>/*.toml`,
/// then the whole-crate attempts `crates/grade/tests/fixtures/<folder>/attempts/*/`, each
/// sorted by name.
pub fn fixtures(folder: &str) -> Vec<Fixture> {
    let mut all = edit_fixtures(folder);
    all.extend(attempt_fixtures(folder));
    all
}

/// The whole-crate attempts of `folder`, sorted by name.
pub fn attempt_fixtures(folder: &str) -> Vec<Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(folder)
        .join("attempts");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|crate_dir| {
            let path = crate_dir.join("fixture.toml");
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let mut fixture: Fixture =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let name = crate_dir.file_name().unwrap().to_string_lossy();
            fixture.name = format!("attempts/{name}");
            match fixture.kind {
                Some(Kind::Wrong) => assert!(
                    !fixture.fails.is_empty(),
                    "{}: a wrong attempt must list the checks it fails",
                    path.display()
                ),
                Some(Kind::Correct) => assert!(
                    fixture.fails.is_empty(),
                    "{}: a correct attempt fails no check",
                    path.display()
                ),
                None => panic!(
                    "{}: say `kind = \"wrong\"` or `\"correct\"`",
                    path.display()
                ),
            }
            match &fixture.base {
                Some(base) => {
                    let base_dir = dir.join(base);
                    assert!(
                        base_dir.join("fixture.toml").is_file() && base != name.as_ref(),
                        "{}: base `{base}` is not another attempt in {}",
                        path.display(),
                        dir.display()
                    );
                    assert!(
                        !fixture.edits.is_empty(),
                        "{}: an attempt with a base says its mistake as edits",
                        path.display()
                    );
                    fixture.crate_dir = Some(base_dir);
                }
                None => {
                    assert!(
                        fixture.edits.is_empty(),
                        "{}: edits need a `base` attempt to apply to",
                        path.display()
                    );
                    fixture.crate_dir = Some(crate_dir);
                }
            }
            fixture
        })
        .collect()
}

/// The edit fixtures in `crates/grade/tests/fixtures/<folder>/*.toml`, sorted by name.
pub fn edit_fixtures(folder: &str) -> Vec<Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(folder);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let mut fixture: Fixture =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            fixture.name = path.file_stem().unwrap().to_string_lossy().into_owned();
            fixture
        })
        .collect()
}

/// Copies the reference solution of `slug` into a temporary folder and applies the edits.
/// Panics when a `find` does not occur exactly once: a fixture that silently stopped applying
/// would test nothing.
pub fn materialize(slug: &str, fixture: &Fixture) -> tempfile::TempDir {
    let temp = tempfile::Builder::new()
        .prefix(&format!("fixture-{}-", fixture.name))
        .tempdir()
        .unwrap();
    materialize_into(slug, fixture, temp.path());
    temp
}

/// Like [`materialize`], into `dir` (emptied first). A whole-crate attempt is copied as it is;
/// one with a `base` is a copy of that attempt with the edits applied.
///
/// Grading one fixture after another from the same folder inside the checkout reuses one
/// harness, so cargo compiles the suite incrementally: about a second per fixture instead of
/// ten for a heavy suite.
pub fn materialize_into(slug: &str, fixture: &Fixture, dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    match &fixture.crate_dir {
        Some(crate_dir) => {
            copy_crate(crate_dir, dir);
            let _ = std::fs::remove_file(dir.join("fixture.toml"));
        }
        None => copy_crate(&root().join("reference-solutions").join(slug), dir),
    }
    for edit in &fixture.edits {
        let path = dir.join(&edit.file);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let count = text.matches(edit.find.as_str()).count();
        assert_eq!(
            count, 1,
            "fixture {}: `find` occurs {count} times in {} (must be once):\n{}",
            fixture.name, edit.file, edit.find
        );
        std::fs::write(&path, text.replacen(&edit.find, &edit.replace, 1)).unwrap();
    }
}

/// Copies a crate's sources (not `target/`).
pub fn copy_crate(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || name == "Cargo.lock" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_crate(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Runs `grade <args> --format json`; returns the exit code and the parsed report.
pub fn grade_json(args: &[&str]) -> (i32, Value) {
    let output = grade()
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let code = output.status.code().unwrap_or(-1);
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "grade {args:?} printed no JSON report ({e}); exit {code}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (code, report)
}

/// Ids of the checks in a JSON report that did not pass.
pub fn failing(report: &Value) -> BTreeSet<String> {
    checks(report)
        .filter(|c| c["status"] != "pass")
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The report's checks.
pub fn checks(report: &Value) -> impl Iterator<Item = &Value> {
    report["checks"].as_array().expect("a checks array").iter()
}

/// One line per check that did not pass: id, status, message.
pub fn describe_failures(report: &Value) -> String {
    checks(report)
        .filter(|c| c["status"] != "pass")
        .map(|c| {
            format!(
                "  {} [{}] {}",
                c["id"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
                c["message"].as_str().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Slugs of the exercises that are not drafts (`draft = true` in `exercise.toml`): those whose
/// suites must already be proven by fixtures and red-team attempts.
pub fn finished_slugs() -> Vec<String> {
    slugs()
        .into_iter()
        .filter(|slug| {
            let meta =
                std::fs::read_to_string(root().join("exercises").join(slug).join("exercise.toml"))
                    .unwrap();
            let meta: toml::Value = toml::from_str(&meta).unwrap();
            !meta
                .get("draft")
                .and_then(toml::Value::as_bool)
                .unwrap_or(false)
        })
        .collect()
}

/// Every exercise slug in the checkout (folders of `exercises/` with an `exercise.toml`).
pub fn slugs() -> Vec<String> {
    let mut slugs: Vec<String> = std::fs::read_dir(root().join("exercises"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("exercise.toml").is_file())
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    slugs.sort();
    slugs
}

/// Every check an exercise's metadata lists, in order, with the id of its criterion.
fn checks_with_criteria(slug: &str) -> Vec<(String, String)> {
    let path = root().join("exercises").join(slug).join("exercise.toml");
    let meta: toml::Value = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut checks = Vec::new();
    for criterion in meta["criteria"].as_array().unwrap() {
        for check in criterion["checks"].as_array().unwrap() {
            checks.push((
                check.as_str().unwrap().to_owned(),
                criterion["id"].as_str().unwrap().to_owned(),
            ));
        }
    }
    checks
}

/// Check id → criterion id, from an exercise's metadata.
pub fn criteria_of_checks(slug: &str) -> std::collections::BTreeMap<String, String> {
    checks_with_criteria(slug).into_iter().collect()
}

/// Every check id an exercise's metadata lists.
pub fn check_ids(slug: &str) -> Vec<String> {
    checks_with_criteria(slug)
        .into_iter()
        .map(|(check, _)| check)
        .collect()
}

/// Pids of live (non-zombie) processes whose command line contains `needle`.
pub fn processes_matching(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|s| {
            s.rfind(')')
                .is_some_and(|i| s[i + 1..].trim_start().starts_with('Z'))
        });
        if !zombie
            && String::from_utf8_lossy(&cmdline)
                .replace('\0', " ")
                .contains(needle)
        {
            pids.push(pid);
        }
    }
    pids
}

/// Snapshot settings shared by every snapshot test: `checkout` (whose path varies between
/// runs) reads as `[ROOT]`, and snapshots live in `tests/e2e/snapshots/` under plain names.
pub fn snapshot_settings(checkout: &Path) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex_escape(&checkout.display().to_string()), "[ROOT]");
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_alphanumeric() || c == '/' {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect()
}

/// Waits for `child` to exit, failing the test if it takes longer than `limit`.
pub fn wait_for_exit(
    child: &mut std::process::Child,
    limit: std::time::Duration,
    what: &str,
) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: did not exit within {limit:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
