//! External services an exercise's checks need (a real Redis, a Kafka-protocol broker),
//! provisioned once per grading run, before the build, and torn down when the run ends.
//!
//! An exercise lists what it needs in `exercise.toml` (`services = ["redis"]`, `["kafka"]`).
//! For each, [`locate`] decides where it comes from (an explicit address, a binary on `PATH`,
//! grade's own Kafka broker, Docker) and the service's module starts it or connects to it
//! ([`redis`], [`kafka`]). If something is missing the run stops here, before any compilation,
//! with a message that says how to get it
//! ([`ServiceError::Unavailable`](crate::error::ServiceError::Unavailable), exit code 4).
//!
//! Checks learn where the services are from their environment (the names are in
//! `grade-protocol`): the Redis URL, the Kafka bootstrap servers, and a key prefix unique to
//! the run, the check and the repeat (`grade:<run-id>:<check-id>:<repeat>:`), so checks running
//! in parallel against one server never see each other's keys (or topics) and the run's keys
//! can be found afterwards.
//!
//! Teardown is [`Drop`]: [`Services`] lives on the stack of the grading run, so it happens on
//! success, on failure, on an error, and on Ctrl-C / SIGTERM (the signal handler kills the
//! servers' process groups first; the drop removes what is left as the run unwinds).
//!
//! # Layout
//! - [`locate`]: where each service would come from, on a machine described by a [`Host`].
//! - [`redis`]: a private `redis-server`, a container, or someone else's server, and teardown.
//! - [`resp`]: the few Redis commands the grader itself sends, over a std `TcpStream`.
//! - [`kafka`]: a private broker (`tansu`, or grade's own, built on first need), a container,
//!   or someone else's brokers, and teardown.
//! - [`kafka_wire`]: the one Kafka request the grader sends (ApiVersions), to know a broker is up.
//! - [`docker`]: containers found and removed by their labels (and why not `testcontainers`).
//! - [`port`]: a free port for a private server, and another when someone takes it first.
//! - [`debug`]: a hidden subcommand that provisions services around any command (for tests).

pub mod debug;
pub mod docker;
pub mod kafka;
pub mod kafka_wire;
pub mod locate;
pub mod port;
pub mod redis;
pub mod resp;

use std::time::{SystemTime, UNIX_EPOCH};

use grade_protocol::{ENV_KAFKA_BROKERS, ENV_KEY_PREFIX, ENV_REDIS_URL};

pub use locate::Host;

use crate::error::{GradeError, ServiceError};
use crate::report::ServiceUse;

/// A service the grader knows how to provide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// A Redis server.
    Redis,
    /// A broker that speaks the Kafka protocol (tansu, or Apache Kafka itself).
    Kafka,
}

impl Service {
    /// Every service this grader can provide.
    pub const ALL: &[Self] = &[Self::Redis, Self::Kafka];

    /// The name used in `exercise.toml` and reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Redis => "redis",
            Self::Kafka => "kafka",
        }
    }

    /// What it is, for sentences: "`rate-limiter` needs a Redis server".
    pub fn display(self) -> &'static str {
        match self {
            Self::Redis => "a Redis server",
            Self::Kafka => "a Kafka-protocol broker",
        }
    }

    /// The service called `name` in `exercise.toml`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.name() == name)
    }

    /// How to get the service, per platform: printed when it is missing.
    pub fn fix(self) -> &'static str {
        match self {
            Self::Redis => {
                "Install Redis and grade again:\n  \
                 Debian/Ubuntu:  sudo apt-get install redis-server\n  \
                 Fedora/RHEL:    sudo dnf install redis\n  \
                 macOS:          brew install redis\n\
                 or point grade at a running server with --redis-url redis://127.0.0.1:6379 \
                 (or set REDIS_URL); grade deletes only the keys its own run created there."
            }
            // Keep the three other ways the same as kafka::OTHER_WAYS (a test holds them).
            Self::Kafka => {
                "Any one of these gives grade a Kafka-protocol broker:\n  \
                 a broker you run:    --kafka-brokers 127.0.0.1:9092 (or set KAFKA_BROKERS); the \
                 suites create uniquely named topics there and delete them\n  \
                 tansu on PATH:       cargo install tansu --locked --features dynostore\n  \
                 grade's own broker:  built on first need from crates/kafka-broker, in the \
                 checkout (cargo build --release --locked -p grade-kafka-broker: about 9 minutes \
                 on 2 cores, once)\n  \
                 Docker:              a running Docker engine; grade starts apache/kafka:3.9.0 \
                 for the run"
            }
        }
    }

    /// The names of every known service, for messages.
    pub fn known() -> String {
        Self::ALL
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The services of one grading run; dropping it tears them down.
pub struct Services {
    run_id: String,
    redis: Option<redis::Redis>,
    kafka: Option<kafka::Kafka>,
}

impl Services {
    /// No services: for exercises that need none.
    pub fn none() -> Self {
        Self {
            run_id: new_run_id(),
            redis: None,
            kafka: None,
        }
    }

    /// Provides every service in `needs` (an exercise's `services`), or explains what is
    /// missing. Nothing is started for an exercise that needs nothing.
    pub fn provision(exercise: &str, needs: &[String], host: &Host) -> Result<Self, GradeError> {
        let mut services = Self::none();
        // Resolve every name first: an unknown service should fail before anything starts.
        let needs = needs
            .iter()
            .map(|name| {
                Service::parse(name).ok_or_else(|| ServiceError::Unknown {
                    exercise: exercise.to_owned(),
                    service: name.clone(),
                    known: Service::known(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let unavailable = |service: Service| {
            move |tried| ServiceError::Unavailable {
                exercise: exercise.to_owned(),
                display: service.display(),
                tried,
                fix: service.fix().to_owned(),
            }
        };
        for service in needs {
            match service {
                Service::Redis if services.redis.is_none() => {
                    let source = host.locate_redis().map_err(unavailable(service))?;
                    services.redis = Some(redis::Redis::provision(
                        &source,
                        format!("grade:{}:*", services.run_id),
                    )?);
                }
                Service::Kafka if services.kafka.is_none() => {
                    let source = host.locate_kafka().map_err(unavailable(service))?;
                    services.kafka = Some(kafka::Kafka::provision(
                        &source,
                        exercise,
                        &services.run_id,
                    )?);
                }
                Service::Redis | Service::Kafka => {}
            }
        }
        Ok(services)
    }

    /// The environment of one run of one check: where each service is, and the check's own
    /// key prefix. Empty when the exercise needs no service.
    pub fn check_env(&self, check: &str, repeat: usize) -> Vec<(&'static str, String)> {
        let mut env = Vec::new();
        if let Some(redis) = &self.redis {
            env.push((ENV_REDIS_URL, redis.url().to_owned()));
        }
        if let Some(kafka) = &self.kafka {
            env.push((ENV_KAFKA_BROKERS, kafka.brokers().to_owned()));
        }
        if !env.is_empty() {
            env.push((ENV_KEY_PREFIX, self.key_prefix(check, repeat)));
        }
        env
    }

    /// `grade:<run-id>:<check-id>:<repeat>:`.
    pub fn key_prefix(&self, check: &str, repeat: usize) -> String {
        format!("grade:{}:{check}:{repeat}:", self.run_id)
    }

    /// What each service is and where it came from, for the report.
    pub fn usage(&self) -> Vec<ServiceUse> {
        let redis = self.redis.iter().map(|r| r.usage().clone());
        let kafka = self.kafka.iter().map(|k| k.usage().clone());
        redis.chain(kafka).collect()
    }
}

/// An id unique to this grading run, safe inside a `SCAN MATCH` glob (digits, hex, a dash).
fn new_run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    // Two runs in one process (`grade verify`) differ by time; two processes by pid.
    format!(
        "{}-{:x}",
        std::process::id(),
        nanos as u64 & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_unique_and_glob_safe() {
        let (a, b) = (new_run_id(), new_run_id());
        assert_ne!(a, b);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'), "{a}");
    }

    #[test]
    fn an_exercise_without_services_gets_no_environment() {
        let services = Services::provision("retry", &[], &Host::default()).unwrap();
        assert!(services.check_env("a.check", 0).is_empty());
        assert!(services.usage().is_empty());
    }

    #[test]
    fn key_prefixes_name_the_run_the_check_and_the_repeat() {
        let services = Services::none();
        let prefix = services.key_prefix("window.burst", 2);
        assert_eq!(prefix, format!("grade:{}:window.burst:2:", services.run_id));
        assert_ne!(prefix, services.key_prefix("window.burst", 1));
    }

    #[test]
    fn unknown_services_are_refused_before_anything_starts() {
        // `redis` comes first and would be found (a URL is given): nothing may start for it
        // while another name is unknown.
        let host = Host {
            redis_url_flag: Some("redis://127.0.0.1:1".into()),
            ..Host::default()
        };
        let error = Services::provision("x", &["redis".into(), "postgres".into()], &host)
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("`postgres`"), "{error}");
        assert!(error.contains("it knows: redis, kafka"), "{error}");
    }

    #[test]
    fn no_redis_anywhere_is_a_clear_error() {
        let empty = tempfile::tempdir().unwrap();
        let host = Host {
            path: Some(empty.path().as_os_str().to_owned()),
            ..Host::default()
        };
        let error = Services::provision("rate-limiter", &["redis".into()], &host)
            .err()
            .unwrap();
        assert!(matches!(
            error,
            GradeError::Service(ServiceError::Unavailable { .. })
        ));
        let message = error.to_string();
        for needed in [
            "`rate-limiter` needs a Redis server",
            "sudo apt-get install redis-server",
            "sudo dnf install redis",
            "brew install redis",
            "--redis-url",
        ] {
            assert!(
                message.contains(needed),
                "{needed:?} missing from:\n{message}"
            );
        }
    }

    #[test]
    fn no_kafka_anywhere_names_each_way_to_get_one() {
        let empty = tempfile::tempdir().unwrap();
        let host = Host {
            path: Some(empty.path().as_os_str().to_owned()),
            ..Host::default()
        };
        let error = Services::provision("kafka-consumer", &["kafka".into()], &host)
            .err()
            .unwrap();
        assert!(matches!(
            error,
            GradeError::Service(ServiceError::Unavailable { .. })
        ));
        let message = error.to_string();
        for needed in [
            "`kafka-consumer` needs a Kafka-protocol broker, and none is available:",
            "  - no --kafka-brokers was given and KAFKA_BROKERS is not set",
            "  - no `tansu` on PATH",
            "  - grade cannot build its own broker: grade is not running inside its checkout",
            "  - Docker cannot be used: `docker` is not on PATH",
            "--kafka-brokers 127.0.0.1:9092 (or set KAFKA_BROKERS)",
            "cargo install tansu --locked --features dynostore",
            "cargo build --release --locked -p grade-kafka-broker: about 9 minutes on 2 cores",
            "apache/kafka:3.9.0",
            "`grade doctor` shows what is available.",
        ] {
            assert!(
                message.contains(needed),
                "{needed:?} missing from:\n{message}"
            );
        }
    }

    #[test]
    fn a_broker_given_by_address_reaches_every_check_with_its_key_prefix() {
        let (port, _broker) = kafka_wire::tests::fake_broker(0);
        let host = Host {
            kafka_brokers_flag: Some(format!("127.0.0.1:{port}")),
            ..Host::default()
        };
        let services = Services::provision("kafka-consumer", &["kafka".into()], &host).unwrap();
        assert_eq!(
            services.check_env("offsets.commit", 1),
            [
                (ENV_KAFKA_BROKERS, format!("127.0.0.1:{port}")),
                (ENV_KEY_PREFIX, services.key_prefix("offsets.commit", 1)),
            ]
        );
        let usage = services.usage();
        assert_eq!(usage.len(), 1);
        assert_eq!((usage[0].name.as_str(), usage[0].source), ("kafka", "url"));
    }
}
