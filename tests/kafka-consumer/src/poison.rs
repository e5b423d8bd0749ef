//! Criterion `poison`: messages that always fail, fail a few times, or do not parse. Judged from
//! the hook's record of every attempt (how many, and the waits between them), the dead-letter
//! topic read from the start, and the history of the partition behind them.

use std::time::Duration;

use grade_kit::env::scaled;
use grade_kit::{CheckResult, Failure, fail};
use tokio::time::Instant;

use crate::broker::Record;
use crate::history::{Fail, Fate, Kind, Produced, Scenario};
use crate::process::{Attempt, Consumer};
use crate::setup::Setup;

/// `--retry-backoff-ms` in these checks.
const BACKOFF: Duration = Duration::from_millis(200);
/// Scheduling slack allowed below a wait (timers fire late, not early, but the hook's clock
/// and the consumer's are read at slightly different points).
const EARLY: Duration = Duration::from_millis(30);

/// The dead-letter topic's records, once there are at least `expected` (or 10 s passed).
async fn dead_letters(setup: &Setup, expected: usize) -> Result<Vec<Record>, Failure> {
    let deadline = Instant::now() + scaled(Duration::from_secs(10));
    loop {
        let records = setup.kafka.read_all(&setup.dead_letter_topic, 1).await?;
        if records.len() >= expected || Instant::now() > deadline {
            return Ok(records);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Checks one dead-lettered record against the message it came from.
fn judge_dead_letter(record: &Record, original: &Produced, topic: &str) -> CheckResult {
    let what = format!(
        "the dead letter of {}/{} ({})",
        original.spec.partition, original.offset, original.spec.id
    );
    let payload = original.spec.payload();
    if record.payload.as_deref() != Some(payload.as_slice()) {
        return Err(
            Failure::new(format!("{what} does not carry the original payload"))
                .with_expected(String::from_utf8_lossy(&payload).into_owned())
                .with_actual(
                    record
                        .payload
                        .as_deref()
                        .map_or("no payload".to_owned(), |p| {
                            String::from_utf8_lossy(p).into_owned()
                        }),
                ),
        );
    }
    if record.key.as_deref() != Some(original.spec.account.as_bytes()) {
        return Err(
            Failure::new(format!("{what} does not carry the original key"))
                .with_expected(original.spec.account.clone())
                .with_actual(record.key.as_deref().map_or("no key".to_owned(), |k| {
                    String::from_utf8_lossy(k).into_owned()
                })),
        );
    }
    let expected = [
        ("x-original-topic", topic.to_owned()),
        ("x-original-partition", original.spec.partition.to_string()),
        ("x-original-offset", original.offset.to_string()),
    ];
    for (name, value) in expected {
        if record.headers.get(name) != Some(&value) {
            return Err(Failure::new(format!("{what}: header {name} is wrong"))
                .with_expected(value)
                .with_actual(
                    record
                        .headers
                        .get(name)
                        .map_or("absent".to_owned(), |v| format!("{v:?}")),
                )
                .with_hint(
                    "add the headers x-original-topic, x-original-partition and \
                     x-original-offset (decimal strings) and x-error to the dead letter",
                ));
        }
    }
    if record
        .headers
        .get("x-error")
        .is_none_or(|e| e.trim().is_empty())
    {
        fail!(
            hint = "put the error's text in the x-error header",
            "{what} has no x-error header (or an empty one)"
        );
    }
    Ok(())
}

/// The dead letters of `produced`'s poison messages: exactly one each, nothing else.
async fn judge_dead_letters(
    setup: &Setup,
    produced: &[Produced],
    consumer: &Consumer,
) -> CheckResult {
    let poison: Vec<&Produced> = produced
        .iter()
        .filter(|p| p.spec.fate == Fate::DeadLetter)
        .collect();
    let records = dead_letters(setup, poison.len()).await?;
    for original in &poison {
        let matching: Vec<&Record> = records
            .iter()
            .filter(|r| {
                r.headers.get("x-original-offset") == Some(&original.offset.to_string())
                    && r.headers.get("x-original-partition")
                        == Some(&original.spec.partition.to_string())
            })
            .collect();
        match matching.as_slice() {
            [record] => consumer.explain(judge_dead_letter(record, original, &setup.topic))?,
            [] => {
                // Maybe the headers are wrong: judge the record with the same payload.
                let payload = original.spec.payload();
                if let Some(record) = records
                    .iter()
                    .find(|r| r.payload.as_deref() == Some(payload.as_slice()))
                {
                    consumer.explain(judge_dead_letter(record, original, &setup.topic))?;
                }
                return consumer.explain(Err(Failure::new(format!(
                    "{}/{} ({}) never reached the dead-letter topic ({} records there)",
                    original.spec.partition,
                    original.offset,
                    original.spec.id,
                    records.len()
                ))
                .with_hint(
                    "after the last failed attempt, produce the message to \
                     --dead-letter-topic and wait for its delivery before committing past it",
                )));
            }
            many => {
                return consumer.explain(Err(Failure::new(format!(
                    "{}/{} ({}) was dead-lettered {} times, expected once",
                    original.spec.partition,
                    original.offset,
                    original.spec.id,
                    many.len()
                ))));
            }
        }
    }
    if records.len() > poison.len() {
        let extra: Vec<String> = records
            .iter()
            .filter(|r| {
                !poison.iter().any(|p| {
                    r.headers.get("x-original-offset") == Some(&p.offset.to_string())
                        && r.headers.get("x-original-partition")
                            == Some(&p.spec.partition.to_string())
                })
            })
            .take(4)
            .map(|r| String::from_utf8_lossy(r.payload.as_deref().unwrap_or_default()).into_owned())
            .collect();
        return consumer.explain(Err(Failure::new(format!(
            "the dead-letter topic holds {} records, expected {}: also {}",
            records.len(),
            poison.len(),
            extra.join("; ")
        ))
        .with_hint(
            "dead-letter only messages that failed --max-attempts times, or do not parse",
        )));
    }
    Ok(())
}

/// The hook's attempts at `id`, in order.
fn attempts_of(consumer: &Consumer, id: &str) -> Vec<Attempt> {
    let mut attempts: Vec<Attempt> = consumer
        .attempts()
        .into_iter()
        .filter(|a| a.id == id)
        .collect();
    attempts.sort_by_key(|a| a.at_us);
    attempts
}

/// `poison.dead_letter`: a message whose processing always fails is attempted exactly
/// `--max-attempts` (3) times, 200 ms then 400 ms apart, then dead-lettered with its key,
/// payload and headers; the eight events behind it on its partition are applied.
pub async fn dead_letter() -> CheckResult {
    let setup = Setup::new().await?;
    let mut scenario = Scenario::new(0xdead, 3);
    for _ in 0..4 {
        scenario.payment(0, 0);
    }
    let poison = scenario.failing(0, Fail::Always).clone();
    for _ in 0..8 {
        scenario.payment(0, 0);
    }
    scenario.payment(1, 0);
    scenario.payment(2, 0);
    let produced = scenario.produce(&setup.kafka, &setup.topic).await?;
    let mut options = setup.direct();
    options.retry_backoff = BACKOFF;
    let mut consumer = Consumer::start("the consumer", &options).await?;
    let ledger = setup.wait_applied(&produced, &mut [&mut consumer]).await?;

    let attempts = attempts_of(&consumer, &poison.id);
    let max = options.max_attempts as usize;
    if attempts.len() != max {
        let hint = if attempts.len() > max {
            "count the attempts: after --max-attempts failures, dead-letter the message and \
             go on"
        } else {
            "retry a failed message until it has been attempted --max-attempts times in all"
        };
        return consumer.explain(Err(Failure::new(format!(
            "the poison message {} (0/{}) was attempted {} times, expected --max-attempts {max}",
            poison.id,
            produced
                .iter()
                .find(|p| p.spec.id == poison.id)
                .map_or(-1, |p| p.offset),
            attempts.len()
        ))
        .with_hint(hint)));
    }
    let gaps: Vec<Duration> = attempts
        .windows(2)
        .map(|w| Duration::from_micros(w[1].at_us.saturating_sub(w[0].at_us)))
        .collect();
    for (n, gap) in gaps.iter().enumerate() {
        let wanted = BACKOFF * 2u32.pow(n as u32);
        let most = wanted * 2 + scaled(Duration::from_millis(300));
        if *gap + EARLY < wanted || *gap > most {
            return consumer.explain(Err(Failure::new(format!(
                "the wait between attempts {} and {} of the poison message was {} ms",
                n + 1,
                n + 2,
                gap.as_millis()
            ))
            .with_expected(format!(
                "{} ms (--retry-backoff-ms {}, doubling after each attempt)",
                wanted.as_millis(),
                BACKOFF.as_millis()
            ))
            .with_hint(
                "wait --retry-backoff-ms before the second attempt and double the wait \
                        before each later one",
            )));
        }
    }
    judge_dead_letters(&setup, &produced, &consumer).await?;
    let verdict = setup
        .verdict(
            &produced,
            &ledger,
            &[Kind::Lost, Kind::Foreign],
            "a poison message (every attempt fails) followed by 8 events on partition 0",
            "after the dead letter is delivered, commit past the poison message and go on: it \
             must not block its partition, and it is never applied",
        )
        .await;
    consumer.explain(verdict)?;
    setup.wait_committed_to_end(&mut consumer).await
}

/// `poison.transient`: a message whose first two attempts fail is applied on the third, once,
/// and never dead-lettered.
pub async fn transient() -> CheckResult {
    let setup = Setup::new().await?;
    let mut scenario = Scenario::new(0x7a5, 3);
    for _ in 0..4 {
        scenario.payment(1, 0);
    }
    let flaky = scenario.failing(1, Fail::Times(2)).clone();
    for _ in 0..4 {
        scenario.payment(1, 0);
    }
    let produced = scenario.produce(&setup.kafka, &setup.topic).await?;
    let mut options = setup.direct();
    options.retry_backoff = Duration::from_millis(100);
    let mut consumer = Consumer::start("the consumer", &options).await?;
    let ledger = setup.wait_applied(&produced, &mut [&mut consumer]).await?;
    let verdict = setup
        .verdict(
            &produced,
            &ledger,
            Kind::ONCE,
            &format!(
                "{} fails its first two attempts and succeeds on the third (--max-attempts 3)",
                flaky.id
            ),
            "retry a failed message in place (same message, after the backoff) and apply it when \
             an attempt succeeds",
        )
        .await;
    consumer.explain(verdict)?;
    let attempts = attempts_of(&consumer, &flaky.id);
    if attempts.len() != 3 || !attempts.last().is_some_and(|a| a.ok) {
        return consumer.explain(Err(Failure::new(format!(
            "{} was attempted {} times (the last {}), expected 3 with the third succeeding",
            flaky.id,
            attempts.len(),
            if attempts.last().is_some_and(|a| a.ok) {
                "succeeding"
            } else {
                "failing"
            }
        ))));
    }
    let records = setup.kafka.read_all(&setup.dead_letter_topic, 1).await?;
    if !records.is_empty() {
        return consumer.explain(Err(Failure::new(format!(
            "the dead-letter topic holds {} records, expected none: a message that succeeds on \
             a retry is never dead-lettered",
            records.len()
        ))));
    }
    Ok(())
}

/// `poison.malformed`: a payload that is not JSON and one that is JSON but not an event are
/// dead-lettered (original key, payload and headers), never handed to the hook, and the events
/// behind them are applied.
pub async fn malformed() -> CheckResult {
    let setup = Setup::new().await?;
    let mut scenario = Scenario::new(0xbad, 3);
    for _ in 0..3 {
        scenario.payment(2, 0);
    }
    scenario.malformed(2, b"{not json");
    for _ in 0..3 {
        scenario.payment(2, 0);
    }
    scenario.malformed(2, br#"{"id": 7, "account": ["x"]}"#);
    for _ in 0..3 {
        scenario.payment(2, 0);
    }
    let produced = scenario.produce(&setup.kafka, &setup.topic).await?;
    let mut consumer = Consumer::start("the consumer", &setup.direct()).await?;
    let ledger = setup.wait_applied(&produced, &mut [&mut consumer]).await?;
    let verdict = setup
        .verdict(
            &produced,
            &ledger,
            &[Kind::Lost],
            "two unparsable messages among 9 events on partition 2",
            "a message Event::parse refuses goes to the dead-letter topic at once; then commit \
             past it and go on",
        )
        .await;
    consumer.explain(verdict)?;
    judge_dead_letters(&setup, &produced, &consumer).await?;
    setup.wait_committed_to_end(&mut consumer).await
}
