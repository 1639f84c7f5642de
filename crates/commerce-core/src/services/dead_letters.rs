//! The operator's view of parked events: list them, look at one, replay or discard it.

use std::sync::Arc;

use crate::{
    deadletter::{DeadLetter, DeadLetterId},
    ports::{Clock, DeadLetterStore, StoreError},
    query::PageSize,
    timestamp::Timestamp,
};

/// Why a dead-letter request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeadLetterError {
    /// No such letter (or it was replayed or discarded meanwhile).
    #[error("dead letter {0} does not exist")]
    NotFound(DeadLetterId),
    /// The letter holds a message that is not an event: it can only be discarded.
    #[error("dead letter {0} does not hold an event that decodes; it can only be discarded")]
    NotReplayable(DeadLetterId),
    /// A page size outside what [`PageSize`] allows.
    #[error("limit must be between 1 and {max}", max = PageSize::MAX)]
    InvalidLimit,
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for DeadLetterError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// One page of letters, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterPage {
    /// The letters.
    pub items: Vec<DeadLetter>,
    /// Pass as `after` for the next page; `None` on the last.
    pub next: Option<DeadLetterId>,
    /// When the page was read: ages are counted to it.
    pub as_of: Timestamp,
}

/// Lists, replays and discards parked events.
#[derive(Clone)]
pub struct DeadLetterService {
    store: Arc<dyn DeadLetterStore>,
    clock: Arc<dyn Clock>,
}

impl DeadLetterService {
    /// The letters of `store`, aged by `clock`.
    pub fn new(store: Arc<dyn DeadLetterStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Up to `limit` letters numbered above `after`; `limit` is a [`PageSize`].
    pub async fn list(&self, after: Option<DeadLetterId>, limit: usize) -> Result<DeadLetterPage, DeadLetterError> {
        let limit =
            i64::try_from(limit).ok().and_then(|n| PageSize::new(n).ok()).ok_or(DeadLetterError::InvalidLimit)?.get();
        let mut items = self.store.dead_letters(after, limit + 1).await?;
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|l| l.id)
        } else {
            None
        };
        Ok(DeadLetterPage { items, next, as_of: self.clock.now() })
    }

    /// One letter, and when it was read.
    pub async fn get(&self, id: DeadLetterId) -> Result<(DeadLetter, Timestamp), DeadLetterError> {
        let letter = self.store.dead_letter(id).await?.ok_or(DeadLetterError::NotFound(id))?;
        Ok((letter, self.clock.now()))
    }

    /// Sends the letter's event again, to every consumer (each ignores what it already
    /// handled), and removes the letter. Returns the letter as it was, and when.
    pub async fn replay(&self, id: DeadLetterId) -> Result<(DeadLetter, Timestamp), DeadLetterError> {
        let letter = self.store.dead_letter(id).await?.ok_or(DeadLetterError::NotFound(id))?;
        let event = letter.parked.event().ok_or(DeadLetterError::NotReplayable(id))?;
        self.store.requeue(id, event).await.map_err(|e| not_found_as(e, id))?;
        tracing::info!(letter = %id, event = %event.event_id, event_type = event.event.type_name(), "dead letter replayed");
        Ok((letter, self.clock.now()))
    }

    /// Removes the letter for good.
    pub async fn discard(&self, id: DeadLetterId) -> Result<(), DeadLetterError> {
        self.store.discard(id).await.map_err(|e| not_found_as(e, id))?;
        tracing::info!(letter = %id, "dead letter discarded");
        Ok(())
    }
}

fn not_found_as(e: StoreError, id: DeadLetterId) -> DeadLetterError {
    match e {
        StoreError::NotFound => DeadLetterError::NotFound(id),
        other => DeadLetterError::Store(other),
    }
}
