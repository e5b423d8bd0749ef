//! Metrics: the Prometheus registry, the `GET /metrics` endpoint, and the task that keeps the lag
//! gauge fresh.
//!
//! - `kafka_consumer_lag{partition="<n>"}`: the partition's end offset (high watermark) minus
//!   the group's committed offset, for each partition this process owns. The series of a
//!   partition goes when the partition is revoked: a stale series would show lag that is
//!   somebody else's to work off.
//! - `kafka_consumer_processing_seconds`: a histogram of the time from receiving a message to
//!   being done with it (applied, duplicate or dead-lettered); its `_count` is the number of
//!   messages this process finished.
//!
//! Lag is measured by a task of its own, against the broker, every `metrics_interval`: the
//! processing loop may be stuck on one message (a slow dependency, a retry backoff), and a
//! stuck consumer is precisely when lag must keep moving.
//!
//! It also asks through a Kafka client of its own, the [`LagProbe`], rather than through the
//! consumer. A broker answers the requests of one connection in order, and the consumer's
//! connection to a partition leader is mostly busy with long-poll fetches, each held by the
//! broker up to `fetch.wait.max.ms` (500 ms) when there is nothing new to send. A watermark
//! query sent on that connection waits its turn behind them: half a second per partition,
//! whatever the refresh interval says.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaResult;
use rdkafka::{Offset, TopicPartitionList};
use tokio::net::TcpListener;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::rebalance::Context;
use crate::{Config, kafka};

/// How long one broker query of the lag refresher may take.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// The `partition` label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartitionLabel {
    partition: i32,
}

/// The registry and the metrics in it.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    lag: Family<PartitionLabel, Gauge>,
    processing: Histogram,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let lag = Family::<PartitionLabel, Gauge>::default();
        // 1 ms to about 33 s: an instant apply, up to a message that waited through several
        // doubling retry backoffs.
        let processing = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        let mut registry = Registry::default();
        registry.register(
            "kafka_consumer_lag",
            "End offset minus the group's committed offset, per partition this process owns",
            lag.clone(),
        );
        registry.register(
            "kafka_consumer_processing_seconds",
            "Time from receiving a message to being done with it",
            processing.clone(),
        );
        Self {
            registry,
            lag,
            processing,
        }
    }

    /// Records that one message was finished, `elapsed` after it was received.
    pub(crate) fn observe_processing(&self, elapsed: Duration) {
        self.processing.observe(elapsed.as_secs_f64());
    }

    pub(crate) fn set_lag(&self, partition: i32, lag: i64) {
        self.lag
            .get_or_create(&PartitionLabel { partition })
            .set(lag);
    }

    /// Removes the lag series of a partition this process no longer owns.
    pub(crate) fn forget_partition(&self, partition: i32) {
        self.lag.remove(&PartitionLabel { partition });
    }

    /// The registry in the text exposition format.
    fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// Serves `GET /metrics` on `listener` until `stop` is cancelled.
pub(crate) async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(render))
        .with_state(metrics);
    axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
}

async fn render(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.encode(),
    )
}

/// Measures lag on a client of its own (see the module docs), for the partitions the consumer
/// owns.
pub(crate) struct LagProbe {
    client: BaseConsumer,
    /// The consumer's context: which partitions it owns, and where their gauges are set.
    owner: Arc<Context>,
}

impl LagProbe {
    /// A client in `config.group` that never subscribes: it only reads the group's committed
    /// offsets and the partitions' watermarks.
    pub(crate) fn new(config: &Config, owner: Arc<Context>) -> KafkaResult<Self> {
        let client = kafka::consumer_config(config).create()?;
        Ok(Self { client, owner })
    }

    /// Asks the broker for the end offset and the group's committed offset of each partition
    /// the consumer owns, and sets their gauges to `end - committed`. Blocks until the broker
    /// answers.
    fn measure(&self) -> KafkaResult<()> {
        let topic = self.owner.topic();
        let owned = self.owner.owned();
        if owned.is_empty() {
            return Ok(());
        }
        let mut wanted = TopicPartitionList::new();
        for &partition in &owned {
            wanted.add_partition(topic, partition);
        }
        // The group's committed offsets as the broker has them (not what the consumer
        // believes it committed): that is where a new owner would resume. Read before the
        // end offsets, which only grow: a commit in between overstates the lag for one round
        // instead of making it negative.
        let committed = self.client.committed_offsets(wanted, QUERY_TIMEOUT)?;
        let mut lags = Vec::with_capacity(owned.len());
        for element in committed.elements() {
            let (low, high) =
                self.client
                    .fetch_watermarks(topic, element.partition(), QUERY_TIMEOUT)?;
            // With nothing committed yet, the group starts at the earliest offset
            // (`auto.offset.reset = earliest`): all of the partition is still to do.
            let committed = match element.offset() {
                Offset::Offset(offset) => offset,
                _ => low,
            };
            lags.push((element.partition(), high - committed));
        }
        self.owner.set_lags(&lags);
        Ok(())
    }
}

/// Refreshes the lag gauges every `interval`, until `stop` is cancelled.
pub(crate) async fn refresh_lag(probe: LagProbe, interval: Duration, stop: CancellationToken) {
    let probe = Arc::new(probe);
    let mut ticks = tokio::time::interval(interval);
    // After a slow round of queries, carry on at the interval instead of firing a burst.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        // librdkafka's queries block the calling thread until the broker answers: keep them
        // off the runtime's worker threads.
        let round = Arc::clone(&probe);
        match tokio::task::spawn_blocking(move || round.measure()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("measuring lag failed: {error}"),
            Err(error) => eprintln!("measuring lag panicked: {error}"),
        }
    }
}
