//! `grade doctor`: what this machine provides, what each exercise needs, and the fix for
//! anything missing.
//!
//! It probes without starting anything: `cargo --version` and `rustc --version`; for each
//! service the grader knows, every source in the order a grading run tries them (an address is
//! asked: Redis `PING`, Kafka ApiVersions; a binary is asked its version; grade's own Kafka
//! broker is found built or buildable; Docker is asked `docker info`), and which one a run
//! would use; for Kafka, the C tools rdkafka needs to compile its bundled librdkafka. Probing
//! ([`diagnose`]) is kept apart from rendering ([`render`]) so the text can be tested on a
//! made-up machine. Exit code 0 when every exercise can be graded here, 4 when something one of
//! them needs is missing. Optional tools (cargo-mutants, for the instructors' `grade mutants`)
//! are shown with their install command but never fail the doctor: grading does not need them.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::Result;

use crate::exit;
use crate::harness::cargo_program;
use crate::repo::Repo;
use crate::services::kafka::parse_brokers;
use crate::services::kafka_wire;
use crate::services::locate::{
    BROKER_BUILD_COMMAND, Docker, KAFKA_IMAGE, REDIS_IMAGE, broker_version, redis_server_version,
    run_briefly, tansu_storage_warning,
};
use crate::services::resp::{Connection, RedisUrl};
use crate::services::{Host, Service};

/// The C tools rdkafka's build of its bundled librdkafka runs (exercises that need Kafka use
/// rdkafka), with the package that provides each: (tool, Debian/Ubuntu, Fedora/RHEL, macOS).
const C_TOOLS: &[(&str, &str, &str, &str)] = &[
    ("cc", "build-essential", "gcc", "xcode-select --install"),
    ("make", "make", "make", "xcode-select --install"),
    ("perl", "perl", "perl", "brew install perl"),
];

/// Width of the source labels under each service (`Docker:  …`).
const LABEL: usize = 9;

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
    /// Each of [`C_TOOLS`] and where it is on PATH, if it is.
    pub c_tools: Vec<(&'static str, Option<PathBuf>)>,
}

/// What was found for one service.
#[derive(Debug, Clone)]
pub struct ServiceDiagnosis {
    /// Which service.
    pub service: Service,
    /// An explicit address (a Redis URL, a Kafka broker list): as shown, where it was given
    /// (`--redis-url`, `KAFKA_BROKERS`, …), and what answered or why nothing did.
    pub url: Option<(String, &'static str, Result<String, String>)>,
    /// The server binary on PATH (`redis-server`, `tansu`), and its version or why it does not
    /// run.
    pub binary: Option<(PathBuf, Result<String, String>)>,
    /// A doubt about that binary that does not keep a run from trying it (a `tansu` that lists
    /// no in-memory storage engine).
    pub binary_warning: Option<String>,
    /// Kafka only (`None` for other services): grade's own broker, or why the checkout cannot
    /// build one.
    pub own: Option<Result<OwnState, String>>,
    /// Docker.
    pub docker: Docker,
}

/// grade's own Kafka broker, when the checkout can build it.
#[derive(Debug, Clone)]
pub enum OwnState {
    /// Built: its path, and its version or why it does not run.
    Built(PathBuf, Result<String, String>),
    /// Not built yet: a run that needs it builds it first, here.
    Buildable(PathBuf),
}

impl ServiceDiagnosis {
    /// The source a grading run would use, in words, or `None` when it would stop.
    ///
    /// The order is the run's: an address is used whenever one is given (and a dead one is an
    /// error, never silently replaced by a private server), then the binary, then (Kafka)
    /// grade's own broker, then Docker.
    pub fn chosen(&self) -> Option<String> {
        if let Some((url, origin, answer)) = &self.url {
            return answer.as_ref().ok().map(|found| match self.service {
                Service::Redis => format!(
                    "the server at {url} (from {origin}), Redis {found}; only the run's keys are deleted"
                ),
                Service::Kafka => format!(
                    "the brokers at {url} (from {origin}); the suites create and delete their own topics"
                ),
            });
        }
        if let Some((path, version)) = &self.binary {
            return version.as_ref().ok().map(|version| match self.service {
                Service::Redis => format!(
                    "redis-server {version} ({}), started privately for each run",
                    path.display()
                ),
                Service::Kafka => format!(
                    "{version} ({}), started privately for each run",
                    path.display()
                ),
            });
        }
        match &self.own {
            Some(Ok(OwnState::Built(path, version))) => {
                return version.as_ref().ok().map(|version| {
                    format!(
                        "grade's own broker ({version}, {}), started privately for each run",
                        path.display()
                    )
                });
            }
            Some(Ok(OwnState::Buildable(_))) => {
                return Some(
                    "grade's own broker, built on first need (about 9 minutes on 2 cores, \
                     once), then started privately for each run"
                        .to_owned(),
                );
            }
            Some(Err(_)) | None => {}
        }
        match &self.docker {
            Docker::Ready { version, .. } => Some(match self.service {
                Service::Redis => {
                    format!("a {REDIS_IMAGE} container (Docker {version}), started for each run")
                }
                Service::Kafka => {
                    format!("an {KAFKA_IMAGE} container (Docker {version}), started for each run")
                }
            }),
            Docker::Unavailable(_) => None,
        }
    }

    /// What to do when [`chosen`](Self::chosen) is `None`.
    pub fn fix(&self) -> String {
        let (what, unset, flag) = match self.service {
            Service::Redis => ("the server", "REDIS_URL", "--redis-url"),
            Service::Kafka => ("a broker", "KAFKA_BROKERS", "--kafka-brokers"),
        };
        if let Some((url, origin, _)) = &self.url {
            return format!(
                "start {what} at {url}, fix {origin}, or drop it (unset {unset} / leave out \
                 {flag}) to let grade start a private one"
            );
        }
        if let Some((path, _)) = &self.binary {
            return format!(
                "{} does not run; reinstall it, or: {}",
                path.display(),
                self.service.fix()
            );
        }
        if let Some(Ok(OwnState::Built(path, _))) = &self.own {
            return format!(
                "{} does not run; delete it so that grade builds it again, or: {}",
                path.display(),
                self.service.fix()
            );
        }
        self.service.fix().to_owned()
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
    // `docker info` is the slow probe: once for every service.
    let docker = host.docker();
    let services = Service::ALL
        .iter()
        .map(|&service| match service {
            Service::Redis => ServiceDiagnosis {
                service,
                url: host.redis_url().map(|(url, origin)| {
                    let answer = RedisUrl::parse(url).and_then(|parsed| ping(&parsed));
                    let shown =
                        RedisUrl::parse(url).map_or_else(|_| url.to_owned(), |u| u.redacted());
                    (shown, origin.as_str(), answer)
                }),
                binary: host
                    .which("redis-server")
                    .map(|path| (path.clone(), redis_server_version(&path))),
                binary_warning: None,
                own: None,
                docker: docker.clone(),
            },
            Service::Kafka => ServiceDiagnosis {
                service,
                url: host
                    .kafka_brokers()
                    .map(|(list, origin)| (list.to_owned(), origin.as_str(), ask_brokers(list))),
                binary: host
                    .which("tansu")
                    .map(|path| (path.clone(), broker_version(&path))),
                binary_warning: host
                    .which("tansu")
                    .and_then(|path| tansu_storage_warning(&path)),
                own: Some(host.own_broker().map(|own| {
                    if own.is_built() {
                        let version = broker_version(&own.binary);
                        OwnState::Built(own.binary, version)
                    } else {
                        OwnState::Buildable(own.binary)
                    }
                })),
                docker: docker.clone(),
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
        c_tools: C_TOOLS
            .iter()
            .map(|&(tool, ..)| (tool, host.which(tool)))
            .collect(),
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

/// Asks each broker of `list` for its API versions; which one answered first, or why none did.
fn ask_brokers(list: &str) -> Result<String, String> {
    let mut errors = Vec::new();
    for broker in parse_brokers(list)? {
        match kafka_wire::api_versions(&broker, 1, Duration::from_secs(2)) {
            Ok(answer) => return Ok(format!("{broker} answers ({} APIs)", answer.apis)),
            Err(error) => errors.push(format!("{broker}: {error}")),
        }
    }
    Err(errors.join("; "))
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

    out.push_str("\nServices (each run uses the first source that is there, in the order shown)\n");
    let missing_c_tools = missing_c_tools(diagnosis);
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
        let lines = match found.service {
            Service::Redis => redis_sources(found),
            Service::Kafka => kafka_sources(found, diagnosis, &missing_c_tools),
        };
        for (label, text) in lines {
            let _ = writeln!(
                out,
                "           {:<LABEL$}{}",
                format!("{label}:"),
                indent(&text, 11 + LABEL)
            );
        }
        if found.chosen().is_none() {
            let _ = writeln!(
                out,
                "           {:<LABEL$}{}",
                "fix:",
                indent(&found.fix(), 11 + LABEL)
            );
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
        let mut missing: Vec<String> = needs
            .iter()
            .filter(|need| {
                !diagnosis
                    .services
                    .iter()
                    .any(|s| s.service.name() == need.as_str() && s.chosen().is_some())
            })
            .cloned()
            .collect();
        let unknown: Vec<&str> = missing
            .iter()
            .map(String::as_str)
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
        // Its Kafka client compiles C: without the tools the attempt cannot be built.
        if needs.iter().any(|need| need == Service::Kafka.name()) && !missing_c_tools.is_empty() {
            missing.push(format!(
                "{} (C tools for rdkafka)",
                missing_c_tools.join(", ")
            ));
        }
        if missing.is_empty() {
            let _ = writeln!(out, "  ok       {slug:<width$}  needs {}", needs.join(", "));
        } else {
            blocked.push(slug.as_str());
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

/// The sources of Redis, as `(label, what was found)` lines.
fn redis_sources(found: &ServiceDiagnosis) -> Vec<(&'static str, String)> {
    let url = match &found.url {
        None => "none (no --redis-url, REDIS_URL not set)".to_owned(),
        Some((url, origin, Ok(version))) => {
            format!("{url} from {origin}: answers, Redis {version}")
        }
        Some((url, origin, Err(reason))) => {
            format!("{url} from {origin}: does not answer: {reason}")
        }
    };
    let binary = match &found.binary {
        None => "no `redis-server` on PATH".to_owned(),
        Some((path, Ok(version))) => format!("{} (version {version})", path.display()),
        Some((path, Err(reason))) => format!("{} does not run: {reason}", path.display()),
    };
    vec![
        ("URL", url),
        ("binary", binary),
        ("Docker", docker_line(&found.docker)),
    ]
}

/// The sources of Kafka, the exercises that need it and the C tools they compile with.
fn kafka_sources(
    found: &ServiceDiagnosis,
    diagnosis: &Diagnosis,
    missing_c_tools: &[&str],
) -> Vec<(&'static str, String)> {
    let brokers = match &found.url {
        None => "none (no --kafka-brokers, KAFKA_BROKERS not set)".to_owned(),
        Some((list, origin, Ok(answer))) => format!("{list} from {origin}: {answer}"),
        Some((list, origin, Err(reason))) => {
            format!("{list} from {origin}: no broker answers: {reason}")
        }
    };
    let mut tansu = match &found.binary {
        None => "no `tansu` on PATH".to_owned(),
        Some((path, Ok(version))) => format!("{} ({version})", path.display()),
        Some((path, Err(reason))) => format!("{} does not run: {reason}", path.display()),
    };
    if let Some(warning) = &found.binary_warning {
        tansu.push_str(&format!("\nwarning: {warning}"));
    }
    let built = match &found.own {
        Some(Ok(OwnState::Built(path, Ok(version)))) => {
            format!("{} ({version})", path.display())
        }
        Some(Ok(OwnState::Built(path, Err(reason)))) => {
            format!("{} does not run: {reason}", path.display())
        }
        Some(Ok(OwnState::Buildable(path))) => format!(
            "not yet: built on first need with `{BROKER_BUILD_COMMAND}` (about 9 minutes on 2 \
             cores, once) into {}",
            path.display()
        ),
        Some(Err(reason)) => format!("cannot be built here: {reason}"),
        None => "not applicable".to_owned(),
    };
    let users: Vec<&str> = diagnosis
        .exercises
        .iter()
        .filter(|(_, needs)| {
            needs
                .as_ref()
                .is_ok_and(|needs| needs.iter().any(|n| n == found.service.name()))
        })
        .map(|(slug, _)| slug.as_str())
        .collect();
    let used_by = if users.is_empty() {
        "no exercise yet".to_owned()
    } else {
        users.join(", ")
    };
    let c_tools = if missing_c_tools.is_empty() {
        let names: Vec<&str> = diagnosis.c_tools.iter().map(|(tool, _)| *tool).collect();
        format!(
            "{} on PATH (rdkafka compiles its bundled librdkafka with them)",
            names.join(", ")
        )
    } else {
        format!(
            "missing {}: exercises that need Kafka compile rdkafka's bundled librdkafka\n{}",
            missing_c_tools.join(", "),
            c_tools_fix(missing_c_tools)
        )
    };
    vec![
        ("brokers", brokers),
        ("tansu", tansu),
        ("built", built),
        ("Docker", docker_line(&found.docker)),
        ("used by", used_by),
        ("C tools", c_tools),
    ]
}

fn docker_line(docker: &Docker) -> String {
    match docker {
        Docker::Ready { version, .. } => format!("available (engine {version})"),
        Docker::Unavailable(reason) => format!("not available: {reason}"),
    }
}

/// The C tools that are not on PATH.
fn missing_c_tools(diagnosis: &Diagnosis) -> Vec<&'static str> {
    diagnosis
        .c_tools
        .iter()
        .filter(|(_, path)| path.is_none())
        .map(|(tool, _)| *tool)
        .collect()
}

/// How to install `missing` C tools, per platform.
fn c_tools_fix(missing: &[&str]) -> String {
    let packages = |pick: fn(&(&str, &'static str, &'static str, &'static str)) -> &'static str| {
        let mut chosen: Vec<&str> = C_TOOLS
            .iter()
            .filter(|tool| missing.contains(&tool.0))
            .map(pick)
            .collect();
        chosen.dedup();
        chosen
    };
    format!(
        "fix: Debian/Ubuntu:  sudo apt-get install {}\n     \
         Fedora/RHEL:    sudo dnf install {}\n     \
         macOS:          {}",
        packages(|tool| tool.1).join(" "),
        packages(|tool| tool.2).join(" "),
        packages(|tool| tool.3).join("; ")
    )
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

    fn docker(available: bool) -> Docker {
        if available {
            Docker::Ready {
                path: "/usr/bin/docker".into(),
                version: "28.2.2".into(),
            }
        } else {
            Docker::Unavailable("`docker` is not on PATH".into())
        }
    }

    fn machine(binary: bool, docker_ready: bool) -> Diagnosis {
        Diagnosis {
            cargo: Ok("cargo 1.95.0".into()),
            rustc: Ok("rustc 1.95.0".into()),
            services: vec![
                ServiceDiagnosis {
                    service: Service::Redis,
                    url: None,
                    binary: binary.then(|| ("/usr/bin/redis-server".into(), Ok("7.0.15".into()))),
                    binary_warning: None,
                    own: None,
                    docker: docker(docker_ready),
                },
                ServiceDiagnosis {
                    service: Service::Kafka,
                    url: None,
                    binary: None,
                    binary_warning: None,
                    own: Some(Ok(OwnState::Buildable(
                        "/src/grade/target/release/grade-kafka-broker".into(),
                    ))),
                    docker: docker(docker_ready),
                },
            ],
            exercises: vec![
                ("retry".into(), Ok(vec![])),
                ("rate-limiter".into(), Ok(vec!["redis".into()])),
                ("kafka-consumer".into(), Ok(vec!["kafka".into()])),
            ],
            cargo_mutants: Ok("cargo-mutants 27.1.0".into()),
            c_tools: ["cc", "make", "perl"]
                .map(|tool| (tool, Some(PathBuf::from(format!("/usr/bin/{tool}")))))
                .to_vec(),
        }
    }

    fn kafka(diagnosis: &mut Diagnosis) -> &mut ServiceDiagnosis {
        &mut diagnosis.services[1]
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
        assert!(text.contains("rate-limiter    needs redis"), "{text}");
        assert!(text.contains("kafka-consumer  needs kafka"), "{text}");
        assert!(text.contains("Every exercise can be graded"), "{text}");
    }

    #[test]
    fn docker_is_the_last_resort() {
        let mut diagnosis = machine(false, true);
        kafka(&mut diagnosis).own = Some(Err("this checkout has no crates/kafka-broker".into()));
        let (text, ready) = render(&diagnosis);
        assert!(ready, "{text}");
        assert!(text.contains("redis: a redis:7-alpine container"), "{text}");
        assert!(
            text.contains("kafka: an apache/kafka:3.9.0 container (Docker 28.2.2)"),
            "{text}"
        );
        assert!(
            text.contains(
                "built:   cannot be built here: this checkout has no crates/kafka-broker"
            ),
            "{text}"
        );
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
    fn the_kafka_sources_in_the_order_a_run_tries_them() {
        let mut diagnosis = machine(true, false);
        let (text, _) = render(&diagnosis);
        for line in [
            "  ok       kafka: grade's own broker, built on first need (about 9 minutes on 2 cores, once)",
            "           brokers: none (no --kafka-brokers, KAFKA_BROKERS not set)",
            "           tansu:   no `tansu` on PATH",
            "           built:   not yet: built on first need with `cargo build --release --locked -p grade-kafka-broker` (about 9 minutes on 2 cores, once) into /src/grade/target/release/grade-kafka-broker",
            "           Docker:  not available: `docker` is not on PATH",
            "           used by: kafka-consumer",
            "           C tools: cc, make, perl on PATH (rdkafka compiles its bundled librdkafka with them)",
        ] {
            assert!(text.contains(line), "{line:?} missing from:\n{text}");
        }

        kafka(&mut diagnosis).own = Some(Ok(OwnState::Built(
            "/src/grade/target/release/grade-kafka-broker".into(),
            Ok("tansu 0.6.0".into()),
        )));
        let (text, _) = render(&diagnosis);
        assert!(
            text.contains("kafka: grade's own broker (tansu 0.6.0, /src/grade/target/release/grade-kafka-broker), started privately"),
            "{text}"
        );

        kafka(&mut diagnosis).binary =
            Some(("/usr/local/bin/tansu".into(), Ok("tansu 0.6.1".into())));
        let (text, _) = render(&diagnosis);
        assert!(
            text.contains(
                "kafka: tansu 0.6.1 (/usr/local/bin/tansu), started privately for each run"
            ),
            "{text}"
        );

        kafka(&mut diagnosis).url = Some((
            "127.0.0.1:9092".into(),
            "--kafka-brokers",
            Ok("127.0.0.1:9092 answers (60 APIs)".into()),
        ));
        let (text, ready) = render(&diagnosis);
        assert!(ready, "{text}");
        assert!(
            text.contains("kafka: the brokers at 127.0.0.1:9092 (from --kafka-brokers)"),
            "{text}"
        );
        assert!(
            text.contains(
                "brokers: 127.0.0.1:9092 from --kafka-brokers: 127.0.0.1:9092 answers (60 APIs)"
            ),
            "{text}"
        );
    }

    #[test]
    fn brokers_that_do_not_answer_are_not_replaced_silently() {
        let mut diagnosis = machine(true, false);
        kafka(&mut diagnosis).url = Some((
            "127.0.0.1:1".into(),
            "KAFKA_BROKERS",
            Err("127.0.0.1:1: Connection refused".into()),
        ));
        let (text, ready) = render(&diagnosis);
        assert!(!ready, "{text}");
        assert!(text.contains("MISSING  kafka: no usable source"), "{text}");
        assert!(
            text.contains("no broker answers: 127.0.0.1:1: Connection refused"),
            "{text}"
        );
        assert!(
            text.contains("start a broker at 127.0.0.1:1, fix KAFKA_BROKERS"),
            "{text}"
        );
        assert!(text.contains("MISSING  kafka-consumer"), "{text}");
    }

    #[test]
    fn a_tansu_that_does_not_run_is_reported_with_its_fix() {
        let mut diagnosis = machine(true, false);
        kafka(&mut diagnosis).binary = Some((
            "/usr/local/bin/tansu".into(),
            Err("exit status: 127: cannot execute binary file".into()),
        ));
        let (text, ready) = render(&diagnosis);
        assert!(!ready, "{text}");
        assert!(
            text.contains("tansu:   /usr/local/bin/tansu does not run: exit status: 127"),
            "{text}"
        );
        assert!(
            text.contains(
                "fix:     /usr/local/bin/tansu does not run; reinstall it, or: Any one of these"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_tansu_without_in_memory_storage_is_used_with_a_warning() {
        let mut diagnosis = machine(true, false);
        let kafka = kafka(&mut diagnosis);
        kafka.binary = Some(("/usr/local/bin/tansu".into(), Ok("tansu 0.6.0".into())));
        kafka.binary_warning = Some("its storage engines (none) do not include dynostore".into());
        let (text, ready) = render(&diagnosis);
        assert!(ready, "{text}");
        assert!(
            text.contains(
                "tansu:   /usr/local/bin/tansu (tansu 0.6.0)\n                    warning: its storage engines (none)"
            ),
            "{text}"
        );
    }

    #[test]
    fn no_kafka_source_names_every_way_to_get_one() {
        let mut diagnosis = machine(true, false);
        kafka(&mut diagnosis).own = Some(Err("grade is not running inside its checkout".into()));
        let (text, ready) = render(&diagnosis);
        assert!(!ready, "{text}");
        for needed in [
            "MISSING  kafka: no usable source",
            "--kafka-brokers 127.0.0.1:9092 (or set KAFKA_BROKERS)",
            "cargo install tansu --locked --features dynostore",
            "cargo build --release --locked -p grade-kafka-broker: about 9 minutes",
            "apache/kafka:3.9.0",
            "MISSING  kafka-consumer",
            "kafka-consumer cannot be graded here",
        ] {
            assert!(text.contains(needed), "{needed:?} missing from:\n{text}");
        }
        assert!(text.contains("ok       rate-limiter"), "{text}");
    }

    #[test]
    fn missing_c_tools_block_the_kafka_exercises_with_the_fix() {
        let mut diagnosis = machine(true, false);
        diagnosis.c_tools[1].1 = None;
        diagnosis.c_tools[2].1 = None;
        let (text, ready) = render(&diagnosis);
        assert!(!ready, "{text}");
        for needed in [
            "C tools: missing make, perl: exercises that need Kafka compile rdkafka's bundled librdkafka",
            "fix: Debian/Ubuntu:  sudo apt-get install make perl",
            "Fedora/RHEL:    sudo dnf install make perl",
            "macOS:          xcode-select --install; brew install perl",
            "MISSING  kafka-consumer  needs kafka: make, perl (C tools for rdkafka) missing",
        ] {
            assert!(text.contains(needed), "{needed:?} missing from:\n{text}");
        }
        assert!(text.contains("ok       rate-limiter"), "{text}");
        // The broker itself is there: the service line stays ok.
        assert!(
            text.contains("ok       kafka: grade's own broker"),
            "{text}"
        );
    }

    #[test]
    fn a_url_that_does_not_answer_is_not_replaced_silently() {
        let mut diagnosis = machine(true, false);
        diagnosis.services[0].url = Some((
            "redis://127.0.0.1:1".into(),
            "REDIS_URL",
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
        assert!(text.contains("rate-limiter    needs redis"), "{text}");
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
