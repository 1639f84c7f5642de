//! The port of parked events.

use async_trait::async_trait;

use super::StoreError;
use crate::{
    deadletter::{DeadLetter, DeadLetterId, ParkedEvent},
    events::EventEnvelope,
};

/// Parked events, oldest first, next to the outbox they may go back to.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DeadLetterStore: Send + Sync {
    /// Parks an event. A broker message (any source but
    /// [`OUTBOX_SOURCE`](crate::deadletter::OUTBOX_SOURCE)) is parked once: parking
    /// the same source again changes nothing and returns `false`.
    async fn park(&self, event: &ParkedEvent) -> Result<bool, StoreError>;

    /// Up to `limit` letters numbered above `after`, in number order.
    async fn dead_letters(&self, after: Option<DeadLetterId>, limit: usize) -> Result<Vec<DeadLetter>, StoreError>;

    /// One letter.
    async fn dead_letter(&self, id: DeadLetterId) -> Result<Option<DeadLetter>, StoreError>;

    /// Puts `event` back in the outbox, to be delivered again to every consumer (as
    /// unpublished and unprocessed if its outbox record is still there, as a new record
    /// with the same event id otherwise), and removes letter `id`, atomically.
    /// `NotFound` when the letter is gone (replayed or discarded meanwhile).
    async fn requeue(&self, id: DeadLetterId, event: &EventEnvelope) -> Result<(), StoreError>;

    /// Removes letter `id`. `NotFound` when it is gone.
    async fn discard(&self, id: DeadLetterId) -> Result<(), StoreError>;

    /// How many letters are parked.
    async fn count(&self) -> Result<u64, StoreError>;
}
