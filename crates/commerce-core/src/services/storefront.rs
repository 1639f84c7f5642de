//! What customers read: listings, product pages, collections and facets.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use crate::{
    cart::{Cart, CartReview},
    catalog::{Collection, ProductStatus},
    ids::ProductId,
    ports::{Clock, InventoryStore, ProductReadModel, StoreError},
    query::{Facets, ProductPage, ProductQuery, ProductView},
    timestamp::Timestamp,
    validation::ValidationErrors,
};

/// Why a storefront read failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorefrontError {
    /// Bad query parameters; every one is listed.
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    /// No active product has this id.
    #[error("product not found")]
    NotFound,
    /// The read model failed; retry later.
    #[error("read model unavailable: {0}")]
    Unavailable(String),
}

impl From<StoreError> for StorefrontError {
    fn from(e: StoreError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// Facet counts of recent filter sets, each kept for a while: counting means reading every
/// matching product, and a page shows the same counts to many visitors.
struct FacetCache {
    clock: Arc<dyn Clock>,
    ttl_micros: i64,
    entries: Mutex<HashMap<String, (Timestamp, Facets)>>,
}

impl FacetCache {
    /// Filter sets remembered at once; past it the stale ones go, then all.
    const CAPACITY: usize = 4096;

    fn get(&self, key: &str) -> Option<Facets> {
        let now = self.clock.now().unix_micros();
        let entries = self.entries.lock().ok()?;
        let (at, facets) = entries.get(key)?;
        (now - at.unix_micros() < self.ttl_micros).then(|| facets.clone())
    }

    fn put(&self, key: String, facets: &Facets) {
        let now = self.clock.now();
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= Self::CAPACITY {
            let ttl = self.ttl_micros;
            entries.retain(|_, (at, _)| now.unix_micros() - at.unix_micros() < ttl);
            if entries.len() >= Self::CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key, (now, facets.clone()));
    }
}

/// The storefront read use cases.
#[derive(Clone)]
pub struct StorefrontService {
    read: Arc<dyn ProductReadModel>,
    live_stock: Option<Arc<dyn InventoryStore>>,
    facet_cache: Option<Arc<FacetCache>>,
}

impl StorefrontService {
    /// A service over a read model.
    pub fn new(read: Arc<dyn ProductReadModel>) -> Self {
        Self { read, live_stock: None, facet_cache: None }
    }

    /// Keeps the facet counts of each filter set for `ttl` (by `clock`): counts then lag
    /// changes by up to `ttl`, and a popular filter set is counted once per `ttl` instead
    /// of once per page view. Listings and products are never cached.
    #[must_use]
    pub fn with_facet_cache(mut self, clock: Arc<dyn Clock>, ttl: std::time::Duration) -> Self {
        let ttl_micros = i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX);
        self.facet_cache = Some(Arc::new(FacetCache { clock, ttl_micros, entries: Mutex::new(HashMap::new()) }));
        self
    }

    /// Shows each returned product's live stock from `inventory` (one batch call per
    /// page) instead of the projected value. When the inventory cannot answer, the
    /// projected value is shown: a slow or down inventory never fails a page.
    /// Filtering and sorting by stock still use the projected value.
    #[must_use]
    pub fn with_live_stock(mut self, inventory: Arc<dyn InventoryStore>) -> Self {
        self.live_stock = Some(inventory);
        self
    }

    async fn overlay(&self, views: &mut [ProductView]) {
        let Some(inventory) = &self.live_stock else { return };
        let ids: Vec<ProductId> = views.iter().map(|v| v.id).collect();
        if ids.is_empty() {
            return;
        }
        if let Ok(levels) = inventory.stock(&ids).await {
            for v in views.iter_mut() {
                if let Some(l) = levels.iter().find(|l| l.product_id == v.id) {
                    v.available_stock = l.available();
                }
            }
        }
    }

    /// One page of a listing. Build the query from typed values with
    /// [`ProductQueryParams`](crate::query::ProductQueryParams), or from URL parameters
    /// with [`ProductQueryInput`](crate::query::ProductQueryInput).
    pub async fn list(&self, query: &ProductQuery) -> Result<ProductPage, StorefrontError> {
        let mut page = self.read.list(query).await?;
        self.overlay(&mut page.items).await;
        Ok(page)
    }

    /// An active product; archived and draft products are `NotFound`.
    pub async fn product(&self, id: ProductId) -> Result<ProductView, StorefrontError> {
        match self.read.get(id).await? {
            Some(v) if v.status == ProductStatus::Active => {
                let mut views = [v];
                self.overlay(&mut views).await;
                let [v] = views;
                Ok(v)
            }
            _ => Err(StorefrontError::NotFound),
        }
    }

    /// Facet counts for a query's filters (sort, page size and cursor aside).
    pub async fn facets(&self, query: &ProductQuery) -> Result<Facets, StorefrontError> {
        let Some(cache) = &self.facet_cache else { return Ok(self.read.facets(query).await?) };
        let key = query.filter_key();
        if let Some(facets) = cache.get(&key) {
            return Ok(facets);
        }
        let facets = self.read.facets(query).await?;
        cache.put(key, &facets);
        Ok(facets)
    }

    /// `cart` against the catalog now: each line's product as customers see it (with live
    /// stock), what stops a line from being bought, and the subtotal.
    pub async fn review_cart(&self, cart: &Cart) -> Result<CartReview, StorefrontError> {
        // One read for every line's product and one live-stock call for them all.
        let ids: Vec<ProductId> = cart.lines().iter().map(|l| l.product_id).collect();
        let mut views: Vec<ProductView> =
            self.read.get_many(&ids).await?.into_iter().filter(|v| v.status == ProductStatus::Active).collect();
        self.overlay(&mut views).await;
        let mut views: HashMap<ProductId, ProductView> = views.into_iter().map(|v| (v.id, v)).collect();
        Ok(cart.review(|id| views.remove(&id)))
    }

    /// Every collection.
    pub async fn collections(&self) -> Result<Vec<Collection>, StorefrontError> {
        Ok(self.read.collections().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        ports::MockProductReadModel,
        query::{ProductQueryParams, SortOrder},
        testkit::fixed::ManualClock,
    };

    #[test]
    fn facet_counts_are_read_once_per_filter_set_while_fresh() {
        futures::executor::block_on(async {
            let mut read = MockProductReadModel::new();
            // Twice: once for the first filter set (then cached), once after it went stale.
            read.expect_facets().times(3).returning(|_| Ok(Facets::default()));
            let clock = Arc::new(ManualClock::new(Timestamp::from_unix_micros(1_000_000)));
            let service = StorefrontService::new(Arc::new(read))
                .with_facet_cache(clock.clone(), std::time::Duration::from_secs(10));
            let query = |sort: SortOrder, q: &str| {
                ProductQueryParams { q: Some(q.into()), sort, ..Default::default() }.validate().unwrap()
            };
            service.facets(&query(SortOrder::Newest, "mug")).await.unwrap();
            service.facets(&query(SortOrder::PriceAsc, "mug")).await.unwrap();
            service.facets(&query(SortOrder::Newest, "tee")).await.unwrap();
            clock.advance_secs(10);
            service.facets(&query(SortOrder::Name, "mug")).await.unwrap();
        });
    }
}
