//! The service's job queue, seen from Redis: the suite enqueues jobs and inspects the lists.
//!
//! The keys are pinned by the README: `<prefix>queue` (jobs waiting, pushed on the left, taken
//! from the right), `<prefix>processing` (jobs a worker holds) and `<prefix>done` (jobs
//! finished). A job is `"<id>:<milliseconds>"`.

use std::time::Duration;

use grade_kit::env::scaled;
use grade_kit::{CheckResult, Failure, fail};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use tokio::time::Instant;

/// The three lists at one moment.
#[derive(Debug, Clone, Default)]
pub struct Lists {
    /// Jobs waiting.
    pub queue: Vec<String>,
    /// Jobs held by a worker.
    pub processing: Vec<String>,
    /// Jobs finished.
    pub done: Vec<String>,
}

impl Lists {
    /// Where `job` is, for messages: `"queue ×1, done ×2"`, or `"nowhere"`.
    pub fn whereabouts(&self, job: &str) -> String {
        let places: Vec<String> = [
            ("queue", &self.queue),
            ("processing", &self.processing),
            ("done", &self.done),
        ]
        .into_iter()
        .filter_map(|(name, list)| {
            let n = count(list, job);
            (n > 0).then(|| format!("{name} ×{n}"))
        })
        .collect();
        if places.is_empty() {
            "nowhere".to_owned()
        } else {
            places.join(", ")
        }
    }
}

/// How many times `job` occurs in `list`.
pub fn count(list: &[String], job: &str) -> usize {
    list.iter().filter(|item| *item == job).count()
}

/// A connection to the service's Redis, under the check's key prefix.
pub struct Queue {
    url: String,
    conn: MultiplexedConnection,
    queue: String,
    processing: String,
    done: String,
}

impl Queue {
    /// Connects to the Redis at `url`.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, Failure> {
        let conn = async {
            redis::Client::open(url)?
                .get_multiplexed_async_connection()
                .await
        }
        .await
        .map_err(|error| {
            Failure::new(format!("cannot reach Redis at {url}: {error}")).with_hint(
                "the grader provides a Redis server; by hand, start `redis-server` on port \
                     6379 or set GRADE_REDIS_URL",
            )
        })?;
        Ok(Self {
            url: url.to_owned(),
            conn,
            queue: format!("{prefix}queue"),
            processing: format!("{prefix}processing"),
            done: format!("{prefix}done"),
        })
    }

    /// Deletes the three lists.
    pub async fn clear(&mut self) -> CheckResult {
        let keys = [&self.queue, &self.processing, &self.done];
        let result: redis::RedisResult<()> = self.conn.del(&keys).await;
        result.map_err(redis_failure)
    }

    /// Enqueues jobs; the first is taken first.
    pub async fn push(&mut self, jobs: &[&str]) -> CheckResult {
        let result: redis::RedisResult<()> = self.conn.lpush(&self.queue, jobs).await;
        result.map_err(redis_failure)
    }

    /// The three lists, read in one transaction.
    pub async fn lists(&mut self) -> Result<Lists, Failure> {
        let (queue, processing, done) = redis::pipe()
            .atomic()
            .lrange(&self.queue, 0, -1)
            .lrange(&self.processing, 0, -1)
            .lrange(&self.done, 0, -1)
            .query_async(&mut self.conn)
            .await
            .map_err(redis_failure)?;
        Ok(Lists {
            queue,
            processing,
            done,
        })
    }

    /// Waits until every one of `jobs` is in `processing`: held by a worker.
    pub async fn wait_held(&mut self, jobs: &[&str]) -> CheckResult {
        let limit = scaled(Duration::from_secs(5));
        let started = Instant::now();
        loop {
            let lists = self.lists().await?;
            if jobs
                .iter()
                .all(|job| lists.processing.iter().any(|held| held == job))
            {
                return Ok(());
            }
            if started.elapsed() > limit {
                fail!(
                    hint = "a worker takes a job with BLMOVE <prefix>queue <prefix>processing \
                            RIGHT LEFT and keeps it in processing while it works",
                    "waited {limit:?} for the workers to take {jobs:?}; processing holds {:?}, \
                     queue {:?}, done {:?}",
                    lists.processing,
                    lists.queue,
                    lists.done
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Deletes the lists without a runtime (for `Drop`); best effort.
    pub fn delete_keys_blocking(&self) {
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        if let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_secs(1)) {
            let _: redis::RedisResult<()> = redis::cmd("DEL")
                .arg(&self.queue)
                .arg(&self.processing)
                .arg(&self.done)
                .query(&mut conn);
        }
    }
}

fn redis_failure(error: redis::RedisError) -> Failure {
    Failure::new(format!("the suite's Redis command failed: {error}"))
}
