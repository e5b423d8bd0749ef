//! Redis for a grading run: a server someone else runs (by URL), a private `redis-server`, or a
//! throwaway Docker container, behind one handle that tears itself down when dropped.
//!
//! # A private server
//! `redis-server` is started on a free loopback port with persistence off and its working
//! directory in a fresh temporary folder, as the leader of its own process group registered
//! with [`interrupt`](crate::interrupt). The port comes from binding port 0 and releasing it;
//! between the release and the server's own bind another process may take it, so a server that
//! fails with "Address already in use" (or a port where some *other* server answers) is retried
//! on a new port. Readiness is a `PING` that a server with *our* process id answers (checked
//! with `INFO server`), so a neighbour's server on a recycled port is never mistaken for ours.
//!
//! # Teardown
//! Dropping the handle kills the server's group and removes its folder, or removes the
//! container (found by labels naming the run and the service, so a container whose id was
//! never read is still found; see [`docker`](super::docker)). A Ctrl-C or SIGTERM kills the group at once from the signal handler; the drop
//! then runs as the run unwinds. For a server given by URL nothing is stopped and nothing is
//! flushed: only keys under the run's prefix are deleted, with `SCAN` and `UNLINK`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::docker::{self, Labelled};
use super::locate::{REDIS_IMAGE, RedisSource, redis_server_version, run_briefly};
use super::port::{Attempt, start_on_free_port};
use super::resp::{Connection, RedisUrl};
use crate::error::{GradeError, RespError, ServiceError};
use crate::report::ServiceUse;
use crate::sandbox::{self, Registration};

/// How long a started server has to answer `PING`.
const LOCAL_READY_WITHIN: Duration = Duration::from_secs(5);
/// A container may need longer: the engine starts a whole (small) system.
const DOCKER_READY_WITHIN: Duration = Duration::from_secs(30);
/// `docker run` may pull the image first.
const DOCKER_RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// Socket timeouts when talking to a server.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// A Redis server provisioned for one run.
pub struct Redis {
    /// What checks connect to, exactly as they will receive it (credentials included).
    url: String,
    /// The same, parsed: for the cleanup connection.
    parsed: RedisUrl,
    /// How the report describes it.
    usage: ServiceUse,
    /// Keys matching this were created by the run: `grade:<run-id>:*`.
    run_pattern: String,
    /// Who owns the server, which decides what teardown does.
    owner: Owner,
}

/// The servers are held only for their `Drop`: they live exactly as long as the handle.
#[allow(dead_code, reason = "held for Drop")]
enum Owner {
    /// Someone else's server: delete the run's keys, touch nothing else.
    External,
    /// Ours: killed with its folder.
    Local(LocalServer),
    /// Ours: the container is removed.
    Docker(Container),
}

impl Redis {
    /// Provisions Redis from `source` for the run whose keys match `run_pattern`.
    pub fn provision(source: &RedisSource, run_pattern: String) -> Result<Self, GradeError> {
        match source {
            RedisSource::Url { url, origin } => {
                let parsed = RedisUrl::parse(url).map_err(|reason| ServiceError::BadUrl {
                    url: redact_unparsed(url),
                    origin: origin.as_str(),
                    reason,
                })?;
                let unreachable = |error| ServiceError::Unreachable {
                    url: parsed.redacted(),
                    origin: origin.as_str(),
                    error,
                };
                let mut connection = Connection::open(&parsed, IO_TIMEOUT).map_err(unreachable)?;
                connection.ping().map_err(unreachable)?;
                let version = connection
                    .info_field("redis_version")
                    .ok()
                    .flatten()
                    .map(|v| format!("Redis {v} "))
                    .unwrap_or_default();
                Ok(Self {
                    url: url.clone(),
                    usage: ServiceUse {
                        name: "redis".into(),
                        source: source.kind(),
                        detail: format!(
                            "{version}at {} (from {}; only this run's keys are deleted)",
                            parsed.redacted(),
                            origin.as_str()
                        ),
                    },
                    parsed,
                    run_pattern,
                    owner: Owner::External,
                })
            }
            RedisSource::Binary { path } => {
                let server = LocalServer::start(path)?;
                let parsed = RedisUrl::local(server.port);
                Ok(Self {
                    url: parsed.redacted(),
                    usage: ServiceUse {
                        name: "redis".into(),
                        source: source.kind(),
                        detail: format!(
                            "redis-server {} ({}) on 127.0.0.1:{}, started for this run",
                            server.version,
                            path.display(),
                            server.port
                        ),
                    },
                    parsed,
                    run_pattern,
                    owner: Owner::Local(server),
                })
            }
            RedisSource::Docker { docker } => {
                let container = Container::start(docker, &run_pattern)?;
                let parsed = RedisUrl::local(container.port);
                Ok(Self {
                    url: parsed.redacted(),
                    usage: ServiceUse {
                        name: "redis".into(),
                        source: source.kind(),
                        detail: format!(
                            "Docker container {REDIS_IMAGE} on 127.0.0.1:{}, started for this run",
                            container.port
                        ),
                    },
                    parsed,
                    run_pattern,
                    owner: Owner::Docker(container),
                })
            }
        }
    }

    /// The URL checks connect to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How the report describes this server.
    pub fn usage(&self) -> &ServiceUse {
        &self.usage
    }

    /// The pid of the private server, when the grader started one (for tests).
    #[cfg(test)]
    pub fn local_pid(&self) -> Option<u32> {
        match &self.owner {
            Owner::Local(server) => Some(server.child.id()),
            _ => None,
        }
    }

    /// Deletes every key the run created; returns how many there were.
    pub fn delete_run_keys(&self) -> Result<i64, RespError> {
        let mut connection = Connection::open(&self.parsed, IO_TIMEOUT)?;
        let keys = connection.scan(&self.run_pattern)?;
        connection.delete(&keys)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        // A server of our own is about to disappear with everything in it; only a shared one
        // needs its keys removed. Never FLUSHDB: other people's keys live there.
        if matches!(self.owner, Owner::External)
            && let Err(error) = self.delete_run_keys()
        {
            eprintln!(
                "warning: could not delete this run's keys ({}) from {}: {error}",
                self.run_pattern,
                self.parsed.redacted()
            );
        }
    }
}

/// A URL that did not parse, with anything that looks like a password hidden.
fn redact_unparsed(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://***{}", &url[at..]),
        _ => url.to_owned(),
    }
}

/// A `redis-server` the grader started.
struct LocalServer {
    port: u16,
    version: String,
    child: Child,
    /// Kills the server's process group when dropped, and on Ctrl-C / SIGTERM before that.
    group: Option<Registration>,
    /// The server's working directory and log; removed after the server is dead.
    dir: Option<tempfile::TempDir>,
}

impl LocalServer {
    fn start(binary: &Path) -> Result<Self, GradeError> {
        let what = format!("redis-server ({})", binary.display());
        let failed = |reason: String| ServiceError::StartFailed {
            what: what.clone(),
            reason,
        };
        let version = redis_server_version(binary).unwrap_or_else(|_| "(unknown version)".into());
        start_on_free_port(failed, "the server", |port| {
            let mut server = Self::spawn(binary, port, version.clone()).map_err(Attempt::Failed)?;
            server.wait_ready()?;
            Ok(server)
        })
    }

    fn spawn(binary: &Path, port: u16, version: String) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("grade-redis-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        let mut command = Command::new(binary);
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            // A scratch server: nothing is written to disk, ever.
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .args(["--daemonize", "no"])
            .arg("--logfile")
            .arg(dir.path().join("redis.log"))
            // Its cwd is the temporary folder too, which makes a leftover server easy to find.
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
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

    /// Waits until this server (not another one on the same port) answers.
    fn wait_ready(&mut self) -> Result<(), Attempt> {
        let deadline = Instant::now() + LOCAL_READY_WITHIN;
        let url = RedisUrl::local(self.port);
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
            match Connection::open(&url, Duration::from_millis(250))
                .and_then(|mut c| c.ping().and_then(|()| c.info_field("process_id")))
            {
                Ok(Some(pid)) if pid == self.child.id().to_string() => return Ok(()),
                // Another server answers on "our" port: ours will fail to bind, if it has not.
                Ok(_) => return Err(Attempt::PortTaken),
                Err(error) => last_error = error.to_string(),
            }
            if Instant::now() >= deadline {
                return Err(Attempt::Failed(format!(
                    "it did not answer PING on 127.0.0.1:{} within {}s ({last_error})\n{}",
                    self.port,
                    LOCAL_READY_WITHIN.as_secs(),
                    self.log_tail()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The last lines of the server's log, for error messages.
    fn log_tail(&self) -> String {
        let Some(dir) = &self.dir else {
            return String::new();
        };
        let log = std::fs::read_to_string(dir.path().join("redis.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(5)..].join("\n")
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        // Order matters: the group dies, the server is reaped (no zombie), then its folder goes.
        drop(self.group.take());
        let _ = self.child.wait();
        drop(self.dir.take());
    }
}

/// A Redis container the grader started; removed (by its labels) when dropped.
struct Container {
    port: u16,
    /// Removes the container, found by `grade.run=<run>` and `grade.service=redis`.
    _labelled: Labelled,
}

impl Container {
    fn start(docker: &Path, run_pattern: &str) -> Result<Self, GradeError> {
        let what = format!("a {REDIS_IMAGE} container with {}", docker.display());
        let failed = |reason: String| ServiceError::StartFailed {
            what: what.clone(),
            reason,
        };
        let run = run_pattern
            .trim_start_matches("grade:")
            .trim_end_matches(":*");
        // The guard exists before the container does: if `docker run` is interrupted after
        // creating it, the drop still finds it by label.
        let labelled = Labelled::new(
            docker,
            vec![docker::run_label(run), docker::service_label("redis")],
            "Redis",
        );
        let id = run_briefly(
            Command::new(docker)
                .args(["run", "--detach", "--rm"])
                .args(labelled.run_args())
                .args(["--publish", "127.0.0.1::6379", REDIS_IMAGE])
                .args(["--save", "", "--appendonly", "no"]),
            DOCKER_RUN_TIMEOUT,
        )
        .map_err(|reason| failed(format!("`docker run` failed: {reason}")))?;
        let id = id.trim().to_owned();
        let mapping = run_briefly(
            Command::new(docker).args(["port", &id, "6379/tcp"]),
            Duration::from_secs(30),
        )
        .map_err(|reason| failed(format!("`docker port` failed: {reason}")))?;
        let port = parse_docker_port(&mapping)
            .ok_or_else(|| failed(format!("unexpected `docker port` output: {mapping:?}")))?;
        wait_for_ping(port, DOCKER_READY_WITHIN).map_err(failed)?;
        Ok(Self {
            port,
            _labelled: labelled,
        })
    }
}

/// The host port in `docker port` output (`127.0.0.1:49153`, one mapping per line).
fn parse_docker_port(output: &str) -> Option<u16> {
    output
        .lines()
        .find_map(|line| line.trim().rsplit_once(':')?.1.parse().ok())
}

/// Polls until a server on 127.0.0.1:`port` answers `PING`.
fn wait_for_ping(port: u16, within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    let url = RedisUrl::local(port);
    loop {
        if crate::interrupt::requested() {
            return Err("interrupted".into());
        }
        let error =
            match Connection::open(&url, Duration::from_millis(250)).and_then(|mut c| c.ping()) {
                Ok(()) => return Ok(()),
                Err(error) => error,
            };
        if Instant::now() >= deadline {
            return Err(format!(
                "nothing answered PING on 127.0.0.1:{port} within {}s ({error})",
                within.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::services::port::free_port;

    #[test]
    fn reads_the_host_port_docker_publishes() {
        assert_eq!(parse_docker_port("127.0.0.1:49153\n"), Some(49153));
        assert_eq!(parse_docker_port("[::1]:5000\n0.0.0.0:5001\n"), Some(5000));
        assert_eq!(parse_docker_port("Error: no public port\n"), None);
    }

    /// `redis-server` from PATH, or `None` (with a note) on a machine without one.
    fn redis_server() -> Option<PathBuf> {
        let found = super::super::Host::current(None).which("redis-server");
        if found.is_none() {
            eprintln!("skipped: no redis-server on PATH");
        }
        found
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

    #[cfg(target_os = "linux")]
    #[test]
    fn a_private_server_answers_then_disappears_with_its_folder() {
        let Some(binary) = redis_server() else { return };
        let redis =
            Redis::provision(&RedisSource::Binary { path: binary }, "grade:test:*".into()).unwrap();
        let pid = redis.local_pid().unwrap();
        let url = RedisUrl::parse(redis.url()).unwrap();
        assert_eq!(url.host, "127.0.0.1");
        // Hermetic: never the machine's own server on the standard port.
        assert_ne!(url.port, 6379);
        let mut connection = Connection::open(&url, IO_TIMEOUT).unwrap();
        connection.ping().unwrap();
        let dir = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap();
        assert!(dir.join("redis.log").exists());
        assert!(redis.usage().detail.contains("started for this run"));
        drop(redis);
        assert!(!alive(pid), "redis-server {pid} outlived its handle");
        assert!(!dir.exists(), "{} was left behind", dir.display());
        assert!(connection.ping().is_err());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn someone_elses_server_keeps_every_key_the_run_did_not_create() {
        let Some(binary) = redis_server() else { return };
        // A private server stands in for the user's, so the test touches nothing shared.
        let theirs = Redis::provision(
            &RedisSource::Binary { path: binary },
            "grade:unused:*".into(),
        )
        .unwrap();
        let mut connection =
            Connection::open(&RedisUrl::parse(theirs.url()).unwrap(), IO_TIMEOUT).unwrap();
        let keys: [&[u8]; 4] = [
            b"user:precious",
            b"grade:other-run:check:0:k",
            b"grade:run-1:check.a:0:k",
            b"grade:run-1:check.b:3:k",
        ];
        for key in keys {
            connection.command(&[b"SET", key, b"v"]).unwrap();
        }
        let ours = Redis::provision(
            &RedisSource::Url {
                url: theirs.url().to_owned(),
                origin: super::super::locate::UrlOrigin::Flag,
            },
            "grade:run-1:*".into(),
        )
        .unwrap();
        assert!(
            ours.usage()
                .detail
                .contains("only this run's keys are deleted")
        );
        drop(ours);
        let mut left = connection.scan("*").unwrap();
        left.sort();
        assert_eq!(
            left,
            [
                b"grade:other-run:check:0:k".to_vec(),
                b"user:precious".to_vec()
            ]
        );
    }

    /// The Docker path, against a fake `docker` that runs a real `redis-server` daemon in
    /// place of a container and logs every call: what a run asks of Docker, in order.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_container_is_started_published_on_loopback_and_removed_by_its_label() {
        use std::os::unix::fs::PermissionsExt;
        let Some(binary) = redis_server() else { return };
        let state = tempfile::tempdir().unwrap();
        let dir = state.path().display();
        let port = free_port().unwrap();
        let script = format!(
            r#"#!/bin/sh
echo "$*" >> {dir}/calls
case "$1" in
  run) {binary} --port {port} --bind 127.0.0.1 --save '' --appendonly no --dir {dir} \
         --daemonize yes --pidfile {dir}/pid --logfile {dir}/log && echo c0ffee ;;
  port) echo "127.0.0.1:{port}" ;;
  ps) test -f {dir}/pid && echo c0ffee ;;
  rm) kill "$(cat {dir}/pid)" && rm {dir}/pid ;;
esac"#,
            binary = binary.display()
        );
        let docker = state.path().join("docker");
        std::fs::write(&docker, script).unwrap();
        std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();

        let redis = Redis::provision(
            &RedisSource::Docker {
                docker: docker.clone(),
            },
            "grade:run-7:*".into(),
        )
        .unwrap();
        assert_eq!(redis.url(), format!("redis://127.0.0.1:{port}"));
        assert_eq!(redis.usage().source, "docker");
        let pid: u32 = std::fs::read_to_string(state.path().join("pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(alive(pid));
        drop(redis);
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(pid), "the container's server outlived the run");
        let calls = std::fs::read_to_string(state.path().join("calls")).unwrap();
        let calls: Vec<&str> = calls.lines().collect();
        assert_eq!(
            calls,
            [
                "run --detach --rm --label grade.run=run-7 --label grade.service=redis --publish 127.0.0.1::6379 redis:7-alpine --save  --appendonly no",
                "port c0ffee 6379/tcp",
                "ps --all --quiet --filter label=grade.run=run-7 --filter label=grade.service=redis",
                "rm --force c0ffee",
            ]
        );
    }

    #[test]
    fn a_url_where_nothing_listens_is_a_clear_error() {
        let port = free_port().unwrap();
        let error = Redis::provision(
            &RedisSource::Url {
                url: format!("redis://:hunter2@127.0.0.1:{port}"),
                origin: super::super::locate::UrlOrigin::Env,
            },
            "grade:x:*".into(),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            error.starts_with(&format!(
                "cannot reach Redis at redis://:***@127.0.0.1:{port} (from REDIS_URL)"
            )),
            "{error}"
        );
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn hides_passwords_in_urls_that_do_not_parse() {
        assert_eq!(
            redact_unparsed("rediss://user:secret@host:1"),
            "rediss://***@host:1"
        );
        assert_eq!(redact_unparsed("nonsense"), "nonsense");
    }
}
