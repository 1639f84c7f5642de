//! The dead-letter topic, collected into a [`DeadLetterStore`] so operators list, replay
//! and discard parked events in one place instead of reading the broker by hand.

use std::{sync::Arc, time::Duration};

use commerce_core::{
    Timestamp,
    deadletter::{ParkedContent, ParkedEvent},
    events::EventEnvelope,
    ports::{Clock, DeadLetterStore, EventError},
};
use rdkafka::{
    Message as _,
    consumer::{CommitMode, Consumer as _, StreamConsumer},
    message::BorrowedMessage,
};

use crate::{Brokers, dead_letter_topic, header, unavailable};

/// The header naming why a message was parked.
pub(crate) const REASON: &str = "reason";
/// The header naming the consumer group that parked it.
pub(crate) const CONSUMER: &str = "consumer";

/// Reads `<prefix>.dlq` as a consumer group and parks each message in a store, then
/// commits. A message collected twice (a crash before the commit) is parked once: its
/// key, `<topic>/<partition>/<offset>`, is the letter's source.
pub struct DeadLetterCollector {
    consumer: StreamConsumer,
    store: Arc<dyn DeadLetterStore>,
    clock: Arc<dyn Clock>,
    wait: Duration,
}

impl std::fmt::Debug for DeadLetterCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetterCollector").finish_non_exhaustive()
    }
}

impl DeadLetterCollector {
    /// Joins `group` on the dead-letter topic under `prefix`, parking into `store`.
    /// `clock` dates a message the broker did not timestamp.
    pub fn new(
        brokers: impl Into<Brokers>,
        prefix: &str,
        group: &str,
        store: Arc<dyn DeadLetterStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, EventError> {
        let consumer: StreamConsumer = brokers
            .into()
            .config()
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .create()
            .map_err(|e| unavailable(&e))?;
        consumer.subscribe(&[&dead_letter_topic(prefix)]).map_err(|e| unavailable(&e))?;
        Ok(Self { consumer, store, clock, wait: Duration::from_millis(500) })
    }

    /// Parks what arrived (up to `max` messages) and commits past them. Returns how many
    /// letters were new.
    pub async fn step(&self, max: usize) -> Result<usize, EventError> {
        let mut parked = 0;
        let mut wait = self.wait;
        for _ in 0..max {
            let Ok(received) = tokio::time::timeout(wait, self.consumer.recv()).await else { break };
            wait = Duration::from_millis(5);
            let message = received.map_err(|e| unavailable(&e))?;
            let letter = self.letter(&message);
            if self.store.park(&letter).await.map_err(|e| EventError::Unavailable(e.to_string()))? {
                tracing::warn!(source = %letter.source, reason = %letter.reason, "dead letter collected");
                parked += 1;
            }
            self.consumer.commit_message(&message, CommitMode::Async).map_err(|e| unavailable(&e))?;
        }
        Ok(parked)
    }

    fn letter(&self, message: &BorrowedMessage<'_>) -> ParkedEvent {
        let payload = message.payload().unwrap_or_default();
        let content = match serde_json::from_slice::<EventEnvelope>(payload) {
            Ok(event) => ParkedContent::Event(Box::new(event)),
            Err(_) => ParkedContent::Undecodable(String::from_utf8_lossy(payload).into_owned()),
        };
        let key = message.key().map(|k| String::from_utf8_lossy(k).into_owned());
        ParkedEvent {
            // Parked before keys were set: the dead-letter topic's own position.
            source: key.unwrap_or_else(|| format!("{}/{}/{}", message.topic(), message.partition(), message.offset())),
            consumer: header(message, CONSUMER),
            reason: header(message, REASON).unwrap_or_else(|| "no reason given".into()),
            parked_at: message
                .timestamp()
                .to_millis()
                .map_or_else(|| self.clock.now(), |ms| Timestamp::from_unix_micros(ms.saturating_mul(1000))),
            content,
        }
    }
}
