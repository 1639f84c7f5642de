//! The in-memory storefront read model.
//!
//! Views live in slots; one ordered index per sort order maps `(key, id)` to a
//! slot, so a page is a range scan from the cursor that stops after `limit + 1`
//! matches instead of a sort of the whole catalog. Posting lists (bitmaps of slots
//! per collection, attribute value and search word) let the scan skip products that
//! cannot match with one bit test, and answer rare filters without a scan. Search
//! tokens are computed once per product version. Readers share a read lock.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    ops::Bound,
    sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard},
};

use async_trait::async_trait;
use commerce_core::{
    CollectionId, ProductId,
    catalog::{Collection, Product},
    ports::{ProductProjection, ProductReadModel, StoreError, ViewReplica},
    query::{Facets, ProductPage, ProductQuery, ProductView, SortKey, SortOrder},
};
use roaring::RoaringBitmap;

mod postings;

struct Entry {
    view: ProductView,
    tokens: Vec<String>,
}

#[derive(Default)]
struct State {
    /// Every product view, at a slot that stays its own for the life of the model.
    slots: Vec<Arc<Entry>>,
    slot_of: HashMap<ProductId, u32>,
    /// Stock that may have arrived before its product: (available, version).
    stock: HashMap<ProductId, (u64, u64)>,
    indexes: [BTreeMap<(SortKey, ProductId), u32>; 4],
    postings: postings::Postings,
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

/// Below this many candidates per page position, gathering and sorting the candidates is
/// cheaper than scanning the sort index for them (see [`State::page`]).
const GATHER_FACTOR: u64 = 4;

impl State {
    fn entry(&self, id: ProductId) -> Option<&Arc<Entry>> {
        self.slot_of.get(&id).and_then(|s| self.slots.get(*s as usize))
    }

    fn put(&mut self, view: ProductView, tokens: Option<Vec<String>>) {
        let tokens = tokens.unwrap_or_else(|| view.search_tokens());
        let slot = if let Some(&slot) = self.slot_of.get(&view.id) {
            let old = self.slots[slot as usize].clone();
            for sort in INDEXED {
                self.indexes[index_of(sort)].remove(&(sort.key_of(&old.view), old.view.id));
            }
            self.postings.remove(slot, &old.view, &old.tokens);
            slot
        } else {
            let slot = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
            self.slot_of.insert(view.id, slot);
            slot
        };
        for sort in INDEXED {
            self.indexes[index_of(sort)].insert((sort.key_of(&view), view.id), slot);
        }
        self.postings.insert(slot, &view, &tokens);
        let entry = Arc::new(Entry { view, tokens });
        match self.slots.get_mut(slot as usize) {
            Some(old) => *old = entry,
            None => self.slots.push(entry),
        }
    }

    fn matching(&self, q: &ProductQuery, slot: u32) -> Option<&Arc<Entry>> {
        self.slots.get(slot as usize).filter(|e| q.matches_with_tokens(&e.view, &e.tokens))
    }

    /// One page. With posting lists narrowing the query to a few candidates (fewer than
    /// `limit` times the index's share they would take up), they are checked and sorted
    /// directly; otherwise the sort index is scanned from the cursor, each product first
    /// tested against the candidates' bitmap, until `limit + 1` match.
    fn page(&self, q: &ProductQuery) -> ProductPage {
        let wanted = q.limit.get() + 1;
        let candidates = self.postings.candidates(q);
        let total = self.slots.len() as u64;
        if let Some(c) = &candidates {
            let n = c.len();
            // Scanning reads about total / n products per match; gathering reads n.
            if n.saturating_mul(n) <= total.saturating_mul(wanted as u64) / GATHER_FACTOR {
                return self.gather(q, c, wanted);
            }
        }
        let index = &self.indexes[index_of(q.sort)];
        let keep = |(_, slot): &(&(SortKey, ProductId), &u32)| {
            candidates.as_ref().is_none_or(|c| c.contains(**slot)) && self.matching(q, **slot).is_some()
        };
        let range = match &q.after {
            None => index.range::<(SortKey, ProductId), _>(..),
            Some(c) if q.sort.descending() => index.range((Bound::Unbounded, Bound::Excluded((c.key.clone(), c.id)))),
            Some(c) => index.range((Bound::Excluded((c.key.clone(), c.id)), Bound::Unbounded)),
        };
        let slots: Vec<u32> = if q.sort.descending() {
            range.rev().filter(keep).take(wanted).map(|(_, s)| *s).collect()
        } else {
            range.filter(keep).take(wanted).map(|(_, s)| *s).collect()
        };
        let views = slots.iter().filter_map(|s| self.slots.get(*s as usize)).map(|e| e.view.clone()).collect();
        ProductPage::from_candidates(q, views)
    }

    /// The page among a few candidates: each checked exactly, the first `wanted` in
    /// listing order after the cursor.
    fn gather(&self, q: &ProductQuery, candidates: &RoaringBitmap, wanted: usize) -> ProductPage {
        let mut found: Vec<(SortKey, &ProductView)> = candidates
            .iter()
            .filter_map(|slot| self.matching(q, slot))
            .map(|e| &e.view)
            .filter(|v| q.is_after_cursor(v))
            .map(|v| (q.sort.key_of(v), v))
            .collect();
        let order =
            |a: &(SortKey, &ProductView), b: &(SortKey, &ProductView)| q.sort.compare((&a.0, a.1.id), (&b.0, b.1.id));
        if found.len() > wanted {
            found.select_nth_unstable_by(wanted, order);
            found.truncate(wanted);
        }
        found.sort_unstable_by(order);
        ProductPage::from_candidates(q, found.into_iter().map(|(_, v)| v.clone()).collect())
    }

    fn facets(&self, query: &ProductQuery) -> Facets {
        let mut f = Facets::default();
        let mut count = |e: &Entry| {
            if let Some(c) = e.view.collection_id {
                *f.collections.entry(c).or_default() += 1;
            }
            for (n, v) in e.view.attributes.iter() {
                *f.attributes.entry(n.clone()).or_default().entry(v.clone()).or_default() += 1;
            }
        };
        match self.postings.candidates(query) {
            Some(c) => c.iter().filter_map(|slot| self.matching(query, slot)).for_each(|e| count(e)),
            None => self.slots.iter().filter(|e| query.matches_with_tokens(&e.view, &e.tokens)).for_each(|e| count(e)),
        }
        f
    }
}

/// The storefront read model in memory.
#[derive(Default)]
pub struct MemoryReadModel {
    state: RwLock<State>,
}

impl MemoryReadModel {
    /// An empty read model.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of product views.
    pub fn len(&self) -> usize {
        self.read().slots.len()
    }

    /// True when no product was projected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // A panic while holding the lock leaves the state consistent (each change is applied
    // whole before the guard drops), so poisoning is ignored.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl ProductReadModel for MemoryReadModel {
    async fn list(&self, query: &ProductQuery) -> Result<ProductPage, StoreError> {
        Ok(self.read().page(query))
    }

    async fn get(&self, id: ProductId) -> Result<Option<ProductView>, StoreError> {
        Ok(self.read().entry(id).map(|e| e.view.clone()))
    }

    async fn get_many(&self, ids: &[ProductId]) -> Result<Vec<ProductView>, StoreError> {
        let s = self.read();
        Ok(ids.iter().filter_map(|id| s.entry(*id).map(|e| e.view.clone())).collect())
    }

    async fn facets(&self, query: &ProductQuery) -> Result<Facets, StoreError> {
        Ok(self.read().facets(query))
    }

    async fn collections(&self) -> Result<Vec<Collection>, StoreError> {
        let mut all: Vec<_> = self.read().collections.values().cloned().collect();
        all.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()).then(a.id.cmp(&b.id)));
        Ok(all)
    }
}

#[async_trait]
impl ProductProjection for MemoryReadModel {
    async fn apply_product(&self, product: &Product) -> Result<bool, StoreError> {
        let mut s = self.write();
        if s.entry(product.id).is_some_and(|e| e.view.product_version >= product.version.get()) {
            return Ok(false);
        }
        let (available, stock_version) = s.stock.get(&product.id).copied().unwrap_or((0, 0));
        s.put(ProductView::from_product(product, available, stock_version), None);
        Ok(true)
    }

    async fn apply_stock(&self, product: ProductId, available: u64, version: u64) -> Result<bool, StoreError> {
        let mut s = self.write();
        if s.stock.get(&product).is_some_and(|(_, v)| *v >= version) {
            return Ok(false);
        }
        s.stock.insert(product, (available, version));
        if let Some(e) = s.entry(product).cloned() {
            let mut view = e.view.clone();
            view.available_stock = available;
            view.stock_version = version;
            s.put(view, Some(e.tokens.clone()));
        }
        Ok(true)
    }

    async fn apply_collection(&self, collection: &Collection) -> Result<bool, StoreError> {
        let mut s = self.write();
        if s.deleted_collections.contains(&collection.id)
            || s.collections.get(&collection.id).is_some_and(|c| c.version >= collection.version)
        {
            return Ok(false);
        }
        s.collections.insert(collection.id, collection.clone());
        Ok(true)
    }

    async fn remove_collection(&self, id: CollectionId) -> Result<bool, StoreError> {
        let mut s = self.write();
        s.collections.remove(&id);
        // The tombstone outranks every version, so a replayed create never revives it.
        Ok(s.deleted_collections.insert(id))
    }

    async fn reset(&self) -> Result<(), StoreError> {
        *self.write() = State::default();
        Ok(())
    }
}

#[async_trait]
impl ViewReplica for MemoryReadModel {
    async fn apply_view(&self, view: &ProductView) -> Result<bool, StoreError> {
        let mut s = self.write();
        let stored = s.entry(view.id);
        let newer_product = stored.is_none_or(|e| e.view.product_version < view.product_version);
        let (stock, stock_version) = s.stock.get(&view.id).copied().unwrap_or((0, 0));
        let newer_stock = stock_version < view.stock_version;
        if !newer_product && !newer_stock {
            return Ok(false);
        }
        let (stock, stock_version) =
            if newer_stock { (view.available_stock, view.stock_version) } else { (stock, stock_version) };
        s.stock.insert(view.id, (stock, stock_version));
        let (mut next, tokens) = match s.entry(view.id) {
            Some(e) if !newer_product => (e.view.clone(), Some(e.tokens.clone())),
            _ => (view.clone(), None),
        };
        next.available_stock = stock;
        next.stock_version = stock_version;
        s.put(next, tokens);
        Ok(true)
    }
}
