//! [`KafkaConsumer`]: at-least-once delivery from a consumer group, or from partitions
//! the consumer assigns itself.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Mutex,
    time::Duration,
};

use async_trait::async_trait;
use commerce_core::{
    events::{AggregateType, EventEnvelope},
    ports::{Delivery, EventConsumer, EventError},
};
use rdkafka::{
    ClientConfig, Message, Offset, TopicPartitionList,
    consumer::{CommitMode, Consumer, StreamConsumer},
    message::{Header, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
};

use super::{Brokers, READ_MODEL_AGGREGATES, dead_letter_topic, dead_letters, receive, topic, unavailable};

/// Kafka's default session timeout: a broker silent for less than this (a restart, a
/// network blip) costs no rebalance, on either side.
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(45);

#[derive(Default)]
struct Pending {
    next_tag: u64,
    /// Unacknowledged deliveries: tag -> (topic, partition, offset).
    delivered: BTreeMap<u64, (String, i32, i64)>,
}

/// The consumer settings shared by group members and self-assigned readers.
fn consumer_config(brokers: &Brokers, group: &str, session_timeout: Duration) -> ClientConfig {
    let mut config = brokers.config();
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", session_timeout.as_millis().to_string())
        // Low projection lag: a broker answers a fetch as soon as anything arrives.
        .set("fetch.wait.max.ms", "20");
    config
}

/// A consumer group member delivering events at least once.
pub struct KafkaConsumer {
    pub(crate) consumer: StreamConsumer,
    dead_letters: FutureProducer,
    dead_letter_topic: String,
    /// The group, named on what it parks.
    group: String,
    pending: Mutex<Pending>,
    /// Per partition, the offset after the last acknowledged message.
    pub(crate) acked: Mutex<HashMap<(String, i32), i64>>,
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
        let consumer: StreamConsumer =
            consumer_config(&brokers, group, session_timeout).create().map_err(|e| unavailable(&e))?;
        let names: Vec<String> = aggregates.iter().map(|a| topic(prefix, *a)).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        consumer.subscribe(&refs).map_err(|e| unavailable(&e))?;
        Self::with_consumer(&brokers, consumer, prefix, group)
    }

    /// Reads every partition of the topics of `aggregates` under `prefix` itself, without
    /// joining `group`: no join and no rebalance, so events flow from the first poll (a
    /// group join holds the first events back about a second, and tansu has no static
    /// membership to spare a restart one). Offsets are still committed to `group`, and
    /// reading starts from them. For one consumer per group (a single projector): two would
    /// each read everything. Partitions added to a topic later are read after a restart.
    ///
    /// Fails (`Unavailable`) when the broker does not answer or a topic does not exist yet.
    pub fn assigned(
        brokers: impl Into<Brokers>,
        prefix: &str,
        group: &str,
        aggregates: &[AggregateType],
    ) -> Result<Self, EventError> {
        let brokers = brokers.into();
        let consumer: StreamConsumer =
            consumer_config(&brokers, group, DEFAULT_SESSION_TIMEOUT).create().map_err(|e| unavailable(&e))?;
        let mut partitions = TopicPartitionList::new();
        for aggregate in aggregates {
            let name = topic(prefix, *aggregate);
            let metadata = consumer
                .fetch_metadata(Some(&name), Timeout::After(Duration::from_secs(10)))
                .map_err(|e| unavailable(&e))?;
            let found: Vec<i32> = metadata
                .topics()
                .iter()
                .filter(|t| t.name() == name)
                .flat_map(rdkafka::metadata::MetadataTopic::partitions)
                .map(rdkafka::metadata::MetadataPartition::id)
                .collect();
            if found.is_empty() {
                return Err(EventError::Unavailable(format!("topic {name} has no partitions yet")));
            }
            for partition in found {
                // No offset: librdkafka starts from the group's committed one (or the earliest).
                partitions.add_partition(&name, partition);
            }
        }
        consumer.assign(&partitions).map_err(|e| unavailable(&e))?;
        Self::with_consumer(&brokers, consumer, prefix, group)
    }

    fn with_consumer(
        brokers: &Brokers,
        consumer: StreamConsumer,
        prefix: &str,
        group: &str,
    ) -> Result<Self, EventError> {
        let dead_letters = brokers.idempotent_producer().create().map_err(|e| unavailable(&e))?;
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
