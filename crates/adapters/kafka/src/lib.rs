//! # commerce-kafka
//!
//! Domain events on a Kafka-protocol broker (Apache Kafka, Redpanda, or tansu in
//! development) with rdkafka:
//!
//! - [`KafkaPublisher`] (`EventPublisher`): the idempotent producer (`acks=all`),
//!   one topic per aggregate type (`<prefix>.product`, `.collection`, `.stock`,
//!   `.order`, `.restock`), keyed by aggregate id so one aggregate's events stay
//!   ordered in one partition. `publish` returns once the broker acknowledged every event.
//! - [`KafkaConsumer`] (`EventConsumer`): a consumer group with auto-commit off.
//!   Offsets are committed only by `ack` (asynchronously, so a silent broker never
//!   blocks the runtime), after the handler's effect is durable;
//!   deliveries not acknowledged are delivered again on the next poll (the
//!   consumer seeks back). A payload that does not decode goes to the dead-letter
//!   topic `<prefix>.dlq` and is skipped, so it never blocks its partition; so does
//!   an event its handler refuses (`dead_letter`), with the reason in a header.
//! - [`ensure_topics`]: creates the topics (brokers with auto-creation off, tansu
//!   included, need it).

mod connection;
mod consumer;
mod dead_letters;
mod lag;

pub use connection::{Brokers, KafkaTls};
pub use consumer::{DEFAULT_SESSION_TIMEOUT, KafkaConsumer};
pub use dead_letters::DeadLetterCollector;
pub use lag::PartitionLag;

use std::{sync::RwLock, time::Duration};

use async_trait::async_trait;
use commerce_core::{
    events::{AggregateType, EventEnvelope},
    ports::{EventError, EventPublisher},
};
use rdkafka::{
    Message,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    error::KafkaError,
    message::{Header, Headers as _, OwnedHeaders},
    producer::{FutureProducer, FutureRecord, Producer as _},
    types::RDKafkaErrorCode,
    util::Timeout,
};
use tracing::Instrument as _;

const AGGREGATES: [AggregateType; 5] = [
    AggregateType::Product,
    AggregateType::Collection,
    AggregateType::Stock,
    AggregateType::Order,
    AggregateType::Restock,
];

/// The topics a read model consumes (every aggregate but restocks, which only the
/// inventory service reads).
pub const READ_MODEL_AGGREGATES: [AggregateType; 4] =
    [AggregateType::Product, AggregateType::Collection, AggregateType::Stock, AggregateType::Order];

/// The topic of an aggregate type: `<prefix>.<aggregate>`.
pub fn topic(prefix: &str, aggregate: AggregateType) -> String {
    format!("{prefix}.{}", aggregate.as_str())
}

/// The dead-letter topic.
pub fn dead_letter_topic(prefix: &str) -> String {
    format!("{prefix}.dlq")
}

/// Every topic the toolkit uses under `prefix`.
pub fn topics(prefix: &str) -> Vec<String> {
    let mut all: Vec<String> = AGGREGATES.iter().map(|a| topic(prefix, *a)).collect();
    all.push(dead_letter_topic(prefix));
    all
}

fn unavailable(e: &KafkaError) -> EventError {
    EventError::Unavailable(e.to_string())
}

/// Creates every topic under `prefix` with `partitions` partitions (already existing ones are fine).
pub async fn ensure_topics(brokers: impl Into<Brokers>, prefix: &str, partitions: i32) -> Result<(), EventError> {
    let admin: AdminClient<DefaultClientContext> = brokers.into().config().create().map_err(|e| unavailable(&e))?;
    let names = topics(prefix);
    let new: Vec<NewTopic<'_>> =
        names.iter().map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(1))).collect();
    let results = admin
        .create_topics(&new, &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))))
        .await
        .map_err(|e| unavailable(&e))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => return Err(EventError::Unavailable(format!("creating topic {name}: {code}"))),
        }
    }
    Ok(())
}

/// [`ensure_topics`], retried with back-off until the broker answers: services start
/// before (or while) their broker does.
pub async fn ensure_topics_patiently(brokers: impl Into<Brokers>, prefix: &str, partitions: i32) {
    let brokers = brokers.into();
    let mut wait = Duration::from_millis(200);
    while let Err(e) = ensure_topics(&brokers, prefix, partitions).await {
        tracing::warn!(error = %e, "creating topics failed; retrying");
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

/// Publishes events to their aggregate's topic with the idempotent producer.
///
/// A broker unreachable for longer than the message timeout makes librdkafka bump the
/// idempotent producer's epoch when it returns; some brokers (tansu) answer that with
/// `PRODUCER_FENCED`, which is fatal to the producer. The publisher then replaces its
/// producer (a new producer id) and the caller's retry goes through: a relay recovers
/// from a broker outage without a restart. Republished events are harmless, consumers
/// being idempotent by aggregate version.
pub struct KafkaPublisher {
    producer: RwLock<FutureProducer>,
    brokers: Brokers,
    prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for KafkaPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaPublisher").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl KafkaPublisher {
    /// A publisher to `brokers` (`host:port,...`, or [`Brokers`] with TLS) under topic `prefix`.
    pub fn new(brokers: impl Into<Brokers>, prefix: &str) -> Result<Self, EventError> {
        let brokers = brokers.into();
        Ok(Self {
            producer: RwLock::new(Self::producer(&brokers)?),
            brokers,
            prefix: prefix.to_owned(),
            timeout: Duration::from_secs(10),
        })
    }

    fn producer(brokers: &Brokers) -> Result<FutureProducer, EventError> {
        brokers
            .idempotent_producer()
            .set("acks", "all")
            .set("message.timeout.ms", "10000")
            .create()
            .map_err(|e| unavailable(&e))
    }

    /// Replaces a producer the broker fenced or librdkafka gave up on (a fatal error).
    fn renew_if_dead(&self, failed: &FutureProducer, error: &KafkaError) {
        let fenced = matches!(
            error.rdkafka_error_code(),
            Some(RDKafkaErrorCode::ProducerFenced | RDKafkaErrorCode::InvalidProducerEpoch)
        );
        let fatal = failed.client().fatal_error();
        if !fenced && fatal.is_none() {
            return;
        }
        match Self::producer(&self.brokers) {
            Ok(fresh) => {
                tracing::warn!(%error, ?fatal, "the broker fenced the producer; continuing with a new one");
                *self.producer.write().unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
            }
            Err(e) => tracing::error!(error = %e, "replacing a fenced producer failed"),
        }
    }
}

#[async_trait]
impl EventPublisher for KafkaPublisher {
    async fn publish(&self, events: &[EventEnvelope]) -> Result<(), EventError> {
        let encoded: Vec<(String, String, Vec<u8>, OwnedHeaders, tracing::Span)> = events
            .iter()
            .map(|e| {
                let payload = serde_json::to_vec(e).map_err(|err| EventError::Rejected(err.to_string()))?;
                let (span, headers) = publish_span(e);
                Ok((topic(&self.prefix, e.aggregate_type), e.aggregate_id.to_string(), payload, headers, span))
            })
            .collect::<Result<_, EventError>>()?;
        let producer = self.producer.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let sends = encoded.iter().map(|(topic, key, payload, headers, span)| {
            let record = FutureRecord::to(topic).key(key).payload(payload).headers(headers.clone());
            producer.send(record, Timeout::After(self.timeout)).instrument(span.clone())
        });
        for result in futures::future::join_all(sends).await {
            if let Err((e, _)) = result {
                self.renew_if_dead(&producer, &e);
                return Err(unavailable(&e));
            }
        }
        Ok(())
    }
}

/// The span of one event's publication, a child of the work that wrote the event (its
/// stored `traceparent`, else the current span), and the headers naming it to consumers.
fn publish_span(event: &EventEnvelope) -> (tracing::Span, OwnedHeaders) {
    let span = tracing::info_span!("publish", event_type = event.event.type_name(), event_id = %event.event_id);
    commerce_telemetry::continue_from(&span, event.traceparent.as_deref());
    let headers = match commerce_telemetry::traceparent(&span) {
        Some(tp) => OwnedHeaders::new().insert(Header { key: commerce_telemetry::TRACEPARENT, value: Some(&tp) }),
        None => OwnedHeaders::new(),
    };
    (span, headers)
}

/// The text of `message`'s header `name` (lossily decoded), when it has one.
fn header(message: &rdkafka::message::BorrowedMessage<'_>, name: &str) -> Option<String> {
    let headers = message.headers()?;
    let value = headers.iter().find(|h| h.key == name)?.value?;
    Some(String::from_utf8_lossy(value).into_owned())
}

/// The span of one received event, a child of its publication, so the consumer's
/// process joins the trace. The event keeps that context for whoever handles it.
fn receive(message: &rdkafka::message::BorrowedMessage<'_>, envelope: &mut EventEnvelope) {
    let header = header(message, commerce_telemetry::TRACEPARENT);
    let span = tracing::info_span!(
        "receive",
        event_type = envelope.event.type_name(),
        event_id = %envelope.event_id,
        topic = message.topic(),
        partition = message.partition(),
        offset = message.offset(),
    );
    commerce_telemetry::continue_from(&span, header.as_deref().or(envelope.traceparent.as_deref()));
    if let Some(tp) = commerce_telemetry::traceparent(&span) {
        envelope.traceparent = Some(tp);
    }
}
