//! The stub as it was handed out: the files git tracks under `exercises/<slug>/` at a
//! revision (`HEAD` unless `--from` says otherwise).
//!
//! Git is the one copy of the stub a clone always has and the candidate does not edit: the
//! working tree is theirs, the object database is not. Reading blobs with `git cat-file`
//! writes nothing (no checkout, no index update), so the repository is left exactly as it
//! was. Outside a git checkout (an exported tarball) there is no pristine copy, and `reset`
//! says so rather than guessing.
//!
//! A candidate who committed their attempt moves `HEAD` past the stub; `--from origin/main`
//! (or any revision from before their commits) names the stub then.

use std::path::Path;
use std::process::Command;

use super::files::{Files, is_attempt_path};
use crate::error::{GradeError, PracticeError};

/// The stub's files at `rev`, and a label for messages (`HEAD (1a2b3c4)`).
pub fn stub_files(root: &Path, slug: &str, rev: &str) -> Result<(Files, String), GradeError> {
    let no_stub = |reason: String| PracticeError::NoStub {
        exercise: slug.to_owned(),
        reason,
    };
    let inside = git(root, &["rev-parse", "--is-inside-work-tree"]);
    match inside {
        Ok(out) if out.trim() == "true" => {}
        Ok(_) => {
            return Err(no_stub(format!("{} is not a git checkout", root.display())).into());
        }
        Err(GitFailure::Failed(reason)) => {
            // git's own words matter here: "not a git repository", or "dubious ownership"
            // when the checkout belongs to another user.
            return Err(no_stub(format!(
                "{} is not a git checkout ({reason})",
                root.display()
            ))
            .into());
        }
        Err(GitFailure::NotRunnable(reason)) => {
            return Err(no_stub(format!("git cannot run ({reason})")).into());
        }
    }
    let commit = git(
        root,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .map_err(|_| no_stub(format!("`{rev}` is not a commit of this repository")))?;
    let commit = commit.trim().to_owned();
    let short = git(root, &["rev-parse", "--short", &commit])
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| commit.clone());

    let folder = format!("exercises/{slug}/");
    let listing = git(
        root,
        &["ls-tree", "-r", "-z", "--name-only", &commit, "--", &folder],
    )
    .map_err(|failure| failure.into_error(&format!("git ls-tree {commit} -- {folder}")))?;
    let mut files = Files::new();
    for path in listing.split('\0').filter(|p| !p.is_empty()) {
        let Some(relative) = path.strip_prefix(&folder) else {
            continue;
        };
        if !is_attempt_path(Path::new(relative)) {
            continue;
        }
        let blob = git_bytes(root, &["cat-file", "blob", &format!("{commit}:./{path}")])
            .map_err(|failure| failure.into_error(&format!("git cat-file blob {commit}:{path}")))?;
        files.insert(relative.into(), blob);
    }
    if files.is_empty() {
        return Err(no_stub(format!("git tracks no files under {folder} at {rev}")).into());
    }
    Ok((files, format!("{rev} ({short})")))
}

enum GitFailure {
    /// git could not be started.
    NotRunnable(String),
    /// git ran and failed.
    Failed(String),
}

impl GitFailure {
    fn into_error(self, command: &str) -> GradeError {
        let reason = match self {
            Self::NotRunnable(reason) | Self::Failed(reason) => reason,
        };
        PracticeError::Git {
            command: command.to_owned(),
            reason,
        }
        .into()
    }
}

fn git_bytes(root: &Path, args: &[&str]) -> Result<Vec<u8>, GitFailure> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .map_err(|e| GitFailure::NotRunnable(e.to_string()))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(GitFailure::Failed(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ))
    }
}

fn git(root: &Path, args: &[&str]) -> Result<String, GitFailure> {
    git_bytes(root, args).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}
