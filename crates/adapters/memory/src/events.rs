//! The in-memory outbox and event bus.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use commerce_core::{
    events::EventEnvelope,
    ports::{Delivery, EventConsumer, EventError, EventPublisher, Outbox, OutboxRecord},
};

use crate::lock;

#[derive(Debug, Default)]
struct OutboxState {
    next_position: u64,
    pending: BTreeMap<u64, (EventEnvelope, Option<Instant>)>,
}

/// An outbox shared by the memory stores. Claimed records are leased for a while,
/// so concurrent relays get disjoint batches and a relay that dies mid-batch
/// does not strand its records.
#[derive(Debug, Clone)]
pub struct MemoryOutbox {
    state: Arc<Mutex<OutboxState>>,
    lease: Duration,
}

impl Default for MemoryOutbox {
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

impl MemoryOutbox {
    /// An empty outbox whose claims lapse after `lease`.
    pub fn new(lease: Duration) -> Self {
        Self { state: Arc::default(), lease }
    }

    /// Appends events; called by the stores under their own lock.
    pub(crate) fn append(&self, events: &[EventEnvelope]) {
        let mut s = lock(&self.state);
        for e in events {
            s.next_position += 1;
            let position = s.next_position;
            s.pending.insert(position, (e.clone(), None));
        }
    }

    /// Records not yet published.
    pub fn pending_len(&self) -> usize {
        lock(&self.state).pending.len()
    }
}

#[async_trait]
impl Outbox for MemoryOutbox {
    async fn claim(&self, limit: usize) -> Result<Vec<OutboxRecord>, EventError> {
        let now = Instant::now();
        let lease = self.lease;
        let mut s = lock(&self.state);
        let mut batch = vec![];
        for (position, (envelope, leased)) in &mut s.pending {
            if batch.len() == limit {
                break;
            }
            if leased.is_some_and(|at| now.duration_since(at) < lease) {
                continue;
            }
            *leased = Some(now);
            batch.push(OutboxRecord { position: *position, envelope: envelope.clone() });
        }
        Ok(batch)
    }

    async fn mark_published(&self, positions: &[u64]) -> Result<(), EventError> {
        let mut s = lock(&self.state);
        for p in positions {
            s.pending.remove(p);
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct BusState {
    log: Vec<EventEnvelope>,
    committed: HashMap<String, u64>,
    dead_letters: Vec<(EventEnvelope, String)>,
}

/// An in-process event log with consumer groups: the embedded stand-in for a broker.
/// Events are kept for the life of the process (a replay starts from offset 0).
#[derive(Debug, Clone, Default)]
pub struct MemoryEventBus {
    state: Arc<Mutex<BusState>>,
}

impl MemoryEventBus {
    /// An empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    /// A consumer in `group`, starting after the group's last acknowledged event.
    pub fn consumer(&self, group: &str) -> MemoryConsumer {
        MemoryConsumer { bus: self.clone(), group: group.to_owned() }
    }

    /// A consumer in `group` that starts at the current end of the log.
    pub fn consumer_at_end(&self, group: &str) -> MemoryConsumer {
        let mut s = lock(&self.state);
        let end = s.log.len() as u64;
        s.committed.insert(group.to_owned(), end);
        MemoryConsumer { bus: self.clone(), group: group.to_owned() }
    }

    /// Number of events ever published.
    pub fn len(&self) -> usize {
        lock(&self.state).log.len()
    }

    /// Events consumers parked as dead letters, with the reason, oldest first.
    pub fn dead_letters(&self) -> Vec<(EventEnvelope, String)> {
        lock(&self.state).dead_letters.clone()
    }

    /// True before the first event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl EventPublisher for MemoryEventBus {
    async fn publish(&self, events: &[EventEnvelope]) -> Result<(), EventError> {
        lock(&self.state).log.extend_from_slice(events);
        Ok(())
    }
}

/// One consumer group's cursor on a [`MemoryEventBus`]. Tags are log offsets + 1.
#[derive(Debug, Clone)]
pub struct MemoryConsumer {
    bus: MemoryEventBus,
    group: String,
}

#[async_trait]
impl EventConsumer for MemoryConsumer {
    async fn poll(&self, max: usize) -> Result<Vec<Delivery>, EventError> {
        let s = lock(&self.bus.state);
        let from = s.committed.get(&self.group).copied().unwrap_or(0);
        let from = usize::try_from(from).unwrap_or(usize::MAX).min(s.log.len());
        Ok(s.log[from..]
            .iter()
            .take(max)
            .enumerate()
            .map(|(i, envelope)| Delivery { tag: (from + i + 1) as u64, envelope: envelope.clone() })
            .collect())
    }

    async fn ack(&self, tag: u64) -> Result<(), EventError> {
        let mut s = lock(&self.bus.state);
        let committed = s.committed.entry(self.group.clone()).or_default();
        *committed = (*committed).max(tag);
        Ok(())
    }

    async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> Result<(), EventError> {
        lock(&self.bus.state).dead_letters.push((delivery.envelope.clone(), reason.to_owned()));
        Ok(())
    }
}
