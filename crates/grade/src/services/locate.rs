//! Where a service would come from on this machine, decided in a fixed order without starting
//! anything: an explicit URL (`--redis-url`, then `REDIS_URL`), a server binary on `PATH`,
//! Docker, or nothing.
//!
//! The machine is described by a [`Host`] (the URL flag, the environment's URL, the `PATH`)
//! rather than read from globals at each step, so the order can be tested with an injected
//! `PATH` of fake executables; `grade doctor` and provisioning share the same answer.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::sandbox::{self, Ended, Limits};

/// The environment variable a Redis URL is also read from, as most Redis tooling does.
pub const REDIS_URL_ENV: &str = "REDIS_URL";

/// The server image used when Redis comes from Docker.
pub const REDIS_IMAGE: &str = "redis:7-alpine";

/// How long `docker info` may take before Docker counts as unavailable: a daemon that is
/// wedged must not wedge the grader.
const DOCKER_INFO_TIMEOUT: Duration = Duration::from_secs(10);

/// The parts of the machine that decide where services come from.
#[derive(Debug, Clone, Default)]
pub struct Host {
    /// `--redis-url`, when given.
    pub redis_url_flag: Option<String>,
    /// `REDIS_URL` from the environment, when set and not empty.
    pub redis_url_env: Option<String>,
    /// The `PATH` searched for `redis-server` and `docker`.
    pub path: Option<OsString>,
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
    /// The machine as this process sees it, with `--redis-url` when given.
    pub fn current(redis_url_flag: Option<String>) -> Self {
        Self {
            redis_url_flag,
            redis_url_env: std::env::var(REDIS_URL_ENV)
                .ok()
                .filter(|url| !url.trim().is_empty()),
            path: std::env::var_os("PATH"),
        }
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
}
