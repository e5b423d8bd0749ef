//! Building an acceptance suite against an arbitrary attempt.
//!
//! A suite crate (`tests/<slug>`) depends on the exercise by path. To grade a different attempt
//! (the reference, a fixture, a submission elsewhere on disk) the grader writes a small
//! *harness* manifest under `.grade/harness/` that is the suite's manifest with every relative
//! path made absolute, `workspace = true` dependencies resolved from the root manifest, and the
//! attempt dependency pointed at the attempt being graded. The harness is its own workspace (so
//! nothing is written into `exercises/`), starts from a copy of the root `Cargo.lock` (so the
//! versions are the ones the repository pins and no network is needed once they are fetched),
//! and builds into `target/grade`, shared by every harness so dependencies compile once.
//!
//! Only what the exercise needs is built: its suite, the attempt, the kit and their
//! dependencies, never another exercise's.
//!
//! The build runs `cargo build --message-format=json…`; [`build`] turns the stream into progress
//! events, the suite executable's path, or the compiler's rendered diagnostics when the attempt
//! does not compile.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cargo_metadata::Message;
use cargo_metadata::diagnostic::DiagnosticLevel;
use toml_edit::{DocumentMut, Item, Table, Value};

use crate::error::{GradeError, io};
use crate::repo::{Exercise, Repo};
use crate::sandbox;

/// The cargo profile harnesses build with; defined in every harness manifest.
///
/// Optimisation level 1 keeps builds close to debug speed while making volume checks (a 1 GiB
/// stream) run in seconds, and it keeps debug assertions and overflow checks on: an attempt
/// whose arithmetic overflows should panic in the report, not wrap silently.
pub const PROFILE: &str = "grade";

/// A harness ready to build.
#[derive(Debug)]
pub struct Harness {
    manifest: PathBuf,
    target_dir: PathBuf,
    attempt_dir: PathBuf,
    suite_package: String,
    /// Removed when the harness is dropped, for attempts outside the checkout.
    _temporary: Option<tempfile::TempDir>,
    /// The attempt's package name, built too so its binaries (if any) exist for the suite.
    attempt_package: String,
    /// Private copies of this build's executables (see [`Harness::build`]).
    executables: tempfile::TempDir,
}

/// What a build produced.
#[derive(Debug)]
pub enum BuildOutcome {
    /// The suite executable.
    Built(PathBuf),
    /// Compilation failed.
    Failed(BuildFailure),
}

/// Why a build failed, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildFailure {
    /// Whose code did not compile.
    pub culprit: Culprit,
    /// The compiler's rendered diagnostics (errors first), as cargo would print them.
    pub diagnostics: Vec<String>,
}

/// Whose code a build error is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Culprit {
    /// The attempt itself does not compile.
    Attempt,
    /// The attempt compiles, but the suite does not compile against it: its public API
    /// changed.
    Suite,
    /// Cargo failed before compiling (a manifest error, a missing dependency, no network).
    Cargo,
}

impl Harness {
    /// Writes (or refreshes) the harness for grading `attempt_dir` as `exercise`.
    pub fn prepare(
        repo: &Repo,
        exercise: &Exercise,
        attempt_dir: &Path,
    ) -> Result<Self, GradeError> {
        let attempt_dir = attempt_dir
            .canonicalize()
            .map_err(|_| bad_attempt(attempt_dir, "the folder does not exist"))?;
        let attempt_package = attempt_package_name(&attempt_dir)?;

        let suite_manifest_path = exercise.suite_dir.join("Cargo.toml");
        let suite_text = std::fs::read_to_string(&suite_manifest_path)
            .map_err(io("cannot read", &suite_manifest_path))?;
        let root_manifest_path = repo.root().join("Cargo.toml");
        let root_text = std::fs::read_to_string(&root_manifest_path)
            .map_err(io("cannot read", &root_manifest_path))?;
        let subject = exercise.slug.replace('-', "_");
        let (manifest, suite_package) = harness_manifest(&HarnessInputs {
            suite_text: &suite_text,
            suite_dir: &exercise.suite_dir,
            root_text: &root_text,
            root_dir: repo.root(),
            subject: &subject,
            attempt_package: &attempt_package,
            attempt_dir: &attempt_dir,
        })
        .map_err(|reason| GradeError::Metadata {
            path: suite_manifest_path.clone(),
            reason,
        })?;

        // Attempts inside the checkout (the candidate's, the reference) keep their harness in
        // `.grade/harness/`, so a re-grade reuses it untouched. An attempt elsewhere (a
        // submission, a fixture) gets a temporary one that goes with the run: nothing of a
        // one-off grading outlives it but the shared compiled dependencies.
        let (dir, temporary) = if attempt_dir.starts_with(repo.root()) {
            let mut hasher = DefaultHasher::new();
            attempt_dir.hash(&mut hasher);
            let name = format!("{}-{:016x}", exercise.slug, hasher.finish());
            let dir = repo.state_dir().join("harness").join(name);
            std::fs::create_dir_all(&dir).map_err(io("cannot create", &dir))?;
            (dir, None)
        } else {
            let temporary = tempfile::Builder::new()
                .prefix("grade-harness-")
                .tempdir()
                .map_err(io(
                    "cannot create a temporary directory in",
                    std::env::temp_dir(),
                ))?;
            (temporary.path().to_owned(), Some(temporary))
        };
        let manifest_path = dir.join("Cargo.toml");
        // Rewrite only on change: an untouched manifest keeps cargo's fingerprints warm.
        if std::fs::read_to_string(&manifest_path).ok().as_deref() != Some(manifest.as_str()) {
            std::fs::write(&manifest_path, &manifest)
                .map_err(io("cannot write", &manifest_path))?;
        }
        let lock = repo.root().join("Cargo.lock");
        if lock.is_file() {
            std::fs::copy(&lock, dir.join("Cargo.lock")).map_err(io("cannot copy", &lock))?;
        }
        Ok(Self {
            manifest: manifest_path,
            target_dir: repo.target_dir(),
            attempt_dir,
            suite_package,
            _temporary: temporary,
            attempt_package,
            executables: tempfile::Builder::new()
                .prefix("grade-bin-")
                .tempdir()
                .map_err(io(
                    "cannot create a temporary directory in",
                    std::env::temp_dir(),
                ))?,
        })
    }

    /// Builds the harness, reporting each compiled crate's name through `progress`.
    ///
    /// Cargo copies ("uplifts") every binary to a fixed path in the target folder, the same
    /// for every harness of an exercise, so two gradings running at once (a watch and a manual
    /// run, parallel tests) could each run the other's suite. The build therefore happens under
    /// an exclusive lock on the target folder, and before releasing it the suite and the
    /// attempt's own binaries are hard-linked into a private folder: what the checks run
    /// cannot change under them. The attempt's binaries sit next to the suite executable, where
    /// `grade_kit::env::attempt_bin` finds them (for exercises that run a real process).
    pub fn build(
        &self,
        color: bool,
        mut progress: impl FnMut(&str),
    ) -> Result<BuildOutcome, GradeError> {
        let format = if color {
            "json-diagnostic-rendered-ansi"
        } else {
            "json"
        };
        let mut command = Command::new(cargo_program());
        command
            .args([
                "build",
                "--profile",
                PROFILE,
                "--message-format",
                format,
                "--package",
                &self.suite_package,
                "--package",
                &self.attempt_package,
                "--manifest-path",
            ])
            .arg(&self.manifest)
            .env("CARGO_TARGET_DIR", &self.target_dir)
            .env_remove("RUSTFLAGS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        std::fs::create_dir_all(&self.target_dir).map_err(io("cannot create", &self.target_dir))?;
        let lock_path = self.target_dir.join(".grade-build.lock");
        let lock = std::fs::File::create(&lock_path).map_err(io("cannot create", &lock_path))?;
        wait_for_lock(&lock).map_err(io("cannot lock", &lock_path))?;
        let mut child =
            sandbox::spawn_in_group(&mut command).map_err(|source| GradeError::NoCargo {
                program: cargo_program(),
                source,
            })?;
        let group = sandbox::Registration::new(child.id());

        // Cargo's own stderr (progress lines, manifest errors) is drained on a thread so a full
        // pipe can never stall the build; it is shown only if cargo fails before compiling.
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let stderr_reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });

        let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut executable = None;
        let mut attempt_bins = Vec::new();
        let mut attempt_errors = Vec::new();
        let mut suite_errors = Vec::new();
        for message in Message::parse_stream(stdout) {
            let Ok(message) = message else { continue };
            match message {
                Message::CompilerArtifact(artifact) => {
                    progress(&artifact.target.name);
                    let in_attempt =
                        Path::new(artifact.target.src_path.as_str()).starts_with(&self.attempt_dir);
                    match artifact.executable {
                        Some(path) if artifact.target.name == self.suite_package => {
                            executable = Some(PathBuf::from(path));
                        }
                        Some(path) if in_attempt => attempt_bins.push(PathBuf::from(path)),
                        _ => {}
                    }
                }
                Message::CompilerMessage(message) => {
                    let level = message.message.level;
                    if !matches!(level, DiagnosticLevel::Error | DiagnosticLevel::Ice) {
                        continue;
                    }
                    let rendered = message
                        .message
                        .rendered
                        .clone()
                        .unwrap_or(message.message.message.clone());
                    let in_attempt =
                        Path::new(message.target.src_path.as_str()).starts_with(&self.attempt_dir);
                    if in_attempt {
                        &mut attempt_errors
                    } else {
                        &mut suite_errors
                    }
                    .push(rendered);
                }
                _ => {}
            }
        }
        let status = child.wait().map_err(io("cannot wait for", "cargo"))?;
        drop(group);
        let cargo_stderr = stderr_reader.join().unwrap_or_default();

        if status.success()
            && let Some(executable) = executable
        {
            let private = self.keep(&executable)?;
            for bin in &attempt_bins {
                self.keep(bin)?;
            }
            return Ok(BuildOutcome::Built(private));
        }
        drop(lock);
        if crate::interrupt::requested() {
            return Err(GradeError::Interrupted);
        }
        let failure = if !attempt_errors.is_empty() {
            BuildFailure {
                culprit: Culprit::Attempt,
                diagnostics: attempt_errors,
            }
        } else if !suite_errors.is_empty() {
            BuildFailure {
                culprit: Culprit::Suite,
                diagnostics: suite_errors,
            }
        } else {
            let useful: Vec<&str> = cargo_stderr
                .lines()
                .filter(|line| {
                    !line.trim_start().starts_with("Compiling") && !line.trim().is_empty()
                })
                .collect();
            BuildFailure {
                culprit: Culprit::Cargo,
                diagnostics: vec![useful.join("\n")],
            }
        };
        Ok(BuildOutcome::Failed(failure))
    }

    /// Hard-links (or copies) a freshly built executable into this build's private folder.
    fn keep(&self, executable: &Path) -> Result<PathBuf, GradeError> {
        let name = executable.file_name().expect("executables have names");
        let private = self.executables.path().join(name);
        let _ = std::fs::remove_file(&private);
        if std::fs::hard_link(executable, &private).is_err() {
            std::fs::copy(executable, &private).map_err(io("cannot copy", executable))?;
        }
        Ok(private)
    }
}

/// The cargo to run: the one that ran us (`cargo grade` sets `CARGO`), else `cargo` on PATH.
pub fn cargo_program() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn bad_attempt(path: &Path, reason: &str) -> GradeError {
    GradeError::BadAttempt {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Takes the build lock, waiting while another grading run builds. The wait polls rather than
/// blocking in `flock`: a blocked thread cannot notice Ctrl-C / SIGTERM, and the grader must
/// stop promptly even while another run holds the lock for a long build.
fn wait_for_lock(lock: &std::fs::File) -> std::io::Result<()> {
    loop {
        match lock.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(error)) => return Err(error),
        }
        if crate::interrupt::requested() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "interrupted while waiting for another build",
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The package name declared by the attempt's manifest.
fn attempt_package_name(dir: &Path) -> Result<String, GradeError> {
    let path = dir.join("Cargo.toml");
    let text =
        std::fs::read_to_string(&path).map_err(|_| bad_attempt(dir, "it has no Cargo.toml"))?;
    if !dir.join("src").join("lib.rs").is_file() {
        return Err(bad_attempt(dir, "it has no src/lib.rs"));
    }
    let doc: DocumentMut = text
        .parse()
        .map_err(|e| bad_attempt(dir, &format!("Cargo.toml does not parse: {e}")))?;
    doc.get("package")
        .and_then(|p| p.get("name"))
        .and_then(Item::as_str)
        .map(str::to_owned)
        .ok_or_else(|| bad_attempt(dir, "Cargo.toml has no [package] name"))
}

/// Everything [`harness_manifest`] reads.
struct HarnessInputs<'a> {
    suite_text: &'a str,
    suite_dir: &'a Path,
    root_text: &'a str,
    root_dir: &'a Path,
    /// The dependency key naming the attempt (the exercise's lib name).
    subject: &'a str,
    attempt_package: &'a str,
    attempt_dir: &'a Path,
}

/// Rewrites a suite manifest into a standalone harness manifest; returns it and the suite's
/// package name.
fn harness_manifest(inputs: &HarnessInputs<'_>) -> Result<(String, String), String> {
    let suite: DocumentMut = inputs
        .suite_text
        .parse()
        .map_err(|e| format!("does not parse: {e}"))?;
    let root: DocumentMut = inputs
        .root_text
        .parse()
        .map_err(|e| format!("root Cargo.toml does not parse: {e}"))?;
    let workspace_package = root
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(Item::as_table_like);
    let workspace_deps = root
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(Item::as_table_like);

    let package = suite
        .get("package")
        .and_then(Item::as_table_like)
        .ok_or("no [package]")?;
    let name = package
        .get("name")
        .and_then(Item::as_str)
        .ok_or("no package name")?
        .to_owned();
    let edition = match package.get("edition") {
        Some(item) if item.as_str().is_some() => item.as_str().map(str::to_owned),
        Some(_) => workspace_package
            .and_then(|p| p.get("edition"))
            .and_then(Item::as_str)
            .map(str::to_owned),
        None => None,
    }
    .unwrap_or_else(|| "2024".to_owned());

    let mut out = DocumentMut::new();
    out.decor_mut().set_prefix(
        "# Generated by `grade` for one grading run: the acceptance suite built against one attempt.\n\
         # Do not edit; it is rewritten on every run.\n",
    );
    let mut pkg = Table::new();
    pkg.insert("name", toml_edit::value(name.as_str()));
    pkg.insert("version", toml_edit::value("0.0.0"));
    pkg.insert("edition", toml_edit::value(edition));
    pkg.insert("publish", toml_edit::value(false));
    for auto in ["autobins", "autoexamples", "autotests", "autobenches"] {
        pkg.insert(auto, toml_edit::value(false));
    }
    out.insert("package", Item::Table(pkg));

    let mut bin = Table::new();
    bin.insert("name", toml_edit::value(name.as_str()));
    bin.insert(
        "path",
        toml_edit::value(path_str(&inputs.suite_dir.join("src").join("main.rs"))),
    );
    let mut bins = toml_edit::ArrayOfTables::new();
    bins.push(bin);
    out.insert("bin", Item::ArrayOfTables(bins));

    let mut deps = Table::new();
    let suite_deps = suite
        .get("dependencies")
        .and_then(Item::as_table_like)
        .ok_or("no [dependencies]")?;
    let mut found_subject = false;
    for (key, item) in suite_deps.iter() {
        let dep = if key == inputs.subject {
            found_subject = true;
            let mut table = toml_edit::InlineTable::new();
            table.insert("package", inputs.attempt_package.into());
            table.insert("path", path_str(inputs.attempt_dir).into());
            table
        } else {
            resolve_dependency(key, item, inputs.suite_dir, workspace_deps, inputs.root_dir)?
        };
        deps.insert(key, toml_edit::value(dep));
    }
    if !found_subject {
        return Err(format!(
            "[dependencies] has no `{}` entry for the attempt",
            inputs.subject
        ));
    }
    out.insert("dependencies", Item::Table(deps));

    // An empty [workspace] makes the harness its own workspace root, so cargo does not look
    // upwards and find (and complain about) the repository's workspace.
    out.insert("workspace", Item::Table(Table::new()));

    let mut profile = Table::new();
    profile.insert("inherits", toml_edit::value("dev"));
    profile.insert("opt-level", toml_edit::value(1));
    profile.insert("debug", toml_edit::value("line-tables-only"));
    let mut profiles = Table::new();
    profiles.set_implicit(true);
    profiles.insert(PROFILE, Item::Table(profile));
    out.insert("profile", Item::Table(profiles));

    Ok((out.to_string(), name))
}

/// One suite dependency as a standalone inline table: `workspace = true` resolved, paths
/// absolute.
fn resolve_dependency(
    key: &str,
    item: &Item,
    suite_dir: &Path,
    workspace_deps: Option<&dyn toml_edit::TableLike>,
    root_dir: &Path,
) -> Result<toml_edit::InlineTable, String> {
    let mut table =
        as_inline(item).ok_or_else(|| format!("dependency `{key}` has an unexpected form"))?;
    let mut base = suite_dir;
    if table.get("workspace").and_then(Value::as_bool) == Some(true) {
        let inherited = workspace_deps
            .and_then(|deps| deps.get(key))
            .and_then(as_inline)
            .ok_or_else(|| {
                format!(
                    "dependency `{key}` says workspace = true, but the root does not declare it"
                )
            })?;
        table.remove("workspace");
        let extra_features = features_of(&table);
        let optional = table.get("optional").cloned();
        table = inherited;
        if !extra_features.is_empty() {
            let mut features = features_of(&table);
            for feature in extra_features {
                if !features.contains(&feature) {
                    features.push(feature);
                }
            }
            table.insert("features", Value::Array(features.into_iter().collect()));
        }
        if let Some(optional) = optional {
            table.insert("optional", optional);
        }
        base = root_dir;
    }
    if let Some(path) = table.get("path").and_then(Value::as_str) {
        let absolute = base.join(path);
        let absolute = absolute.canonicalize().unwrap_or(absolute);
        table.insert("path", path_str(&absolute).into());
    }
    Ok(table)
}

/// The `features` list of a dependency table (empty when absent).
fn features_of(table: &toml_edit::InlineTable) -> Vec<String> {
    table
        .get("features")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A dependency item (`"1"` or `{ … }` or a `[dependencies.x]` table) as an inline table.
fn as_inline(item: &Item) -> Option<toml_edit::InlineTable> {
    match item {
        Item::Value(Value::String(version)) => {
            let mut table = toml_edit::InlineTable::new();
            table.insert("version", version.value().as_str().into());
            Some(table)
        }
        Item::Value(Value::InlineTable(table)) => Some(table.clone()),
        Item::Table(table) => Some(table.clone().into_inline_table()),
        _ => None,
    }
}

fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = r#"
        [workspace]
        members = ["crates/*"]
        [workspace.package]
        edition = "2024"
        [workspace.dependencies]
        grade-kit = { path = "crates/grade-kit" }
        tokio = { version = "1", features = ["rt"] }
        rand = "0.9"
    "#;

    const SUITE: &str = r#"
        [package]
        name = "retry-suite"
        version = "0.1.0"
        edition.workspace = true

        [dependencies]
        retry = { package = "retry", path = "../../exercises/retry" }
        grade-kit.workspace = true
        tokio = { workspace = true, features = ["time"] }
        rand.workspace = true
        bytes = "1"
    "#;

    fn manifest() -> String {
        harness_manifest(&HarnessInputs {
            suite_text: SUITE,
            suite_dir: Path::new("/repo/tests/retry"),
            root_text: ROOT,
            root_dir: Path::new("/repo"),
            subject: "retry",
            attempt_package: "retry-reference",
            attempt_dir: Path::new("/somewhere/attempt"),
        })
        .unwrap()
        .0
    }

    #[test]
    fn points_the_subject_at_the_attempt() {
        let text = manifest();
        assert!(
            text.contains(
                r#"retry = { package = "retry-reference", path = "/somewhere/attempt" }"#
            ),
            "{text}"
        );
    }

    #[test]
    fn resolves_workspace_dependencies_and_merges_features() {
        let text = manifest();
        assert!(
            text.contains(r#"grade-kit = { path = "/repo/crates/grade-kit" }"#),
            "{text}"
        );
        assert!(
            text.contains(r#"tokio = { version = "1", features = ["rt", "time"] }"#),
            "{text}"
        );
        assert!(text.contains(r#"rand = { version = "0.9" }"#), "{text}");
        assert!(text.contains(r#"bytes = { version = "1" }"#), "{text}");
    }

    #[test]
    fn is_a_standalone_workspace_with_the_grade_profile() {
        let doc: DocumentMut = manifest().parse().unwrap();
        assert!(doc.get("workspace").is_some());
        assert_eq!(doc["package"]["edition"].as_str(), Some("2024"));
        assert_eq!(doc["profile"][PROFILE]["opt-level"].as_integer(), Some(1));
        assert_eq!(
            doc["bin"][0]["path"].as_str(),
            Some("/repo/tests/retry/src/main.rs")
        );
    }

    #[test]
    fn a_suite_without_the_attempt_dependency_is_rejected() {
        let error = harness_manifest(&HarnessInputs {
            suite_text: &SUITE.replace("retry = {", "other = {"),
            suite_dir: Path::new("/repo/tests/retry"),
            root_text: ROOT,
            root_dir: Path::new("/repo"),
            subject: "retry",
            attempt_package: "retry",
            attempt_dir: Path::new("/a"),
        })
        .unwrap_err();
        assert!(error.contains("no `retry` entry"), "{error}");
    }
}
