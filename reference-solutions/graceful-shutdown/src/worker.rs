//! One queue worker: the reliable-queue pattern, and where a drain may interrupt it.
//!
//! `BLMOVE queue processing RIGHT LEFT` hands a job to the worker and, in the same atomic
//! step, records that it is held. If the process dies mid-job, the job is not lost: it sits in
//! `processing`, where a reaper (not part of this exercise) can find it and push it back. A
//! plain `BRPOP` would have no such trace. Finishing is atomic too: one `MULTI` removes the job
//! from `processing` and appends it to `done`, so a job is never both, nor neither.
//!
//! Three details make the drain correct:
//!
//! - **The flag is checked between jobs, never during one.** A worker finishes the job it
//!   holds (that is the point of a drain), then looks at `draining` before taking another.
//! - **A blocking call is never abandoned mid-flight.** Dropping the future of a pending
//!   `BLMOVE` does not cancel it on the server: Redis would still move the next job that
//!   arrives into `processing`, for a client that stopped listening, and that job would be
//!   stranded. So the worker blocks for a short poll interval only, always waits for the
//!   answer, and if a job arrives after the drain began, it hands it back (`LREM` from
//!   `processing`, `RPUSH` onto the consumer end of `queue`, atomically).
//! - **A dedicated connection per worker.** Redis serves one connection's commands in order,
//!   so a blocked `BLMOVE` would stall every other command multiplexed on the same
//!   connection: the other workers' acknowledgements included.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncCommands, AsyncConnectionConfig, Client, Direction, RedisResult};
use tokio_util::sync::CancellationToken;

use crate::Keys;
use crate::pool::Pool;

/// How long one `BLMOVE` blocks (seconds). It bounds how long an idle worker takes to notice a
/// drain, and costs one round trip per interval while idle.
const POLL_SECS: f64 = 0.2;

/// How long to wait before trying again after a Redis error.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// A queue worker with its own Redis connection.
pub(crate) struct Worker {
    id: usize,
    conn: MultiplexedConnection,
    keys: Keys,
    pool: Pool,
    draining: CancellationToken,
}

impl Worker {
    /// Opens the worker's dedicated connection.
    pub(crate) async fn connect(
        client: &Client,
        id: usize,
        keys: &Keys,
        pool: &Pool,
        draining: &CancellationToken,
    ) -> RedisResult<Self> {
        // The client's default response timeout (500 ms) must outlast the blocking poll, or
        // every idle `BLMOVE` would end as a timeout error.
        let config = AsyncConnectionConfig::new()
            .set_response_timeout(Some(Duration::from_secs_f64(POLL_SECS + 2.0)));
        let conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        Ok(Self {
            id,
            conn,
            keys: keys.clone(),
            pool: pool.clone(),
            draining: draining.clone(),
        })
    }

    /// Takes and runs jobs until the drain begins; returns once the job in hand is finished.
    pub(crate) async fn run(mut self) {
        loop {
            if self.draining.is_cancelled() {
                break;
            }
            let result = match self.take().await {
                Ok(Some(job)) => self.handle(&job).await,
                // The poll timed out on an empty queue: look at the flag again.
                Ok(None) => Ok(()),
                Err(error) => Err(error),
            };
            if let Err(error) = result {
                eprintln!("worker {}: redis error: {error}", self.id);
                tokio::select! {
                    () = self.draining.cancelled() => {}
                    () = tokio::time::sleep(RETRY_PAUSE) => {}
                }
            }
        }
    }

    /// Waits (at most one poll interval) for a job, moving it to `processing`.
    async fn take(&mut self) -> RedisResult<Option<String>> {
        self.conn
            .blmove(
                &self.keys.queue,
                &self.keys.processing,
                Direction::Right,
                Direction::Left,
                POLL_SECS,
            )
            .await
    }

    /// Runs a job just taken, unless the drain began while we were waiting for it.
    async fn handle(&mut self, job: &str) -> RedisResult<()> {
        if self.draining.is_cancelled() {
            return self.hand_back(job).await;
        }
        self.process(job).await
    }

    /// Does the work of a job we hold, then marks it done.
    async fn process(&mut self, job: &str) -> RedisResult<()> {
        let Ok(conn) = self.pool.acquire().await else {
            return self.hand_back(job).await;
        };
        // The work itself. A real job would use `conn` here; this one only holds it.
        tokio::time::sleep(job_duration(job)).await;
        redis::pipe()
            .atomic()
            .lrem(&self.keys.processing, 1, job)
            .rpush(&self.keys.done, job)
            .exec_async(&mut self.conn)
            .await?;
        conn.release();
        Ok(())
    }

    /// Returns a job we hold to the consumer end of the queue, as if never taken.
    async fn hand_back(&mut self, job: &str) -> RedisResult<()> {
        redis::pipe()
            .atomic()
            .lrem(&self.keys.processing, 1, job)
            .rpush(&self.keys.queue, job)
            .exec_async(&mut self.conn)
            .await
    }
}

/// The duration written in a job `"<id>:<milliseconds>"`; zero if it has none.
fn job_duration(job: &str) -> Duration {
    let millis = job
        .rsplit_once(':')
        .and_then(|(_, millis)| millis.parse().ok())
        .unwrap_or(0);
    Duration::from_millis(millis)
}
