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
mod dead_letters;
mod lag;

pub use connection::{Brokers, KafkaTls};
pub use dead_letters::DeadLetterCollector;
pub use lag::PartitionLag;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Mutex, RwLock},
    time::Duration,
};

use async_trait::async_trait;
use commerce_core::{
    events::{AggregateType, EventEnvelope},
    ports::{Delivery, EventConsumer, EventError, EventPublisher},
};
use rdkafka::{
    Message, Offset, TopicPartitionList,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    consumer::{CommitMode, Consumer, StreamConsumer},
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
            .config()
            .set("enable.idempotence", "true")
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

/// Kafka's default session timeout: a broker silent for less than this (a restart, a
/// network blip) costs no rebalance, on either side.
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(45);

#[derive(Default)]
struct Pending {
    next_tag: u64,
    /// Unacknowledged deliveries: tag -> (topic, partition, offset).
    delivered: BTreeMap<u64, (String, i32, i64)>,
}

/// A consumer group member delivering events at least once.
pub struct KafkaConsumer {
    consumer: StreamConsumer,
    dead_letters: FutureProducer,
    dead_letter_topic: String,
    /// The group, named on what it parks.
    group: String,
    pending: Mutex<Pending>,
    /// Per partition, the offset after the last acknowledged message.
    acked: Mutex<HashMap<(String, i32), i64>>,
    wait: Duration,
}

impl std::fmt::Debug for KafkaConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConsumer").field("dead_letter_topic", &self.dead_letter_topic).finish_non_exhaustive()
    }
}

impl KafkaConsumer {
    /// Joins `group` on the read model's topics under `prefix` ([`READ_MODEL_AGGREGATES`]).
    /// A new group starts at the beginning of the topics (`projector rebuild` relies on
    /// it). The session timeout is [`DEFAULT_SESSION_TIMEOUT`].
    pub fn new(brokers: impl Into<Brokers>, prefix: &str, group: &str) -> Result<Self, EventError> {
        Self::with_session_timeout(brokers, prefix, group, DEFAULT_SESSION_TIMEOUT)
    }

    /// [`KafkaConsumer::new`] with another session timeout: how long the broker waits for
    /// a silent member (a crashed process) before handing its partitions to the others,
    /// and how long a broker may stay silent before this member gives them up.
    pub fn with_session_timeout(
        brokers: impl Into<Brokers>,
        prefix: &str,
        group: &str,
        session_timeout: Duration,
    ) -> Result<Self, EventError> {
        Self::subscribed(brokers, prefix, group, &READ_MODEL_AGGREGATES, session_timeout)
    }

    /// Joins `group` on the topics of `aggregates` under `prefix` (the inventory service
    /// reads only [`AggregateType::Restock`]).
    pub fn subscribed(
        brokers: impl Into<Brokers>,
        prefix: &str,
        group: &str,
        aggregates: &[AggregateType],
        session_timeout: Duration,
    ) -> Result<Self, EventError> {
        let brokers = brokers.into();
        let session_ms = session_timeout.as_millis().to_string();
        let consumer: StreamConsumer = brokers
            .config()
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", &session_ms)
            // Low projection lag: a broker answers a fetch as soon as anything arrives.
            .set("fetch.wait.max.ms", "20")
            .create()
            .map_err(|e| unavailable(&e))?;
        let names: Vec<String> = aggregates.iter().map(|a| topic(prefix, *a)).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        consumer.subscribe(&refs).map_err(|e| unavailable(&e))?;
        let dead_letters = brokers.config().set("enable.idempotence", "true").create().map_err(|e| unavailable(&e))?;
        Ok(Self {
            consumer,
            dead_letters,
            dead_letter_topic: dead_letter_topic(prefix),
            group: group.to_owned(),
            pending: Mutex::new(Pending::default()),
            acked: Mutex::default(),
            wait: Duration::from_millis(500),
        })
    }

    /// Sends `payload`, received at `(topic, partition, offset)`, to the dead-letter topic,
    /// keyed `<topic>/<partition>/<offset>` and with `reason` in a header.
    async fn park(
        &self,
        (topic, partition, offset): (&str, i32, i64),
        payload: &[u8],
        reason: &str,
    ) -> Result<(), EventError> {
        let key = format!("{topic}/{partition}/{offset}");
        let headers = OwnedHeaders::new()
            .insert(Header { key: dead_letters::REASON, value: Some(reason) })
            .insert(Header { key: dead_letters::CONSUMER, value: Some(&self.group) });
        self.dead_letters
            .send(
                FutureRecord::to(&self.dead_letter_topic).key(&key).payload(payload).headers(headers),
                Timeout::After(Duration::from_secs(10)),
            )
            .await
            .map(|_| ())
            .map_err(|(e, _)| unavailable(&e))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The partitions this member owns now.
    fn owned(&self) -> Result<HashSet<(String, i32)>, EventError> {
        let list = self.consumer.assignment().map_err(|e| unavailable(&e))?;
        Ok(list.elements().iter().map(|e| (e.topic().to_owned(), e.partition())).collect())
    }

    /// Forgets deliveries from partitions a rebalance gave to another member: their new
    /// owner receives them again from the last committed offset, and seeking them here
    /// fails (which blocked every later poll) while committing them could move the new
    /// owner's position.
    fn forget_revoked(&self) -> Result<(), EventError> {
        let owned = self.owned()?;
        let mut pending = self.lock();
        let before = pending.delivered.len();
        pending.delivered.retain(|_, (topic, partition, _)| owned.contains(&(topic.clone(), *partition)));
        let forgotten = before - pending.delivered.len();
        if forgotten > 0 {
            tracing::info!(forgotten, "deliveries of revoked partitions left to their new owner");
        }
        Ok(())
    }

    /// Rewinds every partition with unacknowledged deliveries to the first of them, so
    /// they are delivered again. Their earlier tags stay valid for `ack`. Returns
    /// whether it moved any partition.
    fn rewind(&self) -> Result<bool, EventError> {
        self.forget_revoked()?;
        let mut firsts: HashMap<(String, i32), i64> = HashMap::new();
        for (topic, partition, offset) in self.lock().delivered.values() {
            let first = firsts.entry((topic.clone(), *partition)).or_insert(*offset);
            *first = (*first).min(*offset);
        }
        let rewound = !firsts.is_empty();
        for ((topic, partition), offset) in firsts {
            self.consumer
                .seek(&topic, partition, Offset::Offset(offset), Timeout::After(Duration::from_secs(5)))
                .map_err(|e| unavailable(&e))?;
        }
        Ok(rewound)
    }
}

#[async_trait]
impl EventConsumer for KafkaConsumer {
    async fn poll(&self, max: usize) -> Result<Vec<Delivery>, EventError> {
        // A rewind drops what librdkafka had fetched: allow time to fetch it again.
        let mut wait = if self.rewind()? { self.wait * 6 } else { self.wait };
        let mut batch = vec![];
        while batch.len() < max {
            let Ok(received) = tokio::time::timeout(wait, self.consumer.recv()).await else { break };
            // After the first message, take only what is already buffered.
            wait = Duration::from_millis(5);
            let message = received.map_err(|e| unavailable(&e))?;
            let (topic, partition, offset) = (message.topic().to_owned(), message.partition(), message.offset());
            let payload = message.payload().unwrap_or_default();
            let tag = {
                let mut pending = self.lock();
                pending.next_tag += 1;
                let tag = pending.next_tag;
                pending.delivered.insert(tag, (topic.clone(), partition, offset));
                tag
            };
            match serde_json::from_slice::<EventEnvelope>(payload) {
                Ok(mut envelope) => {
                    receive(&message, &mut envelope);
                    batch.push(Delivery { tag, envelope });
                }
                Err(e) => {
                    // A poison message must not stop the partition: park it and move on. It is
                    // acknowledged with the deliveries around it.
                    tracing::warn!(%topic, partition, offset, error = %e, "undecodable event sent to the dead-letter topic");
                    self.park((&topic, partition, offset), payload, &format!("does not decode: {e}")).await?;
                    if batch.is_empty() {
                        // Nothing to hand out before it: acknowledge it now.
                        self.ack(tag).await?;
                    }
                }
            }
        }
        Ok(batch)
    }

    async fn ack(&self, tag: u64) -> Result<(), EventError> {
        let mut next: HashMap<(String, i32), i64> = HashMap::new();
        {
            let mut pending = self.lock();
            let acked: Vec<u64> = pending.delivered.range(..=tag).map(|(t, _)| *t).collect();
            for t in acked {
                if let Some((topic, partition, offset)) = pending.delivered.remove(&t) {
                    let n = next.entry((topic, partition)).or_insert(offset + 1);
                    *n = (*n).max(offset + 1);
                }
            }
            // Redelivered copies of what is now acknowledged are acknowledged too.
            pending.delivered.retain(|_, (topic, partition, offset)| {
                next.get(&(topic.clone(), *partition)).is_none_or(|committed| *offset >= *committed)
            });
        }
        // Only partitions still owned: another member now commits the revoked ones.
        let owned = self.owned()?;
        next.retain(|key, _| owned.contains(key));
        if next.is_empty() {
            return Ok(());
        }
        let mut list = TopicPartitionList::new();
        for ((topic, partition), offset) in &next {
            list.add_partition_offset(topic, *partition, Offset::Offset(*offset)).map_err(|e| unavailable(&e))?;
        }
        self.acked.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(next);
        // Asynchronous: a synchronous commit blocks the thread (and with it the async
        // runtime) for as long as the broker does not answer. The effect is durable already;
        // a commit lost to a crash only means a redelivery, which the handler ignores.
        self.consumer.commit(&list, CommitMode::Async).map_err(|e| unavailable(&e))
    }

    async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> Result<(), EventError> {
        let Some((topic, partition, offset)) = self.lock().delivered.get(&delivery.tag).cloned() else {
            return Err(EventError::Rejected(format!("delivery {} is not pending", delivery.tag)));
        };
        let payload = serde_json::to_vec(&delivery.envelope).map_err(|e| EventError::Rejected(e.to_string()))?;
        tracing::warn!(%topic, partition, offset, event_id = %delivery.envelope.event_id, reason, "event refused by its handler sent to the dead-letter topic");
        self.park((&topic, partition, offset), &payload, reason).await
    }
}
