//! Copies of the read model: a source that lists its changes in commit order, and a
//! copy (a storefront replica's memory) that applies them.

use std::time::Duration;

use async_trait::async_trait;

use super::{ProductProjection, StoreError};
use crate::{catalog::Collection, ids::CollectionId, query::ProductView};

/// Where a reader of a [`ReadModelFeed`] stands. Opaque: only the feed that returned it
/// gives it a meaning; [`FeedPosition::default`] is the beginning (the whole read model).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedPosition(pub String);

/// A collection as the feed reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollectionChange {
    /// Created or changed.
    Stored(Collection),
    /// Deleted for good.
    Removed(CollectionId),
}

/// One batch of a feed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedBatch {
    /// Product views (any status), each with its product and stock versions.
    pub products: Vec<ProductView>,
    /// Collections stored or removed.
    pub collections: Vec<CollectionChange>,
    /// Where the next call starts.
    pub next: FeedPosition,
    /// True when this batch ends a pass: every change committed before the pass began
    /// has now been returned, so a copy that applied them is current as of then.
    pub caught_up: bool,
    /// The longest a change of this batch waited in the source before this read (lag).
    pub longest_wait: Option<Duration>,
}

/// The changes of a read model, for copies kept elsewhere.
///
/// A change may be returned more than once (a pass may overlap the one before it), never
/// left out: copies apply changes by version, so a repeat is harmless. Starting from
/// [`FeedPosition::default`], the first pass returns every product and collection.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ReadModelFeed: Send + Sync {
    /// Up to `limit` changed products (and the changed collections) from `from`.
    ///
    /// Returns `Unavailable` when the source cannot be read; `from` stays valid, so the
    /// caller retries with it.
    async fn changes(&self, from: &FeedPosition, limit: usize) -> Result<FeedBatch, StoreError>;
}

/// A read model that copies whole views from another one. Collections arrive through
/// [`ProductProjection::apply_collection`] and [`ProductProjection::remove_collection`].
#[async_trait]
pub trait ViewReplica: ProductProjection {
    /// Stores `view`'s product fields unless a product version `>= view.product_version`
    /// is stored, and its stock unless a stock version `>= view.stock_version` is stored;
    /// each part independently. Returns whether anything changed.
    async fn apply_view(&self, view: &ProductView) -> Result<bool, StoreError>;
}
