//! What the attempt wrote to Redis, read straight from the grader's server (never through the
//! proxy a check may put in front of the attempt): balances, dedupe markers, the ledger.

use std::collections::BTreeMap;

use grade_kit::Failure;
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;

/// One line of the ledger: an event the attempt applied, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub id: String,
    pub partition: i32,
    pub offset: i64,
}

/// The attempt's keys under one prefix.
#[derive(Clone)]
pub struct Store {
    prefix: String,
    connection: MultiplexedConnection,
}

fn redis_error(what: &str) -> impl Fn(redis::RedisError) -> Failure + '_ {
    move |error| Failure::new(format!("the grader could not {what} in Redis: {error}"))
}

impl Store {
    /// Connects to the grader's Redis for the keys under `prefix`.
    pub async fn connect(prefix: &str) -> Result<Self, Failure> {
        let client = redis::Client::open(grade_kit::services::redis_url())
            .map_err(redis_error("open a connection"))?;
        let connection = client
            .get_multiplexed_async_connection()
            .await
            .map_err(redis_error("connect"))?;
        Ok(Self {
            prefix: prefix.to_owned(),
            connection,
        })
    }

    /// The key prefix the attempt was given.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The ledger, in the order it was written.
    pub async fn ledger(&self) -> Result<Vec<Applied>, Failure> {
        let key = format!("{}ledger", self.prefix);
        let lines: Vec<String> = self
            .connection
            .clone()
            .lrange(&key, 0, -1)
            .await
            .map_err(redis_error("read the ledger"))?;
        lines
            .iter()
            .map(|line| {
                let mut parts = line.split(' ');
                let parsed = (|| {
                    let id = parts.next()?.to_owned();
                    let partition = parts.next()?.parse().ok()?;
                    let offset = parts.next()?.parse().ok()?;
                    parts.next().is_none().then_some(Applied {
                        id,
                        partition,
                        offset,
                    })
                })();
                parsed.ok_or_else(|| {
                    Failure::new(format!("a ledger entry in {key} reads {line:?}"))
                        .with_expected("\"<id> <partition> <offset>\", e.g. \"evt-3 1 17\"")
                        .with_hint("RPUSH the ledger entry as the README gives it")
                })
            })
            .collect()
    }

    /// The balance of each of `accounts` (0 when the key does not exist).
    pub async fn balances<'a>(
        &self,
        accounts: impl IntoIterator<Item = &'a str>,
    ) -> Result<BTreeMap<String, i64>, Failure> {
        let mut balances = BTreeMap::new();
        let mut connection = self.connection.clone();
        for account in accounts {
            let key = format!("{}balance:{account}", self.prefix);
            let value: Option<String> = connection
                .get(&key)
                .await
                .map_err(redis_error("read a balance"))?;
            let balance = match value {
                None => 0,
                Some(text) => text.parse().map_err(|_| {
                    Failure::new(format!("{key} holds {text:?}, not an integer"))
                        .with_hint("INCRBY the balance by amount_cents")
                })?,
            };
            balances.insert(account.to_owned(), balance);
        }
        Ok(balances)
    }

    /// The remaining time to live of `id`'s dedupe marker, in seconds: `None` when the marker
    /// does not exist, `Some(-1)` when it has no TTL.
    pub async fn marker_ttl(&self, id: &str) -> Result<Option<i64>, Failure> {
        let key = format!("{}seen:{id}", self.prefix);
        let ttl: i64 = self
            .connection
            .clone()
            .ttl(&key)
            .await
            .map_err(redis_error("read a marker's TTL"))?;
        Ok((ttl != -2).then_some(ttl))
    }

    /// A snapshot of what event `id` of `account` has changed so far: whether its marker
    /// exists, the account's balance, whether the ledger names it.
    pub async fn footprint(&self, id: &str, account: &str) -> Result<Footprint, Failure> {
        let mut connection = self.connection.clone();
        let (marker, balance, ledger): (bool, Option<String>, Vec<String>) = redis::pipe()
            .exists(format!("{}seen:{id}", self.prefix))
            .get(format!("{}balance:{account}", self.prefix))
            .lrange(format!("{}ledger", self.prefix), 0, -1)
            .query_async(&mut connection)
            .await
            .map_err(redis_error("read an event's footprint"))?;
        Ok(Footprint {
            marker,
            balance,
            logged: ledger.iter().any(|line| line.contains(id)),
        })
    }
}

/// What one event may have changed in Redis, compared before and after a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footprint {
    pub marker: bool,
    pub balance: Option<String>,
    pub logged: bool,
}
