//! Managing products and collections (the admin use cases).

use std::sync::Arc;

use super::Env;
use crate::{
    catalog::{
        CatalogRuleError, Collection, CollectionInput, CollectionPatchInput, Product, ProductInput, ProductPatchInput,
        ProductSearch, Version,
    },
    events::DomainEvent,
    ids::{CollectionId, EventId, ProductId},
    inventory::OnHand,
    ports::{CollectionStore, ProductStore, RestockLog, StoreError},
    validation::ValidationErrors,
};

/// Why a catalog use case failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// The input is invalid; every bad field is listed.
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    /// No product has this id.
    #[error("product not found")]
    ProductNotFound,
    /// No collection has this id.
    #[error("collection not found")]
    CollectionNotFound,
    /// A unique field (SKU, slug) is taken.
    #[error("{0} already exists")]
    Duplicate(String),
    /// The caller's version (`If-Match`) is stale.
    #[error("version mismatch: expected {expected}, current is {actual}")]
    VersionMismatch {
        /// Version the caller sent.
        expected: Version,
        /// Version stored now.
        actual: Version,
    },
    /// A catalog rule forbids the change.
    #[error(transparent)]
    Rule(#[from] CatalogRuleError),
    /// The collection still has products.
    #[error("collection still has products: move or archive them first")]
    CollectionInUse,
    /// The store failed; retry later.
    #[error("catalog store unavailable: {0}")]
    Unavailable(String),
}

impl From<StoreError> for CatalogError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::ProductNotFound,
            StoreError::Duplicate(what) => Self::Duplicate(what),
            StoreError::VersionConflict { expected, actual } => Self::VersionMismatch { expected, actual },
            StoreError::InUse(_) => Self::CollectionInUse,
            StoreError::MissingReference(what) => {
                Self::Validation(ValidationErrors::single("collection_id", format!("{what} does not exist")))
            }
            StoreError::Unavailable(m) => Self::Unavailable(m),
        }
    }
}

/// A seller restock recorded by the catalog and on its way to the inventory service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestockRequested {
    /// The product.
    pub product_id: ProductId,
    /// The on-hand units asked for.
    pub on_hand: OnHand,
    /// The product's restock number (1, 2, ...): the inventory applies restocks in this order.
    pub restock: u64,
}

/// The catalog use cases.
#[derive(Clone)]
pub struct CatalogService {
    pub(super) products: Arc<dyn ProductStore>,
    pub(super) collections: Arc<dyn CollectionStore>,
    restocks: Arc<dyn RestockLog>,
    pub(super) env: Env,
}

fn check_version(expected: Option<Version>, actual: Version) -> Result<(), CatalogError> {
    match expected {
        Some(expected) if expected != actual => Err(CatalogError::VersionMismatch { expected, actual }),
        _ => Ok(()),
    }
}

impl CatalogService {
    /// A service over one store that holds products, collections and the restock log
    /// (as the memory and PostgreSQL adapters do).
    pub fn new<S>(store: Arc<S>, env: Env) -> Self
    where
        S: ProductStore + CollectionStore + RestockLog + 'static,
    {
        Self::from_ports(store.clone(), store.clone(), store, env)
    }

    /// A service over separate ports. Products and collections must share a store when
    /// a collection in use may not be deleted.
    pub fn from_ports(
        products: Arc<dyn ProductStore>,
        collections: Arc<dyn CollectionStore>,
        restocks: Arc<dyn RestockLog>,
        env: Env,
    ) -> Self {
        Self { products, collections, restocks, env }
    }

    async fn ensure_collection(&self, id: Option<CollectionId>) -> Result<(), CatalogError> {
        match id {
            Some(id) if self.collections.collection(id).await?.is_none() => {
                Err(ValidationErrors::single("collection_id", format!("collection {id} does not exist")).into())
            }
            _ => Ok(()),
        }
    }

    /// Creates a product (status `draft` unless the input says `active`).
    pub async fn create_product(&self, input: &ProductInput) -> Result<Product, CatalogError> {
        let new = input.validate()?;
        self.ensure_collection(new.collection_id).await?;
        let product = Product::create(ProductId::from_uuid(self.env.ids.new_id()), new, self.env.clock.now())?;
        let event = self.env.envelope(DomainEvent::ProductCreated(product.clone()));
        self.products.insert_product(&product, &[event]).await?;
        Ok(product)
    }

    /// A product in any status.
    pub async fn product(&self, id: ProductId) -> Result<Product, CatalogError> {
        self.products.product(id).await?.ok_or(CatalogError::ProductNotFound)
    }

    /// Products in id order.
    pub async fn products(&self, after: Option<ProductId>, limit: usize) -> Result<Vec<Product>, CatalogError> {
        Ok(self.products.products(after, limit.clamp(1, 1000)).await?)
    }

    /// The products `search` finds (part of a name or SKU), any status, in id order.
    pub async fn search_products(
        &self,
        search: &ProductSearch,
        after: Option<ProductId>,
        limit: usize,
    ) -> Result<Vec<Product>, CatalogError> {
        Ok(self.products.search_products(search, after, limit.clamp(1, 1000)).await?)
    }

    /// Applies a partial update. `if_match` (the `If-Match` version) must equal the current version.
    pub async fn update_product(
        &self,
        id: ProductId,
        input: &ProductPatchInput,
        if_match: Option<Version>,
    ) -> Result<Product, CatalogError> {
        let patch = input.validate()?;
        let mut product = self.product(id).await?;
        check_version(if_match, product.version)?;
        if let Some(collection) = patch.collection_id {
            self.ensure_collection(collection).await?;
        }
        let expected = product.version;
        if product.apply_patch(patch, self.env.clock.now())? {
            let event = self.env.envelope(DomainEvent::ProductUpdated(product.clone()));
            self.products.update_product(&product, expected, &[event]).await?;
        }
        Ok(product)
    }

    /// Archives a product: it leaves the storefront but stays in order history. Idempotent.
    pub async fn archive_product(&self, id: ProductId, if_match: Option<Version>) -> Result<Product, CatalogError> {
        let mut product = self.product(id).await?;
        check_version(if_match, product.version)?;
        let expected = product.version;
        if product.archive(self.env.clock.now()) {
            let event = self.env.envelope(DomainEvent::ProductArchived(product.clone()));
            self.products.update_product(&product, expected, &[event]).await?;
        }
        Ok(product)
    }

    /// Creates a collection.
    pub async fn create_collection(&self, input: &CollectionInput) -> Result<Collection, CatalogError> {
        let collection = input.validate(CollectionId::from_uuid(self.env.ids.new_id()), self.env.clock.now())?;
        let event = self.env.envelope(DomainEvent::CollectionCreated(collection.clone()));
        self.collections.insert_collection(&collection, &[event]).await?;
        Ok(collection)
    }

    /// A collection.
    pub async fn collection(&self, id: CollectionId) -> Result<Collection, CatalogError> {
        self.collections.collection(id).await?.ok_or(CatalogError::CollectionNotFound)
    }

    /// Every collection.
    pub async fn collections(&self) -> Result<Vec<Collection>, CatalogError> {
        Ok(self.collections.collections().await?)
    }

    /// Applies a partial update to a collection.
    pub async fn update_collection(
        &self,
        id: CollectionId,
        input: &CollectionPatchInput,
        if_match: Option<Version>,
    ) -> Result<Collection, CatalogError> {
        let patch = input.validate()?;
        let mut collection = self.collection(id).await?;
        check_version(if_match, collection.version)?;
        let expected = collection.version;
        if collection.apply_patch(patch, self.env.clock.now()) {
            let event = self.env.envelope(DomainEvent::CollectionUpdated(collection.clone()));
            self.collections
                .update_collection(&collection, expected, &[event])
                .await
                .map_err(not_found_is_collection)?;
        }
        Ok(collection)
    }

    /// Records a seller restock as a `stock.set` event for the inventory service, which
    /// applies it asynchronously (deployments whose inventory is another service and
    /// restocks travel through the broker). Works for products in any status, like a
    /// direct stock change.
    pub async fn request_restock(&self, product: ProductId, on_hand: OnHand) -> Result<RestockRequested, CatalogError> {
        let event_id = EventId::from_uuid(self.env.ids.new_id());
        let restock = self.restocks.record_restock(product, on_hand, event_id, self.env.clock.now()).await?;
        Ok(RestockRequested { product_id: product, on_hand, restock })
    }

    /// Deletes an empty collection.
    pub async fn delete_collection(&self, id: CollectionId) -> Result<(), CatalogError> {
        let event = self.env.envelope(DomainEvent::CollectionDeleted { id });
        self.collections.delete_collection(id, &[event]).await.map_err(not_found_is_collection)
    }
}

fn not_found_is_collection(e: StoreError) -> CatalogError {
    match e {
        StoreError::NotFound => CatalogError::CollectionNotFound,
        other => other.into(),
    }
}
