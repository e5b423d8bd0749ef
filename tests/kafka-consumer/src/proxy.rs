//! A Redis proxy that kills the consumer at a precise moment of an event's effect.
//!
//! A crash "between the marker and the effect" lasts one Redis round trip: no timer can hit
//! it. So the consumer talks to Redis through this proxy, which relays one command at a time
//! and, when armed for an event, SIGKILLs the consumer:
//!
//! - [`Trigger::BeforeEffect`]: as the first command that names the event's id or its account
//!   arrives, before Redis sees it. Nothing of the event is applied; it must not be committed
//!   either.
//! - [`Trigger::FirstTrace`]: right after the first command that changed anything the event
//!   touches (its marker exists, its account's balance moved, or the ledger names it), before
//!   the reply reaches the consumer. An atomic effect is then complete (the consumer dies
//!   between the effect and the commit: the replacement must skip the redelivered event); a
//!   marker set in one command and the effect in another leaves half an effect behind, which
//!   the history shows as a lost event or a double effect, however the two are ordered.
//!   Commands queued in a `MULTI` change nothing until `EXEC`, so a transaction counts as one
//!   step, as it should.
//!
//! The proxy judges by what Redis holds (read over its own connection, straight from the
//! server), not by command names: it does not matter whether the attempt uses a script, a
//! transaction or plain commands.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use grade_kit::Failure;
use grade_kit::resp;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::store::Store;

/// When to kill the consumer. The target event has an account of its own, so its balance
/// moves for no other event.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// Before the first command that names event `id` or its `account` reaches Redis.
    BeforeEffect { id: String, account: String },
    /// After the first command that changed anything event `id` of `account` touches.
    FirstTrace { id: String, account: String },
}

struct Armed {
    trigger: Trigger,
    victim: Pid,
}

struct Shared {
    upstream: String,
    store: Store,
    armed: Mutex<Option<Armed>>,
    /// Counts the kills: a check waits on it.
    fired: watch::Sender<u64>,
}

/// A proxy in front of the grader's Redis.
pub struct Proxy {
    /// The URL to give the consumer instead of the real one.
    pub url: String,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Proxy {
    /// Starts a proxy in front of the grader's Redis; `store` reads the attempt's keys.
    pub async fn start(store: Store) -> Result<Self, Failure> {
        let redis_url = grade_kit::services::redis_url();
        let (upstream, with_address) = resp::split_url(&redis_url)?;
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|error| {
            Failure::new(format!(
                "the grader could not start its Redis proxy: {error}"
            ))
        })?;
        let address = listener
            .local_addr()
            .map_err(|error| Failure::new(format!("the Redis proxy has no address: {error}")))?;
        let shared = Arc::new(Shared {
            upstream,
            store,
            armed: Mutex::new(None),
            fired: watch::channel(0).0,
        });
        let accept = tokio::spawn({
            let shared = Arc::clone(&shared);
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let shared = Arc::clone(&shared);
                    tokio::spawn(async move {
                        if let Ok(server) = TcpStream::connect(&shared.upstream).await {
                            relay(client, server, shared).await;
                        }
                    });
                }
            }
        });
        Ok(Self {
            url: with_address(&address.to_string()),
            shared,
            accept,
        })
    }

    /// Arms the proxy: it will kill `victim` at `trigger`'s moment, once.
    pub fn arm(&self, trigger: Trigger, victim: Pid) {
        *lock(&self.shared.armed) = Some(Armed { trigger, victim });
    }

    /// A receiver of the number of kills so far.
    pub fn fired(&self) -> watch::Receiver<u64> {
        self.shared.fired.subscribe()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Relays one connection, one command and its reply at a time, until either side closes or
/// the proxy kills the consumer.
async fn relay(mut client: TcpStream, mut server: TcpStream, shared: Arc<Shared>) {
    let mut from_client = Vec::new();
    let mut from_server = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        // One complete command from the client.
        let command = loop {
            match resp::frame(&from_client) {
                Ok(Some((len, _))) => break from_client.drain(..len).collect::<Vec<u8>>(),
                Ok(None) => {}
                Err(_) => return,
            }
            match client.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => from_client.extend_from_slice(&chunk[..n]),
            }
        };

        // Armed? Decide before Redis sees the command.
        let trigger = lock(&shared.armed)
            .as_ref()
            .map(|a| (a.trigger.clone(), a.victim));
        let mut watching = None;
        match &trigger {
            Some((Trigger::BeforeEffect { id, account }, victim))
                if contains(&command, id.as_bytes()) || contains(&command, account.as_bytes()) =>
            {
                *lock(&shared.armed) = None;
                fire(&shared, *victim);
                return;
            }
            Some((Trigger::FirstTrace { id, account }, _)) => {
                // Every command, not only those that name the event: an `EXEC` names nothing.
                let Ok(before) = shared.store.footprint(id, account).await else {
                    return;
                };
                watching = Some((id.clone(), account.clone(), before));
            }
            _ => {}
        }

        if server.write_all(&command).await.is_err() {
            return;
        }
        // Its reply (and any push frames before it).
        let reply = loop {
            match resp::frame(&from_server) {
                Ok(Some((len, push))) => {
                    let frame: Vec<u8> = from_server.drain(..len).collect();
                    if push {
                        if client.write_all(&frame).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    break frame;
                }
                Ok(None) => {}
                Err(_) => return,
            }
            match server.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => from_server.extend_from_slice(&chunk[..n]),
            }
        };

        if let Some((id, account, before)) = &watching {
            let Ok(after) = shared.store.footprint(id, account).await else {
                return;
            };
            if after != *before {
                let victim = lock(&shared.armed).take().map(|a| a.victim);
                if let Some(victim) = victim {
                    fire(&shared, victim);
                    return;
                }
            }
        }
        if client.write_all(&reply).await.is_err() {
            return;
        }
    }
}

fn fire(shared: &Shared, victim: Pid) {
    let _ = kill(victim, Signal::SIGKILL);
    shared.fired.send_modify(|n| *n += 1);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
