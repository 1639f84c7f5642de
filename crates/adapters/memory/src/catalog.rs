//! The in-memory catalog write model.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Mutex,
};

use async_trait::async_trait;
use commerce_core::{
    CollectionId, EventId, ProductId, Timestamp,
    catalog::{Collection, Product, ProductSearch, Sku, Version},
    events::{EventEnvelope, StockSet},
    inventory::OnHand,
    ports::{CollectionStore, EventError, Outbox, OutboxRecord, ProductStore, RestockLog, StoreError},
};

use crate::{MemoryOutbox, lock};

#[derive(Debug, Default)]
struct State {
    products: BTreeMap<ProductId, Product>,
    skus: HashMap<Sku, ProductId>,
    collections: BTreeMap<CollectionId, Collection>,
    /// The last restock number per product.
    restocks: HashMap<ProductId, u64>,
}

impl State {
    fn sku_taken(&self, product: &Product) -> Result<(), StoreError> {
        match self.skus.get(&product.sku) {
            Some(owner) if *owner != product.id => Err(StoreError::Duplicate(format!("sku {}", product.sku))),
            _ => Ok(()),
        }
    }

    fn put_product(&mut self, product: &Product) {
        if let Some(old) = self.products.insert(product.id, product.clone()) {
            self.skus.remove(&old.sku);
        }
        self.skus.insert(product.sku.clone(), product.id);
    }
}

/// Products, collections and the restock log in memory, writing events to a [`MemoryOutbox`].
#[derive(Debug, Default)]
pub struct MemoryCatalogStore {
    state: Mutex<State>,
    outbox: MemoryOutbox,
}

impl MemoryCatalogStore {
    /// An empty store with its own outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store writing to a shared outbox.
    pub fn with_outbox(outbox: MemoryOutbox) -> Self {
        Self { state: Mutex::default(), outbox }
    }

    /// The outbox this store writes to.
    pub fn outbox(&self) -> &MemoryOutbox {
        &self.outbox
    }
}

fn check_version(stored: Version, expected: Version) -> Result<(), StoreError> {
    if stored == expected { Ok(()) } else { Err(StoreError::VersionConflict { expected, actual: stored }) }
}

/// The products after `after`, in id order.
fn after_id(
    products: &std::collections::BTreeMap<ProductId, Product>,
    after: Option<ProductId>,
) -> impl Iterator<Item = &Product> {
    let range = match after {
        Some(a) => products.range((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
        None => products.range(..),
    };
    range.map(|(_, p)| p)
}

#[async_trait]
impl ProductStore for MemoryCatalogStore {
    async fn insert_product(&self, product: &Product, events: &[EventEnvelope]) -> Result<(), StoreError> {
        let mut s = lock(&self.state);
        if s.products.contains_key(&product.id) {
            return Err(StoreError::Duplicate(format!("product {}", product.id)));
        }
        s.sku_taken(product)?;
        s.put_product(product);
        self.outbox.append(events);
        Ok(())
    }

    async fn update_product(
        &self,
        product: &Product,
        expected: Version,
        events: &[EventEnvelope],
    ) -> Result<(), StoreError> {
        let mut s = lock(&self.state);
        let stored = s.products.get(&product.id).ok_or(StoreError::NotFound)?;
        check_version(stored.version, expected)?;
        s.sku_taken(product)?;
        s.put_product(product);
        self.outbox.append(events);
        Ok(())
    }

    async fn product(&self, id: ProductId) -> Result<Option<Product>, StoreError> {
        Ok(lock(&self.state).products.get(&id).cloned())
    }

    async fn products(&self, after: Option<ProductId>, limit: usize) -> Result<Vec<Product>, StoreError> {
        let s = lock(&self.state);
        Ok(after_id(&s.products, after).take(limit).cloned().collect())
    }

    async fn search_products(
        &self,
        search: &ProductSearch,
        after: Option<ProductId>,
        limit: usize,
    ) -> Result<Vec<Product>, StoreError> {
        let s = lock(&self.state);
        Ok(after_id(&s.products, after).filter(|p| search.matches(p)).take(limit).cloned().collect())
    }
}

#[async_trait]
impl CollectionStore for MemoryCatalogStore {
    async fn insert_collection(&self, collection: &Collection, events: &[EventEnvelope]) -> Result<(), StoreError> {
        let mut s = lock(&self.state);
        if s.collections.contains_key(&collection.id) {
            return Err(StoreError::Duplicate(format!("collection {}", collection.id)));
        }
        if s.collections.values().any(|c| c.slug == collection.slug) {
            return Err(StoreError::Duplicate(format!("slug {}", collection.slug)));
        }
        s.collections.insert(collection.id, collection.clone());
        self.outbox.append(events);
        Ok(())
    }

    async fn update_collection(
        &self,
        collection: &Collection,
        expected: Version,
        events: &[EventEnvelope],
    ) -> Result<(), StoreError> {
        let mut s = lock(&self.state);
        let stored = s.collections.get(&collection.id).ok_or(StoreError::NotFound)?;
        check_version(stored.version, expected)?;
        if s.collections.values().any(|c| c.slug == collection.slug && c.id != collection.id) {
            return Err(StoreError::Duplicate(format!("slug {}", collection.slug)));
        }
        s.collections.insert(collection.id, collection.clone());
        self.outbox.append(events);
        Ok(())
    }

    async fn delete_collection(&self, id: CollectionId, events: &[EventEnvelope]) -> Result<(), StoreError> {
        let mut s = lock(&self.state);
        if !s.collections.contains_key(&id) {
            return Err(StoreError::NotFound);
        }
        if let Some(p) = s.products.values().find(|p| p.collection_id == Some(id)) {
            return Err(StoreError::InUse(format!("product {} belongs to it", p.id)));
        }
        s.collections.remove(&id);
        self.outbox.append(events);
        Ok(())
    }

    async fn collection(&self, id: CollectionId) -> Result<Option<Collection>, StoreError> {
        Ok(lock(&self.state).collections.get(&id).cloned())
    }

    async fn collections(&self) -> Result<Vec<Collection>, StoreError> {
        let mut all: Vec<_> = lock(&self.state).collections.values().cloned().collect();
        all.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()).then(a.id.cmp(&b.id)));
        Ok(all)
    }
}

#[async_trait]
impl RestockLog for MemoryCatalogStore {
    async fn record_restock(
        &self,
        product: ProductId,
        on_hand: OnHand,
        event_id: EventId,
        at: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut s = lock(&self.state);
        if !s.products.contains_key(&product) {
            return Err(StoreError::NotFound);
        }
        let number = s.restocks.entry(product).or_default();
        *number += 1;
        let number = *number;
        self.outbox.append(&[EventEnvelope::stock_set(
            event_id,
            at,
            StockSet { product_id: product, on_hand: on_hand.get() },
            number,
        )]);
        Ok(number)
    }
}

/// The store is its own outbox reader, so the outbox conformance cases can run against it.
#[async_trait]
impl Outbox for MemoryCatalogStore {
    async fn claim(&self, limit: usize) -> Result<Vec<OutboxRecord>, EventError> {
        self.outbox.claim(limit).await
    }

    async fn mark_published(&self, positions: &[u64]) -> Result<(), EventError> {
        self.outbox.mark_published(positions).await
    }
}
