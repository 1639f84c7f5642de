//! What customers read: listings, product pages, collections and facets.

use std::sync::Arc;

use crate::{
    cart::{Cart, CartReview},
    catalog::{Collection, ProductStatus},
    ids::ProductId,
    ports::{InventoryStore, ProductReadModel, StoreError},
    query::{Facets, ProductPage, ProductQuery, ProductView},
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

/// The storefront read use cases.
#[derive(Clone)]
pub struct StorefrontService {
    read: Arc<dyn ProductReadModel>,
    live_stock: Option<Arc<dyn InventoryStore>>,
}

impl StorefrontService {
    /// A service over a read model.
    pub fn new(read: Arc<dyn ProductReadModel>) -> Self {
        Self { read, live_stock: None }
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

    /// Facet counts for a query's filters.
    pub async fn facets(&self, query: &ProductQuery) -> Result<Facets, StorefrontError> {
        Ok(self.read.facets(query).await?)
    }

    /// `cart` against the catalog now: each line's product as customers see it (with live
    /// stock), what stops a line from being bought, and the subtotal.
    pub async fn review_cart(&self, cart: &Cart) -> Result<CartReview, StorefrontError> {
        let mut views = std::collections::HashMap::new();
        for line in cart.lines() {
            match self.product(line.product_id).await {
                Ok(view) => {
                    views.insert(view.id, view);
                }
                Err(StorefrontError::NotFound) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(cart.review(|id| views.remove(&id)))
    }

    /// Every collection.
    pub async fn collections(&self) -> Result<Vec<Collection>, StorefrontError> {
        Ok(self.read.collections().await?)
    }
}
