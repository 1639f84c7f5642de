//! What customers read: listings, product pages, collections and facets.

use std::sync::Arc;

use crate::{
    catalog::{Collection, ProductStatus},
    ids::ProductId,
    ports::{ProductReadModel, StoreError},
    query::{Facets, ProductPage, ProductQuery, ProductQueryInput, ProductView},
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
}

impl StorefrontService {
    /// A service over a read model.
    pub fn new(read: Arc<dyn ProductReadModel>) -> Self {
        Self { read }
    }

    /// One page of a listing.
    pub async fn list(&self, input: &ProductQueryInput) -> Result<ProductPage, StorefrontError> {
        let query = input.validate()?;
        self.list_query(&query).await
    }

    /// One page of an already-validated query.
    pub async fn list_query(&self, query: &ProductQuery) -> Result<ProductPage, StorefrontError> {
        Ok(self.read.list(query).await?)
    }

    /// An active product; archived and draft products are `NotFound`.
    pub async fn product(&self, id: ProductId) -> Result<ProductView, StorefrontError> {
        match self.read.get(id).await? {
            Some(v) if v.status == ProductStatus::Active => Ok(v),
            _ => Err(StorefrontError::NotFound),
        }
    }

    /// Facet counts for a query's filters.
    pub async fn facets(&self, query: &ProductQuery) -> Result<Facets, StorefrontError> {
        Ok(self.read.facets(query).await?)
    }

    /// Every collection.
    pub async fn collections(&self) -> Result<Vec<Collection>, StorefrontError> {
        Ok(self.read.collections().await?)
    }
}
