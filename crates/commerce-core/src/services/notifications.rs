//! Sending customers their order messages, once per event.
//!
//! [`NotificationService::step`] polls a consumer of order events (a broker topic, an
//! outbox poller, the embedded shop's bus), turns each event that calls for it into a
//! message and hands it to the mailer:
//!
//! - an event whose message is in the delivery log is skipped (a redelivery);
//! - a message the server takes is recorded `sent`; one it refuses for good (5xx) or that
//!   no template can render is recorded dead-lettered with its reason, and parked on the
//!   consumer's dead letters;
//! - a transient failure (unreachable, 4xx) stops the step before acknowledging, so the
//!   event comes again and the job backs off.
//!
//! A crash between sending and recording sends the message again with the same
//! `Message-ID` (derived from the event id): exactly one message per event as far as SMTP
//! allows.

use std::sync::Arc;

use super::Env;
use crate::{
    events::EventEnvelope,
    notify::{self, Delivered, DeliveryError, DeliveryRecord, Message, Sender},
    ports::{DeliveryLog, EventConsumer, EventError, Mailer, MessageRenderer, OrderStore, StoreError},
};

/// What became of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Not an event customers are told about (or nothing to tell after all).
    Ignored,
    /// Its message was delivered or given up before.
    Duplicate,
    /// The message was handed over.
    Sent(Message),
    /// The message failed for good; recorded with the reason.
    DeadLettered(String),
}

/// Why a step stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// The mail server failed for now; the event is delivered again.
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    /// The order store or the delivery log is unavailable.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The event source failed.
    #[error(transparent)]
    Events(#[from] EventError),
}

/// Sends order messages.
#[derive(Clone)]
pub struct NotificationService {
    orders: Arc<dyn OrderStore>,
    log: Arc<dyn DeliveryLog>,
    renderer: Arc<dyn MessageRenderer>,
    mailer: Arc<dyn Mailer>,
    sender: Sender,
    env: Env,
}

impl NotificationService {
    /// Messages about `orders`' orders, written by `renderer`, sent by `mailer` from
    /// `sender`, remembered in `log`.
    pub fn new(
        orders: Arc<dyn OrderStore>,
        log: Arc<dyn DeliveryLog>,
        renderer: Arc<dyn MessageRenderer>,
        mailer: Arc<dyn Mailer>,
        sender: Sender,
        env: Env,
    ) -> Self {
        Self { orders, log, renderer, mailer, sender, env }
    }

    /// Handles one event (see the module documentation). `Err` only for a transient
    /// failure: the event must be handled again later.
    pub async fn handle(&self, envelope: &EventEnvelope) -> Result<Handled, NotifyError> {
        let Some(trigger) = notify::trigger(envelope) else {
            return Ok(Handled::Ignored);
        };
        if self.log.delivery(envelope.event_id).await?.is_some() {
            return Ok(Handled::Duplicate);
        }
        let Some(order) = self.orders.get(trigger.order_id).await? else {
            return Ok(Handled::Ignored);
        };
        let Some(notice) = notify::notice(envelope.event_id, &trigger, order) else {
            return Ok(Handled::Ignored);
        };
        let message_id = self.sender.message_id(envelope.event_id);
        let record = |outcome| DeliveryRecord {
            event_id: envelope.event_id,
            order_id: trigger.order_id,
            kind: trigger.kind,
            message_id: message_id.clone(),
            outcome,
            at: self.env.clock.now(),
        };
        let content = match self.renderer.render(&notice) {
            Ok(content) => content,
            Err(reason) => {
                return self.give_up(record(Delivered::DeadLettered { reason: reason.clone() }), reason).await;
            }
        };
        let message = Message {
            message_id: message_id.clone(),
            from: self.sender.clone(),
            to: notice.order.email.clone(),
            kind: trigger.kind,
            content,
        };
        match self.mailer.send(&message).await {
            Ok(()) => {
                self.log.record(&record(Delivered::Sent)).await?;
                tracing::info!(event = %envelope.event_id, order = %trigger.order_id, kind = trigger.kind.as_str(), message_id, "message sent");
                Ok(Handled::Sent(message))
            }
            Err(DeliveryError::Permanent(reason)) => {
                self.give_up(record(Delivered::DeadLettered { reason: reason.clone() }), reason).await
            }
            Err(e @ DeliveryError::Transient(_)) => Err(e.into()),
        }
    }

    async fn give_up(&self, record: DeliveryRecord, reason: String) -> Result<Handled, NotifyError> {
        tracing::warn!(event = %record.event_id, order = %record.order_id, kind = record.kind.as_str(), %reason, "message dead-lettered");
        self.log.record(&record).await?;
        Ok(Handled::DeadLettered(reason))
    }

    /// Polls up to `max` events, handles them in order and acknowledges those handled.
    /// Stops at the first transient failure (the rest come again). Returns how many
    /// events were handled.
    pub async fn step(&self, consumer: &dyn EventConsumer, max: usize) -> Result<usize, NotifyError> {
        let batch = consumer.poll(max).await?;
        let mut handled = None;
        let mut failure = None;
        for (n, delivery) in batch.iter().enumerate() {
            match self.handle(&delivery.envelope).await {
                Ok(Handled::DeadLettered(reason)) => {
                    consumer.dead_letter(delivery, &reason).await?;
                    handled = Some((n, delivery.tag));
                }
                Ok(_) => handled = Some((n, delivery.tag)),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if let Some((_, tag)) = handled {
            consumer.ack(tag).await?;
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(handled.map_or(0, |(n, _)| n + 1)),
        }
    }
}
