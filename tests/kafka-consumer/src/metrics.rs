//! Criterion `metrics`: the Prometheus text at `GET /metrics`, read over a plain HTTP/1.0
//! connection and parsed leniently (any label order, extra labels and metrics, OpenMetrics or
//! the classic format).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use grade_kit::env::scaled;
use grade_kit::{CheckResult, Failure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::history::Scenario;
use crate::process::Consumer;
use crate::setup::{Setup, until};

/// One sample: a metric name, its labels, its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Fetches and parses `GET /metrics`.
pub async fn scrape(address: SocketAddr) -> Result<Vec<Sample>, Failure> {
    let exchange = async {
        let mut stream = TcpStream::connect(address).await?;
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: grade\r\n\r\n")
            .await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(scaled(Duration::from_secs(3)), exchange)
        .await
        .map_err(|_| {
            Failure::new(format!(
                "GET /metrics on {address} got no answer within 3 s"
            ))
        })?
        .map_err(|error| Failure::new(format!("GET /metrics on {address}: {error}")))?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).unwrap_or("?");
    if status != "200" {
        return Err(
            Failure::new(format!("GET /metrics answered {status}, expected 200"))
                .with_hint("serve the Prometheus text at GET /metrics on the listener main bound"),
        );
    }
    Ok(parse(body))
}

/// Parses the Prometheus (or OpenMetrics) text format; lines it cannot read are skipped.
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let (series, rest) = match line.find('{') {
                Some(_) => {
                    let close = line.rfind('}')?;
                    (&line[..close + 1], &line[close + 1..])
                }
                None => line.split_at(line.find(char::is_whitespace)?),
            };
            let value = rest.split_whitespace().next()?;
            let value = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().ok()?,
            };
            let (name, labels) = match series.find('{') {
                Some(open) => (&series[..open], &series[open + 1..series.len() - 1]),
                None => (series, ""),
            };
            Some(Sample {
                name: name.trim().to_owned(),
                labels: parse_labels(labels),
                value,
            })
        })
        .collect()
}

fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text.trim();
    while let Some(eq) = rest.find('=') {
        let name = rest[..eq].trim().trim_start_matches(',').trim().to_owned();
        let after = rest[eq + 1..].trim_start();
        let Some(after) = after.strip_prefix('"') else {
            break;
        };
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(if escaped == 'n' { '\n' } else { escaped });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        labels.insert(name, value);
        rest = after[end..].trim_start().trim_start_matches(',');
    }
    labels
}

/// The lag the consumer reports for `partition`, if it reports one.
fn lag(samples: &[Sample], partition: i32) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == "kafka_consumer_lag"
                && s.labels.get("partition").map(String::as_str) == Some(&partition.to_string())
        })
        .map(|s| s.value)
}

/// `metrics.lag`: while the consumer is stuck in a 6 s event on partition 0 and more events
/// arrive behind it, `kafka_consumer_lag{partition="0"}` becomes end offset − committed offset
/// within a few refresh intervals; once it has caught up, 0.
pub async fn lag_check() -> CheckResult {
    let setup = Setup::new().await?;
    let mut scenario = Scenario::new(0x1a9, 3);
    let quick = scenario.payment(0, 0).clone();
    scenario.payment(0, 6_000);
    for _ in 0..4 {
        scenario.payment(0, 0);
    }
    let mut produced = scenario.produce(&setup.kafka, &setup.topic).await?;
    let options = setup.direct();
    let interval = options.metrics_interval;
    let mut consumer = Consumer::start("the consumer", &options).await?;
    let committed = setup.committed()?;
    let wait = until(
        Duration::from_secs(20),
        "the first event to be applied and committed",
        || {
            let (store, committed, id) = (setup.store.clone(), committed.clone(), quick.id.clone());
            async move {
                let applied = store.ledger().await?.iter().any(|a| a.id == id);
                Ok(applied && committed.read().await?[0].is_some_and(|c| c >= 1))
            }
        },
    )
    .await;
    consumer.explain(wait)?;
    // The consumer is now inside the 6 s event. More arrive behind it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut more = Scenario::new(0x1aa, 3);
    for _ in 0..5 {
        more.payment(0, 0);
    }
    produced.extend(more.produce(&setup.kafka, &setup.topic).await?);
    let end = setup.kafka.end_offsets(&setup.topic, 3).await?[0];
    let now = committed.read().await?[0].unwrap_or(0);
    let expected = (end - now) as f64;
    let window = interval * 3 + scaled(Duration::from_millis(1_500));
    let deadline = Instant::now() + window;
    let mut last = None;
    while Instant::now() < deadline {
        last = lag(&scrape(consumer.metrics).await?, 0);
        if last == Some(expected) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if last != Some(expected) {
        let hint = match last {
            None => "export a gauge kafka_consumer_lag with a label partition=\"<n>\" for every \
                     partition this process owns"
                .to_owned(),
            Some(value) if value == expected - 1.0 => "the lag is the end offset minus the \
                committed offset, not minus the position of the message in hand"
                .to_owned(),
            Some(_) => format!(
                "refresh the lag every --metrics-interval-ms ({} ms) from a task of its own \
                 (fetch_watermarks for the end, committed_offsets for the group), not only \
                 between messages: a stuck consumer is when lag matters",
                interval.as_millis()
            ),
        };
        return consumer.explain(Err(Failure::new(format!(
            "while the consumer was held up in one event on partition 0 and 5 more arrived, \
             kafka_consumer_lag{{partition=\"0\"}} was not end offset {end} − committed offset \
             {now} within {} ms",
            window.as_millis()
        ))
        .with_expected(format!("{expected}"))
        .with_actual(last.map_or("no such series".to_owned(), |v| v.to_string()))
        .with_hint(&hint)));
    }
    setup.wait_applied(&produced, &mut [&mut consumer]).await?;
    let wait = until(Duration::from_secs(3), "the lag to fall to 0", || {
        let address = consumer.metrics;
        async move { Ok(lag(&scrape(address).await?, 0) == Some(0.0)) }
    })
    .await;
    consumer.explain(wait.map_err(|failure| {
        failure.with_hint("after the consumer caught up and committed, the lag is 0")
    }))
}

/// `metrics.latency_count`: after 20 events, 2 duplicates and one unparsable message, the
/// histogram `kafka_consumer_processing_seconds` has counted 23 finished messages.
pub async fn latency_count() -> CheckResult {
    let setup = Setup::new().await?;
    let mut scenario = Scenario::new(0x1a7, 3);
    scenario.payments(20, 0);
    scenario.duplicate(3, scenario.specs[3].partition);
    scenario.duplicate(11, scenario.specs[11].partition);
    scenario.malformed(1, b"not an event");
    let produced = scenario.produce(&setup.kafka, &setup.topic).await?;
    let mut consumer = Consumer::start("the consumer", &setup.direct()).await?;
    setup.wait_applied(&produced, &mut [&mut consumer]).await?;
    let expected = produced.len() as f64;
    let deadline = Instant::now() + scaled(Duration::from_secs(3));
    let mut last = None;
    while Instant::now() < deadline {
        let samples = scrape(consumer.metrics).await?;
        let counts: Vec<f64> = samples
            .iter()
            .filter(|s| s.name == "kafka_consumer_processing_seconds_count")
            .map(|s| s.value)
            .collect();
        last = (!counts.is_empty()).then(|| counts.iter().sum::<f64>());
        if last == Some(expected) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    consumer.explain(Err(Failure::new(format!(
        "after {} messages (20 events, 2 duplicates, 1 unparsable), the processing-time \
         histogram's count is wrong",
        produced.len()
    ))
    .with_expected(format!(
        "kafka_consumer_processing_seconds_count {expected}"
    ))
    .with_actual(last.map_or(
        "no kafka_consumer_processing_seconds_count".to_owned(),
        |v| v.to_string(),
    ))
    .with_hint(
        "observe the histogram once per message you finish: applied, skipped as a duplicate, \
         or dead-lettered",
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_text_formats_leniently() {
        let text = "# HELP kafka_consumer_lag lag\n# TYPE kafka_consumer_lag gauge\n\
                    kafka_consumer_lag{topic=\"t\",partition=\"2\"} 14\n\
                    kafka_consumer_processing_seconds_count 23 1700000000\n\
                    kafka_consumer_processing_seconds_bucket{le=\"+Inf\"} 23\n# EOF\n";
        let samples = parse(text);
        assert_eq!(lag(&samples, 2), Some(14.0));
        assert_eq!(lag(&samples, 0), None);
        assert!(
            samples
                .iter()
                .any(|s| s.name == "kafka_consumer_processing_seconds_count" && s.value == 23.0)
        );
        assert_eq!(
            samples[2].labels.get("le").map(String::as_str),
            Some("+Inf")
        );
    }
}
