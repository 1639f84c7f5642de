//! A broker consumer's lag on `/metrics`, per partition it owns.

use std::{sync::Arc, time::Duration};

use commerce_http::metrics::Metrics;
use commerce_kafka::KafkaConsumer;
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{family::Family, gauge::Gauge},
};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Partition {
    group: String,
    topic: String,
    partition: i32,
}

/// Registers `commerce_consumer_lag_messages{group,topic,partition}` on `metrics` and
/// refreshes it from `consumer` every 5 s until `stop`. Partitions the member no longer
/// owns disappear from it (their new owner reports them).
pub fn spawn_consumer_lag(
    consumer: Arc<KafkaConsumer>,
    group: &str,
    metrics: &Metrics,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let lag = Family::<Partition, Gauge>::default();
    metrics.register(
        "consumer_lag_messages",
        "Messages on a partition this consumer owns that it has not acknowledged yet",
        lag.clone(),
    );
    let group = group.to_owned();
    tokio::spawn(async move {
        loop {
            let reading = consumer.clone();
            match tokio::task::spawn_blocking(move || reading.lag()).await {
                Ok(Ok(partitions)) => {
                    lag.clear();
                    for p in partitions {
                        let labels = Partition { group: group.clone(), topic: p.topic, partition: p.partition };
                        lag.get_or_create(&labels).set(p.messages);
                    }
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "reading the consumer's lag failed"),
                Err(e) => tracing::warn!(error = %e, "the consumer's lag reader stopped"),
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(5)) => {}
                () = stop.cancelled() => return,
            }
        }
    })
}
