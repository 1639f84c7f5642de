//! A whole shop on memory adapters: what the embedded binary runs, and what examples and
//! use-case tests wire their shop from.

use std::sync::Arc;

use commerce_core::{
    ports::EventError,
    services::{
        Env,
        events::{OutboxRelay, ProjectionError, Projector},
        inventory::InventoryService,
        shop::{Shop, ShopBuilder},
    },
};

use crate::{
    MemoryCatalogStore, MemoryConsumer, MemoryEventBus, MemoryIdempotencyStore, MemoryInventoryStore, MemoryOrderStore,
    MemoryOutbox, MemoryReadModel,
};

/// Why the event pipeline could not move events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// Relaying the outbox to the bus failed.
    #[error(transparent)]
    Relay(#[from] EventError),
    /// Projecting into the read model failed.
    #[error(transparent)]
    Projection(#[from] ProjectionError),
}

/// Every memory adapter of a shop, sharing one outbox and one event bus, and the pipeline
/// that carries the outbox to the read model: `outbox -> relay -> bus -> projector -> read model`.
///
/// ```
/// use std::sync::Arc;
/// use commerce_core::services::Env;
/// use commerce_memory::{MemoryAdapters, MemoryPaymentGateway};
/// use commerce_runtime::{RandomIds, SystemClock};
///
/// let env = Env::new(Arc::new(SystemClock), Arc::new(RandomIds));
/// let adapters = MemoryAdapters::new();
/// let shop = adapters.shop(env).gateway(Arc::new(MemoryPaymentGateway::new())).build().unwrap();
/// # let _ = shop;
/// ```
#[derive(Clone)]
pub struct MemoryAdapters {
    /// The outbox every store writes its events to.
    pub outbox: MemoryOutbox,
    /// Products, collections and restock log.
    pub catalog: Arc<MemoryCatalogStore>,
    /// Orders.
    pub orders: Arc<MemoryOrderStore>,
    /// The storefront's read model.
    pub read_model: Arc<MemoryReadModel>,
    /// Stock and reservations.
    pub inventory: Arc<MemoryInventoryStore>,
    /// Idempotency keys.
    pub idempotency: Arc<MemoryIdempotencyStore>,
    /// Shipping methods and tax rates.
    pub pricing: Arc<crate::MemoryPricingStore>,
    /// The in-process event bus.
    pub bus: Arc<MemoryEventBus>,
    /// Outbox to bus.
    pub relay: OutboxRelay,
    /// Bus to read model.
    pub projector: Projector,
    /// The projector's place on the bus.
    pub consumer: MemoryConsumer,
}

impl Default for MemoryAdapters {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryAdapters {
    /// Empty adapters.
    pub fn new() -> Self {
        let outbox = MemoryOutbox::default();
        let bus = Arc::new(MemoryEventBus::new());
        let read_model = Arc::new(MemoryReadModel::new());
        Self {
            catalog: Arc::new(MemoryCatalogStore::with_outbox(outbox.clone())),
            orders: Arc::new(MemoryOrderStore::with_outbox(outbox.clone())),
            inventory: Arc::new(MemoryInventoryStore::new()),
            idempotency: Arc::new(MemoryIdempotencyStore::default()),
            pricing: Arc::new(crate::MemoryPricingStore::new()),
            relay: OutboxRelay::new(Arc::new(outbox.clone()), bus.clone()),
            projector: Projector::new(read_model.clone()),
            consumer: bus.consumer("read-model"),
            read_model,
            outbox,
            bus,
        }
    }

    /// A shop builder with every port set to these adapters, stock events published on
    /// the bus and a fresh idempotency secret (keys live only as long as this process).
    /// Set the gateway, then build; any port may be replaced before building.
    pub fn shop(&self, env: Env) -> ShopBuilder {
        let secret = commerce_core::idempotency::IdempotencySecret::generate(&*env.ids);
        Shop::builder(env.clone())
            .catalog(self.catalog.clone())
            .read_model(self.read_model.clone())
            .inventory(InventoryService::new(self.inventory.clone(), self.bus.clone(), env))
            .orders(self.orders.clone())
            .idempotency(self.idempotency.clone(), secret)
            .pricing(self.pricing.clone())
    }

    /// One pass of the pipeline: relays and projects up to `max` events each, then drops
    /// from the bus what every group has read (memory stays bounded by the backlog);
    /// returns how many moved (the step a background job runs in a loop).
    pub async fn step(&self, max: usize) -> Result<usize, SyncError> {
        let moved = self.relay.step(max).await? + self.projector.step(&self.consumer, max).await?;
        self.bus.prune_acknowledged();
        Ok(moved)
    }

    /// Relays and projects until nothing is pending; returns how many events moved.
    pub async fn sync(&self) -> Result<usize, SyncError> {
        let mut moved = 0;
        loop {
            match self.step(10_000).await? {
                0 => return Ok(moved),
                n => moved += n,
            }
        }
    }
}
