//! A TCP proxy in front of the grader's Redis that can stop the attempt between two of its
//! Redis round trips, so a check can send a request into exactly that gap.
//!
//! # Why
//! A completion written as two round trips (delete the lock, then store the response) leaves a
//! window in which the key has neither: a retry that arrives then claims the key and charges
//! the card a second time. The window is one Redis round trip wide (tens of microseconds), so
//! sending retries "at about the right time" finds it by luck, if ever. The proxy makes it wide
//! on purpose.
//!
//! # How
//! The proxy forwards bytes both ways and parses the RESP frames going through (with
//! `grade_kit::resp`, which the rate-limiter suite's proxy uses too). Per connection it
//! keeps the queue of commands awaiting a reply, so it knows which reply answers which command.
//! A check [`arms`](Proxy::arm) it; the next *write* command from the attempt (any data command
//! that is not a plain read: `DEL`, `SET`, `EVALSHA`, `MULTI`...) is marked, and when Redis has
//! executed it and its reply comes back, the proxy **holds that reply**, and every later reply
//! on that connection, until the check [`releases`](Proxy::release) it. Redis has run the
//! command; the attempt does not know yet, so it cannot send its next one: the state between
//! the two round trips stays visible for as long as the hold lasts.
//!
//! Requests sent during the hold still reach Redis (the client-to-server direction is never
//! held), whatever connection they use. On a multiplexed connection shared by every request,
//! their replies queue behind the held one: [`Proxy::blocked`] says when that has happened, so
//! the check knows the retry has read the state in the gap and can release at once. Commands
//! are only ever delayed, never reordered or dropped, so a correct attempt sees nothing but a
//! slow Redis. Holds are kept far shorter than the `redis` crate's response timeout (500 ms).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use grade_kit::Failure;
use grade_kit::resp::{command_name, frame, split_url};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Commands that set a connection up rather than read or write data.
const SETUP: &[&str] = &[
    "HELLO", "AUTH", "SELECT", "CLIENT", "PING", "ECHO", "READONLY", "SCRIPT", "INFO", "COMMAND",
];

/// Data commands that only read: the hold waits for the first command that is not one of these.
const READS: &[&str] = &[
    "GET",
    "MGET",
    "HGET",
    "HMGET",
    "HGETALL",
    "HEXISTS",
    "HLEN",
    "HKEYS",
    "HVALS",
    "EXISTS",
    "TTL",
    "PTTL",
    "TYPE",
    "STRLEN",
    "GETRANGE",
    "EXPIRETIME",
    "PEXPIRETIME",
    "SCAN",
    "KEYS",
    "WATCH",
    "UNWATCH",
    "EVAL_RO",
    "EVALSHA_RO",
    "FCALL_RO",
];

/// A pausing proxy in front of the grader's Redis.
pub struct Proxy {
    /// The Redis URL that points at the proxy.
    pub url: String,
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Bumped on every change a check may wait for (hold began, a reply was blocked, release).
    changed: watch::Sender<u64>,
    next_connection: AtomicU64,
}

#[derive(Default)]
struct State {
    /// The next write command will be held at its reply.
    armed: bool,
    /// The connection whose replies are held, and the command that triggered it.
    held: Option<(u64, String)>,
    /// Whether the hold has been lifted (held connections flush and never hold again).
    released: bool,
    /// Replies to commands sent after the hold began, queued behind the held reply.
    blocked: usize,
    /// Commands awaiting a reply, per connection: `true` when sent after the hold began.
    pending: HashMap<u64, VecDeque<Pending>>,
}

struct Pending {
    /// This command's reply starts the hold (its name, for messages).
    trigger: Option<String>,
    /// Sent while a hold was on.
    during_hold: bool,
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
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: watch::channel(0).0,
            next_connection: AtomicU64::new(0),
        });
        let accepting = shared.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (shared, upstream) = (accepting.clone(), upstream.clone());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        relay(client, server, shared).await;
                    }
                });
            }
        });
        Ok(Self {
            url: url_for(&format!("127.0.0.1:{port}")),
            shared,
        })
    }

    /// Holds the reply to the next write command (and everything after it on its connection)
    /// until [`release`](Self::release).
    pub fn arm(&self) {
        let mut state = lock(&self.shared.state);
        state.armed = true;
        state.released = false;
        state.held = None;
        state.blocked = 0;
    }

    /// The command whose reply is being held, once the hold has begun.
    pub fn holding(&self) -> Option<String> {
        let state = lock(&self.shared.state);
        match &state.held {
            Some((_, command)) if !state.released => Some(command.clone()),
            _ => None,
        }
    }

    /// How many replies to commands sent during the hold are queued behind it: a request
    /// sent in the gap has had its command run by Redis and is now waiting.
    pub fn blocked(&self) -> usize {
        lock(&self.shared.state).blocked
    }

    /// A receiver that sees every change of the hold.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.shared.changed.subscribe()
    }

    /// Lifts the hold (and disarms): held replies go out in order.
    pub fn release(&self) {
        {
            let mut state = lock(&self.shared.state);
            state.armed = false;
            state.released = true;
        }
        self.shared.changed.send_modify(|n| *n += 1);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.release();
    }
}

/// What the downstream half does with one reply.
enum Route {
    Forward,
    Hold,
}

impl Shared {
    /// The attempt sent a command on `connection`.
    fn on_command(&self, connection: u64, name: &str) {
        let mut state = lock(&self.state);
        let during_hold = state.held.is_some() && !state.released;
        let is_write = !SETUP.contains(&name) && !READS.contains(&name);
        let trigger = (state.armed && is_write && !during_hold).then(|| name.to_owned());
        if trigger.is_some() {
            state.armed = false;
        }
        state
            .pending
            .entry(connection)
            .or_default()
            .push_back(Pending {
                trigger,
                during_hold,
            });
    }

    /// Redis answered the oldest command awaiting a reply on `connection`.
    fn on_reply(&self, connection: u64) -> Route {
        let mut state = lock(&self.state);
        let pending = state
            .pending
            .get_mut(&connection)
            .and_then(VecDeque::pop_front);
        let mut changed = false;
        let during_hold = pending.as_ref().is_some_and(|p| p.during_hold);
        if let Some(name) = pending.and_then(|p| p.trigger)
            && !state.released
        {
            state.held = Some((connection, name));
            changed = true;
        }
        let held_here = !state.released
            && state
                .held
                .as_ref()
                .is_some_and(|(held, _)| *held == connection);
        if held_here && during_hold {
            state.blocked += 1;
            changed = true;
        }
        drop(state);
        if changed {
            self.changed.send_modify(|n| *n += 1);
        }
        if held_here {
            Route::Hold
        } else {
            Route::Forward
        }
    }

    fn released(&self) -> bool {
        lock(&self.state).released
    }
}

async fn relay(client: TcpStream, server: TcpStream, shared: Arc<Shared>) {
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let connection = shared.next_connection.fetch_add(1, Ordering::SeqCst);
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    let up_shared = shared.clone();
    let upstream = async move {
        let (mut buffer, mut chunk) = (Vec::new(), vec![0u8; 64 * 1024]);
        while let Ok(n @ 1..) = client_rx.read(&mut chunk).await {
            buffer.extend_from_slice(&chunk[..n]);
            // Each command is registered before its bytes go out, so its reply can never
            // arrive before the proxy knows what it answers.
            while let Ok(Some((len, _))) = frame(&buffer) {
                let name = command_name(&buffer[..len]);
                buffer.drain(..len);
                up_shared.on_command(connection, &name);
            }
            if server_tx.write_all(&chunk[..n]).await.is_err() {
                break;
            }
        }
        let _ = server_tx.shutdown().await;
    };
    let downstream = async move {
        let mut release = shared.changed.subscribe();
        let (mut buffer, mut chunk) = (Vec::new(), vec![0u8; 64 * 1024]);
        let mut held: Vec<u8> = Vec::new();
        loop {
            tokio::select! {
                read = server_rx.read(&mut chunk) => {
                    let Ok(n @ 1..) = read else { break };
                    buffer.extend_from_slice(&chunk[..n]);
                    let mut out = Vec::new();
                    while let Ok(Some((len, push))) = frame(&buffer) {
                        let bytes: Vec<u8> = buffer.drain(..len).collect();
                        let route = if push { Route::Forward } else { shared.on_reply(connection) };
                        match route {
                            // A push must not overtake held replies either: keep the order.
                            Route::Forward if held.is_empty() => out.extend_from_slice(&bytes),
                            Route::Forward | Route::Hold => held.extend_from_slice(&bytes),
                        }
                    }
                    if !out.is_empty() && client_tx.write_all(&out).await.is_err() {
                        break;
                    }
                }
                changed = release.changed(), if !held.is_empty() => {
                    if changed.is_err() || shared.released() {
                        if client_tx.write_all(&held).await.is_err() {
                            break;
                        }
                        held.clear();
                    }
                }
            }
        }
        if !held.is_empty() {
            let _ = client_tx.write_all(&held).await;
        }
        let _ = client_tx.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}
