//! Parked events in memory, next to a [`MemoryOutbox`] they may go back to.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use commerce_core::{
    deadletter::{DeadLetter, DeadLetterId, OUTBOX_SOURCE, ParkedEvent},
    events::EventEnvelope,
    ports::{DeadLetterStore, StoreError},
};

use crate::{MemoryOutbox, lock};

#[derive(Debug, Default)]
struct Letters {
    last: u64,
    parked: BTreeMap<DeadLetterId, ParkedEvent>,
}

/// The dead letters of a memory shop; a replayed event goes back to `outbox`.
#[derive(Debug, Clone)]
pub struct MemoryDeadLetters {
    letters: Arc<Mutex<Letters>>,
    outbox: MemoryOutbox,
}

impl MemoryDeadLetters {
    /// No letters; replays go to `outbox`.
    pub fn new(outbox: MemoryOutbox) -> Self {
        Self { letters: Arc::default(), outbox }
    }
}

#[async_trait]
impl DeadLetterStore for MemoryDeadLetters {
    async fn park(&self, event: &ParkedEvent) -> Result<bool, StoreError> {
        let mut letters = lock(&self.letters);
        if event.source != OUTBOX_SOURCE && letters.parked.values().any(|p| p.source == event.source) {
            return Ok(false);
        }
        letters.last += 1;
        let id = DeadLetterId::new(letters.last);
        letters.parked.insert(id, event.clone());
        Ok(true)
    }

    async fn dead_letters(&self, after: Option<DeadLetterId>, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        let letters = lock(&self.letters);
        let from = after.map_or(DeadLetterId::new(0), |a| DeadLetterId::new(a.get().saturating_add(1)));
        Ok(letters
            .parked
            .range(from..)
            .take(limit)
            .map(|(id, parked)| DeadLetter { id: *id, parked: parked.clone() })
            .collect())
    }

    async fn dead_letter(&self, id: DeadLetterId) -> Result<Option<DeadLetter>, StoreError> {
        Ok(lock(&self.letters).parked.get(&id).map(|parked| DeadLetter { id, parked: parked.clone() }))
    }

    async fn requeue(&self, id: DeadLetterId, event: &EventEnvelope) -> Result<(), StoreError> {
        let mut letters = lock(&self.letters);
        letters.parked.remove(&id).ok_or(StoreError::NotFound)?;
        // Under the letters' lock: a concurrent replay of the same letter finds it gone.
        self.outbox.append(std::slice::from_ref(event));
        Ok(())
    }

    async fn discard(&self, id: DeadLetterId) -> Result<(), StoreError> {
        lock(&self.letters).parked.remove(&id).map(|_| ()).ok_or(StoreError::NotFound)
    }

    async fn count(&self) -> Result<u64, StoreError> {
        Ok(u64::try_from(lock(&self.letters).parked.len()).unwrap_or(u64::MAX))
    }
}
