//! Seeded scenarios of payment events, and the checker that judges what an attempt did with
//! them, as Jepsen and Maelstrom's kafka workload do: from the history.
//!
//! A [`Scenario`] is what the check produces: payments, duplicates of earlier events (same id),
//! poison messages, transient failures, malformed payloads, each on a chosen partition, some
//! slow. Once produced, every record knows its offset. [`judge`] compares that with what the
//! attempt left behind, the ledger and the balances in Redis, and names every lost event,
//! double effect, foreign entry and out-of-order apply by id, partition and offset (the first
//! few of each).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use grade_kit::Failure;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::broker::Kafka;
use crate::store::Applied;

/// How many examples of each kind of problem a failure lists.
const EXAMPLES: usize = 4;

/// What the processing hook is asked to do with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fail {
    /// Every attempt fails: a poison message.
    Always,
    /// The first `n` attempts fail.
    Times(u32),
}

/// What a correct consumer does with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Applies it, once.
    Apply,
    /// Skips it: an earlier record carried the same id.
    Duplicate,
    /// Dead-letters it (a poison or malformed message).
    DeadLetter,
}

/// One record of a scenario.
#[derive(Debug, Clone)]
pub struct Spec {
    pub id: String,
    pub account: String,
    pub amount: i64,
    pub partition: i32,
    pub hold_ms: u64,
    pub fail: Option<Fail>,
    /// A payload that is not an event (the id above is only the suite's name for it).
    pub malformed: Option<Vec<u8>>,
    pub fate: Fate,
}

impl Spec {
    /// The message payload.
    pub fn payload(&self) -> Vec<u8> {
        if let Some(bytes) = &self.malformed {
            return bytes.clone();
        }
        let mut event = serde_json::json!({
            "id": self.id,
            "account": self.account,
            "amount_cents": self.amount,
        });
        if self.hold_ms > 0 {
            event["hold_ms"] = self.hold_ms.into();
        }
        match self.fail {
            Some(Fail::Always) => event["fail"] = "always".into(),
            Some(Fail::Times(n)) => event["fail"] = n.into(),
            None => {}
        }
        event.to_string().into_bytes()
    }
}

/// A record once produced: its spec and its offset.
#[derive(Debug, Clone)]
pub struct Produced {
    pub spec: Spec,
    pub offset: i64,
}

/// A scenario under construction: seeded, so a failure can be replayed.
pub struct Scenario {
    pub partitions: i32,
    rng: StdRng,
    seed: u64,
    pub specs: Vec<Spec>,
}

impl Scenario {
    /// An empty scenario over `partitions` partitions.
    pub fn new(seed: u64, partitions: i32) -> Self {
        Self {
            partitions,
            rng: StdRng::seed_from_u64(seed),
            seed,
            specs: Vec::new(),
        }
    }

    fn next_id(&self) -> String {
        format!("evt-{:x}-{:04}", self.seed, self.specs.len())
    }

    /// A payment on `partition` for one of that partition's accounts, taking `hold_ms`.
    pub fn payment(&mut self, partition: i32, hold_ms: u64) -> &mut Spec {
        let account = format!("acct-{partition}-{}", self.rng.random_range(0..3));
        let mut amount = self.rng.random_range(-9_999..=9_999);
        if amount == 0 {
            amount = 1;
        }
        let spec = Spec {
            id: self.next_id(),
            account,
            amount,
            partition,
            hold_ms,
            fail: None,
            malformed: None,
            fate: Fate::Apply,
        };
        self.specs.push(spec);
        self.specs.last_mut().expect("just pushed")
    }

    /// A payment on `partition` for an account of its own: a crash check's target, whose
    /// balance no other event moves.
    pub fn target(&mut self, partition: i32) -> Spec {
        let n = self.specs.len();
        let spec = self.payment(partition, 0);
        spec.account = format!("acct-only-{n:04}");
        spec.clone()
    }

    /// `count` payments spread over every partition, each taking up to `max_hold_ms`.
    pub fn payments(&mut self, count: usize, max_hold_ms: u64) {
        for _ in 0..count {
            let partition = self.rng.random_range(0..self.partitions);
            let hold = if max_hold_ms == 0 {
                0
            } else {
                self.rng.random_range(0..=max_hold_ms)
            };
            self.payment(partition, hold);
        }
    }

    /// A second record of the event at `index` (same id, account and amount) on `partition`.
    pub fn duplicate(&mut self, index: usize, partition: i32) {
        let mut spec = self.specs[index].clone();
        spec.partition = partition;
        spec.hold_ms = 0;
        spec.fate = Fate::Duplicate;
        self.specs.push(spec);
    }

    /// A payment whose processing fails as `fail` says.
    pub fn failing(&mut self, partition: i32, fail: Fail) -> &mut Spec {
        let spec = self.payment(partition, 0);
        spec.fail = Some(fail);
        if fail == Fail::Always {
            spec.fate = Fate::DeadLetter;
        }
        spec
    }

    /// A record whose payload is not an event.
    pub fn malformed(&mut self, partition: i32, payload: &[u8]) {
        let spec = self.payment(partition, 0);
        spec.malformed = Some(payload.to_vec());
        spec.fate = Fate::DeadLetter;
    }

    /// Produces every record, in order, and returns them with their offsets.
    pub async fn produce(&self, kafka: &Kafka, topic: &str) -> Result<Vec<Produced>, Failure> {
        produce(kafka, topic, &self.specs).await
    }
}

/// Produces `specs` in order to `topic`.
pub async fn produce(kafka: &Kafka, topic: &str, specs: &[Spec]) -> Result<Vec<Produced>, Failure> {
    let mut produced = Vec::with_capacity(specs.len());
    for spec in specs {
        let offset = kafka
            .produce(topic, spec.partition, &spec.account, &spec.payload())
            .await?;
        produced.push(Produced {
            spec: spec.clone(),
            offset,
        });
    }
    Ok(produced)
}

/// The ids a correct consumer applies, once each.
pub fn to_apply(produced: &[Produced]) -> Vec<&Produced> {
    produced
        .iter()
        .filter(|p| p.spec.fate == Fate::Apply)
        .collect()
}

/// The balance of every account the scenario touches, once every event is applied once.
pub fn expected_balances(produced: &[Produced]) -> BTreeMap<String, i64> {
    let mut balances = BTreeMap::new();
    for p in produced {
        let entry = balances.entry(p.spec.account.clone()).or_insert(0);
        if p.spec.fate == Fate::Apply {
            *entry += p.spec.amount;
        }
    }
    balances
}

/// A kind of problem in a history, so each check judges the kinds its criterion owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Lost,
    Double,
    Foreign,
    Misplaced,
    Order,
    Balance,
}

impl Kind {
    /// Every kind but ordering: what "each event applied exactly once" means.
    pub const ONCE: &[Kind] = &[
        Kind::Lost,
        Kind::Double,
        Kind::Foreign,
        Kind::Misplaced,
        Kind::Balance,
    ];
}

/// Everything wrong with a ledger and balances, given what was produced. Empty when the
/// attempt applied each event exactly once, in offset order within each partition.
pub fn judge(
    produced: &[Produced],
    ledger: &[Applied],
    balances: &BTreeMap<String, i64>,
) -> Vec<(Kind, String)> {
    let mut problems = Vec::new();
    let by_id: HashMap<&str, Vec<&Produced>> =
        produced.iter().fold(HashMap::new(), |mut map, p| {
            map.entry(p.spec.id.as_str()).or_default().push(p);
            map
        });
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for entry in ledger {
        *counts.entry(entry.id.as_str()).or_default() += 1;
    }

    let lost: Vec<String> = to_apply(produced)
        .into_iter()
        .filter(|p| !counts.contains_key(p.spec.id.as_str()))
        .map(|p| format!("{} ({}/{})", p.spec.id, p.spec.partition, p.offset))
        .collect();
    list(&mut problems, Kind::Lost, "never applied (lost)", &lost);

    let mut doubles: Vec<String> = counts
        .iter()
        .filter(|&(_, &n)| n > 1)
        .map(|(id, n)| format!("{id} applied {n} times"))
        .collect();
    doubles.sort();
    list(
        &mut problems,
        Kind::Double,
        "applied more than once",
        &doubles,
    );

    let mut foreign = Vec::new();
    let mut misplaced = Vec::new();
    for entry in ledger {
        match by_id.get(entry.id.as_str()) {
            None => foreign.push(format!("{:?}", entry.id)),
            Some(records) => {
                if records.iter().all(|p| p.spec.fate == Fate::DeadLetter) {
                    foreign.push(format!(
                        "{} ({}/{}), which must be dead-lettered",
                        entry.id, entry.partition, entry.offset
                    ));
                } else if !records
                    .iter()
                    .any(|p| p.spec.partition == entry.partition && p.offset == entry.offset)
                {
                    let at: Vec<String> = records
                        .iter()
                        .map(|p| format!("{}/{}", p.spec.partition, p.offset))
                        .collect();
                    misplaced.push(format!(
                        "{} logged at {}/{}, produced at {}",
                        entry.id,
                        entry.partition,
                        entry.offset,
                        at.join(" and ")
                    ));
                }
            }
        }
    }
    list(
        &mut problems,
        Kind::Foreign,
        "in the ledger but not to be applied",
        &foreign,
    );
    list(
        &mut problems,
        Kind::Misplaced,
        "logged with a partition/offset the event was not read from",
        &misplaced,
    );

    let mut out_of_order = Vec::new();
    let mut last: HashMap<i32, &Applied> = HashMap::new();
    for entry in ledger {
        if let Some(previous) = last.get(&entry.partition)
            && previous.offset > entry.offset
        {
            out_of_order.push(format!(
                "partition {}: offset {} ({}) applied after offset {} ({})",
                entry.partition, entry.offset, entry.id, previous.offset, previous.id
            ));
        }
        last.insert(entry.partition, entry);
    }
    list(
        &mut problems,
        Kind::Order,
        "applied out of offset order",
        &out_of_order,
    );

    let expected = expected_balances(produced);
    let wrong: Vec<String> = expected
        .iter()
        .filter(|(account, want)| balances.get(*account) != Some(want))
        .map(|(account, want)| {
            format!(
                "{account}: {} cents, expected {want}",
                balances
                    .get(account)
                    .map_or("no".to_owned(), i64::to_string)
            )
        })
        .collect();
    list(&mut problems, Kind::Balance, "balances wrong", &wrong);
    problems
}

fn list(problems: &mut Vec<(Kind, String)>, kind: Kind, what: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let mut line = format!("{} {what}: ", items.len());
    line.push_str(
        &items
            .iter()
            .take(EXAMPLES)
            .cloned()
            .collect::<Vec<_>>()
            .join("; "),
    );
    if items.len() > EXAMPLES {
        let _ = write!(line, "; …");
    }
    problems.push((kind, line));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn produced(id: &str, account: &str, amount: i64, partition: i32, offset: i64) -> Produced {
        Produced {
            spec: Spec {
                id: id.into(),
                account: account.into(),
                amount,
                partition,
                hold_ms: 0,
                fail: None,
                malformed: None,
                fate: Fate::Apply,
            },
            offset,
        }
    }

    fn applied(id: &str, partition: i32, offset: i64) -> Applied {
        Applied {
            id: id.into(),
            partition,
            offset,
        }
    }

    #[test]
    fn a_faithful_history_has_no_problem() {
        let produced = [produced("a", "x", 5, 0, 0), produced("b", "x", -2, 0, 1)];
        let ledger = [applied("a", 0, 0), applied("b", 0, 1)];
        let balances = BTreeMap::from([("x".to_owned(), 3)]);
        assert!(judge(&produced, &ledger, &balances).is_empty());
    }

    #[test]
    fn names_lost_doubled_and_reordered_events() {
        let produced = [
            produced("a", "x", 5, 0, 0),
            produced("b", "x", -2, 0, 1),
            produced("c", "y", 7, 1, 0),
        ];
        let ledger = [applied("b", 0, 1), applied("a", 0, 0), applied("b", 0, 1)];
        let balances = BTreeMap::from([("x".to_owned(), 1), ("y".to_owned(), 0)]);
        let problems: Vec<String> = judge(&produced, &ledger, &balances)
            .into_iter()
            .map(|(_, line)| line)
            .collect();
        let problems = problems.join("\n");
        assert!(
            problems.contains("1 never applied (lost): c (1/0)"),
            "{problems}"
        );
        assert!(problems.contains("b applied 2 times"), "{problems}");
        assert!(
            problems.contains("offset 0 (a) applied after offset 1 (b)"),
            "{problems}"
        );
        assert!(problems.contains("y: 0 cents, expected 7"), "{problems}");
    }
}
