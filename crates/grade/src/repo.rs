//! The grade checkout: where it is, which exercises it holds, and where each part of an
//! exercise lives.
//!
//! The grader is run from anywhere inside the clone (`cargo grade` is an alias), so the root
//! is found by walking up from the current directory to the first `Cargo.toml` that sits next
//! to an `exercises/` folder. `GRADE_ROOT` overrides the search.

use std::path::{Path, PathBuf};

use crate::error::{GradeError, did_you_mean, io};
use crate::meta::Metadata;

/// A grade checkout.
#[derive(Debug, Clone)]
pub struct Repo {
    root: PathBuf,
}

/// One exercise: its slug and metadata, and where its parts are.
#[derive(Debug, Clone)]
pub struct Exercise {
    /// The folder name, e.g. `task-runner`.
    pub slug: String,
    /// The parsed `exercise.toml`.
    pub meta: Metadata,
    /// `exercises/<slug>`: the candidate's attempt.
    pub attempt_dir: PathBuf,
    /// `reference-solutions/<slug>`.
    pub reference_dir: PathBuf,
    /// `tests/<slug>`: the acceptance suite crate.
    pub suite_dir: PathBuf,
}

impl Repo {
    /// Finds the checkout containing the current directory (or `GRADE_ROOT`).
    pub fn discover() -> Result<Self, GradeError> {
        if let Some(root) = std::env::var_os("GRADE_ROOT") {
            let root = PathBuf::from(root);
            return if Self::is_root(&root) {
                let root = root.canonicalize().unwrap_or(root);
                Ok(Self { root })
            } else {
                Err(GradeError::NoRoot { start: root })
            };
        }
        let start = std::env::current_dir().map_err(io("cannot read", "the current directory"))?;
        start
            .ancestors()
            .find(|dir| Self::is_root(dir))
            .map(|root| Self {
                root: root.canonicalize().unwrap_or_else(|_| root.to_path_buf()),
            })
            .ok_or(GradeError::NoRoot { start })
    }

    fn is_root(dir: &Path) -> bool {
        dir.join("Cargo.toml").is_file() && dir.join("exercises").is_dir()
    }

    /// The checkout's root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `.grade/` at the root: state, harnesses, backups. Git-ignored, outside `exercises/`,
    /// and untouched by `cargo clean`.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(".grade")
    }

    /// Where harness builds put their artifacts, shared by all exercises: `target/grade`, or
    /// `GRADE_TARGET_DIR` (benchmarks use it to measure a cold build without losing the cache).
    pub fn target_dir(&self) -> PathBuf {
        std::env::var_os("GRADE_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.root.join("target").join("grade"))
    }

    /// Slugs of every exercise (folders of `exercises/` with an `exercise.toml`), sorted.
    pub fn slugs(&self) -> Result<Vec<String>, GradeError> {
        let dir = self.root.join("exercises");
        let mut slugs: Vec<String> = std::fs::read_dir(&dir)
            .map_err(io("cannot read", &dir))?
            .filter_map(Result::ok)
            .filter(|entry| entry.path().join("exercise.toml").is_file())
            .filter_map(|entry| entry.file_name().into_string().ok())
            .collect();
        slugs.sort();
        Ok(slugs)
    }

    /// Every exercise, in the order their metadata gives (then by slug).
    pub fn exercises(&self) -> Result<Vec<Exercise>, GradeError> {
        let mut exercises = self
            .slugs()?
            .iter()
            .map(|slug| self.exercise(slug))
            .collect::<Result<Vec<_>, _>>()?;
        exercises.sort_by(|a, b| (a.meta.order, &a.slug).cmp(&(b.meta.order, &b.slug)));
        Ok(exercises)
    }

    /// One exercise by slug, with a "did you mean" when it does not exist.
    pub fn exercise(&self, slug: &str) -> Result<Exercise, GradeError> {
        let attempt_dir = self.root.join("exercises").join(slug);
        let meta_path = attempt_dir.join("exercise.toml");
        if slug.is_empty() || slug.contains(['/', '\\', '.']) || !meta_path.is_file() {
            let slugs = self.slugs()?;
            return Err(GradeError::UnknownExercise {
                name: slug.to_owned(),
                suggestion: did_you_mean(slug, slugs.iter().map(String::as_str)),
            });
        }
        Ok(Exercise {
            slug: slug.to_owned(),
            meta: Metadata::load(&meta_path)?,
            reference_dir: self.root.join("reference-solutions").join(slug),
            suite_dir: self.root.join("tests").join(slug),
            attempt_dir,
        })
    }

    /// `path` relative to the root when it is inside, for display.
    pub fn display_path(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}
