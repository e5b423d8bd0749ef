//! `grade doctor`: what this machine provides, what each exercise needs, and the fix for
//! anything missing.
//!
//! It probes without starting anything: `cargo --version` and `rustc --version`; for each
//! service the grader knows, every source in the order a grading run tries them (a URL is
//! pinged, a binary asked its version, Docker asked `docker info`), and which one a run would
//! use. Probing ([`diagnose`]) is kept apart from rendering ([`render`]) so the text can be
//! tested on a made-up machine. Exit code 0 when every exercise can be graded here, 4 when
//! something one of them needs is missing. Optional tools (cargo-mutants, for the instructors'
//! `grade mutants`) are shown with their install command but never fail the doctor: grading
//! does not need them.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::Result;

use crate::exit;
use crate::harness::cargo_program;
use crate::repo::Repo;
use crate::services::locate::{Docker, UrlOrigin, redis_server_version, run_briefly};
use crate::services::resp::{Connection, RedisUrl};
use crate::services::{Host, Service};

/// Everything `doctor` found.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    /// `cargo --version`, or why it failed.
    pub cargo: Result<String, String>,
    /// `rustc --version`, or why it failed.
    pub rustc: Result<String, String>,
    /// Each known service.
    pub services: Vec<ServiceDiagnosis>,
    /// Each exercise and the services it needs, or why its metadata could not be read.
    pub exercises: Vec<(String, Result<Vec<String>, String>)>,
    /// `cargo mutants --version`, or why it did not run (optional: `grade mutants` only).
    pub cargo_mutants: Result<String, String>,
}

/// What was found for one service.
#[derive(Debug, Clone)]
pub struct ServiceDiagnosis {
    /// Which service.
    pub service: Service,
    /// An explicit URL: where it came from, and the server's version or why it did not answer.
    pub url: Option<(String, UrlOrigin, Result<String, String>)>,
    /// The server binary on PATH, and its version or why it would not say.
    pub binary: Option<(PathBuf, Result<String, String>)>,
    /// Docker.
    pub docker: Docker,
}

impl ServiceDiagnosis {
    /// The source a grading run would use, in words, or `None` when it would stop.
    ///
    /// The order is the run's: a URL is used whenever one is given (and a dead one is an
    /// error, never silently replaced by a private server), then the binary, then Docker.
    pub fn chosen(&self) -> Option<String> {
        if let Some((url, origin, answer)) = &self.url {
            return answer.as_ref().ok().map(|version| {
                format!(
                    "the server at {url} (from {}), Redis {version}; only the run's keys are deleted",
                    origin.as_str()
                )
            });
        }
        if let Some((path, version)) = &self.binary {
            return version.as_ref().ok().map(|version| {
                format!(
                    "redis-server {version} ({}), started privately for each run",
                    path.display()
                )
            });
        }
        match &self.docker {
            Docker::Ready { version, .. } => Some(format!(
                "a {} container (Docker {version}), started for each run",
                crate::services::locate::REDIS_IMAGE
            )),
            Docker::Unavailable(_) => None,
        }
    }

    /// What to do when [`chosen`](Self::chosen) is `None`.
    pub fn fix(&self) -> String {
        match (&self.url, &self.binary) {
            (Some((url, origin, _)), _) => format!(
                "start the server at {url}, fix {}, or drop it (unset REDIS_URL / leave out \
                 --redis-url) to let grade start a private one",
                origin.as_str()
            ),
            (None, Some((path, _))) => format!(
                "{} does not run; reinstall it, or: {}",
                path.display(),
                self.service.fix()
            ),
            (None, None) => self.service.fix().to_owned(),
        }
    }
}

/// Probes the machine described by `host` and the exercises of `repo`.
pub fn diagnose(repo: &Repo, host: &Host) -> Result<Diagnosis> {
    let version = |program: &str| {
        run_briefly(
            Command::new(program).arg("--version"),
            Duration::from_secs(30),
        )
        .map(|out| out.trim().to_owned())
    };
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let services = Service::ALL
        .iter()
        .map(|&service| match service {
            Service::Redis => ServiceDiagnosis {
                service,
                url: host.redis_url().map(|(url, origin)| {
                    let answer = RedisUrl::parse(url).and_then(|parsed| ping(&parsed));
                    let shown =
                        RedisUrl::parse(url).map_or_else(|_| url.to_owned(), |u| u.redacted());
                    (shown, origin, answer)
                }),
                binary: host
                    .which("redis-server")
                    .map(|path| (path.clone(), redis_server_version(&path))),
                docker: host.docker(),
            },
        })
        .collect();
    // One exercise with broken metadata must not hide what the others need.
    let mut exercises: Vec<(u32, String, Result<Vec<String>, String>)> = repo
        .slugs()?
        .into_iter()
        .map(|slug| match repo.exercise(&slug) {
            Ok(exercise) => (exercise.meta.order, slug, Ok(exercise.meta.services)),
            Err(error) => (u32::MAX, slug, Err(error.to_string())),
        })
        .collect();
    exercises.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let exercises = exercises
        .into_iter()
        .map(|(_, slug, needs)| (slug, needs))
        .collect();
    let cargo_mutants = crate::mutants::listing::tool_version().map_err(|error| match error {
        crate::error::MutantsError::ToolMissing { reason } => reason,
        other => other.to_string(),
    });
    Ok(Diagnosis {
        cargo: version(&cargo_program()),
        rustc: version(&rustc),
        services,
        exercises,
        cargo_mutants,
    })
}

/// Connects, pings, and reads the version of the server at `url`.
fn ping(url: &RedisUrl) -> Result<String, String> {
    let mut connection =
        Connection::open(url, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    connection.ping().map_err(|e| e.to_string())?;
    Ok(connection
        .info_field("redis_version")
        .ok()
        .flatten()
        .unwrap_or_else(|| "(unknown version)".into()))
}

/// The report, and whether every exercise can be graded.
pub fn render(diagnosis: &Diagnosis) -> (String, bool) {
    let mut out = String::new();
    let mut ready = true;

    out.push_str("Toolchain\n");
    for (name, found) in [("cargo", &diagnosis.cargo), ("rustc", &diagnosis.rustc)] {
        match found {
            Ok(version) => {
                let _ = writeln!(out, "  ok       {version}");
            }
            Err(reason) => {
                ready = false;
                let _ = writeln!(
                    out,
                    "  MISSING  {name}: {reason}\n           fix: install Rust with rustup \
                     (https://rustup.rs) and make sure `{name}` is on PATH"
                );
            }
        }
    }

    out.push_str("\nServices (each run tries: a URL, then a binary on PATH, then Docker)\n");
    for found in &diagnosis.services {
        let name = found.service.name();
        match found.chosen() {
            Some(chosen) => {
                let _ = writeln!(out, "  ok       {name}: {chosen}");
            }
            None => {
                let _ = writeln!(out, "  MISSING  {name}: no usable source");
            }
        }
        let url = match &found.url {
            None => "none (no --redis-url, REDIS_URL not set)".to_owned(),
            Some((url, origin, Ok(version))) => {
                format!("{url} from {}: answers, Redis {version}", origin.as_str())
            }
            Some((url, origin, Err(reason))) => {
                format!("{url} from {}: does not answer: {reason}", origin.as_str())
            }
        };
        let binary = match &found.binary {
            None => "no `redis-server` on PATH".to_owned(),
            Some((path, Ok(version))) => format!("{} (version {version})", path.display()),
            Some((path, Err(reason))) => format!("{} does not run: {reason}", path.display()),
        };
        let docker = match &found.docker {
            Docker::Ready { version, .. } => format!("available (engine {version})"),
            Docker::Unavailable(reason) => format!("not available: {reason}"),
        };
        let _ = writeln!(out, "           URL:    {url}");
        let _ = writeln!(out, "           binary: {binary}");
        let _ = writeln!(out, "           Docker: {docker}");
        if found.chosen().is_none() {
            let _ = writeln!(out, "           fix:    {}", indent(&found.fix(), 19));
        }
    }

    // Optional: reported with the fix, but `ready` is about grading, which does not need it.
    out.push_str("\nOptional tools\n");
    match &diagnosis.cargo_mutants {
        Ok(version) => {
            let _ = writeln!(out, "  ok       {version} (for `grade mutants`)");
        }
        Err(reason) => {
            let _ = writeln!(
                out,
                "  absent   cargo-mutants: only instructors' `grade mutants` needs it ({reason})\n\
                 \x20          install: cargo install cargo-mutants --locked"
            );
        }
    }

    out.push_str("\nExercises\n");
    let width = diagnosis
        .exercises
        .iter()
        .map(|(slug, _)| slug.len())
        .max()
        .unwrap_or(8);
    let mut blocked = Vec::new();
    for (slug, needs) in &diagnosis.exercises {
        let needs = match needs {
            Ok(needs) => needs,
            Err(reason) => {
                blocked.push(slug.as_str());
                let _ = writeln!(
                    out,
                    "  BROKEN   {slug:<width$}  {}",
                    indent(reason, 13 + width)
                );
                continue;
            }
        };
        if needs.is_empty() {
            let _ = writeln!(out, "  ok       {slug:<width$}  needs no service");
            continue;
        }
        let missing: Vec<&str> = needs
            .iter()
            .filter(|need| {
                !diagnosis
                    .services
                    .iter()
                    .any(|s| s.service.name() == need.as_str() && s.chosen().is_some())
            })
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            let _ = writeln!(out, "  ok       {slug:<width$}  needs {}", needs.join(", "));
        } else {
            blocked.push(slug.as_str());
            let unknown: Vec<&str> = missing
                .iter()
                .copied()
                .filter(|name| Service::parse(name).is_none())
                .collect();
            let note = if unknown.is_empty() {
                "see Services above for the fix".to_owned()
            } else {
                format!(
                    "this grader cannot provide {}: update grade",
                    unknown.join(", ")
                )
            };
            let _ = writeln!(
                out,
                "  MISSING  {slug:<width$}  needs {}: {} missing ({note})",
                needs.join(", "),
                missing.join(", ")
            );
        }
    }

    out.push('\n');
    if diagnosis.cargo.is_err() || diagnosis.rustc.is_err() {
        out.push_str(
            "The Rust toolchain is missing: nothing can be graded until it is installed.\n",
        );
    } else if blocked.is_empty() {
        out.push_str("Every exercise can be graded on this machine.\n");
    } else {
        ready = false;
        let _ = writeln!(
            out,
            "{} cannot be graded here until the problems above are fixed.",
            blocked.join(", ")
        );
    }
    (out, ready)
}

fn indent(text: &str, by: usize) -> String {
    text.lines()
        .collect::<Vec<_>>()
        .join(&format!("\n{}", " ".repeat(by)))
}

/// Runs `grade doctor`; returns the exit code.
pub fn run(repo: &Repo, host: &Host) -> Result<i32> {
    let (text, ready) = render(&diagnose(repo, host)?);
    print!("{text}");
    Ok(if ready {
        exit::SUCCESS
    } else {
        exit::GRADER_ERROR
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(binary: bool, docker: bool) -> Diagnosis {
        Diagnosis {
            cargo: Ok("cargo 1.95.0".into()),
            rustc: Ok("rustc 1.95.0".into()),
            services: vec![ServiceDiagnosis {
                service: Service::Redis,
                url: None,
                binary: binary.then(|| ("/usr/bin/redis-server".into(), Ok("7.0.15".into()))),
                docker: if docker {
                    Docker::Ready {
                        path: "/usr/bin/docker".into(),
                        version: "28.2.2".into(),
                    }
                } else {
                    Docker::Unavailable("`docker` is not on PATH".into())
                },
            }],
            exercises: vec![
                ("retry".into(), Ok(vec![])),
                ("rate-limiter".into(), Ok(vec!["redis".into()])),
            ],
            cargo_mutants: Ok("cargo-mutants 27.1.0".into()),
        }
    }

    #[test]
    fn everything_available_is_ready() {
        let (text, ready) = render(&machine(true, false));
        assert!(ready, "{text}");
        assert!(text.contains("ok       cargo 1.95.0"), "{text}");
        assert!(
            text.contains("redis: redis-server 7.0.15 (/usr/bin/redis-server)"),
            "{text}"
        );
        assert!(text.contains("rate-limiter  needs redis"), "{text}");
        assert!(text.contains("Every exercise can be graded"), "{text}");
    }

    #[test]
    fn docker_is_the_last_resort() {
        let (text, ready) = render(&machine(false, true));
        assert!(ready, "{text}");
        assert!(text.contains("redis: a redis:7-alpine container"), "{text}");
    }

    #[test]
    fn a_missing_service_is_named_with_its_fix() {
        let (text, ready) = render(&machine(false, false));
        assert!(!ready, "{text}");
        assert!(text.contains("MISSING  redis"), "{text}");
        assert!(text.contains("sudo apt-get install redis-server"), "{text}");
        assert!(text.contains("brew install redis"), "{text}");
        assert!(text.contains("MISSING  rate-limiter"), "{text}");
        assert!(
            text.contains("rate-limiter cannot be graded here"),
            "{text}"
        );
    }

    #[test]
    fn a_url_that_does_not_answer_is_not_replaced_silently() {
        let mut diagnosis = machine(true, false);
        diagnosis.services[0].url = Some((
            "redis://127.0.0.1:1".into(),
            UrlOrigin::Env,
            Err("connection refused".into()),
        ));
        let (text, ready) = render(&diagnosis);
        assert!(!ready, "{text}");
        assert!(
            text.contains("does not answer: connection refused"),
            "{text}"
        );
        assert!(text.contains("unset REDIS_URL"), "{text}");
    }

    #[test]
    fn a_missing_toolchain_is_not_ready() {
        let mut diagnosis = machine(true, false);
        diagnosis.rustc = Err("No such file or directory".into());
        let (text, ready) = render(&diagnosis);
        assert!(!ready);
        assert!(text.contains("https://rustup.rs"), "{text}");
    }

    #[test]
    fn broken_metadata_is_reported_without_hiding_the_rest() {
        let mut diagnosis = machine(true, false);
        diagnosis.exercises.insert(
            0,
            (
                "csv".into(),
                Err("invalid metadata: missing field `checks`".into()),
            ),
        );
        let (text, ready) = render(&diagnosis);
        assert!(!ready, "{text}");
        assert!(text.contains("BROKEN   csv"), "{text}");
        assert!(text.contains("rate-limiter  needs redis"), "{text}");
    }

    #[test]
    fn cargo_mutants_is_optional() {
        let (text, ready) = render(&machine(true, false));
        assert!(ready, "{text}");
        assert!(
            text.contains("ok       cargo-mutants 27.1.0 (for `grade mutants`)"),
            "{text}"
        );
        let mut diagnosis = machine(true, false);
        diagnosis.cargo_mutants = Err("no such command: `mutants`".into());
        let (text, ready) = render(&diagnosis);
        assert!(
            ready,
            "a missing optional tool does not fail the doctor:\n{text}"
        );
        assert!(text.contains("absent   cargo-mutants"), "{text}");
        assert!(
            text.contains("           install: cargo install cargo-mutants --locked"),
            "{text}"
        );
        assert!(text.contains("Every exercise can be graded"), "{text}");
    }

    #[test]
    fn an_exercise_needing_no_service_is_always_ready() {
        let mut diagnosis = machine(false, false);
        diagnosis.exercises.truncate(1);
        let (text, ready) = render(&diagnosis);
        assert!(ready, "{text}");
    }
}
