//! The suite's own Kafka clients: topics, producing seeded events, reading a group's committed
//! offsets and a topic from the start.
//!
//! Every check works in topics and a consumer group of its own, named after the check's key
//! prefix (`grade-<run>-<check>-<repeat>-…`), so checks running side by side on one broker never
//! see each other. [`Kafka`] deletes the topics it created when it is dropped: on a broker the
//! user runs (`--kafka-brokers`) nothing is left behind; on the grader's private broker it
//! hardly matters.
//!
//! The producer sends one record per batch (`batch.num.messages = 1`): the grader's broker
//! (tansu) mishandles the records inside a multi-record batch.

use std::collections::BTreeMap;
use std::time::Duration;

use grade_kit::Failure;
use grade_kit::env::scaled;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// How long a single request to the broker may take before the check gives up on it.
const REQUEST: Duration = Duration::from_secs(10);

/// A Kafka name (topic or group) for `what` within this check, under the kit's topic prefix
/// (the check's key prefix, made legal for Kafka).
pub fn name(what: &str) -> String {
    format!("{}{what}", grade_kit::services::topic_prefix())
}

/// One record read back from a topic.
#[derive(Debug, Clone)]
pub struct Record {
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    pub headers: BTreeMap<String, String>,
}

/// The suite's clients on the broker, and the topics it created.
pub struct Kafka {
    brokers: String,
    admin: AdminClient<DefaultClientContext>,
    producer: FutureProducer,
    created: Vec<String>,
}

fn kafka_error(what: &str) -> impl Fn(rdkafka::error::KafkaError) -> Failure + '_ {
    move |error| Failure::new(format!("the grader could not {what}: {error}"))
}

impl Kafka {
    /// Connects to the broker (lazily: librdkafka connects on the first request).
    pub fn connect() -> Result<Self, Failure> {
        let brokers = grade_kit::services::kafka_brokers();
        let admin = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .create()
            .map_err(kafka_error("create a Kafka admin client"))?;
        let producer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("batch.num.messages", "1")
            .set("linger.ms", "0")
            .set("message.timeout.ms", "10000")
            .create()
            .map_err(kafka_error("create a Kafka producer"))?;
        Ok(Self {
            brokers,
            admin,
            producer,
            created: Vec::new(),
        })
    }

    /// The bootstrap servers, for the attempt's command line.
    pub fn brokers(&self) -> &str {
        &self.brokers
    }

    /// Creates `topic` with `partitions` partitions and waits until the broker lists them all.
    pub async fn create_topic(&mut self, topic: &str, partitions: i32) -> Result<(), Failure> {
        let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
        let options = AdminOptions::new().operation_timeout(Some(REQUEST));
        let results = self
            .admin
            .create_topics([&new], &options)
            .await
            .map_err(kafka_error("create a topic"))?;
        for result in results {
            if let Err((name, code)) = result {
                return Err(Failure::new(format!(
                    "the grader could not create topic {name}: {code}"
                )));
            }
        }
        self.created.push(topic.to_owned());
        let deadline = tokio::time::Instant::now() + scaled(REQUEST);
        loop {
            let metadata = self
                .producer
                .client()
                .fetch_metadata(Some(topic), Duration::from_secs(2));
            if let Ok(metadata) = metadata
                && metadata
                    .topics()
                    .iter()
                    .any(|t| t.name() == topic && t.partitions().len() == partitions as usize)
            {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(Failure::new(format!(
                    "the broker did not list topic {topic} with {partitions} partitions within \
                     {:?} of creating it",
                    scaled(REQUEST)
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Produces one record to `partition` and returns its offset.
    pub async fn produce(
        &self,
        topic: &str,
        partition: i32,
        key: &str,
        payload: &[u8],
    ) -> Result<i64, Failure> {
        let record = FutureRecord::to(topic)
            .partition(partition)
            .key(key)
            .payload(payload);
        match self.producer.send(record, REQUEST).await {
            Ok(delivery) if delivery.partition == partition => Ok(delivery.offset),
            Ok(delivery) => Err(Failure::new(format!(
                "the broker stored a record for partition {partition} in partition {}",
                delivery.partition
            ))),
            Err((error, _)) => Err(Failure::new(format!(
                "the grader could not produce to {topic}/{partition}: {error}"
            ))),
        }
    }

    /// The end offset (high watermark) of each partition of `topic`.
    pub async fn end_offsets(&self, topic: &str, partitions: i32) -> Result<Vec<i64>, Failure> {
        let consumer = self.reader("end-offsets")?;
        let topic = topic.to_owned();
        blocking(move || {
            (0..partitions)
                .map(|p| {
                    consumer
                        .fetch_watermarks(&topic, p, REQUEST)
                        .map(|(_, high)| high)
                        .map_err(kafka_error("read a partition's end offset"))
                })
                .collect()
        })
        .await
    }

    /// A watcher of `group`'s committed offsets on `topic`. It never joins the group.
    pub fn committed_watcher(
        &self,
        group: &str,
        topic: &str,
        partitions: i32,
    ) -> Result<Committed, Failure> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .map_err(kafka_error("create a client that reads committed offsets"))?;
        Ok(Committed {
            consumer: std::sync::Arc::new(consumer),
            topic: topic.to_owned(),
            partitions,
        })
    }

    /// Every record of `topic`, read from the start up to the end offsets it has now.
    pub async fn read_all(&self, topic: &str, partitions: i32) -> Result<Vec<Record>, Failure> {
        let ends = self.end_offsets(topic, partitions).await?;
        let consumer = self.reader("read-all")?;
        let topic = topic.to_owned();
        blocking(move || {
            let mut assignment = TopicPartitionList::new();
            for p in 0..partitions {
                assignment
                    .add_partition_offset(&topic, p, Offset::Beginning)
                    .map_err(kafka_error("assign a partition"))?;
            }
            consumer
                .assign(&assignment)
                .map_err(kafka_error("assign the partitions to read"))?;
            let mut next: Vec<i64> = vec![0; partitions as usize];
            let mut records = Vec::new();
            let deadline = std::time::Instant::now() + scaled(REQUEST);
            while next.iter().zip(&ends).any(|(n, end)| n < end) {
                if std::time::Instant::now() > deadline {
                    return Err(Failure::new(format!(
                        "read {} records of {topic} in {:?}, expected up to the end offsets \
                         {ends:?}",
                        records.len(),
                        scaled(REQUEST)
                    )));
                }
                let Some(message) = consumer.poll(Duration::from_millis(200)) else {
                    continue;
                };
                let message = message.map_err(kafka_error("read a topic"))?;
                let partition = message.partition();
                next[partition as usize] = message.offset() + 1;
                let headers = message
                    .headers()
                    .map(|headers| {
                        headers
                            .iter()
                            .map(|h| {
                                let value =
                                    h.value.map(String::from_utf8_lossy).unwrap_or_default();
                                (h.key.to_owned(), value.into_owned())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                records.push(Record {
                    key: message.key().map(<[u8]>::to_vec),
                    payload: message.payload().map(<[u8]>::to_vec),
                    headers,
                });
            }
            Ok(records)
        })
        .await
    }

    /// A consumer that reads by assignment, outside any group of the attempt's.
    fn reader(&self, purpose: &str) -> Result<BaseConsumer, Failure> {
        ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", name(&format!("grade-{purpose}")))
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .create()
            .map_err(kafka_error("create a reader"))
    }
}

impl Drop for Kafka {
    fn drop(&mut self) {
        if self.created.is_empty() {
            return;
        }
        // Best effort: rdkafka's futures run on any executor, so this does not need the
        // check's runtime, which may be shutting down.
        let topics: Vec<&str> = self.created.iter().map(String::as_str).collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(5)));
        let _ = futures::executor::block_on(self.admin.delete_topics(&topics, &options));
    }
}

/// Reads a group's committed offsets without joining the group.
#[derive(Clone)]
pub struct Committed {
    consumer: std::sync::Arc<BaseConsumer>,
    topic: String,
    partitions: i32,
}

impl Committed {
    /// The committed offset of each partition (`None`: nothing committed yet).
    pub async fn read(&self) -> Result<Vec<Option<i64>>, Failure> {
        let this = self.clone();
        blocking(move || {
            let mut tpl = TopicPartitionList::new();
            for p in 0..this.partitions {
                tpl.add_partition(&this.topic, p);
            }
            let committed = this
                .consumer
                .committed_offsets(tpl, REQUEST)
                .map_err(kafka_error("read the group's committed offsets"))?;
            Ok((0..this.partitions)
                .map(
                    |p| match committed.find_partition(&this.topic, p).map(|e| e.offset()) {
                        Some(Offset::Offset(offset)) => Some(offset),
                        _ => None,
                    },
                )
                .collect())
        })
        .await
    }
}

/// Runs a blocking librdkafka call off the check's runtime threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|error| Failure::new(format!("a Kafka call of the grader panicked: {error}")))?
}
