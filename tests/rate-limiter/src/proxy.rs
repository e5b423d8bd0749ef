//! Stand-ins for Redis at the TCP level: a proxy that counts round trips (and can hold a
//! decision part-way), a server that accepts connections and never answers, and a port nobody
//! listens on.
//!
//! # Counting round trips
//! The proxy forwards bytes both ways and parses the RESP frames going through: commands from
//! the attempt, replies from Redis. A *round trip* is a batch of commands the client sends
//! without waiting: a new batch starts whenever the client sends a command while none of its
//! earlier commands on that connection is awaiting a reply. `EVALSHA` is one batch; `MULTI …
//! EXEC` written as one pipeline is one batch; `ZCARD`, then (after its reply) `ZADD`, is two.
//!
//! This is exact, not timing-based, because of the order the proxy does things in: it counts
//! a reply *before* forwarding it, and the client cannot send a command that depends on a
//! reply before receiving it, so when the dependent command arrives its predecessor is already
//! counted as answered. Connection set-up (`HELLO`, `AUTH`, `SELECT`, `CLIENT SETINFO`…) is
//! not a decision's round trip and is left out.
//!
//! # Holding a decision part-way
//! [`Proxy::hold_after`] lets the next `j` data commands through, waits until Redis has
//! answered them, and holds every later command until [`Proxy::release`]. Commands are
//! forwarded one frame at a time, so the hold can fall inside a pipeline written in one
//! `write`: Redis runs the first `j` commands, then whatever another client sends, then the
//! rest. That is exactly the interleaving a plain pipeline (no `MULTI`) or two round trips
//! allow between two servers; a script or a `MULTI … EXEC` transaction is immune to it.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use grade_kit::{Failure, fail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Commands that set a connection up rather than decide anything.
const SETUP: &[&str] = &[
    "HELLO", "AUTH", "SELECT", "CLIENT", "PING", "ECHO", "READONLY",
];

/// A counting proxy in front of the grader's Redis.
pub struct Proxy {
    /// The Redis URL that points at the proxy.
    pub url: String,
    log: Arc<Mutex<Log>>,
    gate: Arc<Mutex<Gate>>,
}

/// Where the proxy holds data commands (see the module docs).
#[derive(Debug, Default)]
struct Gate {
    /// Data commands to let through before holding; `None`: nothing is held.
    after: Option<usize>,
    /// Data commands let through since [`Proxy::hold_after`].
    passed: usize,
    /// A command is being held (the ones before it answered).
    holding: bool,
}

/// Every batch of data commands since the last reset, as command names.
#[derive(Debug, Default)]
struct Log {
    batches: Vec<Vec<String>>,
    generation: u64,
}

/// One proxied connection's view of its commands and replies.
#[derive(Debug, Default)]
struct Conversation {
    sent: u64,
    answered: u64,
    /// The batch the client is in: (log generation, index into `batches`).
    batch: Option<(u64, usize)>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Proxy {
    /// Starts a proxy to the Redis at `redis_url` on a loopback port.
    pub async fn start(redis_url: &str) -> Result<Self, Failure> {
        let (upstream, url_for) = split_url(redis_url)?;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Failure::new(format!("cannot bind the proxy: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| Failure::new(format!("proxy address: {e}")))?
            .port();
        let log = Arc::new(Mutex::new(Log::default()));
        let gate = Arc::new(Mutex::new(Gate::default()));
        let (shared, shared_gate) = (log.clone(), gate.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (log, gate, upstream) = (shared.clone(), shared_gate.clone(), upstream.clone());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        relay(client, server, log, gate).await;
                    }
                });
            }
        });
        Ok(Self {
            url: url_for(&format!("127.0.0.1:{port}")),
            log,
            gate,
        })
    }

    /// Lets the next `commands` data commands through, then holds every later one (after
    /// Redis has answered those let through) until [`Proxy::release`].
    pub fn hold_after(&self, commands: usize) {
        *lock(&self.gate) = Gate {
            after: Some(commands),
            passed: 0,
            holding: false,
        };
    }

    /// Resolves once a command is being held.
    pub async fn holding(&self) {
        while !lock(&self.gate).holding {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    /// Lets held commands go, and holds nothing any more.
    pub fn release(&self) {
        *lock(&self.gate) = Gate::default();
    }

    /// Forgets the batches seen so far.
    pub fn reset(&self) {
        let mut log = lock(&self.log);
        log.batches.clear();
        log.generation += 1;
    }

    /// The batches of data commands since the last reset.
    pub fn batches(&self) -> Vec<Vec<String>> {
        lock(&self.log).batches.clone()
    }
}

async fn relay(client: TcpStream, server: TcpStream, log: Arc<Mutex<Log>>, gate: Arc<Mutex<Gate>>) {
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    let talk = Arc::new(Mutex::new(Conversation::default()));
    let (up_talk, up_log) = (talk.clone(), log);
    let upstream = async move {
        let (mut buffer, mut chunk) = (Vec::new(), vec![0u8; 64 * 1024]);
        while let Ok(n @ 1..) = client_rx.read(&mut chunk).await {
            buffer.extend_from_slice(&chunk[..n]);
            // Whole frames only, one at a time, so that the gate can hold any of them.
            loop {
                let len = match frame(&buffer) {
                    Ok(Some((len, _))) => len,
                    Ok(None) => break,
                    Err(()) => buffer.len(), // Not RESP: pass it on as is.
                };
                let name = command_name(&buffer[..len]);
                if !SETUP.contains(&name.as_str()) {
                    wait_at_gate(&gate, &up_talk).await;
                }
                on_command(&mut lock(&up_talk), &mut lock(&up_log), name);
                let sent: Vec<u8> = buffer.drain(..len).collect();
                if server_tx.write_all(&sent).await.is_err() {
                    return;
                }
            }
        }
        let _ = server_tx.shutdown().await;
    };
    let downstream = async move {
        let (mut buffer, mut chunk) = (Vec::new(), vec![0u8; 64 * 1024]);
        while let Ok(n @ 1..) = server_rx.read(&mut chunk).await {
            buffer.extend_from_slice(&chunk[..n]);
            while let Ok(Some((len, push))) = frame(&buffer) {
                buffer.drain(..len);
                if !push {
                    lock(&talk).answered += 1;
                }
            }
            if client_tx.write_all(&chunk[..n]).await.is_err() {
                break;
            }
        }
        let _ = client_tx.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}

/// Before a data command: passes it if the gate is open or has room, else waits until every
/// earlier command on this connection is answered, says so, and waits for the release.
async fn wait_at_gate(gate: &Mutex<Gate>, talk: &Mutex<Conversation>) {
    loop {
        {
            let mut gate = lock(gate);
            match gate.after {
                None => return,
                Some(after) if gate.passed < after => {
                    gate.passed += 1;
                    return;
                }
                Some(_) => {
                    let talk = lock(talk);
                    if talk.answered >= talk.sent {
                        gate.holding = true;
                    }
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

fn on_command(talk: &mut Conversation, log: &mut Log, name: String) {
    if talk.sent == talk.answered {
        talk.batch = None; // Nothing outstanding: this command starts a new round trip.
    }
    talk.sent += 1;
    if SETUP.contains(&name.as_str()) {
        return;
    }
    match talk.batch {
        Some((generation, index)) if generation == log.generation => {
            log.batches[index].push(name);
        }
        _ => {
            log.batches.push(vec![name]);
            talk.batch = Some((log.generation, log.batches.len() - 1));
        }
    }
}

/// The length of the complete RESP2/RESP3 value at the start of `buf` (`None`: incomplete),
/// and whether it is an out-of-band push rather than a reply.
fn frame(buf: &[u8]) -> Result<Option<(usize, bool)>, ()> {
    let Some(line) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let after = line + 2;
    let number = || -> Result<i64, ()> {
        std::str::from_utf8(&buf[1..line])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(())
    };
    let kind = buf[0];
    match kind {
        b'$' | b'!' | b'=' => {
            let n = number()?;
            if n < 0 {
                return Ok(Some((after, false)));
            }
            let end = after + n as usize + 2;
            Ok((buf.len() >= end).then_some((end, false)))
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = number()?;
            if n < 0 {
                return Ok(Some((after, false)));
            }
            let mut count = if matches!(kind, b'%' | b'|') {
                2 * n
            } else {
                n
            };
            if kind == b'|' {
                count += 1; // An attribute is followed by the value it annotates.
            }
            let mut pos = after;
            for _ in 0..count {
                match frame(&buf[pos..])? {
                    Some((len, _)) => pos += len,
                    None => return Ok(None),
                }
            }
            Ok(Some((pos, kind == b'>')))
        }
        // Simple strings, errors, numbers, nulls, booleans, doubles, big numbers, and inline
        // commands: one line.
        _ => Ok(Some((after, false))),
    }
}

/// The command name of a client frame: the first element of the array, uppercased.
fn command_name(frame: &[u8]) -> String {
    let text = String::from_utf8_lossy(frame);
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let name = if first.starts_with('*') {
        lines.nth(1).unwrap_or_default()
    } else {
        first.split_whitespace().next().unwrap_or_default()
    };
    name.to_ascii_uppercase()
}

/// Splits a `redis://` URL into the upstream `host:port` and a function that rebuilds the URL
/// with another `host:port` (keeping credentials, database and options).
fn split_url(url: &str) -> Result<(String, impl Fn(&str) -> String), Failure> {
    let Some(rest) = url.strip_prefix("redis://") else {
        fail!("the round-trip check needs a plain TCP Redis URL (redis://…), not {url:?}");
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (credentials, host_port) = match authority.rfind('@') {
        Some(at) => authority.split_at(at + 1),
        None => ("", authority),
    };
    let upstream = match host_port {
        "" => "127.0.0.1:6379".to_owned(),
        hp if hp.contains(':') => hp.to_owned(),
        host => format!("{host}:6379"),
    };
    let (credentials, tail) = (credentials.to_owned(), tail.to_owned());
    Ok((upstream, move |host_port: &str| {
        format!("redis://{credentials}{host_port}{tail}")
    }))
}

/// A Redis URL on a loopback port nobody listens on: connections are refused at once.
pub async fn closed_port_url() -> Result<String, Failure> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Failure::new(format!("cannot bind a loopback port: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| Failure::new(format!("no local address: {e}")))?
        .port();
    drop(listener);
    Ok(format!("redis://127.0.0.1:{port}/"))
}

/// A Redis URL on a server that accepts connections and never answers: a hung Redis.
pub async fn black_hole_url() -> Result<String, Failure> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Failure::new(format!("cannot bind a loopback port: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| Failure::new(format!("no local address: {e}")))?
        .port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket); // Keep it open, read nothing, answer nothing.
        }
    });
    Ok(format!("redis://127.0.0.1:{port}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_measured_whole_or_not_at_all() {
        let cmd = b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n";
        assert_eq!(frame(cmd), Ok(Some((cmd.len(), false))));
        assert_eq!(frame(&cmd[..cmd.len() - 1]), Ok(None));
        assert_eq!(command_name(cmd), "ECHO");
        assert_eq!(
            frame(b"*3\r\n:1\r\n:5\r\n:1500\r\n+OK"),
            Ok(Some((19, false)))
        );
        assert_eq!(frame(b">2\r\n+a\r\n+b\r\n"), Ok(Some((12, true))));
        assert_eq!(frame(b"$-1\r\n"), Ok(Some((5, false))));
    }

    #[test]
    fn urls_keep_everything_but_the_address() {
        let (upstream, rebuild) = split_url("redis://:pw@10.0.0.1:6380/2?protocol=resp3").unwrap();
        assert_eq!(upstream, "10.0.0.1:6380");
        assert_eq!(
            rebuild("127.0.0.1:1"),
            "redis://:pw@127.0.0.1:1/2?protocol=resp3"
        );
        let (upstream, rebuild) = split_url("redis://localhost").unwrap();
        assert_eq!(upstream, "localhost:6379");
        assert_eq!(rebuild("127.0.0.1:1"), "redis://127.0.0.1:1");
    }
}
