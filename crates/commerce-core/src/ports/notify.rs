//! The ports of customer notifications: writing a message, sending it, remembering it.

use async_trait::async_trait;

use super::StoreError;
use crate::{
    ids::EventId,
    notify::{DeliveryError, DeliveryRecord, Message, Notice, Rendered},
};

/// Writes a notice's message from templates. Pure (no I/O).
pub trait MessageRenderer: Send + Sync {
    /// Subject, plain text and HTML of `notice`. An error is a template bug: the message
    /// is dead-lettered with it.
    fn render(&self, notice: &Notice) -> Result<Rendered, String>;
}

/// Sends a message to its recipient (SMTP, a development mailbox, ...).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Hands `message` over for delivery. `Transient` when it may go through later (the
    /// server is unreachable or answered 4xx: the caller retries with back-off),
    /// `Permanent` when it never will (a 5xx answer). A message handed over twice (a crash
    /// between sending and recording it) carries the same `Message-ID` both times.
    async fn send(&self, message: &Message) -> Result<(), DeliveryError>;
}

/// Which events' messages were delivered or given up: at most one message per event.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DeliveryLog: Send + Sync {
    /// The record of `event`'s message, if one was kept.
    async fn delivery(&self, event: EventId) -> Result<Option<DeliveryRecord>, StoreError>;

    /// Keeps `record`. Keeping one for an event that has one already changes nothing
    /// (the first is kept) and is not an error.
    async fn record(&self, record: &DeliveryRecord) -> Result<(), StoreError>;
}
