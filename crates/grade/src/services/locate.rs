//! Where a service would come from on this machine, decided in a fixed order without starting
//! anything, or nothing.
//!
//! - Redis: an explicit URL (`--redis-url`, then `REDIS_URL`), `redis-server` on `PATH`, Docker.
//! - Kafka: explicit bootstrap servers (`--kafka-brokers`, then `KAFKA_BROKERS`), `tansu` on
//!   `PATH`, grade's own broker (the workspace package `grade-kafka-broker`: built already, or
//!   built on first need), Docker.
//!
//! The machine is described by a [`Host`] (the flags, the environment's values, the `PATH`, the
//! checkout and its cargo) rather than read from globals at each step, so the order can be
//! tested with an injected `PATH` of fake executables; `grade doctor` and provisioning share
//! the same answer.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::sandbox::{self, Ended, Limits};

/// The environment variable a Redis URL is also read from, as most Redis tooling does.
pub const REDIS_URL_ENV: &str = "REDIS_URL";

/// The server image used when Redis comes from Docker.
pub const REDIS_IMAGE: &str = "redis:7-alpine";

/// The environment variable Kafka bootstrap servers are also read from.
pub const KAFKA_BROKERS_ENV: &str = "KAFKA_BROKERS";

/// The broker image used when Kafka comes from Docker: Apache Kafka itself, in KRaft mode.
pub const KAFKA_IMAGE: &str = "apache/kafka:3.9.0";

/// The workspace package (and binary) that is grade's own Kafka-protocol broker: tansu's
/// command line built with only in-memory storage, pinned by the workspace's `Cargo.lock`.
pub const BROKER_PACKAGE: &str = "grade-kafka-broker";

/// Where [`BROKER_PACKAGE`] lives in the checkout.
pub const BROKER_CRATE_DIR: &str = "crates/kafka-broker";

/// How grade builds its own broker, in the workspace (as the user would type it).
pub const BROKER_BUILD_COMMAND: &str = "cargo build --release --locked -p grade-kafka-broker";

/// How long `docker info` may take before Docker counts as unavailable: a daemon that is
/// wedged must not wedge the grader.
const DOCKER_INFO_TIMEOUT: Duration = Duration::from_secs(10);

/// How long `cargo metadata --no-deps` may take (it reads manifests only: ~0.2 s here).
const METADATA_TIMEOUT: Duration = Duration::from_secs(60);

/// The parts of the machine that decide where services come from.
#[derive(Debug, Clone, Default)]
pub struct Host {
    /// `--redis-url`, when given.
    pub redis_url_flag: Option<String>,
    /// `REDIS_URL` from the environment, when set and not empty.
    pub redis_url_env: Option<String>,
    /// `--kafka-brokers`, when given.
    pub kafka_brokers_flag: Option<String>,
    /// `KAFKA_BROKERS` from the environment, when set and not empty.
    pub kafka_brokers_env: Option<String>,
    /// The `PATH` searched for `redis-server`, `tansu`, `docker` and the C tools.
    pub path: Option<OsString>,
    /// The grade checkout (a cargo workspace) whose own Kafka broker can be built; `None`
    /// outside one.
    pub workspace: Option<PathBuf>,
    /// The cargo that reads the workspace's target directory and builds the broker: `CARGO`
    /// (as `cargo grade` sets it), else `cargo` on [`path`](Self::path); `None` when there is
    /// none.
    pub cargo: Option<PathBuf>,
}

/// Where a URL came from, for messages and the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlOrigin {
    /// `--redis-url`.
    Flag,
    /// The `REDIS_URL` environment variable.
    Env,
}

impl UrlOrigin {
    /// How the origin is named to the user.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Flag => "--redis-url",
            Self::Env => REDIS_URL_ENV,
        }
    }
}

/// Where Kafka bootstrap servers came from, for messages and the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokersOrigin {
    /// `--kafka-brokers`.
    Flag,
    /// The `KAFKA_BROKERS` environment variable.
    Env,
}

impl BrokersOrigin {
    /// How the origin is named to the user.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Flag => "--kafka-brokers",
            Self::Env => KAFKA_BROKERS_ENV,
        }
    }
}

/// Where Redis will come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisSource {
    /// A server someone else runs; the grader only deletes the keys its run created.
    Url {
        /// The URL as given.
        url: String,
        /// Where it was given.
        origin: UrlOrigin,
    },
    /// `redis-server` on `PATH`, started privately for the run.
    Binary {
        /// Its full path.
        path: PathBuf,
    },
    /// A throwaway container, started for the run and removed after it.
    Docker {
        /// The `docker` executable.
        docker: PathBuf,
    },
}

impl RedisSource {
    /// The stable machine name used in reports: `url`, `binary` or `docker`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Url { .. } => "url",
            Self::Binary { .. } => "binary",
            Self::Docker { .. } => "docker",
        }
    }
}

/// Where a Kafka-protocol broker will come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KafkaSource {
    /// Brokers someone else runs; suites create uniquely named topics there and delete them.
    Brokers {
        /// The `HOST:PORT[,HOST:PORT…]` list as given.
        brokers: String,
        /// Where it was given.
        origin: BrokersOrigin,
    },
    /// `tansu` on `PATH`, started privately for the run, as it is.
    Tansu {
        /// Its full path.
        path: PathBuf,
    },
    /// grade's own broker, started privately for the run; built first when it is not yet.
    Own(OwnBroker),
    /// A throwaway Apache Kafka container, started for the run and removed after it.
    Docker {
        /// The `docker` executable.
        docker: PathBuf,
    },
}

impl KafkaSource {
    /// The stable machine name used in reports: `url` (brokers given by address), `binary`
    /// (a broker process started for the run) or `docker`, as for Redis.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Brokers { .. } => "url",
            Self::Tansu { .. } | Self::Own(_) => "binary",
            Self::Docker { .. } => "docker",
        }
    }
}

/// grade's own Kafka broker: the workspace package [`BROKER_PACKAGE`], and where cargo puts
/// (or has put) its release binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnBroker {
    /// The workspace root, where `cargo build` runs.
    pub workspace: PathBuf,
    /// `<target directory>/release/grade-kafka-broker`.
    pub binary: PathBuf,
    /// The cargo that builds it.
    pub cargo: PathBuf,
}

impl OwnBroker {
    /// Whether the binary is there already (then it is reused as it is, without asking cargo:
    /// even a no-op `cargo build` costs seconds, and one with other `RUSTFLAGS` than the
    /// user's own builds would rebuild tansu for minutes).
    pub fn is_built(&self) -> bool {
        self.binary.is_file()
    }
}

/// Whether Docker can run containers here, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Docker {
    /// `docker info` succeeded.
    Ready {
        /// The `docker` executable.
        path: PathBuf,
        /// The engine's version, as `docker info` reports it.
        version: String,
    },
    /// Not usable, with the reason in words.
    Unavailable(String),
}

impl Host {
    /// The machine as this process sees it, with `--redis-url` when given (add
    /// `--kafka-brokers` with [`with_kafka_brokers`](Self::with_kafka_brokers)).
    pub fn current(redis_url_flag: Option<String>) -> Self {
        let non_empty = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut host = Self {
            redis_url_flag,
            redis_url_env: non_empty(REDIS_URL_ENV),
            kafka_brokers_flag: None,
            kafka_brokers_env: non_empty(KAFKA_BROKERS_ENV),
            path: std::env::var_os("PATH"),
            workspace: crate::repo::Repo::discover()
                .ok()
                .map(|repo| repo.root().to_owned()),
            cargo: None,
        };
        host.cargo = std::env::var_os("CARGO")
            .map(PathBuf::from)
            .or_else(|| host.which("cargo"));
        host
    }

    /// The same machine, with `--kafka-brokers` when given.
    pub fn with_kafka_brokers(mut self, flag: Option<String>) -> Self {
        self.kafka_brokers_flag = flag;
        self
    }

    /// The explicit URL, if any, with its origin: the flag wins over the environment.
    pub fn redis_url(&self) -> Option<(&str, UrlOrigin)> {
        self.redis_url_flag
            .as_deref()
            .map(|url| (url, UrlOrigin::Flag))
            .or_else(|| {
                self.redis_url_env
                    .as_deref()
                    .map(|url| (url, UrlOrigin::Env))
            })
    }

    /// The explicit Kafka bootstrap servers, if any, with their origin: the flag wins.
    pub fn kafka_brokers(&self) -> Option<(&str, BrokersOrigin)> {
        self.kafka_brokers_flag
            .as_deref()
            .map(|list| (list, BrokersOrigin::Flag))
            .or_else(|| {
                self.kafka_brokers_env
                    .as_deref()
                    .map(|list| (list, BrokersOrigin::Env))
            })
    }

    /// The first executable file called `program` on `PATH`.
    pub fn which(&self, program: &str) -> Option<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path.as_ref()?;
        std::env::split_paths(path)
            .filter(|dir| !dir.as_os_str().is_empty())
            .map(|dir| dir.join(program))
            .find(|candidate| {
                std::fs::metadata(candidate)
                    .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
            })
    }

    /// Whether Docker can run containers: `docker` on `PATH` and `docker info` succeeding
    /// (the client alone, without a running engine, is common and useless here).
    pub fn docker(&self) -> Docker {
        let Some(path) = self.which("docker") else {
            return Docker::Unavailable("`docker` is not on PATH".into());
        };
        let mut command = Command::new(&path);
        command.args(["info", "--format", "{{.ServerVersion}}"]);
        match run_briefly(&mut command, DOCKER_INFO_TIMEOUT) {
            Ok(version) => Docker::Ready {
                path,
                version: version.trim().to_owned(),
            },
            Err(reason) => Docker::Unavailable(format!("`docker info` failed: {reason}")),
        }
    }

    /// Where Redis would come from, or why each source cannot be used (in order).
    ///
    /// Docker is asked last and only when needed: `docker info` is the one slow probe.
    pub fn locate_redis(&self) -> Result<RedisSource, Vec<String>> {
        if let Some((url, origin)) = self.redis_url() {
            return Ok(RedisSource::Url {
                url: url.to_owned(),
                origin,
            });
        }
        let mut tried = vec![format!(
            "no --redis-url was given and {REDIS_URL_ENV} is not set"
        )];
        if let Some(path) = self.which("redis-server") {
            return Ok(RedisSource::Binary { path });
        }
        tried.push("no `redis-server` on PATH".into());
        match self.docker() {
            Docker::Ready { path, .. } => Ok(RedisSource::Docker { docker: path }),
            Docker::Unavailable(reason) => {
                tried.push(format!("Docker cannot be used: {reason}"));
                Err(tried)
            }
        }
    }
}

impl Host {
    /// Where a Kafka-protocol broker would come from, or why each source cannot be used (in
    /// order).
    ///
    /// grade's own broker counts whenever the checkout has the package, built or not: building
    /// it takes minutes once, and then it starts in a tenth of a second, which beats pulling
    /// and booting a JVM in Docker for every run. Docker is asked last and only when needed.
    pub fn locate_kafka(&self) -> Result<KafkaSource, Vec<String>> {
        if let Some((brokers, origin)) = self.kafka_brokers() {
            return Ok(KafkaSource::Brokers {
                brokers: brokers.to_owned(),
                origin,
            });
        }
        let mut tried = vec![format!(
            "no --kafka-brokers was given and {KAFKA_BROKERS_ENV} is not set"
        )];
        if let Some(path) = self.which("tansu") {
            return Ok(KafkaSource::Tansu { path });
        }
        tried.push("no `tansu` on PATH".into());
        match self.own_broker() {
            Ok(own) => return Ok(KafkaSource::Own(own)),
            Err(reason) => tried.push(format!("grade cannot build its own broker: {reason}")),
        }
        match self.docker() {
            Docker::Ready { path, .. } => Ok(KafkaSource::Docker { docker: path }),
            Docker::Unavailable(reason) => {
                tried.push(format!("Docker cannot be used: {reason}"));
                Err(tried)
            }
        }
    }

    /// grade's own broker in this checkout, built or not, or why there is none. Asks cargo
    /// for the workspace's target directory (`CARGO_TARGET_DIR` and `build.target-dir` are
    /// cargo's to interpret), so the broker lands where the user's own builds go.
    pub fn own_broker(&self) -> Result<OwnBroker, String> {
        let workspace = self
            .workspace
            .as_ref()
            .ok_or("grade is not running inside its checkout")?;
        if !workspace
            .join(BROKER_CRATE_DIR)
            .join("Cargo.toml")
            .is_file()
        {
            return Err(format!(
                "this checkout has no {BROKER_CRATE_DIR} (update it: git pull)"
            ));
        }
        let cargo = self
            .cargo
            .clone()
            .ok_or("no `cargo` on PATH to build it with")?;
        let target = workspace_target_dir(&cargo, workspace)?;
        Ok(OwnBroker {
            workspace: workspace.clone(),
            binary: target.join("release").join(BROKER_PACKAGE),
            cargo,
        })
    }
}

/// The target directory cargo uses for the workspace at `root`, from `cargo metadata`, after
/// checking that [`BROKER_PACKAGE`] is one of its members.
fn workspace_target_dir(cargo: &Path, root: &Path) -> Result<PathBuf, String> {
    let mut command = Command::new(cargo);
    command
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root);
    // The JSON lists every member (tens of kilobytes): read in full, not the bounded capture
    // `run_briefly` keeps.
    let json = run_to_string(&mut command, METADATA_TIMEOUT)
        .map_err(|reason| format!("`cargo metadata` failed: {reason}"))?;
    let metadata: serde_json::Value = serde_json::from_str(&json)
        .map_err(|e| format!("`cargo metadata` printed something else than JSON: {e}"))?;
    let member = metadata["packages"]
        .as_array()
        .is_some_and(|packages| packages.iter().any(|p| p["name"] == BROKER_PACKAGE));
    if !member {
        return Err(format!(
            "{BROKER_PACKAGE} is not a member of the workspace at {}",
            root.display()
        ));
    }
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| "`cargo metadata` did not say where the target directory is".into())
}

/// Runs a helper whose whole stdout matters (`cargo metadata`) in its own registered process
/// group with a time limit; its stdout goes to a temporary file, so no pipe can fill up.
fn run_to_string(command: &mut Command, timeout: Duration) -> Result<String, String> {
    let mut out = tempfile::tempfile().map_err(|e| format!("no temporary file: {e}"))?;
    let mut err = tempfile::tempfile().map_err(|e| format!("no temporary file: {e}"))?;
    let stdout = out.try_clone().map_err(|e| e.to_string())?;
    let stderr = err.try_clone().map_err(|e| e.to_string())?;
    command.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
    let mut child = sandbox::spawn_in_group(command).map_err(|e| e.to_string())?;
    let group = sandbox::Registration::new(child.id());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if crate::interrupt::requested() {
            return Err("interrupted".into());
        }
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if Instant::now() >= deadline {
            drop(group);
            let _ = child.wait();
            return Err(format!("no answer within {}s", timeout.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    drop(group);
    let read = |file: &mut std::fs::File| {
        use std::io::{Read, Seek};
        let mut text = String::new();
        file.rewind()
            .and_then(|()| file.read_to_string(&mut text))
            .map(|_| text)
            .map_err(|e| e.to_string())
    };
    if status.success() {
        read(&mut out)
    } else {
        let stderr = read(&mut err).unwrap_or_default();
        let last = stderr
            .lines()
            .rev()
            .find(|line| !line.trim().is_empty())
            .unwrap_or("no error message");
        Err(format!("{status}: {}", last.trim()))
    }
}

/// Runs a short helper command (`docker info`, `redis-server --version`) in its own process
/// group with a time limit; its stdout, or a one-line reason it failed.
pub fn run_briefly(command: &mut Command, timeout: Duration) -> Result<String, String> {
    let finished = sandbox::run(
        command,
        Limits {
            timeout,
            memory: u64::MAX,
        },
    )
    .map_err(|error| error.to_string())?;
    match finished.ended {
        Ended::Exited(status) if status.success() => Ok(finished.stdout.text()),
        Ended::Exited(status) => {
            let stderr = finished.stderr.text();
            let first = stderr
                .lines()
                .map(str::trim)
                .find(|line| !line.is_empty())
                .unwrap_or("no error message");
            Err(format!("{status}: {first}"))
        }
        Ended::TimedOut => Err(format!("no answer within {}s", timeout.as_secs())),
        Ended::MemoryExceeded => Err("it used too much memory".into()),
        Ended::Interrupted => Err("interrupted".into()),
    }
}

/// Like [`run_briefly`], for teardown (`docker rm`): the command is in a group of its own but
/// *not* registered with the interrupt handler, because teardown runs precisely after an
/// interrupt, when every registered group is killed on sight.
pub fn run_for_teardown(command: &mut Command, timeout: Duration) -> Result<String, String> {
    use std::os::unix::process::CommandExt;
    let mut child = command
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| error.to_string())?;
    let deadline = Instant::now() + timeout;
    // Outputs here are a few lines, far below a pipe's buffer: waiting before reading is safe.
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("no answer within {}s", timeout.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(format!("{}: {}", output.status, stderr.trim()))
    }
}

/// What a broker binary (`tansu`, grade's own) says it is (`tansu 0.6.0`), or why it does
/// not run.
pub fn broker_version(binary: &Path) -> Result<String, String> {
    run_briefly(
        Command::new(binary).arg("--version"),
        Duration::from_secs(5),
    )
    .map(|version| version.trim().to_owned())
}

/// A warning when a `tansu` may be unable to keep a broker in memory, as the grader starts it:
/// its `--help` lists the storage engines its command line was built with, and a `tansu`
/// installed without `--features dynostore` lists no in-memory one. Only a warning: the list
/// is the command line's, and a build that enables the engine in tansu's storage crate alone
/// (as grade's own broker does) serves from memory while listing nothing.
pub fn tansu_storage_warning(binary: &Path) -> Option<String> {
    let help = run_briefly(Command::new(binary).arg("--help"), Duration::from_secs(5)).ok()?;
    let engines = help
        .lines()
        .find_map(|line| line.trim().strip_prefix("Storage engines:"))?
        .trim();
    (!engines
        .split(',')
        .any(|engine| engine.trim() == "dynostore"))
    .then(|| {
        let listed = if engines.is_empty() { "none" } else { engines };
        format!(
            "its storage engines ({listed}) do not include dynostore, the in-memory one: if it \
             cannot start, reinstall it with `cargo install tansu --locked --features dynostore`"
        )
    })
}

/// The version `redis-server --version` reports (`7.0.15`), or a reason it could not tell.
pub fn redis_server_version(binary: &Path) -> Result<String, String> {
    let output = run_briefly(
        Command::new(binary).arg("--version"),
        Duration::from_secs(5),
    )?;
    // "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=…"
    Ok(output
        .split_whitespace()
        .find_map(|word| word.strip_prefix("v="))
        .unwrap_or(output.trim())
        .to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder of fake executables to use as `PATH`.
    fn fake_path(programs: &[(&str, &str)]) -> tempfile::TempDir {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        for (name, script) in programs {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        dir
    }

    fn host(path: &Path) -> Host {
        Host {
            path: Some(path.as_os_str().to_owned()),
            ..Host::default()
        }
    }

    #[test]
    fn a_flag_beats_the_environment_which_beats_path() {
        let bin = fake_path(&[("redis-server", "exit 0"), ("docker", "exit 0")]);
        let mut host = host(bin.path());
        host.redis_url_env = Some("redis://env:1".into());
        assert_eq!(
            host.locate_redis(),
            Ok(RedisSource::Url {
                url: "redis://env:1".into(),
                origin: UrlOrigin::Env
            })
        );
        host.redis_url_flag = Some("redis://flag:2".into());
        assert_eq!(
            host.locate_redis(),
            Ok(RedisSource::Url {
                url: "redis://flag:2".into(),
                origin: UrlOrigin::Flag
            })
        );
    }

    #[test]
    fn a_binary_on_path_beats_docker() {
        let bin = fake_path(&[("redis-server", "exit 0"), ("docker", "exit 0")]);
        assert_eq!(
            host(bin.path()).locate_redis(),
            Ok(RedisSource::Binary {
                path: bin.path().join("redis-server")
            })
        );
    }

    #[test]
    fn docker_counts_only_when_its_engine_answers() {
        let working = fake_path(&[("docker", "echo 28.2.2")]);
        assert_eq!(
            host(working.path()).locate_redis(),
            Ok(RedisSource::Docker {
                docker: working.path().join("docker")
            })
        );
        assert_eq!(
            host(working.path()).docker(),
            Docker::Ready {
                path: working.path().join("docker"),
                version: "28.2.2".into()
            }
        );
        let client_only = fake_path(&[(
            "docker",
            "echo 'Cannot connect to the Docker daemon' >&2; exit 1",
        )]);
        let tried = host(client_only.path()).locate_redis().unwrap_err();
        assert!(
            tried[2].contains("Cannot connect to the Docker daemon"),
            "{tried:?}"
        );
    }

    #[test]
    fn nothing_available_says_what_was_tried() {
        let empty = fake_path(&[]);
        let tried = host(empty.path()).locate_redis().unwrap_err();
        assert_eq!(tried.len(), 3, "{tried:?}");
        assert!(tried[0].contains("REDIS_URL"));
        assert!(tried[1].contains("redis-server"));
        assert!(tried[2].contains("not on PATH"));
    }

    #[test]
    fn which_skips_files_that_are_not_executable() {
        let bin = fake_path(&[]);
        std::fs::write(bin.path().join("redis-server"), "not a program").unwrap();
        assert_eq!(host(bin.path()).which("redis-server"), None);
        assert_eq!(Host::default().which("sh"), None, "no PATH, nothing found");
    }

    #[test]
    fn reads_the_version_redis_server_prints() {
        let bin = fake_path(&[(
            "redis-server",
            "echo 'Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64'",
        )]);
        assert_eq!(
            redis_server_version(&bin.path().join("redis-server")).as_deref(),
            Ok("7.0.15")
        );
    }

    /// A checkout with grade's broker package, whose `cargo` is a script that answers
    /// `cargo metadata` with `target` as the target directory and `members` as its packages.
    fn fake_checkout(members: &[&str]) -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let krate = root.path().join(BROKER_CRATE_DIR);
        std::fs::create_dir_all(&krate).unwrap();
        std::fs::write(krate.join("Cargo.toml"), "[package]\n").unwrap();
        let packages: Vec<String> = members
            .iter()
            .map(|name| format!(r#"{{"name":"{name}"}}"#))
            .collect();
        let metadata = format!(
            r#"{{"packages":[{}],"target_directory":"{}/target"}}"#,
            packages.join(","),
            root.path().display()
        );
        let tools = fake_path(&[(
            "cargo",
            &format!("test \"$1\" = metadata && echo '{metadata}'"),
        )]);
        let cargo = tools.path().join("cargo");
        let kept = root.path().join("cargo");
        std::fs::rename(&cargo, &kept).unwrap();
        (root, kept)
    }

    /// A host with a checkout that can build grade's broker, `PATH` = `bin`.
    fn kafka_host(bin: &Path, checkout: &(tempfile::TempDir, PathBuf)) -> Host {
        Host {
            workspace: Some(checkout.0.path().to_owned()),
            cargo: Some(checkout.1.clone()),
            ..host(bin)
        }
    }

    #[test]
    fn kafka_brokers_from_the_flag_beat_the_environment_which_beats_tansu() {
        let bin = fake_path(&[("tansu", "exit 0"), ("docker", "exit 0")]);
        let checkout = fake_checkout(&[BROKER_PACKAGE]);
        let mut host = kafka_host(bin.path(), &checkout);
        host.kafka_brokers_env = Some("env:9092".into());
        assert_eq!(
            host.locate_kafka(),
            Ok(KafkaSource::Brokers {
                brokers: "env:9092".into(),
                origin: BrokersOrigin::Env
            })
        );
        host.kafka_brokers_flag = Some("flag:9092,flag:9093".into());
        assert_eq!(
            host.locate_kafka(),
            Ok(KafkaSource::Brokers {
                brokers: "flag:9092,flag:9093".into(),
                origin: BrokersOrigin::Flag
            })
        );
    }

    #[test]
    fn tansu_on_path_beats_the_own_broker_which_beats_docker() {
        let bin = fake_path(&[("tansu", "exit 0"), ("docker", "echo 28.2.2")]);
        let checkout = fake_checkout(&[BROKER_PACKAGE, "grade"]);
        let host = kafka_host(bin.path(), &checkout);
        assert_eq!(
            host.locate_kafka(),
            Ok(KafkaSource::Tansu {
                path: bin.path().join("tansu")
            })
        );

        std::fs::remove_file(bin.path().join("tansu")).unwrap();
        let own = OwnBroker {
            workspace: checkout.0.path().to_owned(),
            binary: checkout.0.path().join("target/release/grade-kafka-broker"),
            cargo: checkout.1.clone(),
        };
        // Not built yet: it still wins over Docker (it is built on first need).
        assert_eq!(host.locate_kafka(), Ok(KafkaSource::Own(own.clone())));
        assert!(!own.is_built());
        std::fs::create_dir_all(own.binary.parent().unwrap()).unwrap();
        std::fs::write(&own.binary, "").unwrap();
        assert!(own.is_built());
        assert_eq!(host.locate_kafka(), Ok(KafkaSource::Own(own)));

        let outside = Host {
            workspace: None,
            ..host
        };
        assert_eq!(
            outside.locate_kafka(),
            Ok(KafkaSource::Docker {
                docker: bin.path().join("docker")
            })
        );
    }

    #[test]
    fn no_kafka_anywhere_says_what_was_tried() {
        let empty = fake_path(&[]);
        let checkout = fake_checkout(&["grade"]);
        let tried = kafka_host(empty.path(), &checkout)
            .locate_kafka()
            .unwrap_err();
        assert_eq!(tried.len(), 4, "{tried:?}");
        assert!(tried[0].contains("--kafka-brokers"), "{tried:?}");
        assert!(tried[0].contains("KAFKA_BROKERS"), "{tried:?}");
        assert!(tried[1].contains("no `tansu` on PATH"), "{tried:?}");
        assert_eq!(
            tried[2],
            format!(
                "grade cannot build its own broker: grade-kafka-broker is not a member of the \
                 workspace at {}",
                checkout.0.path().display()
            )
        );
        assert!(tried[3].contains("`docker` is not on PATH"), "{tried:?}");
    }

    #[test]
    fn the_own_broker_needs_the_package_and_a_cargo() {
        let empty = fake_path(&[]);
        let checkout = fake_checkout(&[BROKER_PACKAGE]);
        let host = kafka_host(empty.path(), &checkout);
        assert_eq!(
            host.own_broker().unwrap().binary,
            checkout.0.path().join("target/release/grade-kafka-broker")
        );
        let no_cargo = Host {
            cargo: None,
            ..host.clone()
        };
        assert!(no_cargo.own_broker().unwrap_err().contains("no `cargo`"));
        std::fs::remove_dir_all(checkout.0.path().join(BROKER_CRATE_DIR)).unwrap();
        assert!(
            host.own_broker()
                .unwrap_err()
                .contains("this checkout has no crates/kafka-broker")
        );
        let failing = fake_path(&[(
            "cargo",
            "echo 'error: could not find Cargo.toml' >&2; exit 101",
        )]);
        let another = fake_checkout(&[BROKER_PACKAGE]);
        let broken = Host {
            cargo: Some(failing.path().join("cargo")),
            ..kafka_host(empty.path(), &another)
        };
        let reason = broken.own_broker().unwrap_err();
        assert!(
            reason.starts_with("`cargo metadata` failed: exit status: 101: error: could not find"),
            "{reason}"
        );
    }

    #[test]
    fn the_real_workspace_target_directory_comes_from_cargo() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let cargo = PathBuf::from(env!("CARGO"));
        // The broker package may not be a member yet; the target directory is there anyway.
        match workspace_target_dir(&cargo, &root) {
            Ok(target) => assert!(target.is_absolute(), "{}", target.display()),
            Err(reason) => assert!(reason.contains("is not a member"), "{reason}"),
        }
    }

    #[test]
    fn a_tansu_without_in_memory_storage_gets_a_warning() {
        let help = |engines: &str| {
            let bin = fake_path(&[(
                "tansu",
                &format!(
                    r#"case "$1" in --version) echo "tansu 0.6.0" ;; *) printf 'Usage: tansu\n\nStorage engines: {engines}\nData lakes: \n' ;; esac"#
                ),
            )]);
            let tansu = bin.path().join("tansu");
            assert_eq!(broker_version(&tansu).as_deref(), Ok("tansu 0.6.0"));
            tansu_storage_warning(&tansu)
        };
        let warning = help("postgres, slatedb").unwrap();
        assert!(
            warning.starts_with("its storage engines (postgres, slatedb) do not include dynostore"),
            "{warning}"
        );
        assert!(warning.contains("--features dynostore"), "{warning}");
        assert!(help("").unwrap().contains("storage engines (none)"));
        assert_eq!(help("dynostore, postgres"), None);
    }
}
