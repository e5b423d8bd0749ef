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

use grade_kit::Failure;
use grade_kit::resp::{command_name, frame, split_url};
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
                    Err(grade_kit::resp::Malformed) => buffer.len(), // Not RESP: pass it on as is.
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
