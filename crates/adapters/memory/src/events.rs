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

/// Appends to the outbox, for callers outside a store's change (a replayed dead letter).
#[async_trait]
impl EventPublisher for MemoryOutbox {
    async fn publish(&self, events: &[EventEnvelope]) -> Result<(), EventError> {
        self.append(events);
        Ok(())
    }
}

#[derive(Debug, Default)]
struct BusState {
    /// The events from offset `base` on; earlier ones were acknowledged by every group.
    log: std::collections::VecDeque<EventEnvelope>,
    base: u64,
    committed: HashMap<String, u64>,
    dead_letters: std::collections::VecDeque<(EventEnvelope, String)>,
}

/// Dead letters kept for inspection; older ones are dropped (they are logged when parked).
const DEAD_LETTERS_KEPT: usize = 10_000;

/// An in-process event log with consumer groups: the embedded stand-in for a broker.
/// Each group's cursor starts when its first consumer is made; events every group has
/// acknowledged are dropped ([`MemoryEventBus::prune_acknowledged`]), so the log holds
/// only what some group still has to read. A group made later starts at the oldest event
/// kept.
#[derive(Debug, Clone, Default)]
pub struct MemoryEventBus {
    state: Arc<Mutex<BusState>>,
}

impl MemoryEventBus {
    /// An empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    /// A consumer in `group`, starting after the group's last acknowledged event (at the
    /// oldest event kept for a new group).
    pub fn consumer(&self, group: &str) -> MemoryConsumer {
        let mut s = lock(&self.state);
        let base = s.base;
        s.committed.entry(group.to_owned()).or_insert(base);
        MemoryConsumer { bus: self.clone(), group: group.to_owned() }
    }

    /// A consumer in `group` that starts at the current end of the log.
    pub fn consumer_at_end(&self, group: &str) -> MemoryConsumer {
        let mut s = lock(&self.state);
        let end = s.base + s.log.len() as u64;
        s.committed.insert(group.to_owned(), end);
        MemoryConsumer { bus: self.clone(), group: group.to_owned() }
    }

    /// Drops the events every group has acknowledged; returns how many. The embedded
    /// binary calls it after each pass of its pipeline, so memory stays bounded by what
    /// is still unread.
    pub fn prune_acknowledged(&self) -> usize {
        let mut s = lock(&self.state);
        let Some(slowest) = s.committed.values().copied().min() else { return 0 };
        let drop = usize::try_from(slowest.saturating_sub(s.base)).unwrap_or(usize::MAX).min(s.log.len());
        s.log.drain(..drop);
        s.base += drop as u64;
        drop
    }

    /// Number of events ever published.
    pub fn len(&self) -> usize {
        let s = lock(&self.state);
        usize::try_from(s.base).unwrap_or(usize::MAX) + s.log.len()
    }

    /// Number of events held (published and not yet acknowledged by every group).
    pub fn retained(&self) -> usize {
        lock(&self.state).log.len()
    }

    /// Events consumers parked as dead letters (the latest 10,000), with the reason, oldest first.
    pub fn dead_letters(&self) -> Vec<(EventEnvelope, String)> {
        lock(&self.state).dead_letters.iter().cloned().collect()
    }

    /// True before the first event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl EventPublisher for MemoryEventBus {
    async fn publish(&self, events: &[EventEnvelope]) -> Result<(), EventError> {
        lock(&self.state).log.extend(events.iter().cloned());
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
        let from = s.committed.get(&self.group).copied().unwrap_or(s.base).max(s.base);
        let skip = usize::try_from(from - s.base).unwrap_or(usize::MAX).min(s.log.len());
        Ok(s.log
            .iter()
            .skip(skip)
            .take(max)
            .enumerate()
            .map(|(i, envelope)| Delivery { tag: from + i as u64 + 1, envelope: envelope.clone() })
            .collect())
    }

    async fn ack(&self, tag: u64) -> Result<(), EventError> {
        let mut s = lock(&self.bus.state);
        let committed = s.committed.entry(self.group.clone()).or_default();
        *committed = (*committed).max(tag);
        Ok(())
    }

    async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> Result<(), EventError> {
        let mut s = lock(&self.bus.state);
        s.dead_letters.push_back((delivery.envelope.clone(), reason.to_owned()));
        if s.dead_letters.len() > DEAD_LETTERS_KEPT {
            s.dead_letters.pop_front();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use commerce_core::{EventId, Timestamp, events::EventEnvelope, inventory::StockLevel};

    use super::*;

    fn event(n: u64) -> EventEnvelope {
        let level = StockLevel {
            product_id: commerce_core::ProductId::from_uuid(uuid::Uuid::nil()),
            on_hand: n,
            reserved: 0,
            version: n,
        };
        EventEnvelope::stock_changed(EventId::from_uuid(uuid::Uuid::from_u128(u128::from(n))), Timestamp::EPOCH, level)
    }

    #[test]
    fn events_every_group_read_are_dropped_and_tags_stay_positions() {
        futures::executor::block_on(events_every_group_read_are_dropped());
    }

    async fn events_every_group_read_are_dropped() {
        let bus = MemoryEventBus::new();
        let (fast, slow) = (bus.consumer("fast"), bus.consumer("slow"));
        bus.publish(&(1..=5).map(event).collect::<Vec<_>>()).await.unwrap();
        fast.ack(fast.poll(10).await.unwrap().last().unwrap().tag).await.unwrap();
        slow.ack(slow.poll(2).await.unwrap().last().unwrap().tag).await.unwrap();
        assert_eq!(bus.prune_acknowledged(), 2, "only what the slowest group read goes");
        assert_eq!((bus.len(), bus.retained()), (5, 3));
        let rest = slow.poll(10).await.unwrap();
        assert_eq!(rest.iter().map(|d| d.tag).collect::<Vec<_>>(), [3, 4, 5]);
        assert_eq!(rest[0].envelope, event(3));
        let late = bus.consumer("late");
        assert_eq!(late.poll(1).await.unwrap()[0].envelope, event(3), "a new group starts at the oldest event kept");
        slow.ack(5).await.unwrap();
        late.ack(5).await.unwrap();
        assert_eq!(bus.prune_acknowledged(), 3);
        assert_eq!(bus.retained(), 0);
        assert!(fast.poll(10).await.unwrap().is_empty());
    }
}
