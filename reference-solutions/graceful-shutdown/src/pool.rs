//! A stand-in for a database connection pool that writes down everything done with it.
//!
//! **Provided: do not change this file.** The grader reads the events it records to check that
//! the pool is closed only after the last request and the last job that use it are done.
//!
//! Use it the way you would use `bb8` or `deadpool`: [`Pool::acquire`] a connection for the
//! duration of a unit of work, let it go ([`PoolConn::release`], or simply drop it), and
//! [`Pool::close`] the pool once on the way out. Every event becomes one JSON line in the events
//! file, written at once (no buffering, so nothing is lost if the process dies):
//!
//! ```text
//! {"at_us":1767225600000000,"event":"open","conn":0}
//! {"at_us":1767225600120000,"event":"acquire","conn":1}
//! {"at_us":1767225600920000,"event":"release","conn":1}
//! {"at_us":1767225601000000,"event":"close","conn":0}
//! ```
//!
//! `at_us` is the wall clock in microseconds since the Unix epoch; `conn` numbers connections
//! from 1 (0 for events of the pool itself). An `acquire` after `close` fails with
//! [`PoolClosed`] and is recorded as `refused`. The fake never blocks and never runs out.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// A connection pool (fake) that records its events. Cheap to clone: clones share one pool.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    events: Mutex<File>,
    next_conn: AtomicU64,
    closed: AtomicBool,
}

/// [`Pool::acquire`] was called after [`Pool::close`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the connection pool is closed")]
pub struct PoolClosed;

impl Pool {
    /// Opens the pool, recording its events in `events` (created, or truncated if it exists).
    pub fn open(events: &Path) -> io::Result<Self> {
        let pool = Self {
            inner: Arc::new(Inner {
                events: Mutex::new(File::create(events)?),
                next_conn: AtomicU64::new(1),
                closed: AtomicBool::new(false),
            }),
        };
        pool.record("open", 0);
        Ok(pool)
    }

    /// Takes a connection from the pool; it goes back when released or dropped.
    pub async fn acquire(&self) -> Result<PoolConn, PoolClosed> {
        if self.is_closed() {
            self.record("refused", 0);
            return Err(PoolClosed);
        }
        let id = self.inner.next_conn.fetch_add(1, Ordering::Relaxed);
        self.record("acquire", id);
        Ok(PoolConn {
            pool: self.clone(),
            id,
        })
    }

    /// Closes the pool: later `acquire` calls fail. Every call is recorded (closing twice shows).
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        self.record("close", 0);
    }

    /// Whether [`close`](Self::close) has been called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::SeqCst)
    }

    /// Appends one event line. The lock makes the file's line order the order of events.
    fn record(&self, event: &str, conn: u64) {
        let at_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_micros());
        let line = format!("{{\"at_us\":{at_us},\"event\":\"{event}\",\"conn\":{conn}}}\n");
        let mut file = self
            .inner
            .events
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // A fake must not take the service down: a failed write only loses the record.
        let _ = file.write_all(line.as_bytes());
    }
}

/// A connection on loan from the [`Pool`]; returned when released or dropped.
pub struct PoolConn {
    pool: Pool,
    id: u64,
}

impl PoolConn {
    /// This connection's number (from 1), as written in the events file.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Returns the connection to the pool (the same as dropping it).
    pub fn release(self) {}
}

impl Drop for PoolConn {
    fn drop(&mut self) {
        self.pool.record("release", self.id);
    }
}
