//! The in-memory storefront read model.
//!
//! Views live in a map; one ordered index per sort order holds `(key, id)`
//! pairs, so a page is a range scan from the cursor that stops after
//! `limit + 1` matches instead of a sort of the whole catalog. Search tokens
//! are computed once per product version.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    ops::Bound,
    sync::Mutex,
};

use async_trait::async_trait;
use commerce_core::{
    CollectionId, ProductId,
    catalog::{Collection, Product},
    ports::{ProductProjection, ProductReadModel, StoreError},
    query::{Facets, ProductPage, ProductQuery, ProductView, SortKey, SortOrder},
};

use crate::lock;

struct Entry {
    view: ProductView,
    tokens: Vec<String>,
}

#[derive(Default)]
struct State {
    entries: HashMap<ProductId, Entry>,
    /// Stock that may have arrived before its product: (available, version).
    stock: HashMap<ProductId, (u64, u64)>,
    indexes: [BTreeSet<(SortKey, ProductId)>; 5],
    collections: BTreeMap<CollectionId, Collection>,
    /// Tombstones of deleted collections (deletes are rare; one id each).
    deleted_collections: BTreeSet<CollectionId>,
}

fn index_of(sort: SortOrder) -> usize {
    match sort {
        SortOrder::PriceAsc | SortOrder::PriceDesc => 0,
        SortOrder::Name => 1,
        SortOrder::Newest => 2,
        SortOrder::StockDesc => 3,
    }
}

const INDEXED: [SortOrder; 4] = [SortOrder::PriceAsc, SortOrder::Name, SortOrder::Newest, SortOrder::StockDesc];

impl State {
    fn unindex(&mut self, view: &ProductView) {
        for sort in INDEXED {
            self.indexes[index_of(sort)].remove(&(sort.key_of(view), view.id));
        }
    }

    fn index(&mut self, view: &ProductView) {
        for sort in INDEXED {
            self.indexes[index_of(sort)].insert((sort.key_of(view), view.id));
        }
    }

    fn put(&mut self, view: ProductView, tokens: Option<Vec<String>>) {
        if let Some(old) = self.entries.get(&view.id).map(|e| e.view.clone()) {
            self.unindex(&old);
        }
        self.index(&view);
        let tokens = tokens.unwrap_or_else(|| view.search_tokens());
        self.entries.insert(view.id, Entry { view, tokens });
    }

    fn page(&self, q: &ProductQuery) -> ProductPage {
        let index = &self.indexes[index_of(q.sort)];
        let wanted = q.limit.get() + 1;
        let matching = |(_, id): &&(SortKey, ProductId)| {
            self.entries.get(id).is_some_and(|e| q.matches_with_tokens(&e.view, &e.tokens))
        };
        let ids: Vec<ProductId> = match (&q.after, q.sort.descending()) {
            (None, false) => index.iter().filter(matching).take(wanted).map(|(_, id)| *id).collect(),
            (None, true) => index.iter().rev().filter(matching).take(wanted).map(|(_, id)| *id).collect(),
            (Some(c), false) => index
                .range((Bound::Excluded((c.key.clone(), c.id)), Bound::Unbounded))
                .filter(matching)
                .take(wanted)
                .map(|(_, id)| *id)
                .collect(),
            (Some(c), true) => index
                .range((Bound::Unbounded, Bound::Excluded((c.key.clone(), c.id))))
                .rev()
                .filter(matching)
                .take(wanted)
                .map(|(_, id)| *id)
                .collect(),
        };
        let candidates = ids.iter().filter_map(|id| self.entries.get(id).map(|e| e.view.clone())).collect();
        ProductPage::from_candidates(q, candidates)
    }
}

/// The storefront read model in memory.
#[derive(Default)]
pub struct MemoryReadModel {
    state: Mutex<State>,
}

impl MemoryReadModel {
    /// An empty read model.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of product views.
    pub fn len(&self) -> usize {
        lock(&self.state).entries.len()
    }

    /// True when no product was projected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl ProductReadModel for MemoryReadModel {
    async fn list(&self, query: &ProductQuery) -> Result<ProductPage, StoreError> {
        Ok(lock(&self.state).page(query))
    }

    async fn get(&self, id: ProductId) -> Result<Option<ProductView>, StoreError> {
        Ok(lock(&self.state).entries.get(&id).map(|e| e.view.clone()))
    }

    async fn get_many(&self, ids: &[ProductId]) -> Result<Vec<ProductView>, StoreError> {
        let s = lock(&self.state);
        Ok(ids.iter().filter_map(|id| s.entries.get(id).map(|e| e.view.clone())).collect())
    }

    async fn facets(&self, query: &ProductQuery) -> Result<Facets, StoreError> {
        let s = lock(&self.state);
        let mut f = Facets::default();
        for e in s.entries.values().filter(|e| query.matches_with_tokens(&e.view, &e.tokens)) {
            if let Some(c) = e.view.collection_id {
                *f.collections.entry(c).or_default() += 1;
            }
            for (n, v) in e.view.attributes.iter() {
                *f.attributes.entry(n.clone()).or_default().entry(v.clone()).or_default() += 1;
            }
        }
        Ok(f)
    }

    async fn collections(&self) -> Result<Vec<Collection>, StoreError> {
        let mut all: Vec<_> = lock(&self.state).collections.values().cloned().collect();
        all.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()).then(a.id.cmp(&b.id)));
        Ok(all)
    }
}

#[async_trait]
impl ProductProjection for MemoryReadModel {
    async fn apply_product(&self, product: &Product) -> Result<bool, StoreError> {
        let mut s = lock(&self.state);
        if s.entries.get(&product.id).is_some_and(|e| e.view.product_version >= product.version.get()) {
            return Ok(false);
        }
        let (available, stock_version) = s.stock.get(&product.id).copied().unwrap_or((0, 0));
        s.put(ProductView::from_product(product, available, stock_version), None);
        Ok(true)
    }

    async fn apply_stock(&self, product: ProductId, available: u64, version: u64) -> Result<bool, StoreError> {
        let mut s = lock(&self.state);
        if s.stock.get(&product).is_some_and(|(_, v)| *v >= version) {
            return Ok(false);
        }
        s.stock.insert(product, (available, version));
        if let Some(e) = s.entries.remove(&product) {
            let mut view = e.view;
            s.unindex(&view);
            view.available_stock = available;
            view.stock_version = version;
            s.put(view, Some(e.tokens));
        }
        Ok(true)
    }

    async fn apply_collection(&self, collection: &Collection) -> Result<bool, StoreError> {
        let mut s = lock(&self.state);
        if s.deleted_collections.contains(&collection.id)
            || s.collections.get(&collection.id).is_some_and(|c| c.version >= collection.version)
        {
            return Ok(false);
        }
        s.collections.insert(collection.id, collection.clone());
        Ok(true)
    }

    async fn remove_collection(&self, id: CollectionId) -> Result<bool, StoreError> {
        let mut s = lock(&self.state);
        s.collections.remove(&id);
        // The tombstone outranks every version, so a replayed create never revives it.
        Ok(s.deleted_collections.insert(id))
    }

    async fn reset(&self) -> Result<(), StoreError> {
        *lock(&self.state) = State::default();
        Ok(())
    }
}
