//! A free port for a server the grader starts, and another one when someone takes it first.
//!
//! A port found free is only *likely* to stay free until the server binds it: another process
//! may take it in between. Every private server (a `redis-server`, grade's Kafka broker) is
//! started the same way: pick a free port, start, and on a collision start again on a new
//! port, a few times. [`start_on_free_port`] is that loop, once.

use crate::error::{GradeError, ServiceError};

/// How many ports are tried before giving up on port collisions.
pub const PORT_ATTEMPTS: usize = 5;

/// A free TCP port on 127.0.0.1, found by binding port 0 and releasing it. The port is only
/// *likely* to stay free until the server binds it; callers retry on a collision.
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

/// Why one start attempt did not produce a server.
pub enum Attempt {
    /// Someone else had the port: try another.
    PortTaken,
    /// Anything else: give up with this reason.
    Failed(String),
}

/// Runs `start` on free ports until it works, a port collision happening at most
/// [`PORT_ATTEMPTS`] times. `failed` turns a reason into the service's error; `binder` names
/// what binds the port, for the message when every port was taken ("the server").
///
/// A failure while the user interrupts the grader is the interruption, not the failure: the
/// signal handler killed the server, which is why it stopped answering.
pub fn start_on_free_port<T>(
    failed: impl Fn(String) -> ServiceError,
    binder: &str,
    mut start: impl FnMut(u16) -> Result<T, Attempt>,
) -> Result<T, GradeError> {
    for _ in 0..PORT_ATTEMPTS {
        let port = free_port()
            .map_err(|e| failed(format!("cannot find a free port on 127.0.0.1: {e}")))?;
        match start(port) {
            Ok(server) => return Ok(server),
            Err(Attempt::PortTaken) => continue,
            Err(Attempt::Failed(reason)) => {
                if crate::interrupt::requested() {
                    return Err(GradeError::Interrupted);
                }
                return Err(failed(reason).into());
            }
        }
    }
    Err(failed(format!(
        "{PORT_ATTEMPTS} free ports in a row were taken before {binder} could bind them"
    ))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(reason: String) -> ServiceError {
        ServiceError::StartFailed {
            what: "a test server".into(),
            reason,
        }
    }

    #[test]
    fn free_ports_are_bindable_loopback_ports() {
        let port = free_port().unwrap();
        assert_ne!(port, 0);
        std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    }

    #[test]
    fn a_taken_port_is_retried_on_another_and_every_port_taken_is_an_error() {
        let mut ports = Vec::new();
        let started = start_on_free_port(failed, "the server", |port| {
            ports.push(port);
            if ports.len() < 3 {
                Err(Attempt::PortTaken)
            } else {
                Ok(port)
            }
        })
        .unwrap();
        assert_eq!(ports.len(), 3);
        assert_eq!(started, ports[2]);

        let error = start_on_free_port(failed, "the server", |_| Err::<(), _>(Attempt::PortTaken))
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.contains("5 free ports in a row were taken before the server could bind them"),
            "{error}"
        );
    }

    #[test]
    fn any_other_failure_stops_at_once_with_its_reason() {
        let mut calls = 0;
        let error = start_on_free_port(failed, "the server", |_| {
            calls += 1;
            Err::<(), _>(Attempt::Failed("it exited".into()))
        })
        .err()
        .unwrap()
        .to_string();
        assert_eq!(calls, 1);
        assert!(error.contains("it exited"), "{error}");
    }
}
