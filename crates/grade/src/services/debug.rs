//! `grade debug-services` (hidden from `--help`): provisions services exactly as a grading run
//! does, prints the environment one check would get, runs a command in it, and tears
//! everything down.
//!
//! It exists so the end-to-end tests can prove provisioning and teardown through the real
//! binary (a normal end, a failing command, SIGTERM of the grader, no Redis anywhere, someone
//! else's server keeping its keys, a private Kafka broker) without depending on any exercise.
//! It is also handy for an instructor writing a suite: `grade debug-services redis -- cargo run
//! -p rate-limiter-suite`, `grade debug-services kafka -- cargo run -p kafka-consumer-suite`.

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::{Host, Services};
use crate::cli::DebugServicesArgs;
use crate::error::GradeError;
use crate::sandbox::{self, Registration};

/// The check id whose environment the command gets.
pub const CHECK_ID: &str = "debug";

/// Runs the subcommand; returns the command's exit code (0 without a command).
pub fn run(args: DebugServicesArgs) -> Result<i32> {
    let host = Host::current(args.service.redis_url).with_kafka_brokers(args.kafka.kafka_brokers);
    let services = Services::provision("debug-services", &args.services, &host)?;
    let mut stdout = std::io::stdout().lock();
    for service in services.usage() {
        writeln!(
            stdout,
            "service {} {} {}",
            service.name, service.source, service.detail
        )?;
    }
    let env = services.check_env(CHECK_ID, 0);
    for (name, value) in &env {
        writeln!(stdout, "{name}={value}")?;
    }
    stdout.flush()?;
    drop(stdout);

    let Some((program, rest)) = args.command.split_first() else {
        return Ok(0);
    };
    let mut command = Command::new(program);
    command.args(rest).envs(env.iter().map(|(k, v)| (k, v)));
    // Its own group, like a check: Ctrl-C / SIGTERM of the grader kills it with the servers.
    let mut child =
        sandbox::spawn_in_group(&mut command).with_context(|| format!("cannot run {program}"))?;
    let group = Registration::new(child.id());
    let status = loop {
        // The signal handler kills the command's group, so a command that "ended" may have
        // ended because of the interrupt: ask about the interrupt first.
        if crate::interrupt::requested() {
            drop(group);
            let _ = child.wait();
            bail!(GradeError::Interrupted);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(group);
    if crate::interrupt::requested() {
        bail!(GradeError::Interrupted);
    }
    // `services` is dropped on return: servers and brokers stopped, the run's keys deleted.
    Ok(status.code().unwrap_or(1))
}
