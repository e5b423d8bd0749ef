//! The containers a run starts (Redis, Kafka), through the `docker` command line: each carries
//! labels naming the run and the service, and a [`Labelled`] guard removes whatever carries
//! them when it drops, so a container whose id was never read (an interrupted `docker run`) is
//! still found.
//!
//! # Why the `docker` CLI and not the `testcontainers` crate
//! One mechanism owns every container's lifecycle, and it is this one, for two reasons:
//! - **The grader's cold build.** `cargo grade` builds the grader before a newcomer's first
//!   grading, and that build must stay under a minute on two cores. The grader's own build has
//!   81 crates today; `testcontainers` 0.28 (default features) alone compiles 177, 144 of them
//!   ones the grader does not build (tokio, hyper, tonic, bollard and its Docker API models,
//!   rustls, …). Measured in a scratch crate, cold `cargo build` under `nice -n 19` on the
//!   2-core development machine (while two other builds ran): 5 min 8 s wall and 183
//!   CPU-seconds (160 user, 23 system), so 90 s or more of two idle cores for that one
//!   dependency; `bollard-stubs` and tokio are its largest units.
//! - **Nothing it would buy is needed.** The grader needs `run`, `port`, `ps` and `rm`, with a
//!   time limit and a process group it can kill on Ctrl-C; a container's readiness is judged by
//!   the protocol (PING, ApiVersions), which testcontainers' log-line waits would not replace.
//!   It is also async, where the grader is synchronous: a runtime for four commands.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::locate::run_for_teardown;

/// The label every container of run `run` carries.
pub fn run_label(run: &str) -> String {
    format!("grade.run={run}")
}

/// The label every container providing `service` carries.
pub fn service_label(service: &str) -> String {
    format!("grade.service={service}")
}

/// Removes, when dropped, every container carrying all of `labels`. It exists before the
/// container does: an interrupted `docker run` leaves a container without a known id.
pub struct Labelled {
    docker: PathBuf,
    labels: Vec<String>,
    /// What the containers are, for the warning when they cannot be removed ("Redis").
    what: &'static str,
}

impl Labelled {
    /// A guard for the containers `docker` starts with `labels`.
    pub fn new(docker: &Path, labels: Vec<String>, what: &'static str) -> Self {
        Self {
            docker: docker.to_owned(),
            labels,
            what,
        }
    }

    /// `--label L` for each label, for `docker run`.
    pub fn run_args(&self) -> Vec<String> {
        self.labels
            .iter()
            .flat_map(|label| ["--label".to_owned(), label.clone()])
            .collect()
    }
}

impl Drop for Labelled {
    fn drop(&mut self) {
        let mut ps = Command::new(&self.docker);
        ps.args(["ps", "--all", "--quiet"]);
        for label in &self.labels {
            ps.args(["--filter", &format!("label={label}")]);
        }
        let ids = run_for_teardown(&mut ps, Duration::from_secs(30)).unwrap_or_default();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty()
            && let Err(reason) = run_for_teardown(
                Command::new(&self.docker)
                    .args(["rm", "--force"])
                    .args(&ids),
                Duration::from_secs(60),
            )
        {
            eprintln!(
                "warning: could not remove the {} container ({reason}); remove it with `docker rm -f {}`",
                self.what,
                ids.join(" ")
            );
        }
    }
}
