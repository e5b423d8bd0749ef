//! Kafka for a grading run: brokers someone else runs (by address), a private broker process
//! (`tansu` from `PATH`, or grade's own, built on first need), or a throwaway Apache Kafka
//! container, behind one handle that tears itself down when dropped.
//!
//! Checks get the bootstrap servers in `GRADE_KAFKA_BROKERS`. The grader creates no topic and
//! deletes none: a broker may be shared (the user's own, or one broker for every check of the
//! run), so each check creates uniquely named topics (from its `GRADE_KEY_PREFIX`) and deletes
//! them itself.
//!
//! # A private broker
//! The broker (`tansu broker …`, or grade's own build of tansu's command line) listens on a
//! free loopback port, advertises exactly that address (Kafka clients reconnect to what the
//! broker advertises, not to what they were given), and keeps everything in memory. It is the
//! leader of its own process group, registered with [`interrupt`](crate::interrupt), with its
//! working directory and its log in a fresh temporary folder; the environment variables tansu
//! would read its settings from are removed, so a user's own tansu settings cannot leak into
//! the grader's broker. Readiness is an ApiVersions answer ([`kafka_wire`](super::kafka_wire)),
//! not an open port; as for Redis, a broker that fails with "Address already in use" is
//! retried on another port. Measured with grade's own broker: it accepts connections after
//! ~55 ms, answers metadata after ~120 ms, and uses ~27 MB.
//!
//! # grade's own broker
//! The workspace package `grade-kafka-broker` (`crates/kafka-broker`) is built the first time a
//! run needs it, with `cargo build --release --locked -p grade-kafka-broker` in the workspace,
//! into the target directory the user's own builds use, and reused as it is afterwards. The
//! build takes about 9 minutes on 2 cores (tansu is ~500 crates), so it says so before it
//! starts; cargo's output is kept in a log and shown (its tail) only if the build fails.
//!
//! # A container
//! `apache/kafka` in KRaft mode (one node, broker and controller). Since Kafka advertises an
//! address to its clients, the host port is chosen first and the broker listens on that same
//! port inside the container: `--publish 127.0.0.1:P:P` with listeners on P, so the advertised
//! `127.0.0.1:P` works from the host. Containers are removed by their labels
//! ([`docker`](super::docker)).
//!
//! # Teardown
//! Dropping the handle sends SIGTERM to the broker's group, waits up to 3 s (tansu takes 1–3 s
//! to stop), then kills what is left with SIGKILL and removes the folder; or removes the
//! container. A Ctrl-C or SIGTERM of the grader kills the group at once from the signal
//! handler; the drop then runs as the run unwinds. Brokers given by address are left alone.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::docker::{self, Labelled};
use super::kafka_wire;
use super::locate::{
    BROKER_BUILD_COMMAND, BROKER_PACKAGE, BrokersOrigin, KAFKA_IMAGE, KafkaSource, OwnBroker,
    broker_version, run_briefly, tansu_storage_warning,
};
use super::port::{Attempt, PORT_ATTEMPTS, free_port, start_on_free_port};
use crate::error::{GradeError, ServiceError};
use crate::report::ServiceUse;
use crate::sandbox::{self, Registration};

/// How long a started broker has to answer ApiVersions (it needs ~0.1 s; a loaded machine
/// building an attempt at the same time may need far more).
const LOCAL_READY_WITHIN: Duration = Duration::from_secs(15);
/// A container needs longer: the engine starts a JVM, then Kafka elects its controller.
const DOCKER_READY_WITHIN: Duration = Duration::from_secs(90);
/// `docker run` may pull the image first (~400 MB).
const DOCKER_RUN_TIMEOUT: Duration = Duration::from_secs(600);
/// How long a broker has to stop after SIGTERM before it is killed.
const STOP_WITHIN: Duration = Duration::from_secs(3);
/// Time limit of each step of an ApiVersions probe.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// The broker's log file, in its temporary folder.
const LOG_FILE: &str = "broker.log";

/// The environment variables tansu reads settings from (each of its `broker` flags has one).
/// The flags given here override the rest; these would otherwise change the broker the grader
/// asked for (a schema registry that rejects the suites' records, traces sent to a collector,
/// pages of debug logs), so they are removed.
const TANSU_SETTINGS: &[&str] = &[
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "RUST_LOG",
];

/// The ways to get a broker other than building grade's own: what a failed build suggests.
/// [`Service::fix`](super::Service::fix) lists these and the build.
pub const OTHER_WAYS: &str = "  \
    a broker you run:    --kafka-brokers 127.0.0.1:9092 (or set KAFKA_BROKERS); the suites \
    create uniquely named topics there and delete them\n  \
    tansu on PATH:       cargo install tansu --locked --features dynostore\n  \
    Docker:              a running Docker engine; grade starts apache/kafka:3.9.0 for the run";

/// A Kafka-protocol broker provisioned for one run.
pub struct Kafka {
    /// The bootstrap servers checks receive: `HOST:PORT[,HOST:PORT…]`.
    brokers: String,
    /// How the report describes it.
    usage: ServiceUse,
    /// Who owns the broker, which decides what teardown does.
    #[cfg_attr(not(test), allow(dead_code, reason = "held for Drop"))]
    owner: Owner,
}

/// The brokers are held only for their `Drop`: they live exactly as long as the handle.
#[allow(dead_code, reason = "held for Drop")]
enum Owner {
    /// Someone else's brokers: nothing to stop, and the suites delete their own topics.
    External,
    /// Ours: stopped, with its folder.
    Local(LocalBroker),
    /// Ours: the container is removed.
    Docker(Container),
}

impl Kafka {
    /// Provides a broker from `source` for a run of `exercise` whose id is `run`.
    pub fn provision(source: &KafkaSource, exercise: &str, run: &str) -> Result<Self, GradeError> {
        let usage = |detail: String| ServiceUse {
            name: "kafka".into(),
            source: source.kind(),
            detail,
        };
        match source {
            KafkaSource::Brokers { brokers, origin } => {
                let list = check_brokers(brokers, *origin)?;
                Ok(Self {
                    usage: usage(format!(
                        "{} at {} (from {}; the suites delete the topics they create)",
                        if list.len() == 1 { "broker" } else { "brokers" },
                        list.join(","),
                        origin.as_str()
                    )),
                    brokers: list.join(","),
                    owner: Owner::External,
                })
            }
            KafkaSource::Tansu { path } => {
                let broker = LocalBroker::start(path, "tansu").map_err(|error| match error {
                    // The likeliest reason a tansu from PATH does not serve: no in-memory storage.
                    GradeError::Service(ServiceError::StartFailed { what, reason }) => {
                        let reason = match tansu_storage_warning(path) {
                            Some(warning) => format!("{reason}\nnote: {warning}"),
                            None => reason,
                        };
                        ServiceError::StartFailed { what, reason }.into()
                    }
                    other => other,
                })?;
                Ok(Self {
                    brokers: broker.address(),
                    usage: usage(format!(
                        "{} ({}) on {}, started for this run",
                        broker.version,
                        path.display(),
                        broker.address()
                    )),
                    owner: Owner::Local(broker),
                })
            }
            KafkaSource::Own(own) => {
                if !own.is_built() {
                    build(own, exercise)?;
                }
                let broker = LocalBroker::start(&own.binary, "grade's own broker")?;
                Ok(Self {
                    brokers: broker.address(),
                    usage: usage(format!(
                        "grade's own broker ({}, {}) on {}, started for this run",
                        broker.version,
                        own.binary.display(),
                        broker.address()
                    )),
                    owner: Owner::Local(broker),
                })
            }
            KafkaSource::Docker { docker } => {
                let container = Container::start(docker, run)?;
                let address = format!("127.0.0.1:{}", container.port);
                Ok(Self {
                    usage: usage(format!(
                        "Docker container {KAFKA_IMAGE} on {address}, started for this run"
                    )),
                    brokers: address,
                    owner: Owner::Docker(container),
                })
            }
        }
    }

    /// The bootstrap servers checks connect to.
    pub fn brokers(&self) -> &str {
        &self.brokers
    }

    /// How the report describes this broker.
    pub fn usage(&self) -> &ServiceUse {
        &self.usage
    }

    /// The pid of the private broker, when the grader started one (for tests).
    #[cfg(test)]
    pub fn local_pid(&self) -> Option<u32> {
        match &self.owner {
            Owner::Local(broker) => Some(broker.child.id()),
            _ => None,
        }
    }
}

/// The `HOST:PORT` entries of a `HOST:PORT[,HOST:PORT…]` list (spaces around commas allowed),
/// or what is wrong with it.
pub fn parse_brokers(list: &str) -> Result<Vec<String>, String> {
    if list.trim().is_empty() {
        return Err("it is empty".into());
    }
    list.split(',')
        .map(str::trim)
        .map(|entry| {
            if entry.is_empty() {
                return Err("an entry between two commas is empty".to_owned());
            }
            if entry.contains("://") {
                return Err(format!("`{entry}` has a scheme; give HOST:PORT"));
            }
            let (host, port) = entry
                .rsplit_once(':')
                .ok_or_else(|| format!("`{entry}` has no port"))?;
            if host.is_empty() {
                return Err(format!("`{entry}` has no host"));
            }
            match port.parse::<u16>() {
                Ok(port) if port != 0 => Ok(entry.to_owned()),
                _ => Err(format!("`{port}` in `{entry}` is not a port")),
            }
        })
        .collect()
}

/// Parses `brokers` and asks each in turn for its API versions: the list is usable when one
/// of them answers (a client needs only one bootstrap server to find the others).
fn check_brokers(brokers: &str, origin: BrokersOrigin) -> Result<Vec<String>, ServiceError> {
    let list = parse_brokers(brokers).map_err(|reason| ServiceError::BadBrokers {
        brokers: brokers.to_owned(),
        origin: origin.as_str(),
        reason,
    })?;
    let mut errors = Vec::new();
    for broker in &list {
        match kafka_wire::api_versions(broker, correlation_id(), Duration::from_secs(2)) {
            Ok(_) => return Ok(list),
            Err(error) => errors.push(format!("{broker}: {error}")),
        }
    }
    Err(ServiceError::BrokersUnreachable {
        brokers: brokers.to_owned(),
        origin: origin.as_str(),
        errors,
    })
}

/// The correlation id of the grader's probes: any number works, since each probe has its own
/// connection; the process id makes a mixed-up answer recognisable in a broker's logs.
fn correlation_id() -> i32 {
    (std::process::id() & 0x7fff_ffff) as i32
}

/// The arguments a broker binary (tansu's command line) is started with, on `port`.
fn broker_args(port: u16) -> Vec<String> {
    let url = format!("tcp://127.0.0.1:{port}");
    [
        "broker",
        "--listener-url",
        &url,
        "--advertised-listener-url",
        &url,
        "--storage-engine",
        "memory://tansu/",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// A broker process the grader started.
struct LocalBroker {
    port: u16,
    /// What it says it is (`tansu 0.6.0`).
    version: String,
    child: Child,
    /// Kills the broker's process group when dropped, and on Ctrl-C / SIGTERM before that.
    group: Option<Registration>,
    /// The broker's working directory and log; removed after the broker is gone.
    dir: Option<tempfile::TempDir>,
}

impl LocalBroker {
    /// Starts `binary` (`what` names it in messages) and waits until it answers.
    fn start(binary: &Path, what: &str) -> Result<Self, GradeError> {
        let what = format!("{what} ({})", binary.display());
        let failed = |reason: String| ServiceError::StartFailed {
            what: what.clone(),
            reason,
        };
        // A binary that cannot even say what it is would fail after the spawn, less clearly.
        let version = broker_version(binary).map_err(failed)?;
        start_on_free_port(failed, "the broker", |port| {
            let mut broker = Self::spawn(binary, port, version.clone()).map_err(Attempt::Failed)?;
            broker.wait_ready()?;
            Ok(broker)
        })
    }

    fn spawn(binary: &Path, port: u16, version: String) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("grade-kafka-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        let log = File::create(dir.path().join(LOG_FILE))
            .map_err(|e| format!("cannot create the broker's log: {e}"))?;
        let log_too = log
            .try_clone()
            .map_err(|e| format!("cannot share the broker's log: {e}"))?;
        let mut command = Command::new(binary);
        command
            .args(broker_args(port))
            // Its cwd is the temporary folder: tansu reads a `.env` file from there (none), and
            // a leftover broker is easy to find.
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_too);
        for name in TANSU_SETTINGS {
            command.env_remove(name);
        }
        let child = sandbox::spawn_in_group(&mut command)
            .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
        let group = Registration::new(child.id());
        Ok(Self {
            port,
            version,
            child,
            group: Some(group),
            dir: Some(dir),
        })
    }

    /// `127.0.0.1:PORT`.
    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Waits until the broker answers ApiVersions.
    fn wait_ready(&mut self) -> Result<(), Attempt> {
        let deadline = Instant::now() + LOCAL_READY_WITHIN;
        let address = self.address();
        let mut last_error;
        loop {
            if crate::interrupt::requested() {
                return Err(Attempt::Failed("interrupted".into()));
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = self.log_tail();
                return Err(if log.contains("Address already in use") {
                    Attempt::PortTaken
                } else {
                    Attempt::Failed(format!("it exited ({status}) before answering:\n{log}"))
                });
            }
            match kafka_wire::api_versions(&address, correlation_id(), PROBE_TIMEOUT) {
                // Ours, still running: a neighbour that took the port first would have made
                // ours exit on its bind, which the next round sees. (The window where ours
                // has not tried to bind yet is a few milliseconds after a port was free.)
                Ok(_) if matches!(self.child.try_wait(), Ok(None)) => return Ok(()),
                Ok(_) => continue,
                Err(error) => last_error = error.to_string(),
            }
            if Instant::now() >= deadline {
                return Err(Attempt::Failed(format!(
                    "it did not answer ApiVersions on {address} within {}s ({last_error})\n{}",
                    LOCAL_READY_WITHIN.as_secs(),
                    self.log_tail()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The last lines of the broker's log, for error messages.
    fn log_tail(&self) -> String {
        let Some(dir) = &self.dir else {
            return String::new();
        };
        tail(&dir.path().join(LOG_FILE), 10, |_| true)
    }
}

impl Drop for LocalBroker {
    fn drop(&mut self) {
        // SIGTERM first, as for any server: it ends its client sessions in order. The wait is
        // bounded so a broker that lingers never holds the run up for more than STOP_WITHIN.
        // (Not to a broker already reaped: its process group id may belong to another by now.)
        if matches!(self.child.try_wait(), Ok(None))
            && let Ok(pgid) = i32::try_from(self.child.id())
        {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGTERM);
        }
        let deadline = Instant::now() + STOP_WITHIN;
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Order matters: the group dies (whatever is left of it), the broker is reaped (no
        // zombie), then its folder goes.
        drop(self.group.take());
        let _ = self.child.wait();
        drop(self.dir.take());
    }
}

/// The last `lines` lines of the file at `path` that `keep` accepts, indented for messages.
fn tail(path: &Path, lines: usize, keep: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    let _ = File::open(path).and_then(|mut file| file.read_to_string(&mut text));
    let kept: Vec<&str> = text.lines().filter(|line| keep(line)).collect();
    kept[kept.len().saturating_sub(lines)..]
        .iter()
        .map(|line| format!("  {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Builds grade's own broker (the first time a run needs it); returns where the binary is.
///
/// No time limit: a cold build on a slow machine may take half an hour, and Ctrl-C stops it.
fn build(own: &OwnBroker, exercise: &str) -> Result<PathBuf, GradeError> {
    eprintln!(
        "building the Kafka broker (tansu, pinned in Cargo.lock) for {exercise}: first time \
         only, about 9 minutes on 2 cores\n  ({BROKER_BUILD_COMMAND} in {}; later runs reuse {})",
        own.workspace.display(),
        own.binary.display()
    );
    let started = Instant::now();
    let failed = |status: String, tail: String| ServiceError::BrokerBuildFailed {
        exercise: exercise.to_owned(),
        workspace: own.workspace.clone(),
        status,
        tail,
    };
    let dir = tempfile::Builder::new()
        .prefix("grade-kafka-build-")
        .tempdir()
        .map_err(|e| failed(format!("no temporary directory: {e}"), String::new()))?;
    let log_path = dir.path().join("build.log");
    let log = File::create(&log_path)
        .and_then(|log| Ok((log.try_clone()?, log)))
        .map_err(|e| failed(format!("cannot create its log: {e}"), String::new()))?;
    let mut command = Command::new(&own.cargo);
    command
        .args(["build", "--release", "--locked", "-p", BROKER_PACKAGE])
        .current_dir(&own.workspace)
        .stdin(Stdio::null())
        .stdout(log.0)
        .stderr(log.1);
    let mut child = sandbox::spawn_in_group(&mut command).map_err(|e| {
        failed(
            format!("cannot run {}: {e}", own.cargo.display()),
            String::new(),
        )
    })?;
    let group = Registration::new(child.id());
    let status = loop {
        if crate::interrupt::requested() {
            drop(group);
            let _ = child.wait();
            return Err(GradeError::Interrupted);
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => {
                return Err(failed(format!("cannot wait for cargo: {e}"), String::new()).into());
            }
        }
    };
    drop(group);
    // cargo's progress lines say nothing about a failure; its errors are at the end.
    let useful = |line: &str| {
        let line = line.trim_start();
        !line.is_empty()
            && ![
                "Compiling",
                "Downloaded",
                "Downloading",
                "Locking",
                "Updating",
            ]
            .iter()
            .any(|progress| line.starts_with(progress))
    };
    if !status.success() {
        return Err(failed(status.to_string(), tail(&log_path, 25, useful)).into());
    }
    if !own.is_built() {
        return Err(failed(
            format!("it succeeded, but {} is not there", own.binary.display()),
            tail(&log_path, 25, useful),
        )
        .into());
    }
    let took = started.elapsed().as_secs();
    eprintln!(
        "built the Kafka broker in {}m{:02}s: {}",
        took / 60,
        took % 60,
        own.binary.display()
    );
    Ok(own.binary.clone())
}

/// The arguments of `docker run` for a single-node KRaft Kafka published on 127.0.0.1:`port`,
/// labelled with `labels` (`--label L` pairs).
fn docker_run_args(port: u16, labels: Vec<String>) -> Vec<String> {
    let mut args: Vec<String> = ["run", "--detach", "--rm"].map(str::to_owned).to_vec();
    args.extend(labels);
    args.push("--publish".into());
    args.push(format!("127.0.0.1:{port}:{port}"));
    // The image's documented single-node settings (setting any KAFKA_ variable replaces its
    // default configuration, so all of them are needed), with the client listener on the
    // published port: the broker advertises 127.0.0.1:PORT, which is where the host reaches it.
    let settings = [
        ("KAFKA_NODE_ID", "1".to_owned()),
        ("KAFKA_PROCESS_ROLES", "broker,controller".to_owned()),
        (
            "KAFKA_LISTENERS",
            format!("PLAINTEXT://:{port},CONTROLLER://:9093"),
        ),
        (
            "KAFKA_ADVERTISED_LISTENERS",
            format!("PLAINTEXT://127.0.0.1:{port}"),
        ),
        ("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER".to_owned()),
        (
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
            "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT".to_owned(),
        ),
        (
            "KAFKA_CONTROLLER_QUORUM_VOTERS",
            "1@localhost:9093".to_owned(),
        ),
        // One broker: internal topics cannot have more replicas than that.
        ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1".to_owned()),
        (
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
            "1".to_owned(),
        ),
        ("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1".to_owned()),
        // A consumer group's first member starts at once instead of after 3 s.
        ("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0".to_owned()),
    ];
    for (name, value) in settings {
        args.push("--env".into());
        args.push(format!("{name}={value}"));
    }
    args.push(KAFKA_IMAGE.into());
    args
}

/// A Kafka container the grader started; removed (by its labels) when dropped.
struct Container {
    port: u16,
    /// Removes the container, found by `grade.run=<run>` and `grade.service=kafka`.
    _labelled: Labelled,
}

impl Container {
    fn start(docker: &Path, run: &str) -> Result<Self, GradeError> {
        let what = format!("a {KAFKA_IMAGE} container with {}", docker.display());
        let failed = |reason: String| ServiceError::StartFailed {
            what: what.clone(),
            reason,
        };
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()
                .map_err(|e| failed(format!("cannot find a free port on 127.0.0.1: {e}")))?;
            // The guard exists before the container does: if `docker run` is interrupted after
            // creating it, the drop still finds it by label.
            let labelled = Labelled::new(
                docker,
                vec![docker::run_label(run), docker::service_label("kafka")],
                "Kafka",
            );
            let started = run_briefly(
                Command::new(docker).args(docker_run_args(port, labelled.run_args())),
                DOCKER_RUN_TIMEOUT,
            );
            match started {
                Ok(_) => {
                    wait_for_api_versions(port, DOCKER_READY_WITHIN).map_err(failed)?;
                    return Ok(Self {
                        port,
                        _labelled: labelled,
                    });
                }
                // Another process took the port since it was free: a new port, a new container.
                Err(reason)
                    if reason.contains("port is already allocated")
                        || reason.contains("address already in use") => {}
                Err(reason) => return Err(failed(format!("`docker run` failed: {reason}")).into()),
            }
        }
        Err(failed(format!(
            "{PORT_ATTEMPTS} free ports in a row were taken before Docker could publish them"
        ))
        .into())
    }
}

/// Polls until a broker on 127.0.0.1:`port` answers ApiVersions.
fn wait_for_api_versions(port: u16, within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    let address = format!("127.0.0.1:{port}");
    loop {
        if crate::interrupt::requested() {
            return Err("interrupted".into());
        }
        let error = match kafka_wire::api_versions(&address, correlation_id(), PROBE_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(error) => error,
        };
        if Instant::now() >= deadline {
            return Err(format!(
                "nothing answered ApiVersions on {address} within {}s ({error})",
                within.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::super::kafka_wire::tests::fake_broker;
    use super::*;

    fn script(path: &Path, body: &str) {
        std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            !stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    }

    #[test]
    fn a_broker_is_started_on_loopback_advertising_itself_in_memory() {
        assert_eq!(
            broker_args(40123),
            [
                "broker",
                "--listener-url",
                "tcp://127.0.0.1:40123",
                "--advertised-listener-url",
                "tcp://127.0.0.1:40123",
                "--storage-engine",
                "memory://tansu/",
            ]
        );
    }

    #[test]
    fn the_container_listens_and_advertises_on_the_published_port() {
        let labels = Labelled::new(
            Path::new("/nonexistent/docker"),
            vec![docker::run_label("run-9"), docker::service_label("kafka")],
            "Kafka",
        );
        // Dropping the guard asks a `docker` that does not exist: nothing happens.
        assert_eq!(
            docker_run_args(40555, labels.run_args()),
            [
                "run",
                "--detach",
                "--rm",
                "--label",
                "grade.run=run-9",
                "--label",
                "grade.service=kafka",
                "--publish",
                "127.0.0.1:40555:40555",
                "--env",
                "KAFKA_NODE_ID=1",
                "--env",
                "KAFKA_PROCESS_ROLES=broker,controller",
                "--env",
                "KAFKA_LISTENERS=PLAINTEXT://:40555,CONTROLLER://:9093",
                "--env",
                "KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://127.0.0.1:40555",
                "--env",
                "KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
                "--env",
                "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                "--env",
                "KAFKA_CONTROLLER_QUORUM_VOTERS=1@localhost:9093",
                "--env",
                "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1",
                "--env",
                "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=1",
                "--env",
                "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR=1",
                "--env",
                "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS=0",
                "apache/kafka:3.9.0",
            ]
        );
    }

    #[test]
    fn broker_lists_are_host_port_pairs() {
        assert_eq!(
            parse_brokers("127.0.0.1:9092, kafka-2:9093,[::1]:9094").unwrap(),
            ["127.0.0.1:9092", "kafka-2:9093", "[::1]:9094"]
        );
        for (list, why) in [
            ("", "it is empty"),
            ("a:1,,b:2", "is empty"),
            ("localhost", "has no port"),
            ("localhost:kafka", "is not a port"),
            ("localhost:0", "is not a port"),
            (":9092", "has no host"),
            ("PLAINTEXT://localhost:9092", "has a scheme"),
        ] {
            let error = parse_brokers(list).unwrap_err();
            assert!(error.contains(why), "{list:?}: {error}");
        }
    }

    #[test]
    fn brokers_someone_else_runs_are_used_when_one_answers() {
        let (port, _broker) = fake_broker(0);
        let dead = free_port().unwrap();
        let kafka = Kafka::provision(
            &KafkaSource::Brokers {
                brokers: format!("127.0.0.1:{dead}, 127.0.0.1:{port}"),
                origin: BrokersOrigin::Env,
            },
            "kafka-consumer",
            "run-1",
        )
        .unwrap();
        assert_eq!(
            kafka.brokers(),
            format!("127.0.0.1:{dead},127.0.0.1:{port}")
        );
        assert_eq!(kafka.usage().source, "url");
        assert!(
            kafka
                .usage()
                .detail
                .contains("(from KAFKA_BROKERS; the suites delete"),
            "{}",
            kafka.usage().detail
        );
        assert_eq!(kafka.local_pid(), None);
    }

    #[test]
    fn brokers_that_do_not_answer_are_a_clear_error() {
        let dead = free_port().unwrap();
        let error = Kafka::provision(
            &KafkaSource::Brokers {
                brokers: format!("127.0.0.1:{dead}"),
                origin: BrokersOrigin::Flag,
            },
            "kafka-consumer",
            "run-1",
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            error.starts_with(&format!(
                "no Kafka broker answers at 127.0.0.1:{dead} (from --kafka-brokers):\n  - 127.0.0.1:{dead}: "
            )),
            "{error}"
        );
        assert!(error.contains("unset KAFKA_BROKERS"), "{error}");
        let error = Kafka::provision(
            &KafkaSource::Brokers {
                brokers: "kafka:9092/".into(),
                origin: BrokersOrigin::Flag,
            },
            "kafka-consumer",
            "run-1",
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            error.starts_with("--kafka-brokers `kafka:9092/` is not a usable list"),
            "{error}"
        );
    }

    /// A real broker binary to start: grade's own, when built, or `tansu` from PATH; `None`
    /// (with a note) on a machine with neither.
    fn real_broker() -> Option<PathBuf> {
        let host = super::super::Host::current(None);
        let found = host
            .own_broker()
            .ok()
            .filter(OwnBroker::is_built)
            .map(|own| own.binary)
            .or_else(|| host.which("tansu"));
        if found.is_none() {
            eprintln!("skipped: grade's own broker is not built and no tansu is on PATH");
        }
        found
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_private_broker_answers_then_stops_with_its_folder() {
        let Some(binary) = real_broker() else { return };
        let kafka = Kafka::provision(
            &KafkaSource::Tansu {
                path: binary.clone(),
            },
            "kafka-consumer",
            "run-2",
        )
        .unwrap();
        let pid = kafka.local_pid().unwrap();
        let address = kafka.brokers().to_owned();
        assert!(address.starts_with("127.0.0.1:"), "{address}");
        assert_ne!(address, "127.0.0.1:9092", "never the machine's own broker");
        let answer = kafka_wire::api_versions(&address, 5, Duration::from_secs(2)).unwrap();
        assert_eq!(answer.error_code, 0);
        assert!(answer.apis > 10, "{answer:?}");
        let dir = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap();
        assert!(dir.join(LOG_FILE).exists());
        assert!(kafka.usage().detail.contains("started for this run"));
        let stopping = Instant::now();
        drop(kafka);
        assert!(
            stopping.elapsed() < STOP_WITHIN + Duration::from_secs(1),
            "teardown took {:?}",
            stopping.elapsed()
        );
        assert!(!alive(pid), "the broker {pid} outlived its handle");
        assert!(!dir.exists(), "{} was left behind", dir.display());
        assert!(kafka_wire::api_versions(&address, 6, Duration::from_secs(1)).is_err());
    }

    #[test]
    fn a_broker_that_exits_at_once_says_why() {
        let bin = tempfile::tempdir().unwrap();
        let tansu = bin.path().join("tansu");
        script(
            &tansu,
            r#"case "$1" in
  --version) echo "tansu 0.6.0" ;;
  --help) echo "Storage engines: dynostore" ;;
  *) echo "Error: storage engine unavailable" >&2; exit 1 ;;
esac"#,
        );
        let error = Kafka::provision(&KafkaSource::Tansu { path: tansu }, "x", "run-3")
            .err()
            .unwrap()
            .to_string();
        assert!(error.starts_with("cannot start tansu ("), "{error}");
        assert!(
            error.contains("exited (exit status: 1) before answering"),
            "{error}"
        );
        assert!(
            error.contains("  Error: storage engine unavailable"),
            "{error}"
        );
    }

    #[test]
    fn a_tansu_without_in_memory_storage_that_fails_says_how_to_reinstall_it() {
        let bin = tempfile::tempdir().unwrap();
        let tansu = bin.path().join("tansu");
        script(
            &tansu,
            r#"case "$1" in
  --version) echo "tansu 0.6.0" ;;
  --help) echo "Storage engines: postgres" ;;
  *) echo "Error: Message(\"unsupported storage engine: memory\")" >&2; exit 1 ;;
esac"#,
        );
        let error = Kafka::provision(&KafkaSource::Tansu { path: tansu }, "x", "run-4")
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.contains("unsupported storage engine: memory"),
            "{error}"
        );
        assert!(
            error.contains(
                "note: its storage engines (postgres) do not include dynostore, the in-memory one"
            ),
            "{error}"
        );
        assert!(error.contains("--features dynostore"), "{error}");
    }

    /// A workspace whose "cargo" is a script: `build` runs `body`, with `$BIN` the binary.
    fn fake_own_broker(body: &str) -> (tempfile::TempDir, OwnBroker) {
        let dir = tempfile::tempdir().unwrap();
        let cargo = dir.path().join("cargo");
        let binary = dir.path().join("target/release/grade-kafka-broker");
        script(
            &cargo,
            &format!(
                "echo \"$*\" > {calls}\nBIN={bin}\n{body}",
                calls = dir.path().join("calls").display(),
                bin = binary.display()
            ),
        );
        let own = OwnBroker {
            workspace: dir.path().to_owned(),
            binary,
            cargo,
        };
        (dir, own)
    }

    #[test]
    fn the_own_broker_is_built_with_the_locked_release_profile() {
        let (dir, own) = fake_own_broker(
            r#"echo "   Compiling tansu v0.6.0" >&2
mkdir -p "$(dirname "$BIN")" && printf '#!/bin/sh\n' > "$BIN" && chmod +x "$BIN""#,
        );
        assert!(!own.is_built());
        assert_eq!(build(&own, "kafka-consumer").unwrap(), own.binary);
        assert!(own.is_built());
        let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
        assert_eq!(
            calls.trim(),
            "build --release --locked -p grade-kafka-broker"
        );
    }

    #[test]
    fn a_failed_build_shows_its_error_and_the_other_ways() {
        let (_dir, own) = fake_own_broker(
            r#"for i in $(seq 1 40); do echo "   Compiling crate-$i v1.0.0" >&2; done
echo "error: failed to run custom build command for \`aws-lc-sys v0.47.0\`" >&2
echo "  cc: command not found" >&2
exit 101"#,
        );
        let error = build(&own, "kafka-consumer").unwrap_err();
        assert!(matches!(
            error,
            GradeError::Service(ServiceError::BrokerBuildFailed { .. })
        ));
        let message = error.to_string();
        for needed in [
            "`kafka-consumer` needs a Kafka-protocol broker; grade tried to build its own with \
             `cargo build --release --locked -p grade-kafka-broker`",
            "the build failed (exit status: 101)",
            "  error: failed to run custom build command for `aws-lc-sys v0.47.0`",
            "    cc: command not found",
            "--kafka-brokers 127.0.0.1:9092",
            "cargo install tansu --locked --features dynostore",
            "apache/kafka:3.9.0",
        ] {
            assert!(
                message.contains(needed),
                "{needed:?} missing from:\n{message}"
            );
        }
        assert!(!message.contains("Compiling"), "{message}");
    }

    /// The Docker path against a fake `docker` that logs every call, while a stand-in broker
    /// (a thread of this test) binds the port the grader published: what a run asks of
    /// Docker, in order.
    #[test]
    fn a_container_is_published_on_its_advertised_port_and_removed_by_its_labels() {
        let state = tempfile::tempdir().unwrap();
        let dir = state.path().display();
        let docker = state.path().join("docker");
        script(
            &docker,
            &format!(
                r#"echo "$*" >> {dir}/calls
case "$1" in
  run) echo "$*" | sed 's/.*--publish 127.0.0.1:\([0-9]*\):.*/\1/' > {dir}/port.tmp
       mv {dir}/port.tmp {dir}/port; echo c0ffee ;;
  ps) test -f {dir}/removed || echo c0ffee ;;
  rm) touch {dir}/removed ;;
esac"#
            ),
        );
        let port_file = state.path().join("port");
        let stand_in = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            while !port_file.exists() {
                assert!(Instant::now() < deadline, "docker run never came");
                std::thread::sleep(Duration::from_millis(10));
            }
            let port: u16 = std::fs::read_to_string(&port_file)
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            fake_broker(port)
        });
        let kafka = Kafka::provision(
            &KafkaSource::Docker {
                docker: docker.clone(),
            },
            "kafka-consumer",
            "run-8",
        )
        .unwrap();
        let (port, _broker) = stand_in.join().unwrap();
        assert_eq!(kafka.brokers(), format!("127.0.0.1:{port}"));
        assert_eq!(kafka.usage().source, "docker");
        drop(kafka);
        let calls = std::fs::read_to_string(state.path().join("calls")).unwrap();
        let calls: Vec<&str> = calls.lines().collect();
        assert_eq!(calls.len(), 3, "{calls:?}");
        assert!(
            calls[0].starts_with(&format!(
                "run --detach --rm --label grade.run=run-8 --label grade.service=kafka \
                 --publish 127.0.0.1:{port}:{port} --env KAFKA_NODE_ID=1"
            )),
            "{calls:?}"
        );
        assert_eq!(
            calls[1..],
            [
                "ps --all --quiet --filter label=grade.run=run-8 --filter label=grade.service=kafka",
                "rm --force c0ffee",
            ]
        );
    }

    #[test]
    fn the_fix_for_a_missing_broker_lists_the_other_ways_and_the_build() {
        let fix = super::super::Service::Kafka.fix();
        for line in OTHER_WAYS.lines() {
            assert!(fix.contains(line), "{line:?} missing from:\n{fix}");
        }
        assert!(
            fix.contains("cargo build --release --locked -p grade-kafka-broker"),
            "{fix}"
        );
    }
}
